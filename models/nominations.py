"""Nominations (hồ sơ đề nghị khen thưởng), their nominees, the append-only audit of every step, and
the state machine that moves them up the chain of councils.

Every transition is a compare-and-set on `Nomination.version` and writes exactly one
`NominationStep`. Two decisions on the same dossier cannot both win; a transition replayed with an
idempotency key that is already recorded changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, UniqueConstraint, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, Session, SQLModel, col, select

from models.awards import AwardForm, NomineeKind, ReviewType, catalogue
from models.calendar import add_working_days, resume_due_date
from models.clock import fmt_date, utcnow
from models.db import UTCDateTime, enum_type
from models.hierarchy import Hierarchy
from models.units import Level


class Status(StrEnum):
    draft = "draft"
    submitted = "submitted"  # at the proposing unit, on its council's agenda
    under_review = "under_review"  # received at a higher level, on its council's agenda
    forwarded = "forwarded"  # sent to `current_unit`, not yet received there
    conferred = "conferred"
    rejected = "rejected"
    returned = "returned"  # back with the proposer for completion; the clock stops
    withdrawn = "withdrawn"
    frozen = "frozen"  # nominee under discipline, investigation or complaint: held, not decided

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    Status.draft: "nháp",
    Status.submitted: "đã nộp",
    Status.under_review: "đang xét",
    Status.forwarded: "đã trình cấp trên",
    Status.conferred: "đã khen thưởng",
    Status.rejected: "không khen thưởng",
    Status.returned: "trả lại để bổ sung",
    Status.withdrawn: "đã rút",
    Status.frozen: "tạm dừng xét",
}

AGENDA = frozenset({Status.submitted, Status.under_review})
PENDING = frozenset({Status.submitted, Status.under_review, Status.forwarded, Status.returned, Status.frozen})
FINAL = frozenset({Status.conferred, Status.rejected, Status.withdrawn})
BLOCKS_NEW = PENDING | {Status.conferred}  # "one achievement, one award"


class Action(StrEnum):
    submit = "submit"
    receive = "receive"
    forward = "forward"
    confer = "confer"
    reject = "reject"
    return_ = "return"
    resubmit = "resubmit"
    withdraw = "withdraw"
    freeze = "freeze"
    unfreeze = "unfreeze"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    Action.submit: "nộp hồ sơ",
    Action.receive: "tiếp nhận",
    Action.forward: "trình cấp trên",
    Action.confer: "khen thưởng",
    Action.reject: "không khen thưởng",
    Action.return_: "trả lại để bổ sung",
    Action.resubmit: "nộp lại",
    Action.withdraw: "rút hồ sơ",
    Action.freeze: "tạm dừng xét",
    Action.unfreeze: "xét tiếp",
}


def _tz() -> Column:
    return Column(UTCDateTime(), nullable=False)


class Nominee(SQLModel, table=True):
    """Đối tượng được đề nghị khen thưởng: a person, collective, household or enterprise."""

    __table_args__ = (
        UniqueConstraint("unit_id", "kind", "name_key", name="uq_nominee_identity"),
        Index("ix_nominee_name_key", "name_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=300)
    name_key: str = Field(max_length=300)
    kind: NomineeKind = Field(sa_type=enum_type(NomineeKind))
    unit_id: int = Field(foreign_key="unit.id", description="the unit the nominee belongs to")
    frozen: bool = False
    frozen_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_tz())


class IntakeBatch(SQLModel, table=True):
    """One submitted file or call; its key makes a re-run of the same batch a no-op."""

    __table_args__ = (UniqueConstraint("key", name="uq_intake_batch_key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120)
    source: str = Field(default="", max_length=300)
    actor: str = Field(default="", max_length=200)
    rows: int = 0
    received_on: date
    created_at: datetime = Field(default_factory=utcnow, sa_column=_tz())


class Nomination(SQLModel, table=True):
    """Hồ sơ đề nghị khen thưởng."""

    __table_args__ = (
        UniqueConstraint("code", name="uq_nomination_code"),
        Index("ix_nomination_inbox", "current_unit_id", "status"),
        Index("ix_nomination_nominee", "campaign_id", "nominee_id"),
        Index("ix_nomination_status_due", "status", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30)
    campaign_id: int = Field(foreign_key="campaign.id")
    nominee_id: int = Field(foreign_key="nominee.id")
    batch_id: int | None = Field(default=None, foreign_key="intakebatch.id")
    award_code: str = Field(max_length=40, description="the form proposed")
    awarded_code: str | None = Field(default=None, max_length=40, description="the form conferred")
    rule_set: str = Field(max_length=40, description="rule set in force on submitted_on")
    achievement: str = Field(default="", max_length=4000)
    submitted_on: date = Field(description="the dossier's date: it decides rules and routing")
    review_type: ReviewType | None = Field(
        default=None,
        sa_type=enum_type(ReviewType),
        description="đợt xét: thường xuyên, chuyên đề, sơ kết, tổng kết",
    )
    # The nominee as the dossier's list gives them (năm sinh, chức vụ, nơi công tác): what tells two
    # people of one name apart; kept on the dossier, as filed, since a position changes over the years.
    nominee_birth_year: int | None = Field(default=None, description="individuals only")
    nominee_position: str = Field(default="", max_length=300)
    nominee_workplace: str = Field(default="", max_length=300)
    origin_unit_id: int = Field(foreign_key="unit.id", description="the proposing unit")
    current_unit_id: int = Field(foreign_key="unit.id")
    status: Status = Field(default=Status.submitted, sa_type=enum_type(Status))
    held_status: Status | None = Field(
        default=None, sa_type=enum_type(Status), description="status to restore on unfreeze"
    )
    received_on: date | None = None
    due_on: date | None = None
    paused_on: date | None = None
    return_deadline: date | None = None
    decision_number: str | None = Field(default=None, max_length=60)
    decision_date: date | None = None
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_column=_tz())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_tz())

    @property
    def form(self) -> AwardForm:
        return catalogue().forms[self.awarded_code or self.award_code]


class NominationStep(SQLModel, table=True):
    """One step of a dossier's path: append-only, never updated."""

    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_step_idempotency_key"),
        Index("ix_step_nomination", "nomination_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    nomination_id: int = Field(foreign_key="nomination.id")
    action: Action = Field(sa_type=enum_type(Action))
    from_status: Status | None = Field(default=None, sa_type=enum_type(Status))
    to_status: Status = Field(sa_type=enum_type(Status))
    unit_id: int | None = Field(
        default=None, foreign_key="unit.id", description="the council's unit that acted"
    )
    to_unit_id: int | None = Field(default=None, foreign_key="unit.id")
    actor: str = Field(default="", max_length=200)
    votes_for: int | None = None
    votes_against: int | None = None
    votes_abstain: int | None = None
    members_present: int | None = None
    note: str = Field(default="", max_length=4000)
    decision_number: str | None = Field(default=None, max_length=60)
    decision_date: date | None = None
    award_code: str | None = Field(default=None, max_length=40)
    on_date: date | None = Field(default=None, description="the official date of the step")
    deadline: date | None = Field(default=None, description="for a return: when the completed dossier is due")
    idempotency_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_tz())


