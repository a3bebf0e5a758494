"""The papers of the facts in the database: an applied meeting's minutes and its submission letters (with
their XLSX lists); the head's commendation decision (made by the decision step); a unit's yearly report. Plain functions that take a
session and never commit; each document is stored once under the key of its fact (models/documents.py).
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, NotRequired, TypedDict, TypeVar, Unpack

from sqlalchemy import func, select
from sqlmodel import Session, col

from documents.content import (
    Body,
    Campaign,
    DecisionInput,
    Figure,
    FormFigure,
    ListRow,
    MinutesInput,
    MinutesItem,
    Signer,
    SubmissionInput,
    YearlyReportInput,
    decision_summary,
    list_xlsx,
    render,
)
from documents.text import day_in_words, document_number, upper
from models import documents as dm
from models.awards import catalogue
from models.campaigns import Campaign as CampaignRow
from models.hierarchy import Hierarchy, UnitRef
from models.meetings import Meeting, MeetingStatus, Outcome, council_of
from models.nominations import Action, Nomination, NominationStep, Nominee, Status
from models.text import nfc, slug
from models.units import Council, MemberRole
from notifications.render import Attachment

log = logging.getLogger(__name__)

T = TypeVar("T")

ROLE_LABELS = {
    MemberRole.chair: "Chủ tịch Hội đồng",
    MemberRole.standing: "Ủy viên thường trực",
    MemberRole.member: "Ủy viên",
}


def _docx(kind: str, inp: Any, *, title: str, unit: UnitRef, name: str, rest: str = "") -> dm.Rendered:
    """A DOCX paper as its row stores it: number and date from its input, the file named `name` and
    the rest by `paper_file_name`."""
    file_name = paper_file_name(name, unit, inp.day, inp.number, rest)
    return dm.Rendered(render(kind, inp, title=title), title, file_name, dm.DOCX, inp.number, inp.day)


def paper_file_name(
    kind: str, unit: UnitRef, day: date, number: str, *rest: str, suffix: str = "docx"
) -> str:
    """A paper's file name, unique per fact: its kind, unit, day and its own number (numbers are unique per
    unit, series and year), e.g. 'bien-ban-xa-cam-thach-20261203-so-2-bb-hdtdkt.docx' — two meetings of
    a unit on one day no longer share one name."""
    parts = [kind, slug(unit.name), f"{day:%Y%m%d}", f"so-{slug(number)}", *(slug(r) for r in rest)]
    return "-".join(p for p in parts if p) + f".{suffix}"


def body_of(unit: UnitRef) -> Body:
    return Body(name=unit.name, level=unit.level, code=unit.code)


def signer_of(unit: UnitRef) -> Signer:
    """The unit's head signs (his deputy signs 'KT.' when a province's registry edits the paper)."""
    capacity = "THỦ TƯỚNG" if unit.level.value == "central/prime_minister" else "CHỦ TỊCH"
    return Signer(capacity=(capacity,), name=unit.head_name or "")


@dataclass
class Decided:
    """One dossier as the meeting decided it: the nomination, its nominee, the step the meeting wrote."""

    nomination: Nomination
    nominee: Nominee
    step: NominationStep


def _decided(session: Session, meeting: Meeting) -> list[Decided]:
    rows = session.execute(
        select(NominationStep, Nomination, Nominee)
        .join(Nomination, col(Nomination.id) == col(NominationStep.nomination_id))
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(col(NominationStep.idempotency_key).like(f"meeting:{meeting.id}:%"))
        .order_by(col(NominationStep.id))
    ).all()
    return [Decided(nomination=n, nominee=e, step=s) for s, n, e in rows]


def _campaign(session: Session, campaign_id: int) -> Campaign:
    row = session.get(CampaignRow, campaign_id)
    if row is None:
        raise LookupError(f"không có phong trào #{campaign_id}")
    return Campaign(name=row.name, legal_basis=row.legal_basis)


def _row_of(n: Nomination, nominee: Nominee, hierarchy: Hierarchy, campaign_code: str) -> ListRow:
    origin = hierarchy.get(n.origin_unit_id)
    # in the list's column order (list_xlsx); the code, which it does not print, last
    return ListRow(
        nominee=nominee.name,
        kind=nominee.kind,
        unit=origin.code,
        unit_name=origin.name,
        award=n.awarded_code or n.award_code,
        campaign=campaign_code,
        achievement=n.achievement,
        submitted_on=n.submitted_on,
        code=n.code,
    )


def _list_row(d: Decided, hierarchy: Hierarchy, campaign_code: str) -> ListRow:
    return _row_of(d.nomination, d.nominee, hierarchy, campaign_code)


def _result(d: Decided, hierarchy: Hierarchy, head: str) -> str:
    outcome = Outcome.of_action(d.step.action)
    forms = catalogue().forms
    award = forms[d.step.award_code].short if d.step.award_code in forms else ""
    lower = (
        " (mức thấp hơn đề nghị)"
        if d.step.award_code and d.step.award_code != d.nomination.award_code
        else ""
    )
    if outcome == Outcome.forwarded and d.step.to_unit_id is not None:
        return f"Thông qua, trình {hierarchy.get(d.step.to_unit_id).name}"
    if outcome == Outcome.recommended:  # the head decides later, in a numbered decision of its own
        return f"Thông qua, đề nghị {head} khen thưởng {award}{lower}"
    if outcome == Outcome.conferred:  # a meeting's conferral recorded before the decision step (issue 13)
        return f"Thông qua, khen thưởng {award}{lower}, QĐ số {document_number(d.step.decision_number or '')}"
    reason = f": {d.step.note}" if d.step.note else ""
    if outcome == Outcome.rejected:
        return "Không thông qua" + reason
    return "Trả lại để bổ sung" + reason


def _secretary(decided: list[Decided], council_name: str) -> str:
    actor = next((d.step.actor for d in decided if d.step.actor), "")
    return "" if actor in ("", council_name) else actor


def documents_for_meeting(*, session: Session, meeting: Meeting, hierarchy: Hierarchy) -> list[dm.Document]:
    """Every paper of an applied meeting: its minutes, and one submission letter (and its XLSX list) per
    level it forwarded to. What it recommended gets its quyết định from the head's decision step
    (`documents_for_decision`), not from the meeting. A re-run finds them stored (same IDs)."""
    if meeting.status != MeetingStatus.applied or meeting.id is None:
        return []
    decided = _decided(session, meeting)
    if not decided:
        return []
    unit = hierarchy.get(meeting.unit_id)
    council, members = council_of(session=session, unit_id=meeting.unit_id)
    day = meeting.meeting_date or meeting.opened_on
    campaign_row = session.get(CampaignRow, decided[0].nomination.campaign_id)
    campaign_code = campaign_row.code if campaign_row else "ntm-2021-2025"
    campaign = _campaign(session, decided[0].nomination.campaign_id)
    forms = catalogue().forms
    ids = [d.nomination.id for d in decided if d.nomination.id is not None]

    def minutes_paper() -> dm.Rendered:
        number = (
            f"{dm.next_number(session=session, unit_id=unit.id, year=day.year, symbol='BB-HĐTĐKT')}/BB-HĐTĐKT"
        )
        chair = next((m.name for m in members if m.role == MemberRole.chair), "")
        inp = MinutesInput(
            body=body_of(unit),
            council=council.name,
            number=number,
            day=day,
            members=tuple((m.name, ROLE_LABELS[m.role]) for m in members),
            present=int(meeting.summary.get("members_present") or 0),
            chair=chair,
            secretary=_secretary(decided, council.name),
            campaign=campaign,
            rule_set=decided[-1].nomination.rule_set,
            items=tuple(
                MinutesItem(
                    code=d.nomination.code,
                    nominee=d.nominee.name,
                    award=forms[d.nomination.award_code].short,
                    votes_for=d.step.votes_for,
                    votes_against=d.step.votes_against,
                    votes_abstain=d.step.votes_abstain,
                    written=(d.step.written_for, d.step.written_against, d.step.written_abstain),
                    result=_result(d, hierarchy, unit.head_title),
                )
                for d in decided
            ),
        )
        title = f"Biên bản họp {council.name} {day_in_words(day)}"
        return _docx("minutes", inp, title=title, unit=unit, name="bien-ban")

    store = partial(dm.ensure_document, session=session, unit_id=unit.id, meeting_id=meeting.id)
    minutes_doc = store(
        key=f"minutes:meeting:{meeting.id}",
        kind=dm.DocumentKind.minutes,
        nomination_ids=ids,
        render=minutes_paper,
    )
    out = [minutes_doc]

    forwarded: dict[int, list[Decided]] = defaultdict(list)
    for d in decided:
        if d.step.action == Action.forward and d.step.to_unit_id is not None:
            forwarded[d.step.to_unit_id].append(d)
    for to_unit_id, items in sorted(forwarded.items()):
        out += _submission(
            session,
            hierarchy,
            meeting,
            unit,
            to_unit_id,
            items,
            council.name,
            minutes_doc,
            campaign,
            campaign_code,
        )
    return out


def _submission(
    session: Session,
    hierarchy: Hierarchy,
    meeting: Meeting,
    unit: UnitRef,
    to_unit_id: int,
    items: list[Decided],
    council: str,
    minutes_doc: dm.Document,
    campaign: Campaign,
    campaign_code: str,
) -> list[dm.Document]:
    """The submission letter to one level above, and the same list as XLSX in the intake's columns."""
    to = hierarchy.get(to_unit_id)
    day = minutes_doc.issued_on
    rows = tuple(_list_row(d, hierarchy, campaign_code) for d in items)
    ids = [d.nomination.id for d in items if d.nomination.id is not None]
    symbol = body_of(unit).symbol("TTr")

    def letter() -> dm.Rendered:
        number = f"{dm.next_number(session=session, unit_id=unit.id, year=day.year, symbol=symbol)}/{symbol}"
        inp = SubmissionInput(
            body=body_of(unit),
            to=body_of(to),
            number=number,
            day=day,
            signer=signer_of(unit),
            rule_sets=tuple(dict.fromkeys(d.nomination.rule_set for d in items)),
            campaign=campaign,
            council=council,
            minutes_day=day,
            minutes_number=minutes_doc.number,
            nominees=rows,
        )
        title = f"Tờ trình {document_number(number)} đề nghị khen thưởng gửi {to.name}"
        return _docx("submission", inp, title=title, unit=unit, name="to-trinh", rest=to.code)

    # the letter and its list: one meeting's dossiers to one unit, stored under keys that say so
    store = partial(
        dm.ensure_document,
        session=session,
        unit_id=unit.id,
        meeting_id=meeting.id,
        to_unit_id=to_unit_id,
        nomination_ids=ids,
    )
    where = f"meeting:{meeting.id}:to:{to_unit_id}"
    submission = store(key=f"submission:{where}", kind=dm.DocumentKind.submission, render=letter)

    def sheet() -> dm.Rendered:
        title = f"Danh sách kèm theo Tờ trình {document_number(submission.number)}"
        content = list_xlsx(rows, day=day)
        return dm.Rendered(
            content,
            title,
            paper_file_name("danh-sach", unit, day, submission.number, to.code, suffix="xlsx"),
            dm.XLSX,
            submission.number,
            day,
        )

    listed = store(key=f"list:{where}", kind=dm.DocumentKind.nominee_list, render=sheet)
    return [submission, listed]


