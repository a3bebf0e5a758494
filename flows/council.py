"""Flows `council-meeting` (phiên họp Hội đồng) and `receive-forwarded` (cấp trên tiếp nhận hồ sơ).

A meeting opens with its agenda fixed, waits (suspended, no process kept alive) for the council's
decisions from the UI form or the CLI, checks them all, and applies the whole meeting in one
transaction together with the letters that report it. Re-running any part changes nothing twice.

The `Meeting` row and its flow run stay in step: a run that ends without applying — refused (a
Completed state named Refused, see `flows/refusal.py`), failed or cancelled — leaves its meeting
cancelled, never open; a suspended run cancelled or deleted in the UI (no process, so no hook runs)
is noticed by `settle_open_meetings` the next time anyone opens, decides or looks at the council's
meetings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from anyio import to_thread
from prefect import flow, get_client, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import asuspend_flow_run
from prefect.runtime import flow_run as current_run
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelling
from pydantic import BaseModel, Field
from sqlalchemy import Row, select
from sqlalchemy.exc import DataError
from sqlmodel import Session, col

from documents.papers import meeting_papers_now
from flows.events import (
    BURST,
    COUNCIL_DECIDED,
    MEETING,
    NOMINATION_RECEIVED,
    OUTCOME_EVENTS,
    RECEIPT,
    emit_batch_event,
    emit_nomination_events,
    unit_related,
)
from flows.inputs import MeetingDecisions, agenda_markdown, initial_form, refill_form
from flows.naming import meeting_run_name, receive_run_name, unit_slug
from flows.orphans import end_orphaned_subflows
from flows.paperwork import meeting_papers
from flows.refusal import refused
from models import meetings as mt
from models import staging
from models.clock import fmt_date, today_vn
from models.db import session_scope
from models.hierarchy import Hierarchy, UnitEnded
from models.nominations import Conflict, Nomination, Nominee, TransitionError
from notifications.approval_letters import council_digests, outcome_letters
from notifications.outbox import OutboxError, enqueue_many


class _SuspensionIsNotAnError(logging.Filter):
    """Prefect's engine logs the end of every run attempt as "Finished in state …" at ERROR unless it
    completed; a meeting suspended to wait for its council is neither finished nor an error (the UI
    showed it red). Lowered to INFO on the flow-run logger, whose handlers also send it to the UI."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno > logging.INFO
            and isinstance(record.msg, str)
            and record.msg.startswith(("Finished in state Suspended", "Finished in state Paused"))
        ):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


logging.getLogger("prefect.flow_runs").addFilter(_SuspensionIsNotAnError())


class Opening(BaseModel):
    """A meeting opened (or found again) for a run, with what its form and its artifacts need; or why it
    could not open (`refused`, with the `problems`). `received`: the events of dossiers received on opening."""

    meeting_id: int | None
    received: list[dict] = Field(default_factory=list)
    refused: str | None = None
    problems: list[str] = Field(default_factory=list)
    status: mt.MeetingStatus | None = None
    agenda: list[dict] = Field(default_factory=list)
    unit_code: str = ""
    unit_name: str = ""
    council: str = ""
    members: int = 0
    series: str = ""

    @classmethod
    def refusal(
        cls,
        exc: Exception,
        *,
        problems: Sequence[str] = (),
        meeting_id: int | None = None,
        received: Sequence[dict] = (),
    ) -> Opening:
        """Why the meeting did not open: the refusal, first of its problems (`problems`: the others)."""
        return cls(
            refused=str(exc), problems=[str(exc), *problems], meeting_id=meeting_id, received=list(received)
        )


