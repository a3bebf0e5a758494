"""Council meetings (phiên họp Hội đồng): the agenda, the minutes, their checks, and applying a whole
meeting in one transaction.

A meeting's agenda is fixed when it opens (codes and versions), so a flow re-run after a crash or a
suspension sees the same agenda; every decision carries the idempotency key
`meeting:<id>:<code>`, so applying the same minutes twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import JSON, Column, CursorResult, Index, UniqueConstraint, func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col

from models import nominations as nm
from models.awards import AwardForm, NomineeKind, catalogue
from models.clock import fmt_date, today_vn, utcnow, years_before
from models.consultation import forwarding_problem
from models.db import SQLITE_BUSY_S, UTCDateTime, enum_type
from models.hierarchy import Hierarchy, UnitRef
from models.labelled import LabelledEnum
from models.nominations import AGENDA, Act, Action, Nomination, Status, Votes
from models.staging import staged
from models.text import fold, has_control_chars, nfc
from models.units import Council, CouncilMember


class MeetingStatus(StrEnum):
    open = "open"
    applied = "applied"
    cancelled = "cancelled"


class Meeting(SQLModel, table=True):
    """One meeting of one council: what was on its agenda and whether its decisions were applied."""

    __table_args__ = (
        UniqueConstraint("key", name="uq_meeting_key"),
        Index("ix_meeting_unit_status", "unit_id", "status"),
    )

    id: int | None = SQLField(default=None, primary_key=True)
    key: str = SQLField(max_length=120, description="flow run id, or a hash of minutes passed in")
    unit_id: int = SQLField(foreign_key="unit.id")
    council_id: int = SQLField(foreign_key="council.id")
    status: MeetingStatus = SQLField(default=MeetingStatus.open, sa_type=enum_type(MeetingStatus))
    flow_run_id: str | None = SQLField(default=None, max_length=64)
    opened_on: date
    meeting_date: date | None = None
    agenda: list = SQLField(default_factory=list, sa_column=Column(JSON, nullable=False))
    summary: dict = SQLField(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = SQLField(default_factory=utcnow, sa_column=Column(UTCDateTime()))
    applied_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime()))

    @property
    def waits_for_decisions(self) -> bool:
        """Opened to wait for the council's decisions (form or `meeting decide`), not with minutes in hand."""
        return self.key.startswith(WAITING_KEY)


# A meeting that waits for its decisions is keyed by its flow run (`run:<id>`): the run, resumed or
# re-run, finds it again. Minutes passed in key theirs by hash (`minutes_key`).
WAITING_KEY = "run:"


def waiting_key(flow_run_id: str) -> str:
    return WAITING_KEY + flow_run_id


class Decision(LabelledEnum):
    """What the council chose for one agenda item (quyết định của Hội đồng); `label` is the word on the
    form and in the minutes file."""

    approve = "approve", "Thông qua"
    reject = "reject", "Không thông qua"
    return_for_completion = "return", "Trả lại bổ sung"
    award_lower = "award-lower", "Khen mức thấp hơn"

    @property
    def awards(self) -> bool:
        """An approval, of the proposed form or of a lower one: it needs the vote the rules ask for."""
        return self in (Decision.approve, Decision.award_lower)

    @classmethod
    def read(cls, text: object) -> Decision:
        """The decision a secretary wrote: its label or code, with or without diacritics (empty: approve)."""
        key = fold(str(text or cls.approve.value))
        if key not in _DECISION_WORDS:
            raise ValueError("quyết định phải là: " + ", ".join(d.label.lower() for d in cls))
        return _DECISION_WORDS[key]


# What secretaries write besides the labels and the codes.
_DECISION_WORDS: dict[str, Decision] = {
    **{fold(d.label): d for d in Decision},
    **{fold(d.value): d for d in Decision},
    "dong y": Decision.approve,
    "khong khen thuong": Decision.reject,
    "tra lai": Decision.return_for_completion,
    "tra lai de bo sung": Decision.return_for_completion,
    "award lower": Decision.award_lower,
    "khen hinh thuc thap hon": Decision.award_lower,
}


class Outcome(LabelledEnum):
    """What a meeting did with a dossier (kết quả xét), as its step recorded it."""

    recommended = "recommended", "đề nghị khen thưởng, chờ quyết định"
    conferred = "conferred", "khen thưởng"
    forwarded = "forwarded", "trình cấp trên"
    rejected = "rejected", "không khen thưởng"
    returned = "returned", "trả lại bổ sung"

    @classmethod
    def of_action(cls, action: Action | str) -> Outcome:
        return _OUTCOME_OF_ACTION[Action(action)]


_OUTCOME_OF_ACTION = {
    Action.recommend: Outcome.recommended,
    Action.confer: Outcome.conferred,
    Action.forward: Outcome.forwarded,
    Action.reject: Outcome.rejected,
    Action.refuse: Outcome.rejected,
    Action.return_: Outcome.returned,
}


# Dates of a meeting and of its decisions may run a few days ahead (minutes typed before the meeting),
# never years: 2099 is a typing error that would stand in a numbered decision.
MAX_DAYS_AHEAD = 7
# A returned dossier's deadline for completion: from the meeting to a year after it.
MAX_DEADLINE_DAYS = 366
# Far above any council, and keeps vote counts inside a 32-bit column.
MAX_MEMBERS = 1_000
# The columns minutes reach: Nomination.code VARCHAR(30), NominationStep.note VARCHAR(4000) and actor
# VARCHAR(200). A meeting allocates no decision number: the head's decision has its own
# (models/decisions.py).
HIDDEN_CHARACTERS = (
    "có ký tự ẩn hoặc ký tự điều khiển (xuống dòng, tab, khoảng trắng không độ rộng…), không được phép"
)


