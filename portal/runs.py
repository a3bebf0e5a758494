"""Every change the portal makes goes through the same Prefect flows as the CLI, the same way:

- a nomination file → the `intake` flow, run in this process against the service's Prefect API (as
  `thidua nominate` does with the service up); `resubmit` likewise;
- a meeting → the `council-meeting` deployment (`arun_deployment`, as `thidua meeting open`), which
  fixes the agenda and suspends; the chair's confirmation resumes that run with the minutes
  (`aresume_flow_run`, as `thidua meeting decide`); an operator's cancel is `thidua meeting cancel`'s;
- the head's decision → the `issue-decision` flow, run in this process against the service's Prefect
  API (as `thidua decision issue`).

These functions block (they run flows to completion or wait for a run): the pages call them from
FastAPI's thread pool (plain `def` routes).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from supervisor.reach import connect, run, run_ui_link, wait_for

if TYPE_CHECKING:
    from models.decisions import DecisionIssued
    from models.intake import IntakeRefused, IntakeResult
    from models.meetings import Meeting, MeetingApplied, Minutes

OPEN_WAIT = 90.0  # seconds a page waits for the meeting run to fix its agenda (then: "reload later")
RESUME_WAIT = 120.0


class ServiceDown(RuntimeError):
    """The action needs `thidua up` (a served deployment or a suspended run)."""

    def __init__(self) -> None:
        super().__init__(
            "dịch vụ chưa chạy (thidua up): chưa thể mở hoặc tiếp tục phiên họp; báo cán bộ vận hành"
        )


class RunFailed(RuntimeError):
    pass


def service() -> dict | None:
    """Where the service's Prefect API is (up.json or PREFECT_API_URL); None when it is not running."""
    return connect()


def run_link(flow_run_id: str | None) -> str:
    """The run's page in the Prefect UI (shown to operators only)."""
    if not flow_run_id:
        return ""
    return run_ui_link(service(), flow_run_id)


def intake_rows(
    *, rows: list[tuple[int, dict]], source: str, actor: str, received_on: date | None = None
) -> tuple[IntakeResult | IntakeRefused, str | None]:
    """The `intake` flow on the rows (as `thidua nominate`); returns its result and its run's id."""
    service()
    from flows.intake import intake, intake_parameters
    from flows.refusal import is_refused
    from models.intake import IntakeRefused, IntakeResult

    parameters = intake_parameters(rows=rows, source=source)
    state: Any = run(
        intake(**parameters, source=source, actor=actor, received_on=received_on, return_state=True)
    )
    run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    if is_refused(state):
        return IntakeRefused.model_validate(state.result()), run_id
    if not state.is_completed():
        raise RunFailed(state.message or "tiếp nhận không thành công")
    return IntakeResult.model_validate(state.result()), run_id


def resubmit_codes(*, codes: list[str], actor: str) -> tuple[list[str], str | None]:
    service()
    from flows.intake import ResubmitResult, resubmit

    state: Any = run(resubmit(codes=codes, actor=actor, return_state=True))
    if not state.is_completed():
        raise RunFailed(state.message or "không nộp lại được")
    return ResubmitResult.model_validate(state.result()).resubmitted, str(state.state_details.flow_run_id)


def issue_decision(**parameters: Any) -> tuple[DecisionIssued | list[str], str | None]:
    """The `issue-decision` flow with `parameters` (as `thidua decision issue`); returns what it recorded,
    or the problems that refused it (nothing applied), and its run's id."""
    service()
    from flows.decisions import issue_decision as flow
    from flows.refusal import is_refused
    from models.decisions import DecisionIssued

    state: Any = run(flow(**parameters, return_state=True))
    run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    if is_refused(state):
        return list(state.result().problems), run_id
    if not state.is_completed():
        raise RunFailed(state.message or "không ghi được quyết định")
    return DecisionIssued.model_validate(state.result()), run_id


