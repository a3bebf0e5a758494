"""Council meetings (phiên họp Hội đồng): the agenda, the minutes, their checks, and applying a whole
meeting in one transaction.

A meeting's agenda is fixed when it opens (codes and versions), so a flow re-run after a crash or a
suspension sees the same agenda; every decision carries the idempotency key
`meeting:<id>:<code>`, so applying the same minutes twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import JSON, Column, Index, UniqueConstraint, func, select
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel

from models import nominations as nm
from models.awards import catalogue
from models.clock import fmt_date, utcnow
from models.db import UTCDateTime, enum_type
from models.hierarchy import Hierarchy
from models.nominations import AGENDA, Act, Nomination, Status, Votes
from models.staging import staged
from models.text import fold, nfc
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


DecisionKind = Literal["approve", "reject", "return", "award-lower"]

DECISION_ALIASES: dict[str, DecisionKind] = {
    "approve": "approve", "thong qua": "approve", "dong y": "approve",
    "reject": "reject", "khong thong qua": "reject", "khong khen thuong": "reject",
    "return": "return", "tra lai": "return", "tra lai bo sung": "return", "tra lai de bo sung": "return",
    "award-lower": "award-lower", "award lower": "award-lower", "khen muc thap hon": "award-lower",
    "khen hinh thuc thap hon": "award-lower",
}


class Decision(BaseModel):
    """The council's decision on one agenda item."""

    model_config = ConfigDict(str_strip_whitespace=True)

    code: str
    decision: DecisionKind = "approve"
    lower_award: str = ""
    votes_for: int = Field(default=0, ge=0)
    votes_against: int = Field(default=0, ge=0)
    votes_abstain: int = Field(default=0, ge=0)
    note: str = ""
    deadline: date | None = None

    @field_validator("decision", mode="before")
    @classmethod
    def _decision(cls, value: object) -> str:
        key = fold(str(value or "approve"))
        if key not in DECISION_ALIASES:
            raise ValueError("quyết định phải là: thông qua, không thông qua, trả lại bổ sung, khen mức thấp hơn")
        return DECISION_ALIASES[key]

    @field_validator("code", "note", "lower_award", mode="before")
    @classmethod
    def _text(cls, value: object) -> str:
        return nfc("" if value is None else str(value))


class Minutes(BaseModel):
    """Biên bản họp: the meeting's facts and a decision per agenda item."""

    meeting_date: date
    members_present: int = Field(ge=0)
    decision_series: str = "QĐ-UBND"
    first_decision_number: int = Field(default=1, ge=1)
    decisions: list[Decision]
    secretary: str = ""


@dataclass
class AgendaItem:
    code: str
    version: int
    nominee: str
    award: str
    origin_unit: str
    due_on: date | None

    def public(self) -> dict:
        return {"code": self.code, "version": self.version, "nominee": self.nominee, "award": self.award,
                "award_name": catalogue().forms[self.award].name, "origin_unit": self.origin_unit,
                "due_on": self.due_on.isoformat() if self.due_on else None}


def council_of(*, session: Session, unit_id: int) -> tuple[Council, list[CouncilMember]]:
    council = session.scalars(select(Council).where(Council.unit_id == unit_id)).first()
    if council is None:
        raise LookupError("đơn vị chưa có Hội đồng Thi đua – Khen thưởng trong hệ thống")
    members = list(session.scalars(select(CouncilMember).where(CouncilMember.council_id == council.id)))
    return council, members


def receive_pending(*, session: Session, unit_id: int, hierarchy: Hierarchy, on: date, actor: str) -> list[str]:
    """Open the review of every dossier forwarded to the unit and not yet received (idempotent)."""
    waiting = list(session.scalars(
        select(Nomination).where(Nomination.current_unit_id == unit_id, Nomination.status == Status.forwarded)
        .order_by(Nomination.id)
    ))
    for nomination in waiting:
        nm.receive(session=session, nomination=nomination, hierarchy=hierarchy,
                   act=Act(actor, on, unit_id=unit_id, key=f"receive:{nomination.code}:{unit_id}"))
    return [n.code for n in waiting]


