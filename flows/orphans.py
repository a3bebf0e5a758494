"""Subflow runs a killed process left "Running".

When a worker or its machine dies, the run it was running is marked Crashed and run again (prefect.yaml's
automations), but a subflow that was running inside it (`deliver-mail`, called by most flows) has no
deployment and no process: Prefect 3.8.8 leaves it "Running" for ever, and the UI shows a run that never
ends. So every flow that calls subflows ends its orphans when it ends: any child run still not final by
then belongs to a killed attempt (the current attempt's subflows have returned)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

MESSAGE = "Tiến trình chạy lượt này đã dừng (worker hoặc máy chết); lượt chạy cha đã chạy lại và kết thúc."


async def end_orphaned_subflows(flow: Any, flow_run: Any, state: Any) -> None:
    """A flow hook (on completion and on failure): mark the run's unfinished subflow runs Crashed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import TERMINAL_STATES
    from prefect.states import Crashed

    if (flow_run.run_count or 0) <= 1:
        return  # a first attempt's subflows all returned before it ended
    try:
        async with get_client() as client:
            orphans = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run.id]),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=list(TERMINAL_STATES))),
                )
            )
            for orphan in orphans:
                await client.set_flow_run_state(orphan.id, Crashed(message=MESSAGE), force=True)
                logger.warning(
                    "flow run %s: subflow %s of a killed attempt marked Crashed", flow_run.id, orphan.id
                )
    except Exception:  # the run's own outcome stands; an orphan is only a wrong state in the UI
        logger.warning("flow run %s: could not end its orphaned subflows", flow_run.id, exc_info=True)