def open_or_find(
    *, unit: str, key: str, on: date, flow_run_id: str | None, minutes: mt.Minutes | None = None
) -> Opening:
    """Open the meeting (receiving what was forwarded, fixing the agenda) or find it again by key."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        try:
            target = hierarchy.resolve(unit, on=on)
        except UnitEnded as exc:  # a unit that no longer exists (or not yet) on that day does not sit
            return Opening.refusal(exc)
        council, members = mt.council_of(session=session, unit_id=target.id)
        received: list[str] = []
        try:
            meeting = mt.open_meeting(
                session=session,
                key=key,
                hierarchy=hierarchy,
                unit_id=target.id,
                on=on,
                flow_run_id=flow_run_id,
                received=received,
            )
        except mt.CentralBodiesDoNotVote as exc:  # their step is the decision (flows/decisions.py)
            return Opening.refusal(exc)
        except mt.NothingToDecide as exc:
            problems: Sequence[str] = ()
            if minutes is not None:  # say of each decision why, as the checks of an open meeting would
                nowhere = mt.Meeting(
                    key=key, unit_id=target.id, council_id=mt.saved_id(council), opened_on=on, agenda=[]
                )
                problems = mt.check_minutes(
                    session=session, meeting=nowhere, minutes=minutes, hierarchy=hierarchy
                )
            return Opening.refusal(
                exc, problems=problems, received=received_items(session, hierarchy, received)
            )
        except mt.MeetingAlreadyOpen as exc:
            items = received_items(session, hierarchy, received)
            return Opening.refusal(exc, meeting_id=exc.meeting.id, received=items)
        except mt.MeetingRefused as exc:
            return Opening.refusal(exc)
        return Opening(
            meeting_id=meeting.id,
            status=meeting.status,
            agenda=meeting.agenda,
            received=received_items(session, hierarchy, received),
            unit_code=target.code,
            unit_name=target.name,
            council=council.name,
            members=len(members),
            series=council.decision_series,
        )


def _dossier_rows(session: Session, codes: list[str], *more: Any) -> Sequence[Row]:
    """Code, nominee, award and holding unit (then the columns `more`) of the dossiers `codes`, for event items."""
    shown = (Nomination.code, Nominee.name, Nomination.award_code, Nomination.current_unit_id)
    return session.execute(
        select(*(col(c) for c in shown), *more)
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(col(Nomination.code).in_(codes))
    ).all()


def received_items(
    session, hierarchy: Hierarchy, codes: list[str], payload: dict | None = None
) -> list[dict]:
    """The `thidua.nomination.received` event items for dossiers just received."""
    rows = _dossier_rows(session, codes)
    return [
        {
            "code": code,
            "nominee": name,
            "unit_code": hierarchy.get(unit_id).code,
            "unit": hierarchy.get(unit_id).name,
            "award": award,
            "payload": payload or {},
        }
        for code, name, award, unit_id in rows
    ]


def cancel(meeting_id: int, reason: str, problems: Sequence[str] | None = None) -> bool:
    with session_scope() as session:
        return mt.cancel_meeting(session=session, meeting_id=meeting_id, reason=reason, problems=problems)


def close_meeting_of_run(flow: Any, flow_run: FlowRun, state: State) -> None:
    """State hook (failed, cancelled while running): the run's open meeting is cancelled with it, so the
    council can open the next one. Not on Crashed: a crashed run is run again (prefect.yaml) and finds
    its meeting by key."""
    reason = (
        "lượt chạy bị hủy"
        if state.is_cancelled() or state.is_cancelling()
        else f"lượt chạy lỗi: {(state.message or state.name or '')[:300]}"
    )
    with session_scope() as session:
        for meeting in session.scalars(
            select(mt.Meeting).where(
                col(mt.Meeting.flow_run_id) == str(flow_run.id),
                col(mt.Meeting.status) == mt.MeetingStatus.open,
            )
        ):
            mt.cancel_meeting(session=session, meeting_id=mt.saved_id(meeting), reason=reason)


# The states in which a meeting's run may still apply it; Crashed is over unless an automation
# schedules it again, and a meeting closed meanwhile stops that run when it comes back.
ALIVE = frozenset({StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED})


async def read_state(flow_run_id: str) -> State | None:
    """The run's state on the Prefect server (None if the run is gone)."""
    async with get_client() as client:
        try:
            return (await client.read_flow_run(UUID(flow_run_id))).state
        except ObjectNotFound:
            return None


