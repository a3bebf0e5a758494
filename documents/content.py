"""What each document says, from plain typed inputs (no database here): the context a template renders.

A flow (or a test, or the decision step) builds a `DecisionInput`, `SubmissionInput`, `MinutesInput` or
`YearlyReportInput`; `*_context` turns it into the template's fields in the words and the presentation
of Decree 30/2020/NĐ-CP; `render_*` makes the bytes (documents/render.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from documents.render import plain_text, render_docx, xlsx_bytes
from documents.text import (
    day_in_words,
    document_number,
    money_vi,
    place_and_date,
    place_of,
    unit_title,
    upper,
)
from models import yamlfile
from models.awards import NomineeKind, catalogue
from models.clock import fmt_date
from models.intake import COLUMNS, HEADERS_VI
from models.settings import get_settings
from models.text import nfc
from models.units import Level

LEGAL_BASES = Path(__file__).parent / "legal_bases.yaml"
TEMPLATES = {
    "decision": "quyet-dinh-khen-thuong.docx",
    "submission": "to-trinh-de-nghi-khen-thuong.docx",
    "minutes": "bien-ban-hop-hoi-dong.docx",
    "yearly_report": "bao-cao-nam.docx",
}
# Symbols of the issuing bodies (Decree 30, Appendix III: abbreviations of document kinds and bodies)
BODY_SYMBOL = {
    Level.commune: "UBND",
    Level.district: "UBND",
    Level.province: "UBND",
    Level.moha: "BNV",
    Level.prime_minister: "TTg",
    Level.president: "CTN",
}
KIND_ORDER = (NomineeKind.collective, NomineeKind.individual, NomineeKind.household)
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Body(Frozen):
    """The issuing unit as documents name it."""

    name: str = Field(description="official name, e.g. 'xã Cẩm Thạch'")
    level: Level
    code: str = ""

    @property
    def is_central(self) -> bool:
        return self.level in (Level.moha, Level.prime_minister, Level.president)

    @property
    def committee(self) -> str:
        """'Ủy ban nhân dân xã Cẩm Thạch' (a central body: its own name)."""
        return unit_title(self.name) if self.is_central else f"Ủy ban nhân dân {self.name}"

    @property
    def head(self) -> str:
        """'Chủ tịch Ủy ban nhân dân xã Cẩm Thạch', 'Thủ tướng Chính phủ'."""
        if self.level == Level.prime_minister:
            return "Thủ tướng Chính phủ"
        if self.level == Level.president:
            return "Chủ tịch nước"
        if self.level == Level.moha:
            return "Bộ trưởng Bộ Nội vụ"
        return f"Chủ tịch Ủy ban nhân dân {self.name}"

    @property
    def addressee(self) -> str:
        """Who a submission is addressed to: the head of a local committee; a central body by its name
        ('Bộ Nội vụ (Ban Thi đua – Khen thưởng Trung ương)', 'Thủ tướng Chính phủ')."""
        return unit_title(self.name) if self.is_central else self.head

    def issuer_lines(self) -> dict[str, str]:
        """The issuing body's lines at the top left (Decree 30, Appendix I, II.3)."""
        if self.is_central:
            return {"issuer_parent": "", "issuer": upper(self.name), "issuer_2": ""}
        return {"issuer_parent": "", "issuer": "ỦY BAN NHÂN DÂN", "issuer_2": upper(self.name)}

    @property
    def place(self) -> str:
        return place_of(self.name, self.level)

    def symbol(self, kind: str) -> str:
        return f"{kind}-{BODY_SYMBOL[self.level]}"


class Signer(Frozen):
    """Who signs and in what capacity: ('KT. CHỦ TỊCH', 'PHÓ CHỦ TỊCH') and the name."""

    capacity: tuple[str, ...] = ("CHỦ TỊCH",)
    name: str = ""