class TransitionError(ValueError):
    """The transition is not allowed from the dossier's state (message for officials)."""


class Conflict(RuntimeError):
    """Someone else changed the dossier first (the compare-and-set lost)."""


@dataclass(frozen=True)
class Votes:
    """Kết quả biểu quyết."""

    for_: int = 0
    against: int = 0
    abstain: int = 0
    present: int = 0

    def step_fields(self) -> dict:
        return {
            "votes_for": self.for_,
            "votes_against": self.against,
            "votes_abstain": self.abstain,
            "members_present": self.present,
        }


@dataclass(frozen=True)
class Act:
    """Who acts, when and under what key: the part every transition shares."""

    actor: str
    on: date
    unit_id: int | None = None
    key: str | None = None
    note: str = ""


def already_applied(*, session: Session, key: str | None) -> NominationStep | None:
    if not key:
        return None
    return session.exec(select(NominationStep).where(NominationStep.idempotency_key == key)).first()


def _replayed(*, session: Session, nomination: Nomination, act: Act) -> bool:
    """True when this act was already applied (then the nomination is reloaded as it stands)."""
    if already_applied(session=session, key=act.key) is None:
        return False
    session.refresh(nomination)
    return True


def _apply(
    *,
    session: Session,
    nomination: Nomination,
    act: Act,
    action: Action,
    allowed: frozenset[Status],
    to_status: Status,
    changes: dict | None = None,
    step: dict | None = None,
) -> Nomination:
    """The one way a nomination changes: check, compare-and-set on version, write one step."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    if nomination.status not in allowed:
        raise TransitionError(
            f"hồ sơ {nomination.code} đang ở trạng thái «{nomination.status.label}», "
            f"không thể {ACTION_VERBS[action]}"
        )
    values = {
        "status": to_status,
        "version": nomination.version + 1,
        "updated_at": utcnow(),
        **(changes or {}),
    }
    assert nomination.id is not None  # a nomination that changes state has been flushed
    result = session.exec(
        update(Nomination)
        .where(col(Nomination.id) == nomination.id, col(Nomination.version) == nomination.version)
        .values(**values)
        # The loaded object is brought up to date below; letting SQLAlchemy "evaluate" the criteria against
        # every object in the session instead made a batch of n transitions cost n² (10,000 receipts: minutes).
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            f"hồ sơ {nomination.code} vừa được xử lý ở nơi khác (phiên bản {nomination.version} "
            "đã thay đổi); hãy tải lại và xem lại quyết định"
        )
    session.add(
        NominationStep(
            nomination_id=nomination.id,
            action=action,
            from_status=nomination.status,
            to_status=to_status,
            unit_id=act.unit_id if act.unit_id is not None else nomination.current_unit_id,
            actor=act.actor,
            note=act.note,
            on_date=act.on,
            idempotency_key=act.key,
            **(step or {}),
        )
    )
    for name, value in values.items():
        set_committed_value(nomination, name, value)
    session.flush()
    return nomination


ACTION_VERBS = {
    Action.submit: "nộp",
    Action.receive: "tiếp nhận",
    Action.forward: "trình cấp trên",
    Action.confer: "quyết định khen thưởng",
    Action.reject: "không khen thưởng",
    Action.return_: "trả lại để bổ sung",
    Action.resubmit: "nộp lại",
    Action.withdraw: "rút hồ sơ",
    Action.freeze: "tạm dừng xét",
    Action.unfreeze: "tiếp tục xét",
}


def review_due(*, nomination: Nomination, level: Level, received_on: date) -> date:
    """Due date of a level's review: N working days after receipt, N from the dossier's rule set."""
    days = catalogue().rule_set(nomination.rule_set).review_days[level]
    return add_working_days(received_on, days)


def receive(*, session: Session, nomination: Nomination, hierarchy: Hierarchy, act: Act) -> Nomination:
    """Open the review at the level the dossier was forwarded to."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    level = hierarchy.get(nomination.current_unit_id).level
    due = review_due(nomination=nomination, level=level, received_on=act.on)
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.receive,
        allowed=frozenset({Status.forwarded}),
        to_status=Status.under_review,
        changes={"received_on": act.on, "due_on": due},
    )


