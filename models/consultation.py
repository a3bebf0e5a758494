"""Consultation (hiệp y, lấy ý kiến) before a province forwards a state-level award: the bodies to ask
per form are data (`data/consultation.yaml`, with its basis); a request goes to each, their answers are
recorded, the dossier is held until all have answered or the time limit has passed, and an objection
returns the dossier to the proposer with the reason.

Plain functions that take a session and never commit; the flows (flows/consultation.py) are thin.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Column, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, col, select

from models import yamlfile
from models.awards import Frozen, catalogue
from models.calendar import add_working_days
from models.clock import fmt_date, utcnow
from models.db import UTCDateTime, enum_type
from models.hierarchy import Hierarchy
from models.nominations import (
    AGENDA,
    Act,
    Action,
    Nomination,
    NominationStep,
    Nominee,
    TransitionError,
    return_for_completion,
)
from models.units import Council, Level

DATA = Path(__file__).parent / "data" / "consultation.yaml"


class Body(Frozen):
    """A body consulted (cơ quan được lấy ý kiến hiệp y): tax, social insurance, environment…"""

    code: str
    name: str
    email: str


class ConsultationRules(Frozen):
    consulting_levels: frozenset[Level]
    answer_days: int
    answer_days_basis: str
    remind_days: int
    legal_basis: str
    bodies: dict[str, Body]
    forms: dict[str, tuple[str, ...]]

    def bodies_for(self, form_code: str) -> list[Body]:
        return [self.bodies[b] for b in self.forms.get(form_code, ())]


@lru_cache
def rules(path: Path = DATA) -> ConsultationRules:
    """Load the consultation rules once per process."""
    return load_rules(path)


def load_rules(path: Path) -> ConsultationRules:
    """Read the consultation rules from a file (checked: every body a form names is defined)."""
    raw = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    bodies = {code: Body(code=code, **spec) for code, spec in raw["bodies"].items()}
    unknown = {b for listed in raw["forms"].values() for b in listed} - set(bodies)
    if unknown:
        raise ValueError(f"consultation.yaml: unknown bodies {sorted(unknown)}")
    return ConsultationRules(
        consulting_levels=frozenset(Level(x) for x in raw["consulting_levels"]),
        answer_days=int(raw["answer_days"]),
        answer_days_basis=raw["answer_days_basis"],
        remind_days=int(raw["remind_days"]),
        legal_basis=raw["legal_basis"],
        bodies=bodies,
        forms={form: tuple(listed) for form, listed in raw["forms"].items()},
    )


class Answer(StrEnum):
    agree = "agree"
    objection = "objection"

    @property
    def label(self) -> str:
        return "thống nhất" if self is Answer.agree else "không thống nhất"


class ConsultationRequest(SQLModel, table=True):
    """One body asked about one dossier (văn bản lấy ý kiến hiệp y) and its answer."""

    __tablename__ = "consultation_request"
    __table_args__ = (
        UniqueConstraint("nomination_id", "unit_id", "body", "round_no", name="uq_consultation_body_round"),
    )

    id: int | None = Field(default=None, primary_key=True)
    nomination_id: int = Field(foreign_key="nomination.id", index=True)
    round_no: int = Field(
        default=0,
        description="the dossier's returns before this request: a returned and resubmitted dossier is "
        "consulted again, in a new round",
    )
    unit_id: int = Field(foreign_key="unit.id", description="the unit that consults (the province)")
    body: str = Field(max_length=40)
    requested_on: date
    due_on: date
    answer: Answer | None = Field(default=None, sa_type=enum_type(Answer))
    answer_note: str = Field(default="", max_length=2000)
    answered_on: date | None = None
    actor: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def rounds_of(*, session: Session, nomination_ids: list[int]) -> dict[int, int]:
    """Each dossier's consultation round: how many times it has been returned (a returned and resubmitted
    dossier is consulted again; the answers of an earlier round no longer count)."""
    if not nomination_ids:
        return {}
    counts = dict(
        session.exec(
            select(col(NominationStep.nomination_id), func.count())
            .where(
                col(NominationStep.nomination_id).in_(nomination_ids),
                col(NominationStep.action) == Action.return_,
            )
            .group_by(col(NominationStep.nomination_id))
        ).all()
    )
    return {n: int(counts.get(n, 0)) for n in nomination_ids}


def requests_of(
    *, session: Session, nomination_id: int, every_round: bool = False, unit_id: int | None = None
) -> list[ConsultationRequest]:
    """The dossier's requests of its current round (`every_round`: all of them, oldest first), those of
    one consulting unit if `unit_id` is given."""
    query = select(ConsultationRequest).where(col(ConsultationRequest.nomination_id) == nomination_id)
    if unit_id is not None:
        query = query.where(col(ConsultationRequest.unit_id) == unit_id)
    if not every_round:
        current = rounds_of(session=session, nomination_ids=[nomination_id])[nomination_id]
        query = query.where(col(ConsultationRequest.round_no) == current)
    return list(session.exec(query.order_by(col(ConsultationRequest.id))))


def round_suffix(req: ConsultationRequest) -> str:
    """What tells a later round's letters and steps from the first's (idempotency keys)."""
    return f":{req.round_no}" if req.round_no else ""


def bodies_to_consult(
    *, nomination: Nomination, hierarchy: Hierarchy, form_code: str | None = None
) -> list[Body]:
    """The bodies the dossier's current unit must ask before forwarding it with `form_code` (default: the
    form proposed); none below the province, none for a form the province confers itself."""
    unit = hierarchy.get(nomination.current_unit_id)
    code = form_code or nomination.award_code
    if unit.level not in rules().consulting_levels or catalogue().forms[code].authority == unit.level:
        return []
    return rules().bodies_for(code)


def forwarding_problem(
    *, session: Session, nomination: Nomination, hierarchy: Hierarchy, on: date, form_code: str | None = None
) -> str | None:
    """Why the dossier may not be forwarded (trình cấp trên) with `form_code` on `on`, naming the bodies
    not yet asked or not yet answered within their time limit; None when it may."""
    bodies = bodies_to_consult(nomination=nomination, hierarchy=hierarchy, form_code=form_code)
    if not bodies:
        return None
    assert nomination.id is not None
    asked = {
        r.body: r
        for r in requests_of(session=session, nomination_id=nomination.id, unit_id=nomination.current_unit_id)
    }
    missing = [b.name for b in bodies if b.code not in asked]
    if missing:
        returned = rounds_of(session=session, nomination_ids=[nomination.id])[nomination.id]
        again = " (hồ sơ đã bị trả lại và nộp lại: lấy ý kiến lại)" if returned else ""
        return (
            f"chưa lấy ý kiến hiệp y của {', '.join(missing)}{again}, chưa trình cấp trên được — "
            f"{rules().legal_basis} (thidua consult request {nomination.code})"
        )
    waiting = [
        f"{b.name} (hạn {fmt_date(r.due_on)})"
        for b in bodies
        if (r := asked[b.code]).answer is None and r.due_on >= on
    ]
    if waiting:
        return (
            f"đang chờ ý kiến hiệp y của {', '.join(waiting)}; chưa trình cấp trên được trước khi các "
            "cơ quan trả lời hoặc hết thời hạn trả lời"
        )
    return None


def request(
    *, session: Session, nomination: Nomination, hierarchy: Hierarchy, on: date, actor: str = ""
) -> list[ConsultationRequest]:
    """Ask each body the dossier's form needs (those asked before are not asked again); returns the new
    requests. Only a dossier on the consulting council's agenda can be consulted on."""
    bodies = bodies_to_consult(nomination=nomination, hierarchy=hierarchy)
    if not bodies:
        unit = hierarchy.get(nomination.current_unit_id)
        raise TransitionError(
            f"hồ sơ {nomination.code}: «{nomination.form.name}» tại {unit.name} không cần lấy ý kiến hiệp y"
        )
    if nomination.status not in AGENDA:
        raise TransitionError(
            f"hồ sơ {nomination.code} đang ở trạng thái «{nomination.status.label}», không lấy ý kiến hiệp y"
        )
    assert nomination.id is not None
    asked = {
        r.body
        for r in requests_of(session=session, nomination_id=nomination.id, unit_id=nomination.current_unit_id)
    }
    current = rounds_of(session=session, nomination_ids=[nomination.id])[nomination.id]
    due = add_working_days(on, rules().answer_days)
    new = [
        ConsultationRequest(
            nomination_id=nomination.id,
            round_no=current,
            unit_id=nomination.current_unit_id,
            body=b.code,
            requested_on=on,
            due_on=due,
            actor=actor,
        )
        for b in bodies
        if b.code not in asked
    ]
    session.add_all(new)
    session.flush()
    return new


