"""Flow `issue-decision` (quyết định khen thưởng): the registry records the head's decision.

After the council of the deciding level recommends, its dossiers wait for the head's decision; the
registry (văn thư) records it with its own number and date: the dossiers are conferred (or refused),
and only then are the proposers' letters queued. At the centre there is no council vote: the Ministry
of Home Affairs' submission to the Prime Minister, or the Prime Minister's to the President, is
recorded the same way, and the level above takes the dossiers in at once.

Thin: the logic is `models.decisions.issue_decision`; one transaction applies the decision with its
letters. The same number recorded again changes nothing and queues nothing.
"""

from __future__ import annotations

from datetime import date

from anyio import to_thread
from prefect import flow, get_run_logger, task
from prefect.client.schemas.objects import State
from pydantic import ValidationError

from flows.council import event_items, receive_at_units, received_items
from flows.events import DECISION, NOMINATION_RECEIVED, OUTCOME_EVENTS, RECEIPT, emit_nomination_events
from flows.naming import decision_run_name
from flows.orphans import end_orphaned_subflows
from flows.paperwork import decision_paper
from flows.refusal import refused
from models import decisions as dc
from models.clock import today_vn
from models.db import session_scope
from models.hierarchy import Hierarchy
from models.meetings import Outcome
from models.nominations import Conflict, TransitionError
from notifications.approval_letters import decision_letters
from notifications.outbox import enqueue_many


def issue_and_queue(request: dc.DecisionRequest) -> tuple[dc.DecisionIssued, list[dict], list[dict]]:
    """Record the decision and queue its letters in one transaction; returns it with the items of its
    dossiers' events and of the `received` events (dossiers a central body took in first)."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        issued = dc.issue_decision(session=session, hierarchy=hierarchy, request=request)
        queued = enqueue_many(
            session=session,
            items=decision_letters(session=session, hierarchy=hierarchy, decision_id=issued.decision_id),
        )
        issued.letters = len(queued.created)
        return (
            issued,
            event_items(session, hierarchy, issued.outcomes, {"decision": issued.number}),
            received_items(session, hierarchy, issued.received, {"decision": issued.number}),
        )


@task(name="record-decision")
async def record_task(
    request: dc.DecisionRequest,
) -> tuple[dc.DecisionIssued, list[dict], list[dict]] | list[str]:
    """Apply the head's decision to its dossiers, with the letters that report it; a decision that
    cannot apply comes back as its problems (data: the task completes, nothing applied)."""

    def record() -> tuple[dc.DecisionIssued, list[dict], list[dict]] | list[str]:
        try:
            return issue_and_queue(request)
        except (dc.DecisionRefused, TransitionError, Conflict) as exc:
            return exc.problems if isinstance(exc, dc.DecisionRefused) else [str(exc)]

    return await to_thread.run_sync(record)


def _read_problems(exc: ValidationError, unit: str, number: str) -> list[str]:
    """What makes a request unreadable, and beside it a number already used (so a refusal names all)."""
    problems = [str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()]
    with session_scope() as session:
        reused = dc.reused_number(
            session=session, hierarchy=Hierarchy.load(session), unit=unit, number=number
        )
    return problems + ([reused] if reused else [])


@flow(
    name="issue-decision",
    flow_run_name=decision_run_name,
    log_prints=False,
    on_completion=[end_orphaned_subflows],
    on_failure=[end_orphaned_subflows],
)
async def issue_decision(
    unit: str,
    decision_date: date | None = None,
    number: str = "",
    meeting_id: int | None = None,
    codes: list[str] | None = None,
    refuse: bool = False,
    reason: str = "",
    auto_number: bool = False,
    signer: str = "",
    actor: str = "",
    deliver: bool = True,
) -> dc.DecisionIssued | State:
    """The head decides: record the decision (number, date) on a meeting's recommended dossiers or on
    listed codes, confer or refuse, tell the proposers; input that cannot apply ends it as Refused."""
    try:
        request = dc.DecisionRequest(
            unit=unit,
            number=number,
            decision_date=decision_date or today_vn(),
            meeting_id=meeting_id,
            codes=codes or [],
            refuse=refuse,
            reason=reason,
            auto_number=auto_number,
            signer=signer,
            actor=actor,
        )
    except ValidationError as exc:
        return _refusal(await to_thread.run_sync(_read_problems, exc, unit, number))
    recorded = await record_task(request)
    if isinstance(recorded, list):
        return _refusal(recorded)
    issued, events, received = recorded
    resource_id, name = f"{DECISION}{issued.decision_id}", f"Quyết định số {issued.number}"
    emit_nomination_events(NOMINATION_RECEIVED, received, resource_id=resource_id, name=name)
    for outcome, event in OUTCOME_EVENTS.items():
        emit_nomination_events(
            event,
            [i for i in events if i["outcome"] == outcome],
            resource_id=resource_id,
            name=name,
            payload={"decision": issued.number},
        )
    if issued.forwarded_to and not issued.replayed:
        receipt, above = await to_thread.run_sync(
            lambda: receive_at_units(
                sorted(set(issued.forwarded_to.values())),
                decision_date or today_vn(),
                f"decision-{issued.decision_id}",
            )
        )
        emit_nomination_events(
            NOMINATION_RECEIVED,
            above,
            resource_id=f"{RECEIPT}decision-{issued.decision_id}",
            name=f"Tiếp nhận hồ sơ trình theo văn bản số {issued.number}",
        )
        issued.letters = (issued.letters or 0) + receipt
    if issued.kind == dc.DecisionKind.confer:  # the decision as a paper (documents/): never fails the step
        conferred = [code for code, outcome in issued.outcomes.items() if outcome == Outcome.conferred]
        await decision_paper(issued.unit, issued.number, issued.decision_date, conferred, signer, meeting_id)
    get_run_logger().info(
        "decision %s of %s recorded: %s",
        issued.number,
        issued.unit,
        {k: str(v) for k, v in issued.outcomes.items()},
    )
    if deliver and issued.letters:
        from flows.delivery import deliver_mail

        await deliver_mail()
    return issued


def _refusal(problems: list[str]) -> State:
    message = "Không ghi được quyết định, chưa áp dụng gì: " + "; ".join(problems)
    return refused(message, dc.DecisionRefusal(problems=problems, message=message))