def forward(
    *, session: Session, nomination: Nomination, hierarchy: Hierarchy, act: Act, votes: Votes | None = None
) -> Nomination:
    """Approve below the authority: propose to the next level (đề nghị cấp trên)."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    target = hierarchy.next_unit(nomination.current_unit_id, nomination.form.authority)
    if target is None:
        raise TransitionError(
            f"hồ sơ {nomination.code}: {hierarchy.get(nomination.current_unit_id).name} là cấp có thẩm quyền "
            f"quyết định «{nomination.form.name}», không trình lên nữa"
        )
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.forward,
        allowed=AGENDA,
        to_status=Status.forwarded,
        changes={"current_unit_id": target.id, "due_on": None, "received_on": None},
        step={"to_unit_id": target.id, **(votes.step_fields() if votes else {})},
    )


def confer(
    *,
    session: Session,
    nomination: Nomination,
    hierarchy: Hierarchy,
    act: Act,
    decision_number: str,
    decision_date: date,
    votes: Votes | None = None,
    award_code: str | None = None,
) -> Nomination:
    """Approve at the authority: the commendation decision (quyết định khen thưởng)."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    cat = catalogue()
    form = cat.forms.get(award_code or nomination.award_code)
    if form is None:
        raise TransitionError(f"hình thức khen thưởng «{award_code}» không có trong danh mục")
    proposed = cat.forms[nomination.award_code]
    if form.rank > proposed.rank:
        raise TransitionError(
            f"hồ sơ {nomination.code}: không thể khen «{form.name}» cao hơn hình thức đề nghị «{proposed.name}»"
        )
    unit = hierarchy.get(nomination.current_unit_id)
    if unit.level != form.authority:
        raise TransitionError(
            f"hồ sơ {nomination.code}: «{form.name}» do {form.authority.label} quyết định, "
            f"{unit.name} không có thẩm quyền"
        )
    if not decision_number.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: thiếu số quyết định khen thưởng")
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.confer,
        allowed=AGENDA,
        to_status=Status.conferred,
        changes={
            "awarded_code": form.code,
            "decision_number": decision_number,
            "decision_date": decision_date,
            "due_on": None,
        },
        step={
            "decision_number": decision_number,
            "decision_date": decision_date,
            "award_code": form.code,
            **(votes.step_fields() if votes else {}),
        },
    )