def _one_line(value: object) -> str:
    """A value that goes into a decision number, a name or a letter's header: refused with any hidden
    character (checked before white space is collapsed, so a CR/LF is refused, not joined)."""
    text = "" if value is None else str(value)
    if has_control_chars(text):
        raise ValueError(HIDDEN_CHARACTERS)
    return nfc(text)


def _free_text(value: object) -> str:
    """A note: line breaks become spaces; other hidden characters (NUL, zero-width…) are refused."""
    text = nfc("" if value is None else str(value))
    if has_control_chars(text):
        raise ValueError(HIDDEN_CHARACTERS)
    return text


OneLine = Annotated[str, BeforeValidator(_one_line)]
FreeText = Annotated[str, BeforeValidator(_free_text)]
VoteCount = Annotated[int, Field(ge=0, le=MAX_MEMBERS)]


def latest_meeting_date() -> date:
    return today_vn() + timedelta(days=MAX_DAYS_AHEAD)


class ItemDecision(BaseModel):
    """The council's decision on one agenda item, with its vote and its reason."""

    model_config = ConfigDict(str_strip_whitespace=True)

    code: OneLine = Field(max_length=30, title="Mã hồ sơ")
    decision: Decision = Field(default=Decision.approve, title="Quyết định")
    lower_award: OneLine = Field(default="", max_length=120, title="Hình thức thấp hơn")
    votes_for: VoteCount = Field(default=0, title="Số phiếu đồng ý")
    votes_against: VoteCount = Field(default=0, title="Số phiếu không đồng ý")
    votes_abstain: VoteCount = Field(default=0, title="Số phiếu không biểu quyết")
    written_for: VoteCount = Field(default=0, title="Phiếu bằng văn bản đồng ý")
    written_against: VoteCount = Field(default=0, title="Phiếu bằng văn bản không đồng ý")
    written_abstain: VoteCount = Field(default=0, title="Phiếu bằng văn bản không biểu quyết")
    note: FreeText = Field(default="", max_length=4000, title="Lý do / ghi chú")
    deadline: date | None = Field(default=None, title="Hạn bổ sung")

    @field_validator("decision", mode="before")
    @classmethod
    def _decision(cls, value: object) -> Decision:
        return Decision.read(value)

    @field_validator("deadline")
    @classmethod
    def _deadline_within_a_year(cls, value: date | None) -> date | None:
        if value is not None and value > latest_meeting_date() + timedelta(days=MAX_DEADLINE_DAYS):
            raise ValueError(f"hạn {fmt_date(value)} quá xa (quá một năm sau hôm nay)")
        return value

    @property
    def recorded_votes(self) -> int:
        """Votes cast at the meeting, by the members present."""
        return self.votes_for + self.votes_against + self.votes_abstain

    @property
    def written_votes(self) -> int:
        """Written votes of absent members (lấy ý kiến bằng văn bản), recorded apart."""
        return self.written_for + self.written_against + self.written_abstain


class Minutes(BaseModel):
    """Biên bản họp: the meeting's facts and a decision per agenda item.

    Every field is checked here, once, whichever door the minutes came through (the UI's form, a file,
    a script): `check_minutes` reports these problems together with the meeting's own."""

    meeting_date: date = Field(title="Ngày họp")
    members_present: int = Field(ge=0, le=MAX_MEMBERS, title="Số thành viên dự họp")
    decisions: list[ItemDecision] = Field(title="Các quyết định")
    secretary: OneLine = Field(default="", max_length=200, title="Thư ký phiên họp")

    @field_validator("meeting_date")
    @classmethod
    def _not_in_the_future(cls, value: date) -> date:
        if value > latest_meeting_date():
            raise ValueError(
                f"ngày {fmt_date(value)} còn ở tương lai (quá {MAX_DAYS_AHEAD} ngày sau hôm nay)"
            )
        return value

    @model_validator(mode="after")
    def _unanimous_unless_counted(self) -> Minutes:
        # An approval with no vote written down is the unanimous vote of those present: one forgotten
        # item must not cost the secretary an error per item.
        for d in self.decisions:
            if d.decision.awards and d.recorded_votes == 0 and d.written_votes == 0:
                d.votes_for = self.members_present
        return self


class Problem(str):
    """One problem with submitted minutes, in words for the secretary; `code` names the agenda item it
    is about (None for the meeting as a whole), so a form can show it beside that item."""

    code: str | None

    def __new__(cls, text: str, code: str | None = None) -> Problem:
        problem = super().__new__(cls, text)
        problem.code = code
        return problem

    def __reduce__(self) -> tuple:  # pickled with its code (task results, threads)
        return (Problem, (str(self), self.code))


_ERROR_WORDS = {
    "string_too_long": "dài quá {max_length} ký tự",
    "greater_than_equal": "phải từ {ge} trở lên",
    "less_than_equal": "không được lớn hơn {le}",
    "int_parsing": "phải là số nguyên",
    "int_from_float": "phải là số nguyên",
    "int_type": "phải là số nguyên",
    "date_parsing": "ngày không hợp lệ (dd/mm/yyyy)",
    "date_from_datetime_parsing": "ngày không hợp lệ (dd/mm/yyyy)",
    "date_from_datetime_inexact": "ngày không hợp lệ (dd/mm/yyyy)",
    "date_type": "ngày không hợp lệ (dd/mm/yyyy)",
    "missing": "còn trống",
    "string_type": "phải là chữ",
    "list_type": "phải là danh sách",
}


