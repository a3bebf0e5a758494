"""Flows `consultation-request` and `consultation-answer` (hiệp y): ask the bodies a state-level award
needs before the province forwards it, and record their answers (an objection returns the dossier)."""

from __future__ import annotations

from datetime import date

from anyio import to_thread
from prefect import flow
from prefect.client.schemas.objects import State
from pydantic import BaseModel, Field
from sqlmodel import Session

from flows.orphans import end_orphaned_subflows
from flows.refusal import refused
from models import consultation as hy
from models import nominations as nm
from models.clock import today_vn
from models.db import session_scope
from models.hierarchy import Hierarchy
from notifications.consultation_letters import objection_letter, request_letters
from notifications.outbox import enqueue_many


class ConsultationResult(BaseModel):
    """What a consultation step did: the dossier, the bodies asked or the answer, the letters queued."""

    code: str
    asked: list[str] = []
    reminded: list[str] = Field(default=[], description="CODE:body of each body reminded")
    answer: str | None = None
    returned: bool = False
    letters: int = 0


def _dossier(session: Session, code: str) -> nm.Nomination:
    found = nm.by_code(session=session, code=code)
    if found is None:
        raise ValueError(f"không tìm thấy hồ sơ «{code}»")
    return found


def request_consultation(*, session: Session, code: str, on: date, actor: str = "") -> ConsultationResult:
    """The use case: ask each body the dossier's form needs and queue a request letter to each
    (idempotent: a body asked before is not asked again); raises ValueError in words for officials."""
    hierarchy = Hierarchy.load(session)
    nomination = _dossier(session, code)
    try:
        new = hy.request(session=session, nomination=nomination, hierarchy=hierarchy, on=on, actor=actor)
    except nm.TransitionError as exc:
        raise ValueError(str(exc)) from None
    letters = request_letters(session=session, hierarchy=hierarchy, nomination=nomination, requests=new)
    queued = enqueue_many(session=session, items=letters).created
    return ConsultationResult(code=nomination.code, asked=[r.body for r in new], letters=len(queued))


def record_answer(
    *, session: Session, code: str, body: str, objection: str | None, on: date, actor: str = ""
) -> ConsultationResult:
    """The use case: record a body's answer; an objection returns the dossier to its proposer, who is
    told why (idempotent); raises ValueError in words for officials."""
    hierarchy = Hierarchy.load(session)
    nomination = _dossier(session, code)
    try:
        req = hy.answer(
            session=session, nomination=nomination, body=body, objection=objection, on=on, actor=actor
        )
    except nm.TransitionError as exc:
        raise ValueError(str(exc)) from None
    returned = req.answer == hy.Answer.objection
    letters = (
        [
            objection_letter(
                session=session,
                hierarchy=hierarchy,
                nomination=nomination,
                body=body,
                reason=req.answer_note,
                on=on,
                round_suffix=hy.round_suffix(req),
            )
        ]
        if returned
        else []
    )
    queued = enqueue_many(session=session, items=[x for x in letters if x is not None]).created
    answer = req.answer.value if req.answer else None
    return ConsultationResult(code=nomination.code, answer=answer, returned=returned, letters=len(queued))


def remind_bodies(*, session: Session, today: date) -> ConsultationResult:
    """The use case: remind, once, each body whose answer is still awaited and whose limit is near."""
    hierarchy = Hierarchy.load(session)
    letters = [
        letter
        for req, nomination in hy.reminders_due(session=session, today=today)
        for letter in request_letters(
            session=session, hierarchy=hierarchy, nomination=nomination, requests=[req], reminder=True
        )
    ]
    queued = enqueue_many(session=session, items=letters).created
    return ConsultationResult(code="", reminded=[k.split(":", 1)[1] for k in queued], letters=len(queued))


def _in_transaction(step, **kwargs) -> ConsultationResult | str:
    """The step in its own transaction; a refusal comes back as its message, nothing applied."""
    try:
        with session_scope() as session:
            return step(session=session, **kwargs)
    except ValueError as exc:
        return str(exc)


async def _finish(result: ConsultationResult | str, deliver: bool) -> dict | State:
    if isinstance(result, str):
        return refused(result, {"refused": True, "message": result})
    if deliver and result.letters:
        from flows.delivery import deliver_mail

        await deliver_mail()
    return result.model_dump(mode="json")


@flow(
    name="consultation-request",
    log_prints=False,
    on_completion=[end_orphaned_subflows],
    on_failure=[end_orphaned_subflows],
)
async def consultation_request(
    code: str, on: date | None = None, actor: str = "", deliver: bool = True
) -> dict | State:
    """Ask the bodies the dossier's award needs (lấy ý kiến hiệp y); returns a `ConsultationResult`."""
    day = on or today_vn()
    result = await to_thread.run_sync(
        lambda: _in_transaction(request_consultation, code=code, on=day, actor=actor)
    )
    return await _finish(result, deliver)


@flow(
    name="consultation-answer",
    log_prints=False,
    on_completion=[end_orphaned_subflows],
    on_failure=[end_orphaned_subflows],
)
async def consultation_answer(
    code: str,
    body: str,
    objection: str | None = None,
    on: date | None = None,
    actor: str = "",
    deliver: bool = True,
) -> dict | State:
    """Record a consulted body's answer (trả lời hiệp y); an objection returns the dossier with the reason."""
    day = on or today_vn()
    result = await to_thread.run_sync(
        lambda: _in_transaction(record_answer, code=code, body=body, objection=objection, on=day, actor=actor)
    )
    return await _finish(result, deliver)


@flow(
    name="consultation-remind",
    log_prints=False,
    on_completion=[end_orphaned_subflows],
    on_failure=[end_orphaned_subflows],
)
async def consultation_remind(today: date | None = None, deliver: bool = True) -> dict | State:
    """Remind the consulted bodies that have not answered as their limit nears (nhắc trả lời hiệp y)."""
    day = today or today_vn()
    result = await to_thread.run_sync(lambda: _in_transaction(remind_bodies, today=day))
    return await _finish(result, deliver)