async def cancel_run(flow_run_id: str, reason: str) -> None:
    """Cancel a meeting's run as the UI's Cancel button does: a suspended run, which has no process,
    goes straight to Cancelled; a running one is stopped by its runner (and its hook closes the meeting)."""
    async with get_client() as client:
        try:
            current = (await client.read_flow_run(UUID(flow_run_id))).state
        except ObjectNotFound:
            return
        if current is not None and not current.is_final():
            await client.set_flow_run_state(UUID(flow_run_id), Cancelling(message=reason))


async def run_ended(flow_run_id: str) -> str | None:
    """Why this meeting run can no longer apply its meeting (in words), or None while it can."""
    async with get_client() as client:
        try:
            run = await client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return "lượt chạy đã bị xóa trên Prefect"
    if run.state is None or run.state.type in ALIVE:
        return None
    return f"lượt chạy đã kết thúc ({run.state.name}) trên Prefect"


async def settle_open_meetings(unit_id: int, *, keep_key: str | None = None) -> list[int]:
    """Cancel the council's open meetings whose flow run has ended or is gone; returns those left open.

    Only against the service's own Prefect server: a temporary server knows none of its runs."""

    def load() -> list[tuple[int, str | None, str]]:
        with session_scope() as session:
            return [
                (mt.saved_id(m), m.flow_run_id, m.key)
                for m in mt.open_meetings_of(session=session, unit_id=unit_id)
            ]

    still_open = []
    for meeting_id, run_id, key in await to_thread.run_sync(load):
        why = await run_ended(run_id) if run_id and key != keep_key and PREFECT_API_URL.value() else None
        if why is None or not await to_thread.run_sync(cancel, meeting_id, why):
            still_open.append(meeting_id)
    return still_open


# Prefect refuses flow-run parameters over 512 KiB; larger minutes go through the app database.
INLINE_MINUTES_BYTES = staging.INLINE_BYTES


def minutes_parameters(*, unit: str, minutes: mt.Minutes) -> dict:
    """The `council-meeting` parameters that carry these minutes: inline (shown in the UI) while small,
    else staged in the app database and passed by key (`minutes_ref`)."""
    return staging.parameters(
        "minutes",
        minutes,
        kind="minutes",
        label=unit,
        budget=INLINE_MINUTES_BYTES,
        key=mt.minutes_key(unit_code=unit, minutes=minutes),
    )


def load_minutes(key: str) -> mt.Minutes:
    with session_scope() as session:
        return mt.stored_minutes(session=session, key=key)


def note_refused(meeting_id: int, attempt: int, problems: Sequence[str]) -> bool:
    with session_scope() as session:
        return mt.note_refused_attempt(
            session=session, meeting_id=meeting_id, attempt=attempt, problems=problems
        )


def apply_and_queue(
    meeting_id: int,
    minutes: mt.Minutes | Mapping[str, Any] | None,
    unit: str = "",
    label: Callable[[int], str] | None = None,
) -> Applied | list[mt.Problem]:
    """Check and apply the meeting (if not yet) and queue its letters, in one transaction; idempotent.

    Minutes that cannot apply change nothing and come back as their problems: this is the one check of
    a submission (a form's values, a file's or a script's minutes), in the transaction that applies it.
    `label` names a decision in the problems (the command line names a file's row)."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        meeting = mt.meeting_to_apply(session, meeting_id)  # a second meeting of the council waits here
        if meeting is None:
            raise LookupError(f"không có phiên họp #{meeting_id}")
        if meeting.status == mt.MeetingStatus.cancelled:
            raise mt.MeetingClosed(meeting)
        if meeting.status == mt.MeetingStatus.open:
            if minutes is None:
                raise ValueError("phiên họp chưa có biên bản")
            try:
                mt.apply_minutes(
                    session=session, meeting=meeting, minutes=minutes, hierarchy=hierarchy, item_label=label
                )
            except mt.MinutesRefused as exc:
                return exc.problems
        outcome = mt.outcome_of(session=session, meeting=meeting)
        # its papers with it (a savepoint; a broken template only leaves them out): the letters to the
        # proposers and the level above cite the tờ trình's number and date
        meeting_papers_now(session=session, meeting=meeting, hierarchy=hierarchy)
        letters = outcome_letters(session=session, hierarchy=hierarchy, meeting=meeting, outcome=outcome)
        queued = enqueue_many(session=session, items=letters)
        result = mt.applied_result(
            session=session, meeting=meeting, hierarchy=hierarchy, unit=unit, letters=len(queued.created)
        )
        return Applied(
            result, event_items(session, hierarchy, outcome.outcomes, {"meeting_id": outcome.meeting_id})
        )


@dataclass
class Applied:
    """An applied meeting: its result, and the items of its dossiers' events."""

    result: mt.MeetingApplied
    events: list[dict]