class ListRow(Frozen):
    """One nominee of a list: the intake's columns, with the dossier's code."""

    code: str = ""
    nominee: str
    kind: NomineeKind
    unit: str = Field(description="the proposing unit, as the intake reads it (code or name)")
    unit_name: str = ""
    award: str = Field(description="award form code")
    campaign: str = "ntm-2021-2025"
    achievement: str = ""
    submitted_on: date


class Campaign(Frozen):
    name: str
    legal_basis: str


class DecisionInput(Frozen):
    """Quyết định khen thưởng: who decides, number and date, the bases, the awardees of one form."""

    body: Body
    number: str = Field(description="number and symbol, e.g. 123/QĐ-UBND")
    day: date
    signer: Signer = Signer()
    rule_sets: tuple[str, ...] = Field(description="rule sets of the dossiers (by their dates)")
    campaign: Campaign
    council: str = Field(default="", description="the council whose minutes are cited")
    minutes_day: date | None = None
    minutes_number: str = ""
    submissions: tuple[str, ...] = Field(default=(), description="'Tờ trình số … ngày … của …' cited")
    proposer: str = Field(default="", description="'Theo đề nghị của …'")
    awardees: tuple[ListRow, ...]
    recipients: tuple[str, ...] = ()


class SubmissionInput(Frozen):
    """Tờ trình đề nghị khen thưởng: from a council's unit to the next level, with its list."""

    body: Body
    to: Body
    number: str
    day: date
    signer: Signer = Signer()
    rule_sets: tuple[str, ...]
    campaign: Campaign
    council: str
    minutes_day: date
    minutes_number: str = ""
    nominees: tuple[ListRow, ...]


class MinutesItem(Frozen):
    code: str
    nominee: str
    award: str
    votes_for: int | None
    votes_against: int | None
    votes_abstain: int | None
    written: tuple[int | None, int | None, int | None] = Field(
        default=(None, None, None), description="written votes of absent members: for, against, abstain"
    )
    result: str

    @property
    def written_votes(self) -> int:
        return sum(v or 0 for v in self.written)


class MinutesInput(Frozen):
    """Biên bản họp Hội đồng: members, attendance and quorum, each dossier's tally and result."""

    body: Body
    council: str
    number: str
    day: date
    members: tuple[tuple[str, str], ...] = Field(description="(name, role label) of every member")
    present: int
    chair: str
    secretary: str
    campaign: Campaign
    items: tuple[MinutesItem, ...]
    rule_set: str | None = Field(default=None, description="the rule set whose quorum applies")


class Figure(Frozen):
    label: str
    value: int | str


class FormFigure(Frozen):
    name: str
    proposed: int
    conferred: int


class YearlyReportInput(Frozen):
    """Báo cáo năm of a unit: what it filed and the movement's figures for its area."""

    body: Body
    to: str
    number: str
    day: date
    year: int
    signer: Signer = Signer()
    campaign: Campaign
    figures: tuple[Figure, ...]
    forms: tuple[FormFigure, ...]


# --- legal bases ------------------------------------------------------------------------------------


@lru_cache
def _bases_data(path: Path = LEGAL_BASES) -> dict[str, Any]:
    return yamlfile.safe_load(path.read_text(encoding="utf-8"))


def legal_bases(*, rule_sets: Sequence[str], day: date) -> list[str]:
    """The laws a document of `day` cites for dossiers of these rule sets, without repeats, in order."""
    data = _bases_data()
    found: list[str] = []
    for entry in data["local_government"]:
        if (entry.get("from") is None or entry["from"] <= day) and (
            entry.get("to") is None or day <= entry["to"]
        ):
            found.append(entry["text"])
    for code in rule_sets:
        texts = data["rule_sets"].get(code) or [
            part.strip() for part in catalogue().rule_set(code).legal_basis.split(";")
        ]
        found += [t for t in texts if t not in found]
    return found