def build_agenda(*, session: Session, unit_id: int, hierarchy: Hierarchy) -> list[AgendaItem]:
    """Everything waiting for the council of `unit_id`, oldest due first."""
    from models.nominations import Nominee

    stmt = (
        select(Nomination.code, Nomination.version, Nominee.name, Nomination.award_code, Nomination.origin_unit_id,
               Nomination.due_on)
        .join(Nominee, Nominee.id == Nomination.nominee_id)
        .where(Nomination.current_unit_id == unit_id, Nomination.status.in_([s.value for s in AGENDA]))
        .order_by(Nomination.due_on, Nomination.id)
    )
    return [AgendaItem(code, version, name, award, hierarchy.get(origin).name, due)
            for code, version, name, award, origin, due in session.execute(stmt)]


def open_meeting(*, session: Session, unit_id: int, key: str, hierarchy: Hierarchy, on: date,
                 flow_run_id: str | None = None, actor: str = "") -> Meeting:
    """Open (or find again, by key) a meeting and fix its agenda."""
    existing = session.scalars(select(Meeting).where(Meeting.key == key)).first()
    if existing is not None:
        return existing
    council, _ = council_of(session=session, unit_id=unit_id)
    receive_pending(session=session, unit_id=unit_id, hierarchy=hierarchy, on=on, actor=actor or council.name)
    agenda = build_agenda(session=session, unit_id=unit_id, hierarchy=hierarchy)
    meeting = Meeting(key=key, unit_id=unit_id, council_id=council.id, flow_run_id=flow_run_id, opened_on=on,
                      agenda=[a.public() for a in agenda])
    session.add(meeting)
    session.flush()
    return meeting


def open_meeting_of(*, session: Session, unit_id: int) -> Meeting | None:
    return session.scalars(
        select(Meeting).where(Meeting.unit_id == unit_id, Meeting.status == MeetingStatus.open)
        .order_by(Meeting.id.desc())
    ).first()