def event_items(
    session: Session, hierarchy: Hierarchy, outcomes: Mapping[str, mt.Outcome], extra: dict
) -> list[dict]:
    """The items of the dossiers' events after a meeting or a decision (`extra` joins each payload)."""
    rows = _dossier_rows(session, list(outcomes), col(Nomination.status), col(Nomination.decision_number))
    out = []
    for code, name, award, unit_id, status, number in rows:
        unit = hierarchy.get(unit_id)
        out.append(
            {
                "code": code,
                "nominee": name,
                "award": award,
                "unit_code": unit.code,
                "unit": unit.name,
                "outcome": outcomes[code],
                "payload": {"status": str(status), "decision_number": number, **extra},
            }
        )
    return out


def _unit_id(unit: str, on: date) -> int:
    with session_scope() as session:
        try:
            return Hierarchy.load(session).resolve(unit, on=on).id
        except UnitEnded as exc:  # refused when the meeting opens; its old meetings may still be settled
            return exc.unit.id


@task(name="open-meeting")
async def open_meeting_task(
    unit: str, key: str, on: date, flow_run_id: str | None, minutes: mt.Minutes | None = None
) -> Opening:
    """Open the meeting and fix its agenda (or find it again after a suspension or a crash); first close
    the council's meetings whose run is over, so a dead run never holds the council."""
    await settle_open_meetings(await to_thread.run_sync(lambda: _unit_id(unit, on)), keep_key=key)
    return await to_thread.run_sync(
        lambda: open_or_find(unit=unit, key=key, on=on, flow_run_id=flow_run_id, minutes=minutes)
    )


@task(name="apply-meeting")
async def apply_task(
    meeting_id: int, minutes: mt.Minutes | Mapping[str, Any] | None, unit: str
) -> Applied | list[mt.Problem]:
    """Check the minutes and apply the whole meeting in one transaction, with the letters that report it;
    a second meeting of the same council waits for the first in the app database (`mt.meeting_to_apply`)."""
    return await to_thread.run_sync(lambda: apply_and_queue(meeting_id, minutes, unit))


def _meeting_id(opening: Opening) -> int:
    if opening.meeting_id is None:
        raise ValueError("phiên họp chưa mở")
    return opening.meeting_id


async def _publish_agenda(opening: Opening) -> None:
    await acreate_table_artifact(
        key=f"agenda-{unit_slug(opening.unit_name)}-{opening.meeting_id}".replace("_", "-").lower()[:100],
        table=[
            {
                "Mã hồ sơ": a["code"],
                "Đối tượng": a["nominee"],
                "Hình thức": a["award_name"],
                "Đơn vị đề nghị": a["origin_unit"],
                "Hạn xét": fmt_date(date.fromisoformat(a["due_on"])) if a.get("due_on") else "",
            }
            for a in opening.agenda
        ],
        description=f"Chương trình họp {opening.council} (phiên #{opening.meeting_id}): {len(opening.agenda)} hồ sơ",
    )


def _problems_key(opening: Opening) -> str:
    return f"meeting-{opening.meeting_id}-problems"


async def _problems_cleared(opening: Opening, attempts: int | None = None) -> None:
    """The meeting applied after refused minutes: the last version of its problems artifact must not
    still say "refused". `attempts`: how many were refused (None: not known here)."""
    earlier = f"{attempts} lần gửi trước" if attempts else "lần gửi trước"
    await acreate_markdown_artifact(
        key=_problems_key(opening),
        description="Các lỗi của biên bản vừa gửi: không còn",
        markdown=f"## Biên bản đã áp dụng\n\nPhiên họp #{opening.meeting_id} của {opening.council} "
        f"đã áp dụng; các lỗi của {earlier} đã được sửa.",
    )


