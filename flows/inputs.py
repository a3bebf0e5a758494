"""The meeting form (RunInput) a council's secretary fills in the Prefect UI, or that the CLI sends.

What the UI shows of it (see PREFECT-NOTES, "The meeting form in the Prefect UI"): the run's
description (the agenda) above a form with one card per agenda item, pre-filled. Every field carries a
Vietnamese title and a description an official can follow without reading code; the choices are
readable words; the agenda is also in the description of the list of items, because the default UI
squeezes the run's description away when the form is long. Field names avoid JSON-Schema keywords
(`items`, `type`, `format`…), which make the UI's validation call fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from prefect.input import RunInput
from pydantic import BaseModel, ConfigDict, Field, JsonValue, create_model, field_validator
from pydantic.fields import FieldInfo

from models.awards import catalogue
from models.clock import fmt_date
from models.meetings import Decision, Minutes
from models.text import fold

# The form's dropdown: the decisions' labels (the UI shows a schema `enum` as a list of choices).
CHOICES = [d.label for d in Decision]
_CHOICES_SCHEMA: dict[str, JsonValue] = {"enum": list(CHOICES)}

# «Hình thức thấp hơn» is free text (the CLI resumes with form codes, an official types a name): the
# form's short name, full name or code all work; a dropdown (Literal) would refuse the CLI's codes.
LOWER_AWARDS = {
    key: f.code for f in catalogue().forms.values() for key in (fold(f.short), fold(f.name), f.code)
}
LOWER_AWARD_HELP = ", ".join(f"«{f.short}»" for f in sorted(catalogue().forms.values(), key=lambda f: f.rank))


def lower_award_code(text: str) -> str:
    """'Bằng khen tỉnh', 'bang khen tinh' or 'bang-khen-tinh' → 'bang-khen-tinh'; unknown text is kept
    (the meeting's check names it); empty → ''."""
    text = (text or "").strip()
    return LOWER_AWARDS.get(fold(text), text) if text else ""


FORM_TITLE = "Biên bản họp Hội đồng Thi đua – Khen thưởng"
HOW_TO = (
    "Mỗi thẻ dưới đây là một hồ sơ trong chương trình họp. Với từng hồ sơ: chọn **Quyết định**, ghi số "
    "phiếu biểu quyết tại phiên họp (thông qua mà để trống mọi ô phiếu: tính là mọi thành viên dự họp đồng ý) "
    "và, riêng, phiếu bằng văn bản của thành viên vắng mặt; khi không "
    "thông qua hoặc trả lại, ghi lý do hay nội dung cần bổ sung. Không xóa thẻ, không thêm thẻ, không sửa mã "
    "hồ sơ. Bấm **Submit** để gửi biên bản; nếu biên bản chưa hợp lệ, phiên họp chờ lại với những gì đã ghi, "
    "lỗi ghi ở đầu mẫu và ở ô «Lỗi cần sửa» của từng hồ sơ."
)


def _votes(title: str, description: str | None = None) -> Any:
    """A tally's field: whole votes, none by default."""
    return Field(default=0, ge=0, title=title, description=description)


class AgendaDecision(BaseModel):
    """Một hồ sơ trong chương trình họp và quyết định của Hội đồng."""  # the UI shows this docstring

    model_config = ConfigDict(title="Hồ sơ")

    code: str = Field(title="Mã hồ sơ", description="Không sửa: mã hồ sơ trong chương trình họp.")
    nominee: str = Field(default="", title="Đối tượng", description="Để đối chiếu, không cần sửa.")
    award_name: str = Field(default="", title="Hình thức đề nghị", description="Để đối chiếu, không cần sửa.")
    decision: str = Field(
        default=Decision.approve.label,
        title="Quyết định",
        json_schema_extra=_CHOICES_SCHEMA,
        description="Thông qua: trình cấp trên khen thưởng, hoặc (ở cấp có thẩm quyền) đề nghị người đứng đầu "
        "quyết định khen thưởng. "
        "Không thông qua: ghi lý do. Trả lại bổ sung: ghi nội dung cần bổ sung. "
        "Khen mức thấp hơn: chọn hình thức thấp hơn.",
    )
    lower_award: str = Field(
        default="",
        title="Hình thức thấp hơn",
        description="Chỉ ghi khi quyết định «Khen mức thấp hơn», một trong: "
        + LOWER_AWARD_HELP
        + "; hình thức phải thuộc thẩm quyền Hội đồng này.",
    )
    votes_for: int = _votes(
        "Số phiếu đồng ý", "Thông qua mà để 0 cả ba ô phiếu: tính là mọi thành viên dự họp đồng ý."
    )
    votes_against: int = _votes("Số phiếu không đồng ý")
    votes_abstain: int = _votes("Số phiếu không biểu quyết")
    written_for: int = _votes(
        "Phiếu bằng văn bản: đồng ý",
        "Thành viên vắng mặt cho ý kiến bằng văn bản: ghi riêng, không gộp vào phiếu tại phiên họp.",
    )
    written_against: int = _votes("Phiếu bằng văn bản: không đồng ý")
    written_abstain: int = _votes("Phiếu bằng văn bản: không biểu quyết")
    note: str = Field(
        default="",
        title="Lý do / nội dung cần bổ sung / ghi chú",
        description="Bắt buộc khi không thông qua hoặc trả lại bổ sung.",
    )
    deadline: date | None = Field(
        default=None,
        title="Hạn bổ sung",
        description="Chỉ khi trả lại bổ sung; để trống thì theo thời hạn quy định.",
    )
    problems: str = Field(
        default="",
        title="Lỗi cần sửa",
        description="Hệ thống ghi lỗi của lần gửi trước ở đây; sửa các ô trên, ô này không cần sửa.",
    )

    @field_validator("decision")
    @classmethod
    def _one_of_the_choices(cls, value: str) -> str:
        if value not in CHOICES:
            raise ValueError("quyết định phải là một trong: " + ", ".join(CHOICES))
        return value


class MeetingDecisions(RunInput):
    """Biên bản họp Hội đồng Thi đua – Khen thưởng."""

    model_config = ConfigDict(title=FORM_TITLE)

    meeting_date: date = Field(
        title="Ngày họp",
        description="Ngày Hội đồng họp. Quyết định khen thưởng do người đứng đầu ký sau, có số và ngày riêng.",
    )
    members_present: int = Field(
        default=0,
        ge=0,
        title="Số thành viên dự họp",
        description="Sửa nếu có thành viên vắng mặt (thành viên vắng gửi phiếu bằng văn bản).",
    )
    secretary: str = Field(default="", title="Thư ký phiên họp")
    agenda_items: list[AgendaDecision] = Field(title="Quyết định cho từng hồ sơ", description=HOW_TO)

    @classmethod
    def with_initial_data(cls, description: str | None = None, **kwargs: Any) -> type[MeetingDecisions]:
        """The form pre-filled with `kwargs`, keeping every field's title and description.

        Prefect's own version rebuilds the fields from their types alone, so the top-level titles, the
        descriptions and the `ge` bounds would be lost. The description (the agenda, and the problems of
        a refused attempt) also goes into the description of `agenda_items`, where the default UI shows
        it however long the form is.
        """
        fields: dict[str, Any] = {}
        for name, value in kwargs.items():
            original = cls.model_fields[name]  # KeyError for a field the form does not have
            fields[name] = (original.annotation, FieldInfo.merge_field_infos(original, default=value))
        if "agenda_items" in kwargs:
            fields["agenda_items"][1].description = description or HOW_TO
        model = create_model(cls.__name__, __base__=cls, **fields)
        if description is not None:
            model._description = description
        return model

    def minutes_data(self) -> dict[str, Any]:
        """What was submitted, as `Minutes` data not yet validated (the model reads the decisions' labels):
        the meeting's one check reports the model's refusals together with its own."""
        return {
            "meeting_date": self.meeting_date,
            "members_present": self.members_present,
            "secretary": self.secretary,
            "decisions": [
                {
                    "code": i.code,
                    "decision": i.decision,
                    "lower_award": lower_award_code(i.lower_award),
                    "votes_for": i.votes_for,
                    "votes_against": i.votes_against,
                    "votes_abstain": i.votes_abstain,
                    "written_for": i.written_for,
                    "written_against": i.written_against,
                    "written_abstain": i.written_abstain,
                    "note": i.note,
                    "deadline": i.deadline,
                }
                for i in self.agenda_items
            ],
        }

    def to_minutes(self) -> Minutes:
        return Minutes.model_validate(self.minutes_data())

    @classmethod
    def run_input(cls, minutes: Minutes) -> dict[str, Any]:
        """The form's values for minutes in hand (what the CLI resumes a waiting meeting with)."""
        return {
            "meeting_date": minutes.meeting_date.isoformat(),
            "members_present": minutes.members_present,
            "secretary": minutes.secretary,
            "agenda_items": [
                {
                    "code": d.code,
                    "decision": d.decision.label,
                    "lower_award": d.lower_award,
                    "votes_for": d.votes_for,
                    "votes_against": d.votes_against,
                    "votes_abstain": d.votes_abstain,
                    "written_for": d.written_for,
                    "written_against": d.written_against,
                    "written_abstain": d.written_abstain,
                    "note": d.note,
                    "deadline": d.deadline.isoformat() if d.deadline else None,
                }
                for d in minutes.decisions
            ],
        }


# The default UI's markdown list leaves room for a one-digit marker: items 10, 11, 12… showed as 0, 1, 2
# (the "1" clipped). From ten items on, the numbers are plain text (escaped, so no list is made).
LIST_ITEMS_MAX = 9


def _agenda_line(number: int, item: dict, *, as_text: bool = False) -> str:
    due = fmt_date(date.fromisoformat(item["due_on"])) if item.get("due_on") else "—"
    marker = f"{number}\\." if as_text else f"{number}."
    return (
        f"{marker} **{item['code']}** — {item.get('nominee', '')} — "
        f"{item.get('award_name') or item.get('award', '')} — đề nghị: {item.get('origin_unit') or '—'} "
        f"— hạn xét {due}"
    )


def _blocks(lines: list[str]) -> str:
    # A blank line between lines: the default UI joins single line breaks of a field's description,
    # which would run a list's items together.
    return "\n\n".join(lines)


def agenda_markdown(*, council: str, agenda: list[dict], problems: Sequence[str] = ()) -> str:
    """The agenda as the form's description: each item's code, nominee, award form, proposing unit and
    due date, then how to fill the form (and, after a refused attempt, what to correct)."""
    lines = [f"## Chương trình họp — {council}"]
    if problems:
        lines += ["**Biên bản chưa hợp lệ, chưa áp dụng gì. Xin sửa rồi gửi lại:**"] + [
            f"- {p}" for p in problems
        ]
    as_text = len(agenda) > LIST_ITEMS_MAX
    lines += [_agenda_line(n, a, as_text=as_text) for n, a in enumerate(agenda, start=1)] or [
        "_Không có hồ sơ nào chờ xét._"
    ]
    return _blocks([*lines, HOW_TO])


def initial_form(*, agenda: list[dict], meeting_date: date, members: int) -> dict:
    """The form's starting values: every item «Thông qua» with no votes yet, every member present."""
    return {
        "meeting_date": meeting_date,
        "members_present": members,
        "agenda_items": [
            {
                "code": a["code"],
                "nominee": a["nominee"],
                "award_name": a.get("award_name") or a.get("award", ""),
                "decision": Decision.approve.label,
            }
            for a in agenda
        ],
    }


def refill_form(*, agenda: list[dict], submitted: MeetingDecisions, problems: Sequence[str]) -> dict:
    """The form offered again after a refused attempt: what was submitted, item by item in the fixed
    agenda's order, with each item's problems beside it. A card deleted comes back as at the start, a
    card added is dropped (its problem stays at the top), a code edited in place is set back."""
    sent = list(submitted.agenda_items)
    by_code = {i.code.strip().upper(): i for i in sent}
    codes = {a["code"] for a in agenda}
    items = []
    for position, a in enumerate(agenda):
        item = by_code.get(a["code"])
        beside = [str(p) for p in problems if getattr(p, "code", None) == a["code"]]
        if item is None and position < len(sent) and sent[position].code.strip().upper() not in codes:
            item = sent[position]  # its code was edited: keep what was typed on that card
            beside = [
                f"mã hồ sơ đã bị sửa thành «{item.code}»; đã đặt lại mã {a['code']}, xin xem lại rồi gửi"
            ]
        typed = item.model_dump(exclude={"code", "nominee", "award_name", "problems"}) if item else {}
        items.append(
            {
                "code": a["code"],
                "nominee": a["nominee"],
                "award_name": a.get("award_name") or a.get("award", ""),
                "decision": Decision.approve.label,
                **typed,
                "problems": "; ".join(beside),
            }
        )
    return {
        "meeting_date": submitted.meeting_date,
        "members_present": submitted.members_present,
        "secretary": submitted.secretary,
        "agenda_items": items,
    }