# A capacity line (Decree 30, Appendix I, II.8): "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "TM. ỦY BAN NHÂN DÂN",
# "THỦ TƯỚNG"…; the rest of what the registry types is the signer's name.
_CAPACITY = re.compile(
    r"^(?:(?:KT|TM|TL|TUQ|Q)\.\s*)?(?:PHÓ\s+)?(?:CHỦ\s+TỊCH|THỦ\s+TƯỚNG|BỘ\s+TRƯỞNG|THỨ\s+TRƯỞNG"
    r"|ỦY\s+BAN\s+NHÂN\s+DÂN|CHÁNH\s+VĂN\s+PHÒNG|GIÁM\s+ĐỐC)(?!\w)"
)
_DELEGATED = re.compile(r"^(?:KT|TM|TL|TUQ|Q)\.")
_SIGNER_PARTS = re.compile(r"\s*(?:[/\n;,]|\s[–—-]\s|:)\s*")


def parse_signer(text: str, unit: UnitRef) -> Signer:
    """The signer as the registry writes it: 'KT. CHỦ TỊCH / PHÓ CHỦ TỊCH / Nguyễn Văn A', also on one
    line with dashes ('KT. CHỦ TỊCH – PHÓ CHỦ TỊCH – Nguyễn Văn A') or a capacity before the name
    ('CHỦ TỊCH – Lê Văn Hải', 'Phó Chủ tịch Lê Văn Hải'): capacity lines in capitals, each once, the
    name last. A deputy without 'KT.' signs for the head ('KT. CHỦ TỊCH' first); empty: the unit's head.
    The paper never prints the capacity twice, nor a capacity as the name."""
    head = signer_of(unit)
    capacity: list[str] = []
    names: list[str] = []
    for part in _SIGNER_PARTS.split(nfc(text or "")):
        rest, matched = part.strip(" -–—"), False
        while (match := _CAPACITY.match(upper(rest))) is not None:
            capacity.append(upper(rest[: match.end()]))
            rest, matched = rest[match.end() :].strip(" -–—"), True
        if rest and rest == rest.upper() and (matched or _DELEGATED.match(rest)):
            if matched:  # 'CHỦ TỊCH HỘI ĐỒNG': the rest of a capacity line in capitals
                capacity[-1] = f"{capacity[-1]} {rest}"
            else:
                capacity.append(rest)
        elif rest:
            names.append(rest)
    capacity = list(dict.fromkeys(c for c in capacity if c))
    if capacity and capacity[0].startswith("PHÓ ") and not any(c.startswith("KT.") for c in capacity):
        capacity.insert(0, f"KT. {capacity[0].removeprefix('PHÓ ')}")
    if not capacity and not names:
        return head
    deputy = any(_DELEGATED.match(c) for c in capacity)  # the head's name is not the deputy's
    return Signer(
        capacity=tuple(capacity) or head.capacity, name=names[-1] if names else ("" if deputy else head.name)
    )


