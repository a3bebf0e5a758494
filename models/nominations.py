"""Nominations (hồ sơ đề nghị khen thưởng), their nominees, the append-only audit of every step, and
the state machine that moves them up the chain of councils.

Every transition is a compare-and-set on `Nomination.version` and writes exactly one
`NominationStep`. Two decisions on the same dossier cannot both win; a transition replayed with an
idempotency key that is already recorded changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import Column, Index, UniqueConstraint, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, Session, SQLModel, col, select

from models.awards import AwardForm, NomineeKind, ReviewType, catalogue
from models.calendar import add_working_days, resume_due_date
from models.clock import fmt_date, utcnow
from models.db import UTCDateTime, enum_type
from models.hierarchy import CENTRAL, Hierarchy, UnitEnded
from models.labelled import LabelledEnum
from models.units import Level


class Status(LabelledEnum):
    draft = "draft", "nháp"
    submitted = "submitted", "đã nộp"  # at the proposing unit, on its council's agenda
    under_review = "under_review", "đang xét"  # received at a higher level, on its council's agenda
    forwarded = "forwarded", "đã trình cấp trên"  # sent to `current_unit`, not yet received there
    recommended = "recommended", "chờ quyết định khen thưởng"  # the council recommended it to its head
    conferred = "conferred", "đã khen thưởng"
    rejected = "rejected", "không khen thưởng"
    returned = "returned", "trả lại để bổ sung"  # back with the proposer for completion; the clock stops
    withdrawn = "withdrawn", "đã rút"
    # nominee under discipline, investigation or complaint: held, not decided
    frozen = "frozen", "tạm dừng xét"


AGENDA = frozenset({Status.submitted, Status.under_review})
# what the current unit owes a step on, by its due date: its council's review, or its head's decision
AWAITING = AGENDA | {Status.recommended}
# not final yet: also in transit to the next level, back with the proposer, or held
PENDING = AWAITING | {Status.forwarded, Status.returned, Status.frozen}
FINAL = frozenset({Status.conferred, Status.rejected, Status.withdrawn})
BLOCKS_NEW = PENDING | {Status.conferred}  # "one achievement, one award"


class Action(LabelledEnum):
    submit = "submit", "nộp hồ sơ"
    receive = "receive", "tiếp nhận"
    forward = "forward", "trình cấp trên"
    recommend = "recommend", "Hội đồng đề nghị khen thưởng"  # to the head of the deciding level
    confer = "confer", "quyết định khen thưởng"  # the head's decision (quyết định khen thưởng)
    reject = "reject", "không khen thưởng"
    refuse = "refuse", "quyết định không khen thưởng"  # the head decides not to award
    return_ = "return", "trả lại để bổ sung"
    resubmit = "resubmit", "nộp lại"
    withdraw = "withdraw", "rút hồ sơ"
    freeze = "freeze", "tạm dừng xét"
    unfreeze = "unfreeze", "xét tiếp"
    transfer = (
        "transfer",
        "chuyển đơn vị kế tục",
    )  # to the successor of a unit that ended (models/changeover.py)


def _tz() -> Column:
    return Column(UTCDateTime(), nullable=False)


class Nominee(SQLModel, table=True):
    """Đối tượng được đề nghị khen thưởng: a person, collective (an enterprise is one) or household."""

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
    written_for: int | None = Field(default=None, description="written votes of absent members: for")
    written_against: int | None = None
    written_abstain: int | None = None
    members_total: int | None = Field(default=None, description="the council's members on the day")
    note: str = Field(default="", max_length=4000)
    decision_number: str | None = Field(default=None, max_length=60)
    decision_date: date | None = None
    award_code: str | None = Field(default=None, max_length=40)
    on_date: date | None = Field(default=None, description="the official date of the step")
    deadline: date | None = Field(default=None, description="for a return: when the completed dossier is due")
    missed_on: date | None = Field(
        default=None, description="the time limit this step came after (MOHA: return an incomplete dossier)"
    )
    idempotency_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_tz())


class TransitionError(ValueError):
    """The transition is not allowed from the dossier's state (message for officials)."""


class Conflict(RuntimeError):
    """Someone else changed the dossier first (the compare-and-set lost)."""