def reject(*, session: Session, nomination: Nomination, act: Act, votes: Votes | None = None) -> Nomination:
    """Không khen thưởng: the reasons go in `act.note` and are required."""
    if not act.note.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: phải ghi rõ lý do không khen thưởng")
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.reject,
        allowed=AGENDA,
        to_status=Status.rejected,
        changes={"due_on": None},
        step=votes.step_fields() if votes else None,
    )


def return_for_completion(
    *, session: Session, nomination: Nomination, act: Act, deadline: date | None = None
) -> Nomination:
    """Trả lại để bổ sung: what to complete goes in `act.note`; the review clock stops."""
    if not act.note.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: phải ghi rõ nội dung cần bổ sung")
    if deadline is None:
        deadline = add_working_days(act.on, catalogue().rule_set(nomination.rule_set).return_days)
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.return_,
        allowed=AGENDA,
        to_status=Status.returned,
        changes={"paused_on": act.on, "return_deadline": deadline},
        step={"deadline": deadline},
    )


def resubmit(*, session: Session, nomination: Nomination, act: Act) -> Nomination:
    """The completed dossier comes back to the council that returned it; its clock resumes."""
    due = nomination.due_on
    if due is not None and nomination.paused_on is not None:
        due = resume_due_date(due_on=due, paused_on=nomination.paused_on, resumed_on=act.on)
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.resubmit,
        allowed=frozenset({Status.returned}),
        to_status=Status.under_review,
        changes={"paused_on": None, "return_deadline": None, "due_on": due},
    )


def withdraw(*, session: Session, nomination: Nomination, act: Act) -> Nomination:
    """The proposer withdraws the dossier (final)."""
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.withdraw,
        allowed=PENDING - {Status.frozen},
        to_status=Status.withdrawn,
        changes={"due_on": None},
    )


def freeze(*, session: Session, nomination: Nomination, act: Act) -> Nomination:
    """Hold a dossier whose nominee is under discipline, investigation or complaint."""
    if not act.note.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: phải ghi rõ lý do tạm dừng xét")
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.freeze,
        allowed=PENDING - {Status.frozen},
        to_status=Status.frozen,
        changes={"held_status": nomination.status},
    )


def unfreeze(*, session: Session, nomination: Nomination, act: Act) -> Nomination:
    """Release a held dossier to where it was."""
    back = nomination.held_status or Status.under_review
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.unfreeze,
        allowed=frozenset({Status.frozen}),
        to_status=back,
        changes={"held_status": None},
    )


def steps_of(*, session: Session, nomination_id: int) -> list[NominationStep]:
    return list(
        session.exec(
            select(NominationStep)
            .where(col(NominationStep.nomination_id) == nomination_id)
            .order_by(col(NominationStep.id))
        )
    )


def by_code(*, session: Session, code: str) -> Nomination | None:
    return session.exec(select(Nomination).where(Nomination.code == code.strip().upper())).first()


def describe_step(step: NominationStep, hierarchy: Hierarchy) -> str:
    """One line an official reads: 'dd/mm/yyyy — Hội đồng xã Cẩm Thành: trình cấp trên → huyện Cẩm Thủy'."""
    unit = hierarchy.by_id.get(step.unit_id) if step.unit_id else None
    text = f"{fmt_date(step.on_date)} — {unit.name if unit else ''}: {ACTION_VERBS[step.action]}"
    if step.to_unit_id:
        text += f" → {hierarchy.get(step.to_unit_id).name}"
    if step.decision_number:
        text += f" (QĐ {step.decision_number})"
    return text


class CodeCounter(SQLModel, table=True):
    """Allocates readable nomination codes (HS2026-000123) in blocks, one statement per batch."""

    __tablename__ = "code_counter"

    name: str = Field(primary_key=True, max_length=60)
    value: int = 0