def documents_for_decision(
    *,
    session: Session,
    hierarchy: Hierarchy,
    unit_id: int,
    number: str,
    day: date,
    codes: list[str],
    signer: str = "",
    meeting_id: int | None = None,
) -> dm.Document:
    """The commendation decision (quyết định khen thưởng kèm danh sách) of the head's decision step: its
    number and date, the dossiers it confers, the signer as recorded; it cites the meeting's minutes and
    the submission letters that brought the dossiers. Stored once per unit and number."""
    unit = hierarchy.get(unit_id)
    rows = session.execute(
        select(Nomination, Nominee)
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(col(Nomination.code).in_([c.strip().upper() for c in codes]))
        .order_by(col(Nomination.id))
    ).all()
    if not rows:
        raise LookupError(f"quyết định {number}: không có hồ sơ nào trong các mã đã ghi")
    council = session.scalars(select(Council).where(col(Council.unit_id) == unit_id)).first()
    minutes_doc = None
    if meeting_id is not None:
        meeting = session.get(Meeting, meeting_id)
        if meeting is not None:
            documents_for_meeting(session=session, meeting=meeting, hierarchy=hierarchy)
            minutes_doc = dm.by_key(session=session, key=f"minutes:meeting:{meeting_id}")
    first = rows[0][0]
    campaign_row = session.get(CampaignRow, first.campaign_id)
    return _decision_paper(
        session,
        hierarchy,
        unit=unit,
        number=number,
        day=day,
        dossiers=[(n, e) for n, e in rows],
        signer=parse_signer(signer, unit),
        council=council.name if council else "",
        minutes_doc=minutes_doc,
        campaign=_campaign(session, first.campaign_id),
        campaign_code=campaign_row.code if campaign_row else "ntm-2021-2025",
        meeting_id=meeting_id,
    )