@dataclass(frozen=True)
class Votes:
    """Kết quả biểu quyết: the votes of the members present, and apart from them the written votes of
    absent members (lấy ý kiến bằng văn bản), which count toward a share "of all members"."""

    for_: int = 0
    against: int = 0
    abstain: int = 0
    present: int = 0
    written_for: int = 0
    written_against: int = 0
    written_abstain: int = 0
    members: int | None = None

    def step_fields(self) -> dict:
        """The votes as the step's columns (NominationStep)."""
        return {_STEP_COLUMNS.get(name, name): value for name, value in asdict(self).items()}


# NominationStep's names for the fields of Votes named otherwise there (the written votes keep theirs).
_STEP_COLUMNS = {
    "for_": "votes_for",
    "against": "votes_against",
    "abstain": "votes_abstain",
    "present": "members_present",
    "members": "members_total",
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


@dataclass(frozen=True)
class Move:
    """Where an action may be taken from and the status it leaves the dossier in (None: as it stands)."""

    allowed: frozenset[Status]
    to_status: Status | None


# The state machine in one place. Confer and refuse narrow `allowed` to the deciding level's statuses
# (`_deciding_statuses`); unfreeze restores the status held before the freeze.
MOVES: dict[Action, Move] = {
    Action.receive: Move(frozenset({Status.forwarded}), Status.under_review),
    Action.forward: Move(AGENDA, Status.forwarded),
    Action.recommend: Move(AGENDA, Status.recommended),
    Action.confer: Move(AWAITING, Status.conferred),
    Action.reject: Move(AGENDA, Status.rejected),
    Action.refuse: Move(AWAITING, Status.rejected),
    Action.return_: Move(AGENDA, Status.returned),
    Action.resubmit: Move(frozenset({Status.returned}), Status.under_review),
    Action.withdraw: Move(PENDING - {Status.frozen}, Status.withdrawn),
    Action.freeze: Move(PENDING - {Status.frozen}, Status.frozen),
    Action.unfreeze: Move(frozenset({Status.frozen}), Status.under_review),
    Action.transfer: Move(PENDING, None),
}


def _apply(
    *,
    session: Session,
    nomination: Nomination,
    act: Act,
    action: Action,
    changes: dict | None = None,
    step: dict | None = None,
    allowed: frozenset[Status] | None = None,
    to_status: Status | None = None,
) -> Nomination:
    """The one way a nomination changes: check, compare-and-set on version, write one step. `allowed` and
    `to_status` default to the action's move in `MOVES`."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    move = MOVES[action]
    allowed = move.allowed if allowed is None else allowed
    if to_status is None:
        to_status = nomination.status if move.to_status is None else move.to_status
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
    Action.recommend: "đề nghị người đứng đầu khen thưởng",
    Action.confer: "quyết định khen thưởng",
    Action.reject: "không khen thưởng",
    Action.refuse: "quyết định không khen thưởng",
    Action.return_: "trả lại để bổ sung",
    Action.resubmit: "nộp lại",
    Action.withdraw: "rút hồ sơ",
    Action.freeze: "tạm dừng xét",
    Action.unfreeze: "tiếp tục xét",
    Action.transfer: "chuyển sang đơn vị kế tục",
}


def review_due(*, nomination: Nomination, level: Level, received_on: date) -> date:
    """Due date of a level's review: N working days after receipt, N from the dossier's rule set."""
    days = catalogue().rule_set(nomination.rule_set).review_days[level]
    return add_working_days(received_on, days)


def check_due(*, nomination: Nomination, level: Level, received_on: date) -> date | None:
    """The day by which a level with a completeness check (the Ministry of Home Affairs: 5 working days,
    `check_days`) must return an incomplete dossier in writing; None where the level has no such limit."""
    days = catalogue().rule_set(nomination.rule_set).check_days.get(level)
    return add_working_days(received_on, days) if days else None


def arrived_on(*, session: Session, nomination: Nomination) -> date | None:
    """The day the dossier reached the unit it is at: its last step into that unit (forwarded, transferred),
    else the day it was received there."""
    step = session.exec(
        select(NominationStep)
        .where(
            NominationStep.nomination_id == nomination.id,
            NominationStep.to_unit_id == nomination.current_unit_id,
        )
        .order_by(col(NominationStep.id).desc())
    ).first()
    return (step.on_date if step is not None else None) or nomination.received_on


def check_missed(*, session: Session, nomination: Nomination, level: Level, on: date) -> date | None:
    """The completeness check's limit, when a return on `on` comes after it: the first check after the
    dossier reached this level (a resubmitted dossier is not timed again)."""
    if level not in catalogue().rule_set(nomination.rule_set).check_days:
        return None  # most levels: no query
    arrived = arrived_on(session=session, nomination=nomination)
    due = check_due(nomination=nomination, level=level, received_on=arrived) if arrived else None
    if due is None or on <= due:
        return None
    resubmitted = session.exec(
        select(NominationStep.id).where(
            NominationStep.nomination_id == nomination.id,
            NominationStep.action == Action.resubmit,
            NominationStep.unit_id == nomination.current_unit_id,
        )
    ).first()
    return None if resubmitted is not None else due


def receive(*, session: Session, nomination: Nomination, hierarchy: Hierarchy, act: Act) -> Nomination:
    """Open the review at the level the dossier was forwarded to."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    level = hierarchy.get(nomination.current_unit_id).level
    due = review_due(nomination=nomination, level=level, received_on=act.on)
    changes = {"received_on": act.on, "due_on": due}
    return _apply(session=session, nomination=nomination, act=act, action=Action.receive, changes=changes)


def forward(
    *,
    session: Session,
    nomination: Nomination,
    hierarchy: Hierarchy,
    act: Act,
    votes: Votes | None = None,
    document: tuple[str, date] | None = None,
) -> Nomination:
    """Approve below the authority: submit to the next level (trình cấp trên khen thưởng); `document` is
    the submission's number and date (tờ trình) where one is recorded (a central body's step)."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    # A unit that ended (the district level on 1/7/2025) neither decides nor receives: the dossier first
    # goes to the successor (`thidua changeover`), whose chain is the one in force.
    here = hierarchy.get(nomination.current_unit_id)
    try:
        hierarchy.require_valid(here, act.on)
    except UnitEnded as exc:
        raise TransitionError(f"hồ sơ {nomination.code}: không thể trình cấp trên — {exc}") from exc
    target = hierarchy.next_unit(nomination.current_unit_id, nomination.form.authority)
    if target is not None and not target.valid_on(act.on):
        raise TransitionError(
            f"hồ sơ {nomination.code}: không thể trình {target.name} — {hierarchy.ended_text(target, act.on)}"
        )
    if target is None:
        raise TransitionError(
            f"hồ sơ {nomination.code}: {hierarchy.get(nomination.current_unit_id).name} là cấp có thẩm quyền "
            f"quyết định «{nomination.form.name}», không trình lên nữa"
        )
    changes = {"current_unit_id": target.id, "due_on": None, "received_on": None}
    step = {
        "to_unit_id": target.id,
        **(votes.step_fields() if votes else {}),
        **({"decision_number": document[0], "decision_date": document[1]} if document else {}),
    }
    return _apply(
        session=session, nomination=nomination, act=act, action=Action.forward, changes=changes, step=step
    )


def decision_form(
    *, session: Session, nomination: Nomination, hierarchy: Hierarchy, award_code: str | None = None
) -> AwardForm:
    """The form a council may recommend or a head confer here: in the catalogue and the dossier's rule
    set, not above the form proposed, for the dossier's nominee kind, and within this unit's authority."""
    cat = catalogue()
    form = cat.forms.get(award_code or nomination.award_code)
    if form is None:
        raise TransitionError(f"hình thức khen thưởng «{award_code}» không có trong danh mục")
    proposed = cat.forms[nomination.award_code]
    if form.rank > proposed.rank:
        raise TransitionError(
            f"hồ sơ {nomination.code}: không thể khen «{form.name}» cao hơn hình thức đề nghị «{proposed.name}»"
        )
    problem = form_problem(
        form=form,
        rule_set=nomination.rule_set,
        kind=_nominee_kind(session, nomination),
        level=hierarchy.get(nomination.current_unit_id).level,
    )
    if problem:
        raise TransitionError(f"hồ sơ {nomination.code}: {problem}")
    return form


def _nominee_kind(session: Session, nomination: Nomination) -> NomineeKind | None:
    nominee = session.get(Nominee, nomination.nominee_id)
    return nominee.kind if nominee is not None else None


def form_problem(*, form: AwardForm, rule_set: str, kind: NomineeKind | None, level: Level) -> str | None:
    """Why `form` cannot be given here (None if it can): it must be in the dossier's rule set, allowed
    for the nominee's kind, and within the deciding unit's authority."""
    rules = catalogue().rule_set(rule_set)
    if form.code not in rules.rules:
        return f"«{form.name}» không áp dụng theo {rules.legal_basis}"
    if kind is not None and kind not in form.kinds:
        allowed = ", ".join(k.label for k in sorted(form.kinds))
        return f"«{form.name}» không tặng cho {kind.label} (chỉ tặng cho: {allowed})"
    if level != form.authority:
        return f"«{form.name}» do {form.authority.label} quyết định, {level.label} không có thẩm quyền"
    return None


def recommend(
    *,
    session: Session,
    nomination: Nomination,
    hierarchy: Hierarchy,
    act: Act,
    votes: Votes | None = None,
    award_code: str | None = None,
) -> Nomination:
    """The council of the deciding level recommends the award (Hội đồng đề nghị khen thưởng); the
    dossier waits for the head's decision, with its own time limit."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    form = decision_form(session=session, nomination=nomination, hierarchy=hierarchy, award_code=award_code)
    level = hierarchy.get(nomination.current_unit_id).level
    days = catalogue().rule_set(nomination.rule_set).decision_days.get(level)
    due = add_working_days(act.on, days) if days else None
    changes = {"awarded_code": form.code, "due_on": due, "received_on": act.on}
    step = {"award_code": form.code, **(votes.step_fields() if votes else {})}
    return _apply(
        session=session, nomination=nomination, act=act, action=Action.recommend, changes=changes, step=step
    )


def _deciding_statuses(nomination: Nomination, hierarchy: Hierarchy) -> frozenset[Status]:
    """A head decides on what the council recommended; a central body (Ministry of Home Affairs, Prime
    Minister, President) decides on the dossier itself, without a council vote."""
    level = hierarchy.get(nomination.current_unit_id).level
    return AGENDA if level in CENTRAL else frozenset({Status.recommended})


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
    """The head's commendation decision (quyết định khen thưởng): after the council's recommendation, or
    at a central body directly. The form is the one recommended unless `award_code` names another."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    if nomination.status == Status.recommended and award_code is None:
        award_code = nomination.awarded_code
    form = decision_form(session=session, nomination=nomination, hierarchy=hierarchy, award_code=award_code)
    unit = hierarchy.get(nomination.current_unit_id)
    if not unit.valid_on(act.on):
        raise TransitionError(f"hồ sơ {nomination.code}: {hierarchy.ended_text(unit, act.on)}")
    if not decision_number.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: thiếu số quyết định khen thưởng")
    allowed = _deciding_statuses(nomination, hierarchy)
    if nomination.status in AGENDA and nomination.status not in allowed:
        raise TransitionError(
            f"hồ sơ {nomination.code}: Hội đồng Thi đua – Khen thưởng chưa đề nghị khen thưởng; "
            "người đứng đầu quyết định sau khi Hội đồng xét"
        )
    decision = {"decision_number": decision_number, "decision_date": decision_date}
    changes = {"awarded_code": form.code, **decision, "due_on": None}
    step = {**decision, "award_code": form.code, **(votes.step_fields() if votes else {})}
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.confer,
        changes=changes,
        step=step,
        allowed=allowed,
    )


def refuse(
    *,
    session: Session,
    nomination: Nomination,
    hierarchy: Hierarchy,
    act: Act,
    decision_number: str | None = None,
    decision_date: date | None = None,
) -> Nomination:
    """The head decides not to award (không khen thưởng), with the reasons in `act.note`."""
    if _replayed(session=session, nomination=nomination, act=act):
        return nomination
    if not act.note.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: phải ghi rõ lý do không khen thưởng")
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.refuse,
        changes={"awarded_code": None, "due_on": None},
        step={"decision_number": decision_number, "decision_date": decision_date},
        allowed=_deciding_statuses(nomination, hierarchy),
    )


def reject(*, session: Session, nomination: Nomination, act: Act, votes: Votes | None = None) -> Nomination:
    """Không khen thưởng: the reasons go in `act.note` and are required."""
    if not act.note.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: phải ghi rõ lý do không khen thưởng")
    step = votes.step_fields() if votes else None
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.reject,
        changes={"due_on": None},
        step=step,
    )


def return_for_completion(
    *, session: Session, nomination: Nomination, act: Act, deadline: date | None = None
) -> Nomination:
    """Trả lại để bổ sung: what to complete goes in `act.note`; the review clock stops."""
    if not act.note.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: phải ghi rõ nội dung cần bổ sung")
    if deadline is None:
        deadline = add_working_days(act.on, catalogue().rule_set(nomination.rule_set).return_days)
    from models.units import Unit

    unit = session.get(Unit, nomination.current_unit_id)
    missed = (
        check_missed(session=session, nomination=nomination, level=unit.level, on=act.on) if unit else None
    )
    changes = {"paused_on": act.on, "return_deadline": deadline}
    step = {"deadline": deadline, "missed_on": missed}
    return _apply(
        session=session, nomination=nomination, act=act, action=Action.return_, changes=changes, step=step
    )


def resubmit(*, session: Session, nomination: Nomination, act: Act) -> Nomination:
    """The completed dossier comes back to the council that returned it; its clock resumes."""
    due = nomination.due_on
    if due is not None and nomination.paused_on is not None:
        due = resume_due_date(due_on=due, paused_on=nomination.paused_on, resumed_on=act.on)
    changes = {"paused_on": None, "return_deadline": None, "due_on": due}
    return _apply(session=session, nomination=nomination, act=act, action=Action.resubmit, changes=changes)


def withdraw(*, session: Session, nomination: Nomination, act: Act) -> Nomination:
    """The proposer withdraws the dossier (final)."""
    return _apply(
        session=session, nomination=nomination, act=act, action=Action.withdraw, changes={"due_on": None}
    )


def freeze(*, session: Session, nomination: Nomination, act: Act) -> Nomination:
    """Hold a dossier whose nominee is under discipline, investigation or complaint."""
    if not act.note.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: phải ghi rõ lý do tạm dừng xét")
    changes = {"held_status": nomination.status}
    return _apply(session=session, nomination=nomination, act=act, action=Action.freeze, changes=changes)


def unfreeze(*, session: Session, nomination: Nomination, act: Act) -> Nomination:
    """Release a held dossier to where it was."""
    changes = {"held_status": None}
    back = nomination.held_status  # None: MOVES' default, under review
    return _apply(
        session=session,
        nomination=nomination,
        act=act,
        action=Action.unfreeze,
        changes=changes,
        to_status=back,
    )


def transfer(
    *,
    session: Session,
    nomination: Nomination,
    act: Act,
    to_unit_id: int,
    award_code: str,
    awarded_code: str | None = None,
) -> Nomination:
    """Chuyển hồ sơ sang đơn vị kế tục (models/changeover.py): same status, same clocks; the form is the
    one the law now gives that power to, and so is a recommended form (`awarded_code`, for a dossier a
    council recommended and whose head has not decided yet). The reasons and the basis go in `act.note`."""
    changes: dict[str, object] = {"current_unit_id": to_unit_id, "award_code": award_code}
    if awarded_code is not None:
        changes["awarded_code"] = awarded_code
    step = {"to_unit_id": to_unit_id, "award_code": award_code}
    return _apply(
        session=session, nomination=nomination, act=act, action=Action.transfer, changes=changes, step=step
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
    if step.missed_on:
        text += f" — quá thời hạn trả lại hồ sơ chưa đầy đủ ({fmt_date(step.missed_on)})"
    return text


class CodeCounter(SQLModel, table=True):
    """Allocates readable nomination codes (HS2026-000123) in blocks, one statement per batch."""

    __tablename__ = "code_counter"

    name: str = Field(primary_key=True, max_length=60)
    value: int = 0


def take_numbers(*, session: Session, name: str, count: int) -> int:
    """Take the next `count` numbers of counter `name` (made on first use, race-free); returns the last."""
    from models.db import insert_for

    session.execute(
        insert_for(session)(CodeCounter)
        .values(name=name, value=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    stmt = (
        update(CodeCounter).where(col(CodeCounter.name) == name).values(value=col(CodeCounter.value) + count)
    )
    return int(session.execute(stmt.returning(col(CodeCounter.value))).scalar_one())