def quorum_rule(rule_set: str | None = None) -> tuple[float, str]:
    """The share of members a meeting needs, and its basis: the rule set's own where it has one (the
    law as data, models/data/award_forms.yaml), else legal_bases.yaml's."""
    own = getattr(catalogue().rule_set(rule_set), "quorum", None) if rule_set else None
    if own is not None:
        return own.numerator / own.denominator, cited_basis(str(own.basis))
    q = _bases_data()["quorum"]
    return float(q["ratio"]), cited_basis(str(q["basis"]))


# Remarks that the law-as-data carries for operators, never printed in a paper: "(cấu hình được)",
# "configurable", an analogy ("tương tự …"), a source not found, a pointer to our docs.
_INTERNAL = re.compile(
    r"configurable|cấu hình|tương tự|không tìm được|docs/|thực tiễn|internal|thường:", re.IGNORECASE
)
_PAREN = re.compile(r"\s*\(([^()]*)\)")
QUORUM_FALLBACK = "Quy chế hoạt động của Hội đồng Thi đua – Khen thưởng"


def cited_basis(text: str, fallback: str = QUORUM_FALLBACK) -> str:
    """The legal basis as a paper cites it: the clauses of the data's `basis` that cite a text, without the
    remarks for operators ("Quy chế hoạt động của Hội đồng (cấu hình được); tương tự Nghị định 98/2023/NĐ-CP
    Điều 47" → "Quy chế hoạt động của Hội đồng"); `fallback` when nothing citable is left."""
    clauses = []
    for clause in nfc(text).split(";"):
        clause = _PAREN.sub(lambda m: "" if _INTERNAL.search(m.group(1)) else m.group(0), clause).strip()
        if clause and not _INTERNAL.search(clause):
            clauses.append(clause)
    return "; ".join(clauses) or fallback


def person_name(actor: str) -> str:
    """A person as a paper names them: the name only. A step's actor «Nguyễn Thị Thư (tk.camthach);
    xác nhận: Lê Văn Chủ (ct.camthach)» → «Nguyễn Thị Thư» (the one who recorded; the login names stay
    in the stored step, never in a paper). A bare login (no space in it) names nobody: ''."""
    first = nfc(actor).split(";")[0]
    name = re.sub(r"\s*\([^()]*\)\s*$", "", first).strip()
    return name if " " in name else ""


def _cite(texts: Sequence[str]) -> list[str]:
    """'Căn cứ …;' each (the caller ends the last basis with '.')."""
    return [nfc(f"Căn cứ {t};") for t in texts]


# --- lists ------------------------------------------------------------------------------------------


def groups(rows: Sequence[ListRow], *, by_form: bool) -> list[dict]:
    """The list grouped by award form (when it mixes forms) and nominee kind: I. Tập thể, II. Cá nhân…"""
    forms = catalogue().forms

    def key(r: ListRow) -> tuple:
        return ((forms[r.award].rank if by_form and r.award in forms else 0), KIND_ORDER.index(r.kind))

    out: list[dict] = []
    for row in sorted(rows, key=lambda r: (*key(r), nfc(r.nominee))):
        label = unit_title(row.kind.label)
        if by_form:
            label = f"{forms[row.award].name if row.award in forms else row.award} — {label}"
        if not out or out[-1]["label_key"] != label:
            out.append({"label_key": label, "label": "", "rows": []})
        group = out[-1]
        group["rows"].append(
            {
                "no": len(group["rows"]) + 1,
                "name": nfc(row.nominee),
                "unit": unit_title(row.unit_name or row.unit),
                "achievement": nfc(row.achievement),
            }
        )
    for i, group in enumerate(out):
        group["label"] = (
            f"{ROMAN[i] if i < len(ROMAN) else i + 1}. {group.pop('label_key')} ({len(group['rows'])})"
        )
    return out


def counted(rows: Sequence[ListRow]) -> str:
    """'2 tập thể, 3 cá nhân và 1 hộ gia đình'."""
    parts = [f"{n} {kind.label}" for kind in KIND_ORDER if (n := sum(1 for r in rows if r.kind == kind))]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " và " + parts[-1] if parts else "0"