def answer(
    *, session: Session, nomination: Nomination, body: str, objection: str | None, on: date, actor: str = ""
) -> ConsultationRequest:
    """Record a body's answer (agreement, or an objection with its reason); the same answer again changes
    nothing. An objection returns the dossier to the proposer, the reason in the step's note."""
    assert nomination.id is not None
    # the body's latest request (of the current round, or the one whose objection returned the dossier)
    found = {r.body: r for r in requests_of(session=session, nomination_id=nomination.id, every_round=True)}
    req = found.get(body)
    if req is None:
        asked = ", ".join(found) or "chưa gửi văn bản lấy ý kiến nào"
        raise TransitionError(f"hồ sơ {nomination.code}: chưa lấy ý kiến «{body}» (đã hỏi: {asked})")
    given = Answer.objection if objection is not None else Answer.agree
    if objection is not None and not objection.strip():
        raise TransitionError(f"hồ sơ {nomination.code}: phải ghi rõ lý do không thống nhất")
    note = (objection or "").strip()
    if req.answer is not None:
        if req.answer == given and req.answer_note == note:
            return req
        raise TransitionError(
            f"hồ sơ {nomination.code}: {rules().bodies[body].name} đã trả lời «{req.answer.label}» "
            f"ngày {fmt_date(req.answered_on)}"
        )
    req.answer, req.answer_note, req.answered_on, req.actor = given, note, on, actor
    session.add(req)
    session.flush()
    if given == Answer.objection:
        return_for_completion(
            session=session,
            nomination=nomination,
            act=Act(
                actor or rules().bodies[body].name,
                on,
                key=f"consultation-objection:{nomination.code}:{body}{round_suffix(req)}",
                note=objection_note(body=body, reason=note),
            ),
        )
    return req


