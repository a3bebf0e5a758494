"""Flow runs forked from a warm process (supervisor/warm.py), as `thidua up` and `python -m
supervisor.worker` start them: the run is a process of its own, a child of the fork server (not of the
process that asked for it), and finds the flow modules imported already."""

from __future__ import annotations

import asyncio
import copyreg
import json
import os
from pathlib import Path

import pytest


def test_a_run_forks_from_the_warm_process_with_its_modules_imported(
    prefect_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import Flow, flow_engine
    from prefect.client.orchestration import get_client

    from supervisor.warm import fork_flow_runs
    from tests.warm_flow import probe

    monkeypatch.setattr(flow_engine, "multiprocessing", flow_engine.multiprocessing)
    # restored after the test (a key absent before is removed): fork_flow_runs registers Flow's reducer
    monkeypatch.setitem(copyreg.dispatch_table, Flow, copyreg.dispatch_table.get(Flow))
    fork_flow_runs(["tests.warm_flow", "flows.council"])
    out = tmp_path / "probe.json"

    async def run() -> tuple[str, str]:
        async with get_client() as client:
            flow_run = await client.create_flow_run(probe, parameters={"out": str(out), "on": "2026-11-30"})
            process = flow_engine.run_flow_in_subprocess(probe, flow_run=flow_run)
            await asyncio.to_thread(process.join, 120)
            assert process.exitcode == 0
            state = (await client.read_flow_run(flow_run.id)).state
            return state.type.value, type(process).__name__

    state, kind = asyncio.run(run())
    assert state == "COMPLETED" and kind == "ForkServerProcess"
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["pid"] != os.getpid() and seen["ppid"] != os.getpid()  # a child of the fork server
    assert seen["council_imported"] is True  # preloaded there: nothing left to import