def list_xlsx(rows: Sequence[ListRow], *, day: date, title: str = "Danh sách đề nghị") -> bytes:
    """The list in the intake's own columns (models/intake.py): the level above takes it in as it is."""
    values = [
        [r.nominee, r.kind.label, r.unit, r.award, r.campaign, r.achievement, fmt_date(r.submitted_on)]
        for r in rows
    ]
    return xlsx_bytes(columns=COLUMNS, labels=HEADERS_VI, rows=values, title=title, day=day)


# --- contexts ---------------------------------------------------------------------------------------


def _head(
    body: Body, number: str, day: date, title: str, summary: str, summary_2: str = ""
) -> dict[str, Any]:
    return {
        **body.issuer_lines(),
        "number": document_number(number),
        "place_date": place_and_date(body.place, day),
        "date_words": day_in_words(day),
        "title": title,
        "summary": summary,
        "summary_2": summary_2,
    }


def _signature(signer: Signer) -> dict[str, Any]:
    return {"signer_lines": [upper(line) for line in signer.capacity], "signer_name": nfc(signer.name)}


def _minutes_cite(council: str, day: date | None, number: str) -> str:
    numbered = f" số {document_number(number)}" if number else ""
    return f"Biên bản họp{numbered} {day_in_words(day) if day else ''} của {council}".replace("  ", " ")


def _forms_of(rows: Sequence[ListRow]) -> list[str]:
    forms = catalogue().forms
    return sorted({r.award for r in rows}, key=lambda c: (forms[c].rank if c in forms else 99, c))


def decision_summary(rows: Sequence[ListRow]) -> tuple[str, list[str]]:
    """'Về việc tặng Bằng khen … và Cờ thi đua …' and the forms' codes, lowest first."""
    forms = catalogue().forms
    codes = _forms_of(rows)
    names = [forms[c].name if c in forms else c for c in codes]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " và " + names[-1]
    return f"Về việc tặng {joined}", codes


def decision_context(inp: DecisionInput) -> dict[str, Any]:
    forms = catalogue().forms
    cite = [*legal_bases(rule_sets=inp.rule_sets, day=inp.day), inp.campaign.legal_basis]
    if inp.council:
        cite.append(_minutes_cite(inp.council, inp.minutes_day, inp.minutes_number))
    bases = _cite(cite)
    bases += [nfc(f"Xét {s};") for s in inp.submissions]
    if inp.proposer:
        bases.append(nfc(f"Theo đề nghị của {inp.proposer}."))
    elif bases:
        bases[-1] = bases[-1][:-1] + "."
    rows = list(inp.awardees)
    summary, codes = decision_summary(rows)
    given = [
        f"{forms[c].name if c in forms else c} cho {counted([r for r in rows if r.award == c])}"
        for c in codes
    ]
    articles = [
        {
            "head": "Điều 1.",
            "text": nfc(
                f"Tặng {'; '.join(given)} (có danh sách kèm theo) đã có thành tích xuất sắc "
                f"trong Phong trào thi đua «{inp.campaign.name}»."
            ),
        }
    ]
    rewards = get_settings().document_cash_rewards
    cash = []
    for c in codes:
        amounts = [
            f"{k.label}: {money_vi(rewards[c][k.value])}" for k in KIND_ORDER if k.value in rewards.get(c, {})
        ]
        if amounts:
            cash.append(
                f"kèm theo {forms[c].name if c in forms else c} là tiền thưởng ({'; '.join(amounts)} mỗi trường hợp)"
            )
    if cash:
        articles.append(
            {
                "head": f"Điều {len(articles) + 1}.",
                "text": nfc(
                    "; ".join(cash)[:1].upper()
                    + "; ".join(cash)[1:]
                    + ", chi từ quỹ thi đua, khen thưởng theo quy định."
                ),
            }
        )
    last = len(articles) + 1
    articles.append(
        {
            "head": f"Điều {last}.",
            "text": nfc(
                f"Quyết định này có hiệu lực kể từ ngày ký. Chánh Văn phòng {inp.body.committee}, "
                f"Thường trực Hội đồng Thi đua – Khen thưởng, thủ trưởng các cơ quan, đơn vị có liên quan "
                f"và các tập thể, cá nhân, hộ gia đình có tên tại Điều 1 chịu trách nhiệm thi hành Quyết định này./."
            ),
        }
    )
    recipients = [f"- Như Điều {last};", *(f"- {r};" for r in inp.recipients), "- Lưu: VT."]
    return {
        **_head(inp.body, inp.number, inp.day, "QUYẾT ĐỊNH", summary),
        "author": upper(inp.body.head),
        "bases": bases,
        "articles": articles,
        "recipients": recipients,
        **_signature(inp.signer),
        "signer_body": inp.body.head,
        "list_title": upper(summary.removeprefix("Về việc tặng ")),
        "groups": groups(rows, by_form=len(codes) > 1),
        "list_total": f"Tổng cộng: {counted(rows)}.",
    }


