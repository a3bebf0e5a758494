"""Flows `council-meeting` (phiên họp Hội đồng) and `receive-forwarded` (cấp trên tiếp nhận hồ sơ).

A meeting opens with its agenda fixed, waits (suspended, no process kept alive) for the council's
decisions from the UI form or the CLI, checks them all, and applies the whole meeting in one
transaction together with the letters that report it. Re-running any part changes nothing twice.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import date

from anyio import to_thread
from prefect import flow, get_client, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists
from prefect.flow_runs import suspend_flow_run
from prefect.runtime import flow_run as current_run
from prefect.states import Failed
from sqlalchemy import select

from flows.dashboard import refresh_after_meeting
from flows.events import emit_batch_event, emit_nomination_events, unit_related
from flows.inputs import MeetingDecisions, agenda_markdown, initial_form
from flows.naming import meeting_run_name, receive_run_name, unit_slug
from models import meetings as mt
from models import staging
from models.clock import fmt_date, today_vn
from models.db import session_scope
from models.hierarchy import Hierarchy
from models.nominations import Conflict, Nomination, Nominee, TransitionError
from notifications.notices import council_digest, outcome_letters
from notifications.outbox import enqueue_many

DECIDED = "thidua.council.decided"
OUTCOME_EVENTS = {"conferred": "thidua.nomination.conferred", "forwarded": "thidua.nomination.forwarded",
                  "rejected": "thidua.nomination.rejected", "returned": "thidua.nomination.returned"}
# A killed run's slot comes back when its lease expires (Prefect's minimum, 60 s, plus up to 15 s).
COUNCIL_LEASE_S = 60
COUNCIL_WAIT_S = 900


def open_or_find(*, unit: str, key: str, on: date, flow_run_id: str | None) -> dict:
    """Open the meeting (receiving what was forwarded, fixing the agenda) or find it again by key."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        target = hierarchy.resolve(unit, on=on)
        meeting = mt.open_meeting(session=session, unit_id=target.id, key=key, hierarchy=hierarchy, on=on,
                                  flow_run_id=flow_run_id)
        council, members = mt.council_of(session=session, unit_id=target.id)
        return {"meeting_id": meeting.id, "status": meeting.status.value, "agenda": meeting.agenda,
                "unit_id": target.id, "unit_code": target.code, "unit_name": target.name,
                "council": council.name, "members": len(members), "series": council.decision_series,
                "level": target.level.value}


# Prefect refuses flow-run parameters over 512 KiB; larger minutes go through the app database.
INLINE_MINUTES_BYTES = staging.INLINE_BYTES


def minutes_parameters(*, unit: str, minutes: mt.Minutes) -> dict:
    """The `council-meeting` parameters that carry these minutes: inline (shown in the UI) while small,
    else staged in the app database and passed by key (`minutes_ref`)."""
    return staging.parameters("minutes", minutes, kind="minutes", label=unit, budget=INLINE_MINUTES_BYTES,
                              key=mt.minutes_key(unit_code=unit, minutes=minutes))


def load_minutes(key: str) -> mt.Minutes:
    with session_scope() as session:
        return mt.stored_minutes(session=session, key=key)


def check(meeting_id: int, minutes: mt.Minutes) -> list[str]:
    with session_scope() as session:
        meeting = session.get(mt.Meeting, meeting_id)
        return mt.check_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=Hierarchy.load(session))