def _decision_paper(
    session: Session,
    hierarchy: Hierarchy,
    *,
    unit: UnitRef,
    number: str,
    day: date,
    dossiers: list[tuple[Nomination, Nominee]],
    signer: Signer,
    council: str,
    minutes_doc: dm.Document | None,
    campaign: Campaign,
    campaign_code: str,
    meeting_id: int | None,
) -> dm.Document:
    ids = [n.id for n, _ in dossiers if n.id is not None]
    letters = dm.submissions_for(session=session, nomination_ids=ids, to_unit_id=unit.id)
    cited = tuple(
        f"Tờ trình số {document_number(s.number)} {day_in_words(s.issued_on)} của Ủy ban nhân dân "
        f"{hierarchy.get(s.unit_id).name}"
        for s in letters
    )
    rows = tuple(_row_of(n, e, hierarchy, campaign_code) for n, e in dossiers)
    inp = DecisionInput(
        body=body_of(unit),
        number=number,
        day=day,
        signer=signer,
        rule_sets=tuple(dict.fromkeys(n.rule_set for n, _ in dossiers)),
        campaign=campaign,
        council=council if minutes_doc is not None else "",
        minutes_day=minutes_doc.issued_on if minutes_doc else None,
        minutes_number=minutes_doc.number if minutes_doc else "",
        submissions=cited,
        proposer=f"Thường trực {council}" if council else "",
        awardees=rows,
        recipients=tuple(
            dict.fromkeys(
                f"Ủy ban nhân dân {r.unit_name}" for r in rows if r.unit_name and r.unit_name != unit.name
            )
        ),
    )

    def paper() -> dm.Rendered:
        title = f"Quyết định {document_number(number)} {decision_summary(rows)[0].lower()}"
        return _docx("decision", inp, title=title, unit=unit, name="quyet-dinh")

    return dm.ensure_document(
        session=session,
        key=f"decision:unit:{unit.id}:{number}:{day.isoformat()}",
        kind=dm.DocumentKind.decision,
        unit_id=unit.id,
        meeting_id=meeting_id,
        nomination_ids=ids,
        render=paper,
    )