def open_meeting(*, unit_code: str, unit_id: int) -> tuple[Meeting | None, str, str]:
    """Start the council's meeting from the `council-meeting` deployment (as `thidua meeting open`).

    Returns the meeting once its run has fixed the agenda (None if it has not yet), the run's id and,
    when the run ended without a meeting, why. Raises ServiceDown, MeetingAlreadyOpen."""
    if service() is None:
        raise ServiceDown
    from prefect.deployments.flow_runs import arun_deployment
    from sqlalchemy import select
    from sqlmodel import col

    from cli.meetings import meeting_tags
    from flows.council import read_state, settle_open_meetings
    from flows.refusal import is_refused
    from models.db import session_scope
    from models.meetings import Meeting, MeetingAlreadyOpen, council_of, open_meetings_of

    run(settle_open_meetings(unit_id))
    with session_scope() as session:
        waiting = [m for m in open_meetings_of(session=session, unit_id=unit_id) if m.waits_for_decisions]
        if waiting:
            council, _ = council_of(session=session, unit_id=unit_id)
            raise MeetingAlreadyOpen(waiting[0], council)
    flow_run: Any = run(
        arun_deployment(
            "council-meeting/council-meeting",
            parameters={"unit": unit_code},
            timeout=0,
            tags=meeting_tags(unit_code),
        )
    )
    run_id = str(flow_run.id)

    def opened() -> Meeting | str | None:
        with session_scope() as session:
            meeting = session.scalars(select(Meeting).where(col(Meeting.flow_run_id) == run_id)).first()
        if meeting is not None:
            return meeting
        state: Any = run(read_state(run_id))
        if state is not None and state.is_final():
            return (state.message or "") if is_refused(state) else f"phiên họp không mở được ({state.name})"
        return None

    found = cast("Meeting | str | None", wait_for(opened, timeout=OPEN_WAIT, every=1.0))
    if isinstance(found, str):
        return None, run_id, found
    return found, run_id, ""


def resume_meeting(*, meeting: Meeting, minutes: Minutes) -> MeetingApplied | list[str]:
    """Resume the waiting run with the confirmed minutes and wait until it applies them (the result) or
    refuses them (the problems: the run waits again)."""
    if service() is None:
        raise ServiceDown
    from prefect.exceptions import NotPausedError
    from prefect.flow_runs import aresume_flow_run

    from flows.inputs import MeetingDecisions
    from models.db import session_scope
    from models.hierarchy import Hierarchy
    from models.meetings import Meeting as MeetingRow
    from models.meetings import MeetingStatus, applied_result, saved_id

    meeting_id, attempt = saved_id(meeting), meeting.summary.get("attempt", 0)
    values = MeetingDecisions.run_input(minutes)
    try:
        run(aresume_flow_run(UUID(str(meeting.flow_run_id)), run_input=values))
    except NotPausedError:
        raise RunFailed("phiên họp đang xử lý biên bản gửi trước; tải lại trang sau ít phút") from None

    def settled() -> MeetingApplied | list[str] | None:
        with session_scope() as session:
            m = session.get(MeetingRow, meeting_id)
            if m is None or m.status == MeetingStatus.cancelled:
                return [f"phiên họp #{meeting_id} đã hủy: {(m.summary if m else {}).get('cancelled', '')}"]
            if m.status == MeetingStatus.applied:
                hierarchy = Hierarchy.load(session)
                return applied_result(
                    session=session, meeting=m, hierarchy=hierarchy, unit=hierarchy.get(m.unit_id).code
                )
            if m.summary.get("attempt", 0) > attempt:
                return list(m.summary.get("problems") or ["biên bản chưa hợp lệ"])
        return None

    result = cast("MeetingApplied | list[str] | None", wait_for(settled, timeout=RESUME_WAIT))
    if result is None:
        raise RunFailed("đã gửi biên bản nhưng phiên họp chưa áp dụng xong; tải lại trang sau ít phút")
    return result


def cancel_meeting(*, meeting_id: int, run_id: str | None, reason: str) -> bool:
    """As `thidua meeting cancel`: the meeting first (a run about to apply it then applies nothing),
    then its run."""
    from flows.council import cancel, cancel_run

    done = cancel(meeting_id, reason)
    if done and run_id and service() is not None:
        run(cancel_run(run_id, reason))
    return done
