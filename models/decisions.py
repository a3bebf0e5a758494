"""The head's decision (quyết định khen thưởng): the step after the council's recommendation.

The council of a deciding level only recommends (models/meetings.py); the head of the People's
Committee decides, in a decision with its own number and date given by the registry (văn thư), or
refuses (không khen thưởng). Central bodies hold no council vote: the Ministry of Home Affairs submits
to the Prime Minister (its step is the submission, tờ trình, with its number and date), the Prime
Minister decides or submits to the President, the President decides.

One decision is one `AwardDecision` row (the unit, its number and date, the items it covers) and one
step per dossier under the key `decision:<id>:<code>`: the same number issued again changes nothing,
a number already used for other dossiers is refused. Plain functions: the caller commits.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import JSON, Column, UniqueConstraint, select
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col

from models import nominations as nm
from models.awards import catalogue
from models.calendar import add_working_days
from models.clock import fmt_date, today_vn, utcnow
from models.consultation import forwarding_problem
from models.db import UTCDateTime, enum_type
from models.hierarchy import Hierarchy, UnitRef
from models.labelled import LabelledEnum
from models.meetings import MAX_DAYS_AHEAD, FreeText, Meeting, MeetingStatus, OneLine, Outcome, step_keys
from models.nominations import AGENDA, Act, Nomination, NominationStep, Status
from models.units import Council


class DecisionKind(LabelledEnum):
    """What the document decides."""

    confer = "confer", "quyết định khen thưởng"
    refuse = "refuse", "không khen thưởng"
    submit = "submit", "tờ trình cấp trên khen thưởng"  # a central body's submission to the level above


class AwardDecision(SQLModel, table=True):
    """Quyết định khen thưởng (or không khen thưởng, or a central body's tờ trình) of one unit's head.

    `items`: one entry per dossier, `{"code", "award_code", "outcome"}` (the form conferred or proposed)."""

    __tablename__ = "award_decision"
    __table_args__ = (UniqueConstraint("unit_id", "number", name="uq_award_decision_number"),)

    id: int | None = SQLField(default=None, primary_key=True)
    unit_id: int = SQLField(foreign_key="unit.id", description="the unit whose head signs")
    number: str = SQLField(max_length=60, description="số quyết định, e.g. 123/QĐ-UBND")
    decision_date: date = SQLField(description="the date it was signed, not the council's meeting date")
    kind: DecisionKind = SQLField(sa_type=enum_type(DecisionKind))
    signer: str = SQLField(
        default="", max_length=200, description="capacity and name, optional (KT. CHỦ TỊCH…)"
    )
    meeting_id: int | None = SQLField(default=None, foreign_key="meeting.id")
    items: list = SQLField(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str = SQLField(default="", max_length=4000, description="the reasons of a refusal")
    actor: str = SQLField(default="", max_length=200)
    created_at: datetime = SQLField(default_factory=utcnow, sa_column=Column(UTCDateTime()))


# số/ký hiệu as Decree 30/2020 writes it: the number, a slash, the symbol (QĐ-UBND, TTr-BNV, QĐ-TTg…)
NUMBER = re.compile(r"^(\d{1,7})/([^\W\d_][\w.]*(?:-[\w.]+)*)$")


def number_problem(number: str) -> str | None:
    """Why `number` is not a document number «số/ký hiệu» (None when it is one)."""
    found = NUMBER.match(number.strip())
    if found is None or int(found.group(1)) == 0:
        return (
            f"số quyết định «{number.strip()}» không đúng dạng số/ký hiệu (ví dụ 123/QĐ-UBND): "
            "một số, dấu «/», rồi ký hiệu văn bản"
        )
    return None


class DecisionRequest(BaseModel):
    """What the registry records: which unit, the number and date, and what it covers (a meeting's
    recommended items or listed codes)."""

    unit: OneLine = Field(max_length=200, title="Đơn vị")
    number: OneLine = Field(default="", max_length=60, title="Số quyết định")
    decision_date: date = Field(title="Ngày quyết định")
    meeting_id: int | None = Field(default=None, title="Phiên họp")
    codes: list[OneLine] = Field(default_factory=list, title="Mã hồ sơ")
    refuse: bool = Field(default=False, title="Không khen thưởng")
    reason: FreeText = Field(default="", max_length=4000, title="Lý do")
    auto_number: bool = Field(default=False, title="Tự cấp số")
    signer: OneLine = Field(default="", max_length=200, title="Người ký")
    actor: OneLine = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _complete(self) -> DecisionRequest:
        problems = []
        if not self.number.strip() and not self.auto_number:
            problems.append("thiếu số quyết định (ví dụ --number 123/QĐ-UBND), hoặc dùng --auto-number")
        if self.number.strip() and self.auto_number:
            problems.append("chỉ ghi số quyết định hoặc --auto-number, không cả hai")
        elif self.number.strip() and (wrong := number_problem(self.number)):
            problems.append(wrong)
        if (self.meeting_id is None) == (not self.codes):
            problems.append("ghi một phiên họp (--meeting N) hoặc các mã hồ sơ, không cả hai")
        if self.refuse and not self.reason.strip():
            problems.append("không khen thưởng thì phải ghi rõ lý do (--reason)")
        if self.decision_date > today_vn() + timedelta(days=MAX_DAYS_AHEAD):
            problems.append(f"ngày quyết định {fmt_date(self.decision_date)} còn ở tương lai")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class DecisionRefused(ValueError):
    """The decision cannot be recorded; nothing was applied. The problems are for officials."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class DecisionIssued(BaseModel):
    """What `issue-decision` returns and `thidua decision issue --json` prints."""

    decision_id: int
    unit: str
    unit_name: str
    number: str
    decision_date: date
    kind: DecisionKind
    outcomes: dict[str, Outcome] = Field(description="each dossier's outcome, by code")
    forwarded_to: dict[str, int] = Field(default_factory=dict, description="unit id, by code (submissions)")
    replayed: bool = Field(
        default=False, description="the same decision was recorded before: nothing changed"
    )
    received: list[str] = Field(
        default_factory=list, description="dossiers submitted to this central body, received by this call"
    )
    letters: int | None = None


class DecisionRefusal(BaseModel):
    """The data of a Refused `issue-decision` run: nothing was applied."""

    refused: bool = True
    problems: list[str]
    message: str

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


def next_number(*, session: Session, unit: UnitRef, year: int) -> str:
    """The unit's next decision number in its series for the year (automatic numbering, for offices
    that let the system number their decisions): '17/QĐ-UBND'."""
    council = session.scalars(select(Council).where(col(Council.unit_id) == unit.id)).first()
    series = council.decision_series if council is not None else "QĐ-UBND"
    last = nm.take_numbers(session=session, name=f"decision:{unit.id}:{year}", count=1)
    return f"{last}/{series}"


def _covered(session: Session, request: DecisionRequest, unit: UnitRef) -> tuple[list[str], list[str]]:
    """The codes the decision covers and the problems found naming them."""
    if request.meeting_id is None:
        return sorted({c.strip().upper() for c in request.codes}), []
    meeting = session.get(Meeting, request.meeting_id)
    if meeting is None:
        return [], [f"không có phiên họp #{request.meeting_id}"]
    if meeting.unit_id != unit.id:
        return [], [f"phiên họp #{meeting.id} không phải của Hội đồng {unit.name}"]
    if meeting.status != MeetingStatus.applied:
        return [], [f"phiên họp #{meeting.id} chưa có kết quả (chưa ghi biên bản)"]
    return recommended_at(session=session, meeting_id=request.meeting_id), []


def recommended_at(*, session: Session, meeting_id: int) -> list[str]:
    """The codes a meeting recommended (all that a decision «on the meeting» covers), sorted."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        return []
    rows = session.execute(
        select(col(NominationStep.idempotency_key)).where(
            col(NominationStep.idempotency_key).in_(step_keys(meeting)),
            col(NominationStep.action) == nm.Action.recommend,
        )
    ).scalars()
    return sorted(key.rsplit(":", 1)[1] for key in rows)


def _existing(session: Session, unit: UnitRef, number: str) -> AwardDecision | None:
    return session.scalars(
        select(AwardDecision).where(
            col(AwardDecision.unit_id) == unit.id, col(AwardDecision.number) == number
        )
    ).first()


def _recommended_on(session: Session, nomination: Nomination) -> date | None:
    step = session.scalars(
        select(NominationStep)
        .where(
            col(NominationStep.nomination_id) == nomination.id,
            col(NominationStep.action) == nm.Action.recommend,
        )
        .order_by(col(NominationStep.id).desc())
    ).first()
    return step.on_date if step is not None else None


def _dossier_problem(
    session: Session,
    hierarchy: Hierarchy,
    unit: UnitRef,
    n: Nomination | None,
    code: str,
    day: date,
    refuse: bool = False,
) -> str | None:
    """Why this dossier cannot be in this unit's decision (None if it can)."""
    if n is None:
        return f"không có hồ sơ {code}"
    if n.current_unit_id != unit.id:
        where = hierarchy.get(n.current_unit_id).name
        return (
            f"hồ sơ {code} đang ở {where}, không thuộc thẩm quyền quyết định của {unit.head_title}"
            f" (trạng thái «{n.status.label}»)"
        )
    central = unit.level in nm.CENTRAL
    if not central and n.status in AGENDA:
        return (
            f"hồ sơ {code}: Hội đồng Thi đua – Khen thưởng {unit.name} chưa xét (chưa có đề nghị khen thưởng); "
            "người đứng đầu quyết định sau phiên họp"
        )
    if n.status != Status.recommended and not (central and n.status in AGENDA):
        return f"hồ sơ {code} đang ở trạng thái «{n.status.label}», không chờ quyết định"
    if central and catalogue().forms[n.award_code].authority != unit.level and not refuse:
        problem = forwarding_problem(session=session, nomination=n, hierarchy=hierarchy, on=day)
        if problem:
            return f"hồ sơ {code}: {problem}"
    recommended_on = _recommended_on(session, n) if n.status == Status.recommended else None
    if recommended_on is not None and day < recommended_on:
        return (
            f"hồ sơ {code}: ngày quyết định {fmt_date(day)} trước ngày Hội đồng đề nghị "
            f"{fmt_date(recommended_on)}"
        )
    return None


def _kind_for(request: DecisionRequest, unit: UnitRef, nominations: list[Nomination]) -> DecisionKind:
    """Refusal, conferral, or (a central body below the form's authority) submission to the level above;
    a conferral and a submission are different documents, never one number."""
    if request.refuse:
        return DecisionKind.refuse
    forms = catalogue().forms
    above = [n.code for n in nominations if forms[n.award_code].authority != unit.level]
    if not above:
        return DecisionKind.confer
    if unit.level in nm.CENTRAL and len(above) == len(nominations):
        return DecisionKind.submit
    here = [n.code for n in nominations if n.code not in above]
    raise DecisionRefused(
        [
            f"một văn bản không vừa quyết định khen thưởng ({', '.join(here)}) vừa trình cấp trên "
            f"({', '.join(above)}); ghi thành hai văn bản, mỗi văn bản một số"
        ]
    )


def _deciding_unit(hierarchy: Hierarchy, request: DecisionRequest) -> UnitRef:
    """The unit whose head decides, as it is on the decision's date; refused if it has ended or is unknown."""
    from models.hierarchy import AmbiguousUnit, UnitEnded, UnitNotFound

    try:
        return hierarchy.resolve(request.unit, on=request.decision_date)
    except UnitEnded as exc:
        # the 2025 changeover: an ended unit's head no longer decides; its dossiers go to the successor
        raise DecisionRefused(
            [
                f"không ghi được quyết định ngày {fmt_date(request.decision_date)}: "
                f"{hierarchy.ended_text(exc.unit, request.decision_date)}"
                + ("; hồ sơ đang chờ chuyển sang đơn vị kế tục (thidua changeover)" if exc.successor else "")
            ]
        ) from None
    except (UnitNotFound, AmbiguousUnit) as exc:
        raise DecisionRefused([str(exc)]) from None


def _apply_all(
    session: Session,
    hierarchy: Hierarchy,
    unit: UnitRef,
    decision: AwardDecision,
    nominations: list[Nomination],
    request: DecisionRequest,
) -> tuple[dict[str, Outcome], dict[str, int]]:
    """Apply the stored decision to each dossier (one step each, keyed by decision and dossier) and record
    what it did in `decision.items`; refused as a whole if any dossier cannot take it. Returns each
    dossier's outcome and, for those submitted to the level above, the unit they went to."""
    assert decision.id is not None
    outcomes: dict[str, Outcome] = {}
    forwarded: dict[str, int] = {}
    items = []
    problems: list[str] = []
    for n in nominations:
        act = Act(
            request.actor or unit.head_title,
            request.decision_date,
            unit_id=unit.id,
            key=f"decision:{decision.id}:{n.code}",
            note=request.reason,
        )
        try:
            outcome = _apply_one(
                session, hierarchy, unit, n, act, decision.kind, decision.number, request.decision_date
            )
        except nm.TransitionError as exc:
            problems.append(str(exc))
            continue
        outcomes[n.code] = outcome
        if outcome == Outcome.forwarded:
            forwarded[n.code] = n.current_unit_id
        items.append({"code": n.code, "award_code": n.awarded_code or n.award_code, "outcome": outcome.value})
    if problems:
        raise DecisionRefused(problems)
    decision.items = items
    session.add(decision)
    session.flush()
    return outcomes, forwarded


def issue_decision(*, session: Session, hierarchy: Hierarchy, request: DecisionRequest) -> DecisionIssued:
    """Record the head's decision and apply it to every dossier it covers, all or nothing: confer
    (or, at a central body below the authority, submit to the level above), or refuse. The caller
    commits, together with the letters that report it."""
    unit = _deciding_unit(hierarchy, request)
    received: list[str] = []
    if unit.level in nm.CENTRAL:  # no meeting opens here to take in what was submitted: take it in now
        from models.meetings import receive_pending

        received = receive_pending(
            session=session, unit_id=unit.id, hierarchy=hierarchy, on=request.decision_date, actor=unit.name
        )
    codes, problems = _covered(session, request, unit)
    if problems:
        raise DecisionRefused(problems)
    if not codes:
        raise DecisionRefused(
            [f"phiên họp #{request.meeting_id} không có hồ sơ nào được đề nghị khen thưởng"]
        )
    number = request.number.strip()
    existing = _existing(session, unit, number) if number else None
    if existing is not None:
        if _same_decision(existing, codes, request):
            return _replay(session, unit, existing, codes)
        problems.append(_reused(existing, unit))  # refused, with every other problem found below
    by_code = {n.code: n for n in session.scalars(select(Nomination).where(col(Nomination.code).in_(codes)))}
    problems += [
        p
        for code in codes
        if (
            p := _dossier_problem(
                session, hierarchy, unit, by_code.get(code), code, request.decision_date, request.refuse
            )
        )
    ]
    if problems:
        raise DecisionRefused(problems)
    nominations = [by_code[c] for c in codes]
    kind = _kind_for(request, unit, nominations)
    if not number:
        number = next_number(session=session, unit=unit, year=request.decision_date.year)
    decision = AwardDecision(
        unit_id=unit.id,
        number=number,
        decision_date=request.decision_date,
        kind=kind,
        signer=request.signer,
        meeting_id=request.meeting_id,
        note=request.reason,
        actor=request.actor,
    )
    session.add(decision)
    session.flush()
    outcomes, forwarded = _apply_all(session, hierarchy, unit, decision, nominations, request)
    issued = _issued(decision, unit, outcomes, forwarded)
    issued.received = received
    return issued


def _apply_one(
    session: Session,
    hierarchy: Hierarchy,
    unit: UnitRef,
    n: Nomination,
    act: Act,
    kind: DecisionKind,
    number: str,
    day: date,
) -> Outcome:
    if kind == DecisionKind.refuse:
        nm.refuse(
            session=session,
            nomination=n,
            hierarchy=hierarchy,
            act=act,
            decision_number=number,
            decision_date=day,
        )
        return Outcome.rejected
    if unit.level in nm.CENTRAL and catalogue().forms[n.award_code].authority != unit.level:
        nm.forward(session=session, nomination=n, hierarchy=hierarchy, act=act, document=(number, day))
        return Outcome.forwarded
    nm.confer(
        session=session, nomination=n, hierarchy=hierarchy, act=act, decision_number=number, decision_date=day
    )
    return Outcome.conferred


def _named(decision: AwardDecision) -> dict[str, Any]:
    """How a result names a stored decision: its id, number and date."""
    assert decision.id is not None
    return {"decision_id": decision.id, "number": decision.number, "decision_date": decision.decision_date}


def _issued(
    decision: AwardDecision,
    unit: UnitRef,
    outcomes: dict[str, Outcome],
    forwarded: dict[str, int],
    replayed: bool = False,
) -> DecisionIssued:
    return DecisionIssued(
        **_named(decision),
        unit=unit.code,
        unit_name=unit.name,
        kind=decision.kind,
        outcomes=outcomes,
        forwarded_to=forwarded,
        replayed=replayed,
    )


def _same_decision(existing: AwardDecision, codes: list[str], request: DecisionRequest) -> bool:
    """The same number again for the same decision (its dossiers, date and kind): a no-op."""
    kind = DecisionKind.refuse if request.refuse else None
    return (
        sorted(i["code"] for i in existing.items) == codes
        and existing.decision_date == request.decision_date
        and (kind is None or existing.kind == kind)
    )


def _replay(session: Session, unit: UnitRef, existing: AwardDecision, codes: list[str]) -> DecisionIssued:
    """The same decision recorded again: what it did, changing nothing."""
    outcomes = {i["code"]: Outcome(i["outcome"]) for i in existing.items}
    forwarded = {
        n.code: n.current_unit_id
        for n in session.scalars(select(Nomination).where(col(Nomination.code).in_(codes)))
        if outcomes.get(n.code) == Outcome.forwarded
    }
    return _issued(existing, unit, outcomes, forwarded, replayed=True)


def _reused(existing: AwardDecision, unit: UnitRef) -> str:
    """Another use of a number already recorded: refused, naming what it was used for."""
    recorded = sorted(i["code"] for i in existing.items)
    return (
        f"số {existing.number} của {unit.name} đã dùng cho quyết định ngày {fmt_date(existing.decision_date)} "
        f"({len(recorded)} hồ sơ: {', '.join(recorded[:5])}{'…' if len(recorded) > 5 else ''}); "
        "mỗi quyết định một số riêng"
    )


def reused_number(*, session: Session, hierarchy: Hierarchy, unit: str, number: str) -> str | None:
    """Why `number` cannot be another decision of `unit` (None: unused, or no such unit): listed beside
    the problems of a request that cannot even be read, so that a refusal names them all."""
    from models.hierarchy import AmbiguousUnit, UnitNotFound

    try:
        found = hierarchy.resolve(unit)
    except (UnitNotFound, AmbiguousUnit):
        return None
    existing = _existing(session, found, number.strip()) if number.strip() else None
    return _reused(existing, found) if existing is not None else None


def decision_of(*, session: Session, decision_id: int) -> AwardDecision:
    decision = session.get(AwardDecision, decision_id)
    if decision is None:
        raise LookupError(f"không có quyết định #{decision_id}")
    return decision


def awaiting_decision(*, session: Session, unit: UnitRef, hierarchy: Hierarchy) -> list[dict]:
    """What waits for the head's decision at `unit`, grouped by the meeting that recommended it (oldest
    first; a central body's dossiers, decided without a council, are one group with no meeting):
    `{"meeting_id", "meeting_date", "items": [...]}`, each item as the inbox shows it plus the form the
    council recommended, the date it did and the whole group's codes (`all` of a meeting: the decision
    then cites its minutes)."""
    from models.queries import inbox

    central = unit.level in nm.CENTRAL
    statuses = AGENDA | {Status.forwarded} if central else frozenset({Status.recommended})
    items = inbox(session=session, unit_id=unit.id, hierarchy=hierarchy, statuses=statuses)
    forms = catalogue().forms
    steps = {}
    if not central and items:
        rows = session.execute(
            select(NominationStep, col(Nomination.code))
            .join(Nomination, col(Nomination.id) == col(NominationStep.nomination_id))
            .where(
                col(Nomination.code).in_([i["code"] for i in items]),
                col(NominationStep.action) == nm.Action.recommend,
            )
            .order_by(col(NominationStep.id))
        ).all()
        steps = {code: step for step, code in rows}  # the latest recommendation of each
    groups: dict[int | None, dict] = {}
    for item in items:
        step = steps.get(item["code"])
        key = step.idempotency_key or "" if step is not None else ""
        meeting_id = int(key.split(":")[1]) if key.startswith("meeting:") else None
        group = groups.setdefault(
            meeting_id,
            {"meeting_id": meeting_id, "meeting_date": step.on_date if step else None, "items": []},
        )
        recommended = (step.award_code if step else None) or item["award"]
        group["items"].append(
            {
                **item,
                "recommended": recommended,
                "recommended_name": forms[recommended].name if recommended in forms else recommended,
                "recommended_on": step.on_date if step else None,
                "votes": step.votes_for if step else None,
                "written": step.written_for if step else None,
                "present": step.members_present if step else None,
            }
        )
    return sorted(groups.values(), key=lambda g: (g["meeting_date"] or date.max, g["meeting_id"] or 0))


# ---------------------------------------------------------------- the Ministry of Home Affairs' time limits


def central_return_key(unit_id: int, on: date) -> str:
    """The key of a central body's returns of one day; a dossier's step adds `:<code>` (its return letter,
    notifications.approval_letters.central_return_letters, reads the step's note by it)."""
    return f"central-return:{unit_id}:{on.isoformat()}"


def return_incomplete(
    *, session: Session, hierarchy: Hierarchy, unit: str, code: str, on: date, reason: str, actor: str
) -> Nomination:
    """A central body (the Ministry of Home Affairs) returns an incomplete dossier in writing, with what to
    complete (`reason`). It has `check_days` working days from the dossier's arrival (data/award_forms.yaml):
    a return after them is still recorded, marked late (the step's `missed_on`). Below the centre a council
    returns dossiers at its meeting. Idempotent per dossier, unit and day; the caller commits."""
    from models.hierarchy import AmbiguousUnit, UnitEnded, UnitNotFound

    try:
        here = hierarchy.resolve(unit, on=on)
    except (UnitNotFound, AmbiguousUnit, UnitEnded) as exc:
        raise nm.TransitionError(str(exc)) from None
    if here.level not in nm.CENTRAL:
        raise nm.TransitionError(
            f"{here.name}: Hội đồng Thi đua – Khen thưởng trả lại hồ sơ tại phiên họp (thidua meeting decide)"
        )
    nomination = nm.by_code(session=session, code=code)
    if nomination is None:
        raise nm.TransitionError(f"không tìm thấy hồ sơ {code}")
    if nomination.current_unit_id != here.id:
        raise nm.TransitionError(f"hồ sơ {nomination.code} không ở {here.name}")
    if not reason.strip():
        raise nm.TransitionError(f"hồ sơ {nomination.code}: phải ghi rõ nội dung cần bổ sung")
    if nomination.status == Status.forwarded:  # no meeting takes it in at the centre: take it in now
        nm.receive(
            session=session,
            nomination=nomination,
            hierarchy=hierarchy,
            act=Act(actor, on, unit_id=here.id, key=f"receive:{nomination.code}:{here.id}"),
        )
    key = f"{central_return_key(here.id, on)}:{nomination.code}"  # the return letter reads its note by it
    act = Act(actor, on, unit_id=here.id, key=key, note=reason)
    return nm.return_for_completion(session=session, nomination=nomination, act=act)


class CopiesLate(BaseModel):
    """A head's decision whose copies (the letters to the proposers) were not delivered within `copies_days`
    working days of its date: each proposer not reached in time, with what happened to its letter."""

    decision_id: int
    number: str
    decision_date: date
    unit_name: str
    due_on: date
    proposers: list[str]


def copies_due(*, session: Session, decision: AwardDecision, level: Any) -> date | None:
    """decision date + `copies_days` of its dossiers' rule set at the deciding level (None: no such limit)."""
    codes = [i["code"] for i in decision.items]
    rule_set = session.scalars(
        select(col(Nomination.rule_set)).where(col(Nomination.code).in_(codes))
    ).first()
    days = catalogue().rule_set(rule_set).copies_days.get(level) if rule_set else None
    return add_working_days(decision.decision_date, days) if days else None


def copies_late(*, session: Session, hierarchy: Hierarchy, today: date) -> list[CopiesLate]:
    """The decisions (khen thưởng or không khen thưởng) whose copies are overdue on `today`: some proposer
    has no letter delivered by the due date (outbox: sent, on or before it, Vietnamese time)."""
    from models.clock import VN
    from notifications.outbox import OutboxMessage, OutboxStatus

    levels = {lv for rs in catalogue().rule_sets for lv in rs.copies_days}
    units = [u.id for u in hierarchy.by_id.values() if u.level in levels]
    if not units:
        return []
    decisions = session.scalars(
        select(AwardDecision)
        .where(
            col(AwardDecision.unit_id).in_(units),
            col(AwardDecision.kind).in_([DecisionKind.confer, DecisionKind.refuse]),
        )
        .order_by(col(AwardDecision.decision_date), col(AwardDecision.id))
    ).all()
    out = []
    for d in decisions:
        unit = hierarchy.get(d.unit_id)
        due = copies_due(session=session, decision=d, level=unit.level)
        if due is None or today <= due:
            continue
        codes = [i["code"] for i in d.items]
        origin_of = dict(
            session.execute(
                select(col(Nomination.code), col(Nomination.origin_unit_id)).where(
                    col(Nomination.code).in_(codes)
                )
            )
            .tuples()
            .all()
        )
        prefix = f"outcome:decision-{d.id}:"
        letters = session.scalars(
            select(OutboxMessage).where(col(OutboxMessage.key).startswith(prefix))
        ).all()
        by_origin: dict[int, list[OutboxMessage]] = {}
        for m in letters:
            tail = m.key[len(prefix) :]
            origin = origin_of.get(tail)
            if origin is None:  # a table of results to one proposer: keyed by its unit code
                ref = hierarchy.by_code.get(tail)
                origin = ref.id if ref is not None else None
            if origin is not None:
                by_origin.setdefault(origin, []).append(m)
        missing = []
        for origin in sorted(set(origin_of.values())):
            ref = hierarchy.get(origin)
            sent = [
                m.sent_at.astimezone(VN).date()
                for m in by_origin.get(origin, [])
                if m.status == OutboxStatus.sent and m.sent_at is not None
            ]
            if sent and min(sent) <= due:
                continue
            if sent:
                missing.append(f"{ref.name}: gửi muộn ngày {fmt_date(min(sent))}")
            elif by_origin.get(origin):
                missing.append(f"{ref.name}: chưa gửi được")
            elif not ref.email:
                missing.append(f"{ref.name}: chưa có thư (đơn vị không có địa chỉ thư)")
            else:
                missing.append(f"{ref.name}: chưa có thư")
        if missing:
            out.append(CopiesLate(**_named(d), unit_name=unit.name, due_on=due, proposers=missing))
    return out