def check_minutes(*, session: Session, meeting: Meeting, minutes: Minutes, hierarchy: Hierarchy) -> list[str]:
    """Every problem with the minutes, in words a secretary understands; empty when they can be applied."""
    problems: list[str] = []
    cat = catalogue()
    _, members = council_of(session=session, unit_id=meeting.unit_id)
    total = len(members)
    unit = hierarchy.get(meeting.unit_id)
    agenda = {a["code"]: a for a in meeting.agenda}
    if meeting.status != MeetingStatus.open:
        problems.append(f"phiên họp #{meeting.id} đã kết thúc ({meeting.status.value}), không nhận thêm quyết định")
    if minutes.members_present > total:
        problems.append(f"số thành viên dự họp ({minutes.members_present}) lớn hơn số thành viên Hội đồng ({total})")
    if minutes.meeting_date < meeting.opened_on.replace(year=meeting.opened_on.year - 1):
        problems.append(f"ngày họp {fmt_date(minutes.meeting_date)} không hợp lý")
    if not minutes.decision_series.strip():
        problems.append("thiếu ký hiệu số quyết định (ví dụ QĐ-UBND)")
    seen: set[str] = set()
    nominations = {n.code: n for n in session.scalars(select(Nomination).where(
        Nomination.code.in_([d.code.upper() for d in minutes.decisions] or [""])))}
    for d in minutes.decisions:
        code = d.code.upper()
        label = f"hồ sơ {code}"
        if code in seen:
            problems.append(f"{label}: có hai quyết định cho cùng một hồ sơ")
            continue
        seen.add(code)
        if code not in agenda:
            other = nominations.get(code)
            if other is not None and other.current_unit_id != meeting.unit_id:
                where = hierarchy.get(other.current_unit_id).name
                problems.append(f"{label} không thuộc Hội đồng {unit.name} (đang ở {where}), không có trong chương trình họp")
            else:
                problems.append(f"{label} không có trong chương trình họp")
            continue
        n = nominations.get(code)
        if n is None or n.status not in AGENDA or n.current_unit_id != meeting.unit_id:
            problems.append(f"{label} không còn chờ Hội đồng {unit.name} xét (đã được xử lý ở nơi khác)")
            continue
        votes = d.votes_for + d.votes_against + d.votes_abstain
        if votes > minutes.members_present:
            problems.append(f"{label}: tổng số phiếu ({votes}) vượt số thành viên dự họp ({minutes.members_present})")
        if d.decision == "reject" and not d.note:
            problems.append(f"{label}: không thông qua thì phải ghi rõ lý do")
        if d.decision == "return" and not d.note:
            problems.append(f"{label}: trả lại thì phải ghi rõ nội dung cần bổ sung")
        form = cat.forms[n.award_code]
        if d.decision == "award-lower":
            lower = cat.forms.get(d.lower_award)
            if lower is None:
                problems.append(f"{label}: hình thức «{d.lower_award}» không có trong danh mục")
                continue
            if lower.rank >= form.rank:
                problems.append(f"{label}: «{lower.name}» không thấp hơn hình thức đề nghị «{form.name}»")
            if lower.authority != unit.level:
                problems.append(f"{label}: «{lower.name}» do {lower.authority.label} quyết định, "
                                f"không phải {unit.level.label}")
            rule_set = cat.rule_set(n.rule_set)
            if lower.code not in rule_set.rules:
                problems.append(f"{label}: «{lower.name}» không áp dụng theo {rule_set.legal_basis}")
            form = lower
        if d.decision in ("approve", "award-lower"):
            rule = cat.rule_set(n.rule_set).rules.get(form.code)
            if rule is not None and not rule.vote.passes(votes_for=d.votes_for, present=minutes.members_present,
                                                         members=total):
                problems.append(f"{label}: {d.votes_for} phiếu đồng ý chưa đạt yêu cầu «{rule.vote.describe()}» "
                                f"({total} thành viên, {minutes.members_present} dự họp) — {rule.vote_basis}")
    return problems


@dataclass
class Outcome:
    """What a meeting did, for events and notices."""

    meeting_id: int
    unit_id: int
    applied: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    forwarded_to: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.applied.items()}


class MinutesRefused(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("biên bản chưa hợp lệ:\n" + "\n".join(f"- {p}" for p in problems))


def apply_minutes(*, session: Session, meeting: Meeting, minutes: Minutes, hierarchy: Hierarchy,
                  actor: str = "") -> Outcome:
    """Apply a whole meeting; the caller commits once. Items left out of the minutes stay on the agenda."""
    problems = check_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=hierarchy)
    if problems:
        raise MinutesRefused(problems)
    council, _ = council_of(session=session, unit_id=meeting.unit_id)
    outcome = Outcome(meeting.id, meeting.unit_id)
    decision_numbers = _decision_numbers(session, minutes, meeting, hierarchy.get(meeting.unit_id).level)
    codes = [d.code.upper() for d in minutes.decisions]
    by_code = {n.code: n for n in session.scalars(select(Nomination).where(Nomination.code.in_(codes or [""])))}
    actor = actor or minutes.secretary or council.name
    for d in minutes.decisions:
        n = by_code[d.code.upper()]
        act = Act(actor, minutes.meeting_date, unit_id=meeting.unit_id, key=f"meeting:{meeting.id}:{n.code}",
                  note=d.note)
        votes = Votes(d.votes_for, d.votes_against, d.votes_abstain, minutes.members_present)
        if d.decision in ("approve", "award-lower"):
            lower = d.lower_award if d.decision == "award-lower" else None
            form = catalogue().forms[lower or n.award_code]
            if hierarchy.get(n.current_unit_id).level == form.authority:
                nm.confer(session=session, nomination=n, hierarchy=hierarchy, act=act, votes=votes,
                          award_code=lower, decision_number=decision_numbers[form.code],
                          decision_date=minutes.meeting_date)
                outcome.applied["conferred"].append(n.code)
            else:
                nm.forward(session=session, nomination=n, hierarchy=hierarchy, act=act, votes=votes)
                outcome.applied["forwarded"].append(n.code)
                outcome.forwarded_to[n.code] = n.current_unit_id
        elif d.decision == "reject":
            nm.reject(session=session, nomination=n, act=act, votes=votes)
            outcome.applied["rejected"].append(n.code)
        else:
            nm.return_for_completion(session=session, nomination=n, act=act, deadline=d.deadline)
            outcome.applied["returned"].append(n.code)
        outcome.decisions[n.code] = d.decision
    meeting.status = MeetingStatus.applied
    meeting.meeting_date = minutes.meeting_date
    meeting.applied_at = utcnow()
    meeting.summary = {"counts": outcome.counts(), "decision_numbers": decision_numbers,
                       "members_present": minutes.members_present,
                       "forwarded_to": sorted({hierarchy.get(u).code for u in outcome.forwarded_to.values()})}
    session.add(meeting)
    session.flush()
    return outcome