def objection_note(*, body: str, reason: str) -> str:
    return f"{rules().bodies[body].name} không thống nhất đề nghị khen thưởng (ý kiến hiệp y): {reason}"


def held(*, session: Session, nomination_ids: list[int], today: date) -> dict[int, str]:
    """The dossiers that may not be forwarded yet, with why: a body asked has not answered and its time
    limit has not passed. (After the limit the dossier goes on without that answer.)"""
    out: dict[int, str] = {}
    if not nomination_ids:
        return out
    current = rounds_of(session=session, nomination_ids=nomination_ids)
    waiting = session.exec(
        select(ConsultationRequest)
        .where(
            col(ConsultationRequest.nomination_id).in_(nomination_ids),
            col(ConsultationRequest.answer).is_(None),
            col(ConsultationRequest.due_on) >= today,
        )
        .order_by(col(ConsultationRequest.id))
    )
    for r in waiting:
        if r.round_no != current[r.nomination_id]:
            continue
        name = rules().bodies[r.body].name
        text = f"{name} (hạn {fmt_date(r.due_on)})"
        out[r.nomination_id] = f"{out[r.nomination_id]}, {text}" if r.nomination_id in out else text
    return {n: f"đang chờ ý kiến hiệp y của {who}" for n, who in out.items()}


def reminders_due(*, session: Session, today: date) -> list[tuple[ConsultationRequest, Nomination]]:
    """Requests still unanswered whose time limit ends within `remind_days` working days (data): each
    body is reminded once per request, by the caller's idempotency key."""
    horizon = add_working_days(today, rules().remind_days)
    rows = session.exec(
        select(ConsultationRequest, Nomination)
        .join(Nomination, col(Nomination.id) == col(ConsultationRequest.nomination_id))
        .where(
            col(ConsultationRequest.answer).is_(None),
            col(ConsultationRequest.due_on) >= today,
            col(ConsultationRequest.due_on) <= horizon,
            col(Nomination.status).in_([s.value for s in AGENDA]),
        )
        .order_by(col(ConsultationRequest.id))
    )
    found = [(r, n) for r, n in rows]
    current = rounds_of(session=session, nomination_ids=sorted({r.nomination_id for r, _ in found}))
    return [(r, n) for r, n in found if r.round_no == current[r.nomination_id]]


def consultation_view(*, session: Session, nomination: Nomination, today: date) -> dict:
    """The dossier's consultation as the CLI and scripts show it."""
    assert nomination.id is not None
    reqs = requests_of(session=session, nomination_id=nomination.id)
    why = held(session=session, nomination_ids=[nomination.id], today=today).get(nomination.id)
    return {
        "code": nomination.code,
        "held": why is not None,
        "reason": why,
        "legal_basis": rules().legal_basis,
        "requests": [
            {
                "body": r.body,
                "name": rules().bodies[r.body].name,
                "requested_on": r.requested_on.isoformat(),
                "due_on": r.due_on.isoformat(),
                "answer": r.answer.value if r.answer else None,
                "answer_label": r.answer.label
                if r.answer
                else ("quá hạn, không trả lời" if r.due_on < today else "chờ trả lời"),
                "note": r.answer_note,
                "answered_on": r.answered_on.isoformat() if r.answered_on else None,
            }
            for r in reqs
        ],
    }


def council_of_unit(*, session: Session, unit_id: int) -> Council | None:
    return session.exec(select(Council).where(col(Council.unit_id) == unit_id)).first()


def nominee_name(*, session: Session, nomination: Nomination) -> str:
    nominee = session.get(Nominee, nomination.nominee_id)
    return nominee.name if nominee else ""