def apply_and_queue(meeting_id: int, minutes: mt.Minutes | None) -> dict:
    """Apply the meeting (if not yet) and queue its letters, in one transaction; idempotent."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        meeting = session.get(mt.Meeting, meeting_id, with_for_update=True)
        if meeting.status == mt.MeetingStatus.open:
            if minutes is None:
                raise ValueError("phiên họp chưa có biên bản")
            mt.apply_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=hierarchy)
        outcome = mt.outcome_of(session=session, meeting=meeting)
        letters = outcome_letters(session=session, hierarchy=hierarchy, meeting=meeting, outcome=outcome)
        queued = enqueue_many(session=session, items=letters)
        details = _event_items(session, hierarchy, outcome)
        return {"meeting_id": meeting.id, "counts": outcome.counts(), "decisions": outcome.decisions,
                "forwarded_to": sorted({hierarchy.get(u).code for u in outcome.forwarded_to.values()}),
                "letters": len(queued.created), "items": details,
                "decision_numbers": meeting.summary.get("decision_numbers", {}),
                "meeting_date": (meeting.meeting_date or meeting.opened_on).isoformat()}


def _event_items(session, hierarchy: Hierarchy, outcome: mt.Outcome) -> list[dict]:  # noqa: ANN001
    codes = list(outcome.decisions)
    rows = session.execute(
        select(Nomination.code, Nominee.name, Nomination.award_code, Nomination.current_unit_id, Nomination.status,
               Nomination.decision_number)
        .join(Nominee, Nominee.id == Nomination.nominee_id)
        .where(Nomination.code.in_(codes or [""]))
    ).all()
    out = []
    for code, name, award, unit_id, status, number in rows:
        unit = hierarchy.get(unit_id)
        out.append({"code": code, "nominee": name, "award": award, "unit_code": unit.code, "unit": unit.name,
                    "outcome": outcome.decisions[code],
                    "payload": {"status": str(status), "decision_number": number, "meeting_id": outcome.meeting_id}})
    return out


@task(name="open-meeting")
async def open_meeting_task(unit: str, key: str, on: date, flow_run_id: str | None) -> dict:
    """Open the meeting and fix its agenda (or find it again after a suspension or a crash)."""
    return await to_thread.run_sync(lambda: open_or_find(unit=unit, key=key, on=on, flow_run_id=flow_run_id))


@task(name="check-minutes")
async def check_task(meeting_id: int, minutes: mt.Minutes) -> list[str]:
    """Check every decision against the agenda, the council and the rules."""
    return await to_thread.run_sync(lambda: check(meeting_id, minutes))


@contextlib.asynccontextmanager
async def one_meeting_at_a_time(unit_code: str) -> AsyncIterator[None]:
    """Hold the council's global concurrency limit `council-<unit code>` (one slot, made on first use).

    The transaction already makes a second meeting on the same dossiers fail (compare-and-set); the
    limit makes a second meeting of the council wait for the first instead of racing it."""
    name = "council-" + re.sub(r"[^A-Za-z0-9._-]", "-", unit_code)
    async with get_client() as client:
        with contextlib.suppress(ObjectAlreadyExists):
            await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    async with concurrency(name, occupy=1, timeout_seconds=COUNCIL_WAIT_S, lease_duration=COUNCIL_LEASE_S,
                           strict=True, raise_on_lease_renewal_failure=False):
        yield


@task(name="apply-meeting")
async def apply_task(meeting_id: int, minutes: mt.Minutes | None) -> dict:
    """Apply the whole meeting in one transaction, with the letters that report it."""
    return await to_thread.run_sync(lambda: apply_and_queue(meeting_id, minutes))


async def _publish_agenda(info: dict) -> None:
    await acreate_table_artifact(
        key=f"agenda-{unit_slug(info['unit_name'])}-{info['meeting_id']}".replace("_", "-").lower()[:100],
        table=[{"Mã hồ sơ": a["code"], "Đối tượng": a["nominee"], "Hình thức": a["award_name"],
                "Đơn vị đề nghị": a["origin_unit"],
                "Hạn xét": fmt_date(date.fromisoformat(a["due_on"])) if a.get("due_on") else ""}
               for a in info["agenda"]],
        description=f"Chương trình họp {info['council']} (phiên #{info['meeting_id']}): {len(info['agenda'])} hồ sơ",
    )


async def _wait_for_decisions(info: dict, on: date) -> mt.Minutes:
    """Suspend until the council's decisions arrive; refused input suspends again with the problems."""
    problems: list[str] = []
    attempt = 0
    while True:
        form = MeetingDecisions.with_initial_data(
            description=agenda_markdown(council=info["council"], agenda=info["agenda"], problems=problems),
            **initial_form(agenda=info["agenda"], meeting_date=on, series=info["series"], members=info["members"]),
        )
        decisions = await suspend_flow_run(wait_for_input=form, timeout=None, key=f"decisions-{attempt}")
        minutes = decisions.to_minutes()
        problems = await check_task(info["meeting_id"], minutes)
        if not problems:
            return minutes
        await acreate_markdown_artifact(
            key=f"meeting-{info['meeting_id']}-problems",
            markdown="\n".join(["## Biên bản chưa hợp lệ, chưa áp dụng gì", ""] + [f"- {p}" for p in problems]),
            description="Các lỗi của biên bản vừa gửi",
        )
        attempt += 1