def submission_context(inp: SubmissionInput) -> dict[str, Any]:
    rows = list(inp.nominees)
    award_names = decision_summary(rows)[0].removeprefix("Về việc tặng ")
    cite = [
        *legal_bases(rule_sets=inp.rule_sets, day=inp.day),
        inp.campaign.legal_basis,
        _minutes_cite(inp.council, inp.minutes_day, inp.minutes_number),
    ]
    bases = _cite(cite)
    bases[-1] = bases[-1][:-1] + "."
    to_head = inp.to.addressee
    paragraphs = [
        nfc(
            f"{unit_title(inp.body.committee)} kính trình {to_head} xem xét, khen thưởng hoặc trình cấp có "
            f"thẩm quyền khen thưởng {award_names} cho {counted(rows)} đã có thành tích xuất sắc trong "
            f"Phong trào thi đua «{inp.campaign.name}» (có danh sách kèm theo)."
        ),
        "Hồ sơ kèm theo gồm: danh sách đề nghị khen thưởng; biên bản họp Hội đồng Thi đua – Khen thưởng; "
        "báo cáo thành tích của các tập thể, cá nhân, hộ gia đình được đề nghị.",
        f"Kính trình {to_head} xem xét, quyết định./.",
    ]
    return {
        **_head(
            inp.body,
            inp.number,
            inp.day,
            "TỜ TRÌNH",
            "Về việc đề nghị khen thưởng",
            f"trong Phong trào thi đua «{inp.campaign.name}»",
        ),
        "addressee": to_head,
        "bases": bases,
        "paragraphs": paragraphs,
        "recipients": ["- Như trên;", f"- Thường trực {inp.council};", "- Lưu: VT."],
        **_signature(inp.signer),
        "signer_body": inp.body.committee,
        "list_title": "ĐỀ NGHỊ KHEN THƯỞNG",
        "groups": groups(rows, by_form=True),
        "list_total": f"Tổng cộng: {counted(rows)}.",
    }


def _written(item: MinutesItem) -> str:
    """'; ý kiến bằng văn bản: 2 đồng ý, 0 không đồng ý, 0 không biểu quyết' (empty without any)."""
    if not item.written_votes:
        return ""
    for_, against, abstain = (v or 0 for v in item.written)
    return (
        f"; ý kiến bằng văn bản của thành viên vắng mặt: {for_} đồng ý, {against} không đồng ý, "
        f"{abstain} không biểu quyết"
    )