def yearly_report(
    *, session: Session, hierarchy: Hierarchy, unit_code: str, year: int, day: date
) -> dm.Document:
    """The yearly report summary of a unit: the dossiers its area filed in `year` and what became of them."""
    return yearly_report_of(
        session=session, hierarchy=hierarchy, unit=hierarchy.resolve(unit_code, on=day), year=year, day=day
    )


def yearly_report_of(
    *, session: Session, hierarchy: Hierarchy, unit: UnitRef, year: int, day: date
) -> dm.Document:
    """`yearly_report` of a unit already resolved (a filing's: the unit bound on the report's due date)."""
    area = {unit.id} | {
        u.id for u in hierarchy.by_id.values() if unit.id in {a.id for a in hierarchy.ancestors(u.id)}
    }
    stmt = (
        select(col(Nomination.status), col(Nomination.award_code), col(Nomination.awarded_code), func.count())
        .where(
            col(Nomination.origin_unit_id).in_(area),
            col(Nomination.submitted_on) >= date(year, 1, 1),
            col(Nomination.submitted_on) <= date(year, 12, 31),
        )
        .group_by(col(Nomination.status), col(Nomination.award_code), col(Nomination.awarded_code))
    )
    by_status: Counter = Counter()
    proposed: Counter = Counter()
    awarded: Counter = Counter()
    for status, award, awarded_code, count in session.execute(stmt):
        by_status[Status(status)] += count
        proposed[award] += count
        if Status(status) == Status.conferred:
            awarded[awarded_code or award] += count
    forms = catalogue().forms
    figures = (
        Figure(label="Hồ sơ đề nghị khen thưởng trong năm", value=sum(by_status.values())),
        *(Figure(label=f"— {s.label}", value=by_status[s]) for s in Status if by_status[s]),
    )
    codes = sorted(set(proposed) | set(awarded), key=lambda c: forms[c].rank if c in forms else 99)
    campaign_row = session.scalars(select(CampaignRow).order_by(col(CampaignRow.id))).first()
    campaign = Campaign(
        name=campaign_row.name if campaign_row else "Cả nước chung sức xây dựng nông thôn mới",
        legal_basis=campaign_row.legal_basis if campaign_row else "",
    )
    province, office = hierarchy.province_of(unit.id), "Văn phòng Điều phối nông thôn mới"
    to = f"{office} {province.name}" if province else office
    symbol = body_of(unit).symbol("BC")

    def paper() -> dm.Rendered:
        number = f"{dm.next_number(session=session, unit_id=unit.id, year=day.year, symbol=symbol)}/{symbol}"
        inp = YearlyReportInput(
            body=body_of(unit),
            to=to,
            number=number,
            day=day,
            year=year,
            signer=signer_of(unit),
            campaign=campaign,
            figures=figures,
            forms=tuple(
                FormFigure(
                    name=forms[c].name if c in forms else c, proposed=proposed[c], conferred=awarded[c]
                )
                for c in codes
            ),
        )
        title = f"Báo cáo năm {year} của {unit.name}"
        return _docx("yearly_report", inp, title=title, unit=unit, name=f"bao-cao-{year}")

    key = f"yearly-report:{unit.id}:{year}:{day.isoformat()}"
    return dm.ensure_document(
        session=session, key=key, kind=dm.DocumentKind.yearly_report, unit_id=unit.id, render=paper
    )