def _decision_numbers(session: Session, minutes: Minutes, meeting: Meeting, level) -> dict[str, str]:  # noqa: ANN001
    """One commendation decision per award form conferred at this meeting, numbered from the series."""
    cat = catalogue()
    approved = {d.code.upper(): d for d in minutes.decisions if d.decision in ("approve", "award-lower")}
    proposed = dict(session.execute(select(Nomination.code, Nomination.award_code).where(
        Nomination.code.in_(list(approved) or [""]))).all())
    conferred = set()
    for code, d in approved.items():
        form = d.lower_award if d.decision == "award-lower" else proposed.get(code)
        if form in cat.forms and cat.forms[form].authority == level:
            conferred.add(form)
    ordered = sorted(conferred, key=lambda c: cat.forms[c].rank)
    return {code: f"{minutes.first_decision_number + i}/{minutes.decision_series}" for i, code in enumerate(ordered)}


def meetings_applied(*, session: Session, unit_id: int) -> int:
    return session.execute(select(func.count()).select_from(Meeting).where(
        Meeting.unit_id == unit_id, Meeting.status == MeetingStatus.applied)).scalar_one()


_ACTION_TO_OUTCOME = {"confer": "conferred", "forward": "forwarded", "reject": "rejected", "return": "returned"}


def outcome_of(*, session: Session, meeting: Meeting) -> Outcome:
    """What an applied meeting did, rebuilt from its steps (so a re-run can finish telling people)."""
    from models.nominations import NominationStep

    outcome = Outcome(meeting.id, meeting.unit_id)
    rows = session.execute(
        select(NominationStep.idempotency_key, NominationStep.action, NominationStep.to_unit_id)
        .where(NominationStep.idempotency_key.like(f"meeting:{meeting.id}:%"))
        .order_by(NominationStep.id)
    ).all()
    for key, action, to_unit in rows:
        code = key.rsplit(":", 1)[1]
        kind = _ACTION_TO_OUTCOME[str(action.value if hasattr(action, "value") else action)]
        outcome.applied[kind].append(code)
        outcome.decisions[code] = kind
        if to_unit is not None and kind == "forwarded":
            outcome.forwarded_to[code] = to_unit
    return outcome


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

    rows = list(session.scalars(
        select(Nomination).join(Nominee, Nominee.id == Nomination.nominee_id)
        .where(Nomination.current_unit_id == unit_id, Nomination.status.in_([s.value for s in AGENDA]),
               Nominee.frozen.is_(True))
    ))
    for n in rows:
        reason = session.get(Nominee, n.nominee_id).frozen_reason or "đối tượng đang bị xem xét kỷ luật, điều tra hoặc khiếu nại"
        nm.freeze(session=session, nomination=n, act=Act("receive-forwarded", on, unit_id=unit_id,
                                                         key=f"hold:{n.code}:{unit_id}", note=reason))
    return [n.code for n in rows]