def minutes_context(inp: MinutesInput) -> dict[str, Any]:
    members = len(inp.members)
    ratio, basis = quorum_rule(inp.rule_set)
    share = inp.present / members if members else 0.0
    quorum = share >= ratio - 1e-9
    written_note = (
        " (ý kiến bằng văn bản của thành viên vắng mặt ghi tại kết quả từng hồ sơ)"
        if any(item.written_votes for item in inp.items)
        else ""
    )
    opening = [
        nfc(
            f"Hôm nay, {day_in_words(inp.day)}, tại trụ sở {inp.body.committee}, {inp.council} họp xét đề nghị "
            f"khen thưởng trong Phong trào thi đua «{inp.campaign.name}»."
        ),
        f"Chủ trì: {nfc(inp.chair) or '…'}, Chủ tịch Hội đồng. Thư ký: {person_name(inp.secretary) or '…'}.",
    ]
    attendance = [
        nfc(
            f"Hội đồng có {members} thành viên; có mặt {inp.present} thành viên, vắng {members - inp.present} "
            f"thành viên{written_note}. "
            f"Số thành viên có mặt đạt {round(share * 100)}% tổng số thành viên: "
            + ("đủ" if quorum else "KHÔNG đủ")
            + f" điều kiện tiến hành phiên họp theo {basis}."
        )
    ]
    results = [
        {
            "no": i,
            "code": item.code,
            "nominee": nfc(item.nominee),
            "award": item.award,
            "votes_for": "" if item.votes_for is None else item.votes_for,
            "votes_against": "" if item.votes_against is None else item.votes_against,
            "votes_abstain": "" if item.votes_abstain is None else item.votes_abstain,
            "result": nfc(item.result + _written(item)),
        }
        for i, item in enumerate(inp.items, start=1)
    ]
    closing = [
        f"Phiên họp đã xét {len(inp.items)} hồ sơ. Biên bản được thông qua tại phiên họp, "
        "các thành viên dự họp nhất trí với nội dung biên bản./."
    ]
    return {
        **_head(inp.body, inp.number, inp.day, "BIÊN BẢN", f"Họp {inp.council}"),
        "issuer_parent": upper(f"UBND {inp.body.name}") if not inp.body.is_central else "",
        "issuer": upper("Hội đồng Thi đua – Khen thưởng"),
        "issuer_2": "",
        "opening": opening,
        "members": [{"no": i, "name": n, "role": r} for i, (n, r) in enumerate(inp.members, start=1)],
        "attendance": attendance,
        "results": results,
        "closing": closing,
        "chair": nfc(inp.chair),
        "secretary": person_name(inp.secretary),
    }


def yearly_report_context(inp: YearlyReportInput) -> dict[str, Any]:
    paragraphs = [
        nfc(
            f"Thực hiện {inp.campaign.legal_basis}, {inp.body.committee} báo cáo tình hình tổ chức thực hiện "
            f"Phong trào thi đua «{inp.campaign.name}» năm {inp.year} như sau:"
        )
    ]
    return {
        **_head(
            inp.body,
            inp.number,
            inp.day,
            "BÁO CÁO",
            "Tình hình tổ chức thực hiện Phong trào thi đua",
            f"«{inp.campaign.name}» năm {inp.year}",
        ),
        "addressee": inp.to,
        "paragraphs": paragraphs,
        "figures": [{"label": f.label, "value": f.value} for f in inp.figures],
        "forms": [{"name": f.name, "proposed": f.proposed, "conferred": f.conferred} for f in inp.forms],
        "closing": [f"Trên đây là báo cáo năm {inp.year} của {inp.body.committee}./."],
        "recipients": ["- Như trên;", "- Lưu: VT."],
        **_signature(inp.signer),
    }


CONTEXTS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "decision": decision_context,
    "submission": submission_context,
    "minutes": minutes_context,
    "yearly_report": yearly_report_context,
}


def render(kind: str, inp: Any, *, title: str, folder: Path | None = None) -> bytes:
    """The DOCX of one document kind ('decision', 'submission', 'minutes', 'yearly_report')."""
    return render_docx(TEMPLATES[kind], CONTEXTS[kind](inp), day=inp.day, title=title, folder=folder)


def render_plain(kind: str, inp: Any) -> str:
    """The same document's data as plain text (the benchmark's floor)."""
    return plain_text(CONTEXTS[kind](inp))