async def _had_problems(opening: Opening) -> bool:
    """Whether the meeting's form was refused before (its problems artifact exists)."""
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[_problems_key(opening)])), limit=1
        )
    return bool(found)


async def _decide_by_form(opening: Opening, on: date) -> Applied:
    """Suspend until the council's decisions arrive and apply them; refused input suspends again, the
    form filled with what was sent and each problem beside its item."""
    problems: list[mt.Problem] = []
    values = initial_form(agenda=opening.agenda, meeting_date=on, members=opening.members)
    attempt = 0
    while True:
        form = MeetingDecisions.with_initial_data(
            description=agenda_markdown(council=opening.council, agenda=opening.agenda, problems=problems),
            **values,
        )
        decisions = await asuspend_flow_run(wait_for_input=form, timeout=None, key=f"decisions-{attempt}")
        applied = await apply_task(_meeting_id(opening), decisions.minutes_data(), opening.unit_code)
        if isinstance(applied, Applied):
            if attempt:
                await _problems_cleared(opening, attempt)
            return applied
        problems = applied
        attempt += 1
        if await to_thread.run_sync(note_refused, _meeting_id(opening), attempt, problems):  # not a replay
            await acreate_markdown_artifact(
                key=_problems_key(opening),
                markdown="\n".join(
                    ["## Biên bản chưa hợp lệ, chưa áp dụng gì", ""] + [f"- {p}" for p in problems]
                ),
                description="Các lỗi của biên bản vừa gửi",
            )
        values = refill_form(agenda=opening.agenda, submitted=decisions, problems=problems)


def _refusal(meeting_id: int | None, message: str, problems: Sequence[str]) -> State:
    return refused(
        message, mt.MeetingRefusal(problems=list(problems), meeting_id=meeting_id, message=message)
    )


async def _refuse(opening: Opening, headline: str, problems: Sequence[str]) -> State:
    """End the run as refused, its meeting cancelled (the dossiers wait for the next meeting)."""
    message = f"{headline}: " + "; ".join(problems)
    await to_thread.run_sync(lambda: cancel(_meeting_id(opening), headline, problems))
    get_run_logger().info("meeting %s refused: %s", opening.meeting_id, message)
    return _refusal(opening.meeting_id, message, problems)