def if_renderable(session: Session, make: Callable[[], T]) -> T | None:
    """`make()` in a savepoint: a template a province broke in Word (TemplateProblem) rolls back only
    the paper and gives None, never the fact it records (the meeting, the decision, the filing). Any other
    failure does the same, logged with its traceback: papers can be made again later (`thidua docs make`),
    a council's decisions must not wait for them."""
    from documents.render import TemplateProblem

    try:
        with session.begin_nested():
            return make()
    except TemplateProblem as exc:
        log.warning("văn bản chưa lập được: %s", exc)
        return None
    except Exception:
        log.exception("văn bản chưa lập được (lập lại sau bằng `thidua docs make`)")
        return None


def meeting_papers_now(*, session: Session, meeting: Meeting, hierarchy: Hierarchy) -> list[dm.Document]:
    """The meeting's papers made in its own transaction, so the letters queued with it cite the tờ
    trình's number and date; none if a template cannot render (`thidua docs make --meeting N` later)."""
    return (
        if_renderable(
            session, lambda: documents_for_meeting(session=session, meeting=meeting, hierarchy=hierarchy)
        )
        or []
    )


class DecisionRef(TypedDict):
    """What names a commendation decision's paper: the arguments of `documents_for_decision` but the session."""

    hierarchy: Hierarchy
    unit_id: int
    number: str
    day: date
    codes: list[str]
    signer: NotRequired[str]
    meeting_id: NotRequired[int | None]


def decision_attachment(*, session: Session, **decision: Unpack[DecisionRef]) -> Attachment | None:
    """The decision as a DOCX attachment for the letters that announce it (made and stored if missing, in
    a savepoint): a template that cannot render leaves the letters without it (None), never the
    decision unrecorded. The decision step's letters carry it (notifications/approval_letters.py)."""
    doc = if_renderable(session, lambda: documents_for_decision(session=session, **decision))
    if doc is None:
        return None
    return Attachment(filename=doc.file_name, content_type=doc.media_type, data=doc.content)