@flow(name="council-meeting", flow_run_name=meeting_run_name, log_prints=False)
async def council_meeting(unit: str, minutes: mt.Minutes | None = None, on: date | None = None,
                          deliver: bool = True, dashboard: bool = True, minutes_ref: str | None = None) -> dict:
    """A council meeting: agenda, decisions (from the form, passed in, or stored and named by
    `minutes_ref`), applied as one batch."""
    logger = get_run_logger()
    on = on or today_vn()
    run_id = str(current_run.id) if current_run.id else None
    if minutes_ref is not None:
        if minutes is not None:
            raise ValueError("chỉ truyền một trong hai: minutes hoặc minutes_ref")
        minutes = await to_thread.run_sync(lambda: load_minutes(minutes_ref))
        key = minutes_ref
    else:
        key = mt.minutes_key(unit_code=unit, minutes=minutes) if minutes is not None else f"run:{run_id}"
    info = await open_meeting_task(unit, key, on, run_id)
    if info["status"] == mt.MeetingStatus.open.value:
        await _publish_agenda(info)
        if minutes is None:
            minutes = await _wait_for_decisions(info, on)
        else:
            problems = await check_task(info["meeting_id"], minutes)
            if problems:
                return Failed(message="Biên bản chưa hợp lệ, chưa áp dụng gì: " + "; ".join(problems),
                              data={"refused": True, "problems": problems, "meeting_id": info["meeting_id"]})
    try:
        async with one_meeting_at_a_time(info["unit_code"]):
            result = await apply_task(info["meeting_id"], minutes)
    except (Conflict, TransitionError, mt.MinutesRefused) as exc:
        return Failed(message=f"Không áp dụng được phiên họp: {exc}",
                      data={"conflict": True, "message": str(exc), "meeting_id": info["meeting_id"]})
    for outcome, event in OUTCOME_EVENTS.items():
        emit_nomination_events(event, [i for i in result["items"] if i["outcome"] == outcome])
    emit_batch_event(
        DECIDED, resource_id=f"thidua.meeting.{info['meeting_id']}", name=f"Phiên họp {info['council']}",
        related=[unit_related(info["unit_code"], info["unit_name"], role="council")],
        payload={"meeting_id": info["meeting_id"], "unit": info["unit_code"], "counts": result["counts"],
                 "forwarded_to": result["forwarded_to"]},
    )
    logger.info("meeting %s of %s applied: %s", info["meeting_id"], info["unit_code"], result["counts"])
    # a re-run after a crash queues no new letter, but those of the killed run may still wait
    if deliver and (result["letters"] or (current_run.run_count or 0) > 1):
        from flows.delivery import deliver_mail
        await deliver_mail()
    if dashboard:
        await refresh_after_meeting(info["meeting_id"])
    return {k: v for k, v in result.items() if k != "items"} | {"unit": info["unit_code"]}


def receive_from_meetings(meeting_ids: list[int], on: date) -> dict:
    """Open the review at each level the meetings forwarded to; one digest per receiving council per batch."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        forwarded: dict[str, int] = {}
        for meeting_id in meeting_ids:
            meeting = session.get(mt.Meeting, meeting_id)
            if meeting is None:
                raise LookupError(f"không có phiên họp #{meeting_id}")
            forwarded.update(mt.outcome_of(session=session, meeting=meeting).forwarded_to)
        by_unit: dict[int, list[str]] = {}
        for code, unit_id in forwarded.items():
            by_unit.setdefault(unit_id, []).append(code)
        received, held = [], []
        for unit_id in by_unit:
            received += mt.receive_pending(session=session, unit_id=unit_id, hierarchy=hierarchy, on=on,
                                           actor="receive-forwarded")
            held += mt.hold_frozen_nominees(session=session, unit_id=unit_id, on=on)
        ref = "meeting-" + "-".join(map(str, sorted(meeting_ids))) if len(meeting_ids) <= 8 else \
            f"meetings-{min(meeting_ids)}-{max(meeting_ids)}-{len(meeting_ids)}"
        letters = [council_digest(session=session, hierarchy=hierarchy, unit_id=u, codes=codes, ref=ref)
                   for u, codes in by_unit.items()]
        queued = enqueue_many(session=session, items=[x for x in letters if x is not None])
        awards = dict(session.execute(select(Nomination.code, Nomination.award_code).where(
            Nomination.code.in_(list(forwarded) or [""]))).all())
        items = [{"code": code, "unit_code": hierarchy.get(u).code, "unit": hierarchy.get(u).name,
                  "award": awards[code], "payload": {"meeting_ids": meeting_ids}}
                 for code, u in forwarded.items()]
        return {"meeting_ids": meeting_ids, "received": received, "held": held, "letters": len(queued.created),
                "units": [hierarchy.get(u).code for u in by_unit], "items": items}


@task(name="open-reviews")
async def receive_task(meeting_ids: list[int], on: date) -> dict:
    """Open the reviews at the receiving levels and queue one digest per council."""
    return await to_thread.run_sync(lambda: receive_from_meetings(meeting_ids, on))


@flow(name="receive-forwarded", flow_run_name=receive_run_name, log_prints=False)
async def receive_forwarded(meeting_id: int | None = None, meeting_ids: list[int] | None = None,
                            on: date | None = None, deliver: bool = True) -> dict:
    """The levels above take in what meetings forwarded: due dates, screening, one notice per council.

    Started by each `thidua.council.decided` event (`meeting_id`), or for a batch of meetings."""
    ids = sorted(set(meeting_ids or []) | ({meeting_id} if meeting_id is not None else set()))
    result = await receive_task(ids, on or today_vn())
    emit_nomination_events("thidua.nomination.received", result.pop("items"))
    if deliver and result["letters"]:
        from flows.delivery import deliver_mail
        await deliver_mail()
    return result