def _field_title(model: type[BaseModel], name: str) -> str:
    info = model.model_fields.get(name)
    title = (info.title if info is not None else None) or name
    return title[:1].lower() + title[1:]


def field_problems(
    error: ValidationError, data: Mapping[str, Any], item_label: Callable[[int], str] | None = None
) -> list[Problem]:
    """The model's refusals in words: «hồ sơ HS2026-000001, lý do / ghi chú: dài quá 4000 ký tự».

    `item_label(index)` names a decision (the CLI says «dòng 7» for a file's row); by default its code."""
    submitted = data.get("decisions")
    decisions: list[Any] = submitted if isinstance(submitted, list) else []
    problems = []
    for err in error.errors():
        loc = err["loc"]
        words = _ERROR_WORDS.get(err["type"], err["msg"].removeprefix("Value error, ")).format(
            **err.get("ctx", {})
        )
        if loc[:1] == ("decisions",) and len(loc) > 1 and isinstance(loc[1], int):
            raw = (
                decisions[loc[1]]
                if loc[1] < len(decisions) and isinstance(decisions[loc[1]], Mapping)
                else {}
            )
            code = str(raw.get("code") or "").strip().upper() or None
            label = (
                item_label(loc[1])
                if item_label
                else (f"hồ sơ {code}" if code else f"quyết định thứ {loc[1] + 1}")
            )
            where = f", {_field_title(ItemDecision, str(loc[2]))}" if len(loc) > 2 else ""
            problems.append(Problem(f"{label}{where}: {words}", code))
        elif loc:
            problems.append(Problem(f"{_field_title(Minutes, str(loc[0]))}: {words}"))
        else:
            problems.append(Problem(words))
    return problems


@dataclass
class AgendaItem:
    code: str
    version: int
    nominee: str
    award: str
    origin_unit: str
    due_on: date | None

    def public(self) -> dict:
        return {
            "code": self.code,
            "version": self.version,
            "nominee": self.nominee,
            "award": self.award,
            "award_name": catalogue().forms[self.award].name,
            "origin_unit": self.origin_unit,
            "due_on": self.due_on.isoformat() if self.due_on else None,
        }


def council_of(*, session: Session, unit_id: int) -> tuple[Council, list[CouncilMember]]:
    council = session.scalars(select(Council).where(col(Council.unit_id) == unit_id)).first()
    if council is None:
        raise LookupError("đơn vị chưa có Hội đồng Thi đua – Khen thưởng trong hệ thống")
    members = list(session.scalars(select(CouncilMember).where(col(CouncilMember.council_id) == council.id)))
    return council, members


def receive_pending(
    *, session: Session, unit_id: int, hierarchy: Hierarchy, on: date, actor: str
) -> list[str]:
    """Open the review of every dossier forwarded to the unit and not yet received; returns the codes this
    call received. Idempotent, and exact under a race: a dossier another run received first (a meeting
    opening while `receive-forwarded` runs) is that run's to report, so each receipt has one event."""
    waiting = list(
        session.scalars(
            select(Nomination)
            .where(col(Nomination.current_unit_id) == unit_id, col(Nomination.status) == Status.forwarded)
            .order_by(col(Nomination.id))
        )
    )
    received = []
    for nomination in waiting:
        act = Act(actor, on, unit_id=unit_id, key=f"receive:{nomination.code}:{unit_id}")
        if nm.already_applied(session=session, key=act.key) is not None:
            continue
        try:
            nm.receive(session=session, nomination=nomination, hierarchy=hierarchy, act=act)
        except nm.Conflict:
            continue
        received.append(nomination.code)
    return received


def build_agenda(*, session: Session, unit_id: int, hierarchy: Hierarchy) -> list[AgendaItem]:
    """Everything waiting for the council of `unit_id`, oldest due first."""
    from models.nominations import Nominee

    stmt = (
        select(
            col(Nomination.code),
            col(Nomination.version),
            col(Nominee.name),
            col(Nomination.award_code),
            col(Nomination.origin_unit_id),
            col(Nomination.due_on),
        )
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(
            col(Nomination.current_unit_id) == unit_id, col(Nomination.status).in_([s.value for s in AGENDA])
        )
        .order_by(col(Nomination.due_on), col(Nomination.id))
    )
    return [
        AgendaItem(code, version, name, award, hierarchy.get(origin).name, due)
        for code, version, name, award, origin, due in session.execute(stmt)
    ]


class MeetingRefused(ValueError):
    """A meeting that cannot open or go on; the message is for officials."""


class CentralBodiesDoNotVote(MeetingRefused):
    def __init__(self, name: str):
        super().__init__(
            f"{name} xét và quyết định không qua biểu quyết của Hội đồng: không mở phiên họp; "
            "ghi quyết định (hoặc tờ trình) bằng `thidua decision issue`"
        )


class NothingToDecide(MeetingRefused):
    def __init__(self, council: Council):
        super().__init__(f"không có hồ sơ nào chờ {council.name} xét; chưa mở phiên họp")


class MeetingAlreadyOpen(MeetingRefused):
    def __init__(self, meeting: Meeting, council: Council):
        self.meeting = meeting
        super().__init__(
            f"{council.name} đang có phiên họp #{meeting.id} (mở ngày {fmt_date(meeting.opened_on)}, "
            f"{len(meeting.agenda)} hồ sơ) chờ quyết định: ghi biên bản vào phiên đó (`thidua meeting decide`) "
            "hoặc hủy phiên đó (`thidua meeting cancel`) rồi mở phiên mới"
        )