@flow(
    name="council-meeting",
    flow_run_name=meeting_run_name,
    log_prints=False,
    on_completion=[end_orphaned_subflows],
    on_failure=[close_meeting_of_run, end_orphaned_subflows],
    on_cancellation=[close_meeting_of_run],
)
async def council_meeting(
    unit: str,
    minutes: mt.Minutes | None = None,
    on: date | None = None,
    deliver: bool = True,
    dashboard: bool = True,
    minutes_ref: str | None = None,
) -> mt.MeetingApplied | State:
    """A council meeting: agenda, decisions (from the form, passed in, or stored and named by
    `minutes_ref`), applied as one batch; minutes that cannot apply end it as Refused."""
    logger = get_run_logger()
    on = on or today_vn()
    run_id = str(current_run.id) if current_run.id else None
    minutes, key = await _minutes_and_key(unit, minutes, minutes_ref, run_id)
    opening = await open_meeting_task(unit, key, on, run_id, minutes)
    meeting_resource = f"{MEETING}{opening.meeting_id}" if opening.meeting_id else f"{RECEIPT}{unit}"
    emit_nomination_events(
        NOMINATION_RECEIVED,
        opening.received,
        resource_id=meeting_resource,
        name=f"Phiên họp #{opening.meeting_id}" if opening.meeting_id else f"Tiếp nhận tại {unit}",
    )
    if opening.refused is not None:
        return _refusal(opening.meeting_id, "; ".join(opening.problems), opening.problems)
    if opening.status == mt.MeetingStatus.cancelled:
        message = await to_thread.run_sync(lambda: _closed_message(_meeting_id(opening)))
        return _refusal(opening.meeting_id, message, [message])
    if opening.status == mt.MeetingStatus.open:
        await _publish_agenda(opening)
    try:
        if opening.status == mt.MeetingStatus.open and minutes is None:
            applied = await _decide_by_form(opening, on)
        else:
            done = await apply_task(_meeting_id(opening), minutes, opening.unit_code)
            if not isinstance(done, Applied):
                return await _refuse(opening, "Biên bản chưa hợp lệ, chưa áp dụng gì", done)
            applied = done
            if minutes is None and await _had_problems(opening):  # applied while it waited: `meeting decide`
                await _problems_cleared(opening)
    except (Conflict, TransitionError, mt.MeetingRefused, OutboxError, DataError) as exc:
        # nothing was applied (one transaction); the council decides again at its next meeting
        return await _refuse(opening, "Không áp dụng được phiên họp", [str(exc).splitlines()[0]])
    result = applied.result
    _announce(opening, applied, meeting_resource)
    logger.info("meeting %s of %s applied: %s", opening.meeting_id, opening.unit_code, result.counts)
    await meeting_papers(result.meeting_id)  # its papers (documents/): never fails the meeting
    # a re-run after a crash queues no new letter, but those of the killed run may still wait
    if deliver and (result.letters or (current_run.run_count or 0) > 1):
        from flows.delivery import deliver_mail

        await deliver_mail()
    # `dashboard` is kept for callers: the dashboard is refreshed once a burst of meetings is over, by
    # its deployment's trigger on COUNCIL_DECIDED (prefect.yaml), not by a subflow of every meeting.
    return result


async def _minutes_and_key(
    unit: str, minutes: mt.Minutes | None, minutes_ref: str | None, run_id: str | None
) -> tuple[mt.Minutes | None, str]:
    """The minutes the run applies (passed in, stored and named by `minutes_ref`, or none yet: the form)
    and the meeting's idempotency key that follows from them."""
    if minutes_ref is not None:
        if minutes is not None:
            raise ValueError("chỉ truyền một trong hai: minutes hoặc minutes_ref")
        return await to_thread.run_sync(lambda: load_minutes(minutes_ref)), minutes_ref
    if minutes is not None:
        return minutes, mt.minutes_key(unit_code=unit, minutes=minutes)
    return None, mt.waiting_key(str(run_id))


def _announce(opening: Opening, applied: Applied, meeting_resource: str) -> None:
    """The meeting's events: one per outcome with its dossiers as related resources, then
    COUNCIL_DECIDED, which starts the next councils' receipt and the dashboard's refresh."""
    for outcome, event in OUTCOME_EVENTS.items():
        emit_nomination_events(
            event,
            [i for i in applied.events if i["outcome"] == outcome],
            resource_id=meeting_resource,
            name=f"Phiên họp {opening.council}",
            payload={"meeting_id": opening.meeting_id},
        )
    result = applied.result
    emit_batch_event(
        COUNCIL_DECIDED,
        resource_id=meeting_resource,
        name=f"Phiên họp {opening.council}",
        related=[unit_related(opening.unit_code, opening.unit_name, role="council")],
        labels=BURST,
        payload={
            "meeting_id": opening.meeting_id,
            "unit": opening.unit_code,
            "counts": result.model_dump(mode="json")["counts"],
            "forwarded_to": result.forwarded_to,
        },
    )


def _closed_message(meeting_id: int) -> str:
    with session_scope() as session:
        meeting = session.get(mt.Meeting, meeting_id)
        return str(mt.MeetingClosed(meeting)) if meeting is not None else f"không có phiên họp #{meeting_id}"


class Receipt(BaseModel):
    """What `receive-forwarded` returns: the dossiers this run received, those held (nominee frozen), the
    digests queued and the receiving units."""

    meeting_ids: list[int]
    received: list[str]
    held: list[str]
    letters: int
    units: list[str]