class MeetingClosed(MeetingRefused):
    def __init__(self, meeting: Meeting):
        why = meeting.summary.get("cancelled") if meeting.status == MeetingStatus.cancelled else None
        super().__init__(
            f"phiên họp #{meeting.id} đã {'hủy' if why is not None else 'kết thúc'}"
            + (f" ({why})" if why else "")
            + ", không nhận thêm quyết định"
        )


# How long a meeting waits for another meeting of its council to finish applying: on PostgreSQL for the
# council's row; on SQLite every write waits for the write lock as long as models/db.py's busy timeout.
COUNCIL_WAIT_S = 900


class CouncilBusy(MeetingRefused):
    def __init__(self, waited: str) -> None:
        super().__init__(
            f"hội đồng đang áp dụng một phiên họp khác (đã chờ {waited}); chưa áp dụng gì, "
            "xin gửi lại biên bản sau"
        )


def _lock_council(session: Session, council_id: int) -> None:
    """Take the council's row for this transaction (a row lock on PostgreSQL, the write lock on SQLite):
    two meetings of one council opening, or applying, at once then go one after the other and see each
    other. The lock goes with the transaction: a killed process holds nothing."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text(f"SET LOCAL lock_timeout = '{COUNCIL_WAIT_S}s'"))
    try:
        session.execute(
            update(Council)
            .where(col(Council.id) == council_id)
            .values(id=col(Council.id))
            .execution_options(synchronize_session=False)
        )
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available: waited out lock_timeout
            raise CouncilBusy(f"{-(-COUNCIL_WAIT_S // 60)} phút") from exc
        if getattr(exc.orig, "sqlite_errorname", None) == "SQLITE_BUSY":  # waited out the busy timeout
            raise CouncilBusy(f"{SQLITE_BUSY_S} giây") from exc
        raise
    if postgres:
        session.execute(text("SET LOCAL lock_timeout = DEFAULT"))


def meeting_to_apply(session: Session, meeting_id: int) -> Meeting | None:
    """The meeting, locked for applying it: its council's row first (one meeting of a council applies at a
    time; a second waits for the first, then finds the dossiers it decided), then its own row."""
    council_id = session.scalar(select(col(Meeting.council_id)).where(col(Meeting.id) == meeting_id))
    if council_id is None:
        return None
    _lock_council(session, council_id)
    return session.get(Meeting, meeting_id, with_for_update=True, populate_existing=True)


def open_meeting(
    *,
    session: Session,
    unit_id: int,
    key: str,
    hierarchy: Hierarchy,
    on: date,
    flow_run_id: str | None = None,
    actor: str = "",
    received: list[str] | None = None,
) -> Meeting:
    """Open (or find again, by key) a meeting and fix its agenda; `received`, if given, collects the codes
    of the forwarded dossiers this opening received.

    A council holds one meeting at a time: a meeting that would wait for decisions is refused while
    another is open (`MeetingAlreadyOpen`), as are minutes passed in while one waits. Minutes passed in
    beside each other are not: they apply one after the other (the council's row, `meeting_to_apply`),
    and a dossier decided twice loses its compare-and-set. Nothing waiting: `NothingToDecide`."""
    existing = session.scalars(select(Meeting).where(col(Meeting.key) == key)).first()
    if existing is not None:
        return existing
    unit = hierarchy.get(unit_id)
    if not unit.valid_on(
        on
    ):  # an abolished unit's council no longer sits (its dossiers: `thidua changeover`)
        raise MeetingRefused(f"không mở phiên họp: {hierarchy.ended_text(unit, on)}")
    council, _ = council_of(session=session, unit_id=unit_id)
    if hierarchy.get(unit_id).level in nm.CENTRAL:
        raise CentralBodiesDoNotVote(hierarchy.get(unit_id).name)
    _lock_council(session, saved_id(council))
    waits = key.startswith(WAITING_KEY)
    for other in open_meetings_of(session=session, unit_id=unit_id):
        if waits or other.waits_for_decisions:
            raise MeetingAlreadyOpen(other, council)
    codes = receive_pending(
        session=session, unit_id=unit_id, hierarchy=hierarchy, on=on, actor=actor or council.name
    )
    if received is not None:
        received.extend(codes)
    agenda = build_agenda(session=session, unit_id=unit_id, hierarchy=hierarchy)
    if not agenda:
        raise NothingToDecide(council)
    meeting = Meeting(
        key=key,
        unit_id=unit_id,
        council_id=saved_id(council),
        flow_run_id=flow_run_id,
        opened_on=on,
        agenda=[a.public() for a in agenda],
    )
    session.add(meeting)
    session.flush()
    return meeting


def open_meetings_of(*, session: Session, unit_id: int) -> list[Meeting]:
    return list(
        session.scalars(
            select(Meeting)
            .where(col(Meeting.unit_id) == unit_id, col(Meeting.status) == MeetingStatus.open)
            .order_by(col(Meeting.id).desc())
        )
    )


def open_meeting_of(*, session: Session, unit_id: int) -> Meeting | None:
    return next(iter(open_meetings_of(session=session, unit_id=unit_id)), None)


def cancel_meeting(
    *, session: Session, meeting_id: int, reason: str, problems: Sequence[str] | None = None
) -> bool:
    """Close an open meeting without applying anything (its dossiers wait for the next meeting); False if
    it was no longer open (applied or cancelled meanwhile: the update is conditional on `open`).

    Minutes passed in free their key, so the same minutes sent again open a fresh meeting; a meeting that
    waits keeps its run's key, so that run, resumed or re-run, finds it cancelled and stops."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        return False
    values: dict[str, Any] = {
        "status": MeetingStatus.cancelled,
        "summary": {**meeting.summary, "cancelled": reason, "problems": list(problems or [])},
    }
    if not meeting.waits_for_decisions:
        values["key"] = f"{meeting.key}:cancelled:{meeting.id}"
    done = (
        cast(
            "CursorResult[Any]",
            session.execute(
                update(Meeting)
                .where(col(Meeting.id) == meeting_id, col(Meeting.status) == MeetingStatus.open)
                .values(**values)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        == 1
    )
    session.refresh(meeting)
    return done


def note_refused_attempt(*, session: Session, meeting_id: int, attempt: int, problems: Sequence[str]) -> bool:
    """Keep the problems of a refused form on the meeting (the CLI and the portal read them there); False
    if this attempt was noted already (the run, resumed, replays its earlier attempts from the top)."""
    meeting = session.get(Meeting, meeting_id)
    if (
        meeting is None
        or meeting.status != MeetingStatus.open
        or meeting.summary.get("attempt", 0) >= attempt
    ):
        return False
    meeting.summary = {**meeting.summary, "attempt": attempt, "problems": list(problems)}
    session.add(meeting)
    return True


def check_minutes(
    *,
    session: Session,
    meeting: Meeting,
    minutes: Minutes | Mapping[str, Any],
    hierarchy: Hierarchy,
    item_label: Callable[[int], str] | None = None,
) -> list[Problem]:
    """Every problem with the minutes, in words a secretary understands; empty when they can be applied.

    Minutes as submitted (a form's or a file's values) are validated by the `Minutes` model here, and its
    refusals come together with the meeting's own (agenda, votes, rules), so one submission shows every
    problem; the rules still speak for the items and fields the model accepted."""
    return checked_minutes(session, meeting, minutes, hierarchy, item_label)[1]


def checked_minutes(
    session: Session,
    meeting: Meeting,
    minutes: Minutes | Mapping[str, Any],
    hierarchy: Hierarchy,
    item_label: Callable[[int], str] | None = None,
) -> tuple[Minutes | None, list[Problem]]:
    """`check_minutes`, with the minutes as the model read them (None if it refused them)."""
    if isinstance(minutes, Minutes):
        return minutes, _check_meeting(session, meeting, minutes, hierarchy)
    try:
        read = Minutes.model_validate(minutes)
    except ValidationError as exc:
        problems = field_problems(exc, minutes, item_label)
        members = len(council_of(session=session, unit_id=meeting.unit_id)[1])
        checkable, bad_codes = _checkable_part(exc, minutes, opened_on=meeting.opened_on, members=members)
        if checkable is not None:
            problems += [
                p for p in _check_meeting(session, meeting, checkable, hierarchy) if p.code not in bad_codes
            ]
        return None, problems
    return read, _check_meeting(session, meeting, read, hierarchy)


def parse_minutes(
    data: Mapping[str, Any], item_label: Callable[[int], str] | None = None
) -> tuple[Minutes | None, list[Problem]]:
    """Minutes as submitted, read by the model alone (the meeting not open yet), or its refusals in words."""
    try:
        return Minutes.model_validate(data), []
    except ValidationError as exc:
        return None, field_problems(exc, data, item_label)


def _checkable_part(
    error: ValidationError, data: Mapping[str, Any], *, opened_on: date, members: int
) -> tuple[Minutes | None, set[str | None]]:
    """What the model accepted, for the meeting's checks: refused decisions left out (their codes are
    returned, so they are not also called missing), refused meeting fields replaced by neutral values."""
    locs = [e["loc"] for e in error.errors()]
    bad_items = {
        loc[1] for loc in locs if loc[:1] == ("decisions",) and len(loc) > 1 and isinstance(loc[1], int)
    }
    bad_fields = {loc[0] for loc in locs if loc and not (loc[0] == "decisions" and len(loc) > 1)}
    decisions = data.get("decisions")
    if "decisions" in bad_fields or not isinstance(decisions, list):
        return None, set()
    neutral = {"meeting_date": opened_on, "members_present": members, "secretary": ""}
    kept = {
        **data,
        **{name: neutral[name] for name in bad_fields if name in neutral},
        "decisions": [d for i, d in enumerate(decisions) if i not in bad_items],
    }
    bad_codes = {
        str(d.get("code") or "").strip().upper() or None
        for i, d in enumerate(decisions)
        if i in bad_items and isinstance(d, Mapping)
    }
    try:
        return Minutes.model_validate(kept), bad_codes
    except ValidationError:
        return None, set()


@dataclass
class _Sitting:
    """What checking one meeting's minutes needs at hand: the meeting, its council and the dossiers named."""

    meeting: Meeting
    minutes: Minutes
    hierarchy: Hierarchy
    unit: UnitRef
    members: int
    agenda: set[str]
    nominations: dict[str, Nomination]
    kinds: dict[str, NomineeKind] = field(default_factory=dict)
    session: Session | None = None


def _check_meeting(
    session: Session, meeting: Meeting, minutes: Minutes, hierarchy: Hierarchy
) -> list[Problem]:
    """The meeting's facts, then each decision: on the agenda, still waiting here, and sound for its kind."""
    from models.nominations import Nominee

    named = [d.code.upper() for d in minutes.decisions]
    sitting = _Sitting(
        meeting,
        minutes,
        hierarchy,
        hierarchy.get(meeting.unit_id),
        members=len(council_of(session=session, unit_id=meeting.unit_id)[1]),
        agenda={a["code"] for a in meeting.agenda},
        nominations={
            n.code: n for n in session.scalars(select(Nomination).where(col(Nomination.code).in_(named)))
        },
        kinds=dict(
            session.execute(
                select(col(Nomination.code), col(Nominee.kind))
                .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
                .where(col(Nomination.code).in_(named))
            )
            .tuples()
            .all()
        ),
        session=session,
    )
    problems = [Problem(text) for text in _meeting_problems(sitting)]
    seen: set[str] = set()
    for d in minutes.decisions:
        code = d.code.upper()
        texts = (
            [f"hồ sơ {code}: có hai quyết định cho cùng một hồ sơ"]
            if code in seen
            else _item_problems(sitting, d)
        )
        seen.add(code)
        problems += [Problem(text, code) for text in texts]
    if meeting.waits_for_decisions:
        # The agenda was fixed and shown when the meeting opened: each item needs its decision here.
        problems += [
            Problem(
                f"hồ sơ {code}: chưa có quyết định (mỗi hồ sơ trong chương trình họp cần một quyết định)",
                code,
            )
            for code in meeting_codes(meeting)
            if code not in seen
        ]
    return problems


def meeting_codes(meeting: Meeting) -> list[str]:
    return [a["code"] for a in meeting.agenda]


def _meeting_problems(s: _Sitting) -> list[str]:
    problems = []
    if s.meeting.status != MeetingStatus.open:
        problems.append(str(MeetingClosed(s.meeting)))
    if s.minutes.members_present > s.members:
        problems.append(
            f"số thành viên dự họp ({s.minutes.members_present}) lớn hơn số thành viên Hội đồng ({s.members})"
        )
    problems += _quorum_problems(s)
    if not s.unit.valid_on(s.minutes.meeting_date):
        problems.append(
            f"ngày họp {fmt_date(s.minutes.meeting_date)}: {s.hierarchy.ended_text(s.unit, s.minutes.meeting_date)}"
        )
    if s.minutes.meeting_date < years_before(s.meeting.opened_on, 1):
        problems.append(
            f"ngày họp {fmt_date(s.minutes.meeting_date)} không hợp lý (hơn một năm trước ngày "
            f"mở phiên họp {fmt_date(s.meeting.opened_on)})"
        )
    return problems


def _quorum_problems(s: _Sitting) -> list[str]:
    """The meeting's conclusions stand only with its quorum (the rule set in force on the meeting's date)."""
    cat = catalogue()
    rules = cat.rule_set_on(s.minutes.meeting_date) or cat.rule_sets[-1]
    present = s.minutes.members_present
    if present > s.members or rules.quorum.met(present=present, members=s.members):
        return []
    return [
        f"Hội đồng chưa đủ số thành viên dự họp: {present}/{s.members} thành viên, cần "
        f"{rules.quorum.describe()} ({rules.quorum.needed(s.members)} người) — {rules.quorum.basis}; "
        "các kết luận của phiên họp chưa có giá trị"
    ]


def _item_problems(s: _Sitting, d: ItemDecision) -> list[str]:
    """One decision: the dossier must be this meeting's to decide, then the decision sound for its kind."""
    label = f"hồ sơ {d.code.upper()}"
    n = s.nominations.get(d.code.upper())
    if d.code.upper() not in s.agenda:
        if n is not None and n.current_unit_id != s.meeting.unit_id:
            where = s.hierarchy.get(n.current_unit_id).name
            return [
                f"{label} không thuộc Hội đồng {s.unit.name} (đang ở {where}), không có trong chương trình họp"
            ]
        hint = " (không sửa mã hồ sơ, không thêm thẻ)" if s.meeting.waits_for_decisions else ""
        return [f"{label} không có trong chương trình họp{hint}"]
    if n is None or n.status not in AGENDA or n.current_unit_id != s.meeting.unit_id:
        return [f"{label} không còn chờ Hội đồng {s.unit.name} xét (đã được xử lý ở nơi khác)"]
    problems = []
    if d.recorded_votes > s.minutes.members_present:
        problems.append(
            f"tổng số phiếu ({d.recorded_votes}) vượt số thành viên dự họp ({s.minutes.members_present})"
        )
    absent = max(s.members - s.minutes.members_present, 0)
    if d.written_votes > absent:
        problems.append(
            f"số phiếu bằng văn bản ({d.written_votes}) vượt số thành viên vắng mặt ({absent}); "
            "thành viên dự họp biểu quyết tại phiên họp"
        )
    if d.deadline is not None and d.deadline < s.minutes.meeting_date:
        problems.append(
            f"hạn bổ sung {fmt_date(d.deadline)} trước ngày họp {fmt_date(s.minutes.meeting_date)}"
        )
    problems += _DECISION_CHECKS[d.decision](s, d, n)
    problems += _consultation_problems(s, d, n)
    return [f"{label}: {p}" for p in problems]


def _consultation_problems(s: _Sitting, d: ItemDecision, n: Nomination) -> list[str]:
    """A state-level award goes up from a consulting level only after consultation (hiệp y): every body
    asked, and each answered or its time limit passed (models/consultation.py)."""
    if not d.decision.awards or s.session is None:
        return []
    form = catalogue().forms.get(d.lower_award if d.decision == Decision.award_lower else n.award_code)
    if form is None or form.authority == s.unit.level:
        return []
    problem = forwarding_problem(
        session=s.session, nomination=n, hierarchy=s.hierarchy, on=s.minutes.meeting_date, form_code=form.code
    )
    return [problem] if problem else []


def _check_approval(s: _Sitting, d: ItemDecision, n: Nomination) -> list[str]:
    return _vote_problems(s, d, n, catalogue().forms[n.award_code])


def _check_lower_award(s: _Sitting, d: ItemDecision, n: Nomination) -> list[str]:
    """A lower form only from the catalogue, within the dossier's rule set, for its nominee's kind and
    within this council's level (an individual never gets an emulation flag)."""
    cat = catalogue()
    form, lower = cat.forms[n.award_code], cat.forms.get(d.lower_award)
    if lower is None:
        return [f"hình thức «{d.lower_award}» không có trong danh mục"]
    problems = []
    if lower.rank >= form.rank:
        problems.append(f"«{lower.name}» không thấp hơn hình thức đề nghị «{form.name}»")
    problem = nm.form_problem(form=lower, rule_set=n.rule_set, kind=s.kinds.get(n.code), level=s.unit.level)
    if problem:
        problems.append(problem)
    return problems + _vote_problems(s, d, n, lower)


def _vote_problems(s: _Sitting, d: ItemDecision, n: Nomination, form: AwardForm) -> list[str]:
    """An award needs the vote its rule asks for (e.g. 80 % of the members for the emulation flag)."""
    rule = catalogue().rule_set(n.rule_set).rules.get(form.code)
    present = s.minutes.members_present
    if rule is None or rule.vote.passes(
        votes_for=d.votes_for, written_for=d.written_for, present=present, members=s.members
    ):
        return []
    written = f" và {d.written_for} phiếu bằng văn bản" if d.written_for else ""
    counted = "" if rule.vote.of == "members" or not d.written_for else " (phiếu bằng văn bản không tính)"
    return [
        f"{d.votes_for} phiếu đồng ý tại phiên họp{written} chưa đạt yêu cầu «{rule.vote.describe()}»"
        f"{counted} ({s.members} thành viên, {present} dự họp) — {rule.vote_basis}"
    ]


def _check_rejection(s: _Sitting, d: ItemDecision, n: Nomination) -> list[str]:
    return [] if d.note else ["không thông qua thì phải ghi rõ lý do"]


def _check_return(s: _Sitting, d: ItemDecision, n: Nomination) -> list[str]:
    return [] if d.note else ["trả lại thì phải ghi rõ nội dung cần bổ sung"]


_DECISION_CHECKS: dict[Decision, Callable[[_Sitting, ItemDecision, Nomination], list[str]]] = {
    Decision.approve: _check_approval,
    Decision.award_lower: _check_lower_award,
    Decision.reject: _check_rejection,
    Decision.return_for_completion: _check_return,
}


@dataclass
class MeetingResult:
    """What an applied meeting did to each dossier, for its events, its letters and the levels above."""

    meeting_id: int
    unit_id: int
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    forwarded_to: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[Outcome, int]:
        """How many dossiers had each outcome, in the order they first came."""
        return dict(Counter(self.outcomes.values()))


class MeetingApplied(BaseModel):
    """What `council-meeting` returns and `thidua meeting decide --json` prints once a meeting applied."""

    meeting_id: int
    counts: dict[Outcome, int]
    decisions: dict[str, Outcome] = Field(description="each dossier's outcome, by code")
    forwarded_to: list[str] = Field(description="codes of the units the meeting forwarded to")
    letters: int | None = Field(default=None, description="letters queued by this run (None: not known here)")
    meeting_date: date
    unit: str = ""


class MeetingRefusal(BaseModel):
    """The data of a Refused `council-meeting` run (`flows/refusal.py`): nothing was applied."""

    refused: bool = True
    problems: list[str]
    meeting_id: int | None
    message: str


def applied_result(
    *, session: Session, meeting: Meeting, hierarchy: Hierarchy, unit: str = "", letters: int | None = None
) -> MeetingApplied:
    """An applied meeting as its run reports it (also rebuilt later, from its steps and summary)."""
    result = outcome_of(session=session, meeting=meeting)
    return MeetingApplied(
        meeting_id=result.meeting_id,
        counts=result.counts(),
        decisions=result.outcomes,
        forwarded_to=sorted({hierarchy.get(u).code for u in result.forwarded_to.values()}),
        letters=letters,
        meeting_date=meeting.meeting_date or meeting.opened_on,
        unit=unit,
    )


class MinutesRefused(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("biên bản chưa hợp lệ:\n" + "\n".join(f"- {p}" for p in problems))


def apply_minutes(
    *,
    session: Session,
    meeting: Meeting,
    minutes: Minutes | Mapping[str, Any],
    hierarchy: Hierarchy,
    actor: str = "",
    item_label: Callable[[int], str] | None = None,
) -> MeetingResult:
    """Check the minutes (as `check_minutes`: once, in the transaction that applies them) and apply the
    whole meeting; the caller commits once. Items left out of the minutes stay on the agenda.
    `item_label` names a decision in the problems (as `field_problems`)."""
    checked, problems = checked_minutes(session, meeting, minutes, hierarchy, item_label)
    if checked is None or problems:
        raise MinutesRefused(problems)
    minutes = checked
    council, _ = council_of(session=session, unit_id=meeting.unit_id)
    result = MeetingResult(saved_id(meeting), meeting.unit_id)
    members = len(council_of(session=session, unit_id=meeting.unit_id)[1])
    codes = [d.code.upper() for d in minutes.decisions]
    by_code = {n.code: n for n in session.scalars(select(Nomination).where(col(Nomination.code).in_(codes)))}
    actor = actor or minutes.secretary or council.name
    for d in minutes.decisions:
        n = by_code[d.code.upper()]
        act = Act(
            actor,
            minutes.meeting_date,
            unit_id=meeting.unit_id,
            key=f"meeting:{meeting.id}:{n.code}",  # step_keys() finds them again
            note=d.note,
        )
        votes = Votes(
            d.votes_for,
            d.votes_against,
            d.votes_abstain,
            minutes.members_present,
            written_for=d.written_for,
            written_against=d.written_against,
            written_abstain=d.written_abstain,
            members=members,
        )
        if d.decision.awards:
            lower = d.lower_award if d.decision == Decision.award_lower else None
            form = catalogue().forms[lower or n.award_code]
            if hierarchy.get(n.current_unit_id).level == form.authority:
                # the council advises; the head decides later, in a numbered decision (models/decisions.py)
                nm.recommend(
                    session=session, nomination=n, hierarchy=hierarchy, act=act, votes=votes, award_code=lower
                )
                result.outcomes[n.code] = Outcome.recommended
            else:
                nm.forward(session=session, nomination=n, hierarchy=hierarchy, act=act, votes=votes)
                result.outcomes[n.code] = Outcome.forwarded
                result.forwarded_to[n.code] = n.current_unit_id
        elif d.decision == Decision.reject:
            nm.reject(session=session, nomination=n, act=act, votes=votes)
            result.outcomes[n.code] = Outcome.rejected
        else:
            nm.return_for_completion(session=session, nomination=n, act=act, deadline=d.deadline)
            result.outcomes[n.code] = Outcome.returned
    meeting.status = MeetingStatus.applied
    meeting.meeting_date = minutes.meeting_date
    meeting.applied_at = utcnow()
    meeting.summary = {
        "counts": {str(k): v for k, v in result.counts().items()},
        "members_present": minutes.members_present,
        "forwarded_to": sorted({hierarchy.get(u).code for u in result.forwarded_to.values()}),
    }
    session.add(meeting)
    session.flush()
    return result


def saved_id(row: Meeting | Council) -> int:
    """The id of a row read from the database (never None there)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} chưa được lưu")
    return row.id


def meetings_applied(*, session: Session, unit_id: int) -> int:
    return session.execute(
        select(func.count())
        .select_from(Meeting)
        .where(col(Meeting.unit_id) == unit_id, col(Meeting.status) == MeetingStatus.applied)
    ).scalar_one()


def step_keys(meeting: Meeting) -> list[str]:
    """The idempotency keys of the steps a meeting's decisions made, one per agenda item: found through the
    unique index, where `LIKE 'meeting:N:%'` scans every step of the country."""
    return [f"meeting:{saved_id(meeting)}:{code}" for code in meeting_codes(meeting)]


def outcome_of(*, session: Session, meeting: Meeting) -> MeetingResult:
    """What an applied meeting did, rebuilt from its steps (so a re-run can finish telling people)."""
    from models.nominations import NominationStep

    result = MeetingResult(saved_id(meeting), meeting.unit_id)
    rows = session.execute(
        select(
            col(NominationStep.idempotency_key), col(NominationStep.action), col(NominationStep.to_unit_id)
        )
        .where(col(NominationStep.idempotency_key).in_(step_keys(meeting)))
        .order_by(col(NominationStep.id))
    ).all()
    for key, action, to_unit in rows:
        code = key.rsplit(":", 1)[1]
        result.outcomes[code] = Outcome.of_action(action)
        if to_unit is not None and result.outcomes[code] == Outcome.forwarded:
            result.forwarded_to[code] = to_unit
    return result


def minutes_key(*, unit_code: str, minutes: Minutes) -> str:
    """Minutes passed in (a meeting already held): the same minutes for the same council are one meeting."""
    import hashlib

    digest = hashlib.sha256(f"{unit_code}|{minutes.model_dump_json()}".encode()).hexdigest()[:32]
    return f"minutes:{digest}"


def stored_minutes(*, session: Session, key: str) -> Minutes:
    """Minutes staged in the app database (models/staging.py) because they were too large for a parameter."""
    try:
        return Minutes.model_validate(staged(session=session, key=key, kind="minutes"))
    except LookupError:
        raise LookupError(f"không tìm thấy biên bản đã lưu «{key}»") from None


def hold_frozen_nominees(*, session: Session, unit_id: int, on: date) -> list[str]:
    """Screening at a receiving level: a nominee frozen since the dossier left is held, not decided."""
    from models.nominations import Nominee

    rows = list(
        session.scalars(
            select(Nomination)
            .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
            .where(
                col(Nomination.current_unit_id) == unit_id,
                col(Nomination.status).in_([s.value for s in AGENDA]),
                col(Nominee.frozen).is_(True),
            )
        )
    )
    for n in rows:
        nominee = session.get(Nominee, n.nominee_id)
        reason = (
            nominee.frozen_reason if nominee else None
        ) or "đối tượng đang bị xem xét kỷ luật, điều tra hoặc khiếu nại"
        nm.freeze(
            session=session,
            nomination=n,
            act=Act("receive-forwarded", on, unit_id=unit_id, key=f"hold:{n.code}:{unit_id}", note=reason),
        )
    return [n.code for n in rows]