def receive_from_meetings(meeting_ids: list[int], on: date) -> tuple[Receipt, list[dict]]:
    """Open the review at each level the meetings forwarded to; one digest per receiving council per batch.
    Returns the receipt and the items of the `received` events.

    Reports only what this run received: a dossier received already (by an earlier run, or by the
    receiving council's meeting opening first) has had its event and its digest."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        units: set[int] = set()
        for meeting_id in meeting_ids:
            meeting = session.get(mt.Meeting, meeting_id)
            if meeting is None:
                raise LookupError(f"không có phiên họp #{meeting_id}")
            units.update(mt.outcome_of(session=session, meeting=meeting).forwarded_to.values())
        ref = (
            "meeting-" + "-".join(map(str, sorted(meeting_ids)))
            if len(meeting_ids) <= 8
            else f"meetings-{min(meeting_ids)}-{max(meeting_ids)}-{len(meeting_ids)}"
        )
        by_unit, held, queued = _receive(session, hierarchy, sorted(units), on, ref)
        received = [code for codes in by_unit.values() for code in codes]
        receipt = Receipt(
            meeting_ids=meeting_ids,
            received=received,
            held=held,
            letters=queued,
            units=[hierarchy.get(u).code for u in by_unit],
        )
        return receipt, received_items(session, hierarchy, received, {"meeting_ids": meeting_ids})


def _receive(
    session: Session, hierarchy: Hierarchy, units: list[int], on: date, ref: str
) -> tuple[dict[int, list[str]], list[str], int]:
    """Receive what waits at each unit, hold frozen nominees, queue one digest per council: the codes
    received by unit, those held, and the number of letters queued."""
    by_unit: dict[int, list[str]] = {}
    held = []
    for unit_id in units:
        codes = mt.receive_pending(
            session=session, unit_id=unit_id, hierarchy=hierarchy, on=on, actor="receive-forwarded"
        )
        if codes:
            by_unit[unit_id] = codes
        held += mt.hold_frozen_nominees(session=session, unit_id=unit_id, on=on)
    queued = enqueue_many(
        session=session, items=council_digests(session=session, hierarchy=hierarchy, by_unit=by_unit, ref=ref)
    )
    return by_unit, held, len(queued.created)


def receive_at_units(unit_ids: list[int], on: date, ref: str) -> tuple[int, list[dict]]:
    """Open the review at these units of what was submitted to them outside a meeting (a central body's
    submission); returns the letters queued and the items of the `received` events."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        by_unit, _, letters = _receive(session, hierarchy, unit_ids, on, ref)
        received = [code for codes in by_unit.values() for code in codes]
        return letters, received_items(session, hierarchy, received, {"ref": ref})


@task(name="open-reviews")
async def receive_task(meeting_ids: list[int], on: date) -> tuple[Receipt, list[dict]]:
    """Open the reviews at the receiving levels and queue one digest per council."""
    return await to_thread.run_sync(lambda: receive_from_meetings(meeting_ids, on))


@flow(
    name="receive-forwarded",
    flow_run_name=receive_run_name,
    log_prints=False,
    on_completion=[end_orphaned_subflows],
    on_failure=[end_orphaned_subflows],
)
async def receive_forwarded(
    meeting_id: int | None = None,
    meeting_ids: list[int] | None = None,
    on: date | None = None,
    deliver: bool = True,
) -> Receipt:
    """The levels above take in what meetings forwarded: due dates, screening, one notice per council.

    Started by each `thidua.council.decided` event (`meeting_id`), or for a batch of meetings."""
    ids = sorted(set(meeting_ids or []) | ({meeting_id} if meeting_id is not None else set()))
    receipt, events = await receive_task(ids, on or today_vn())
    emit_nomination_events(
        NOMINATION_RECEIVED,
        events,
        resource_id=f"{RECEIPT}meeting-" + "-".join(map(str, ids[:8])) + ("-…" if len(ids) > 8 else ""),
        name=f"Tiếp nhận hồ sơ từ {len(ids)} phiên họp",
    )
    if deliver and receipt.letters:
        from flows.delivery import deliver_mail

        await deliver_mail()
    return receipt
