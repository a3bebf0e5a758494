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
    from flows.council import council_meeting

    fork_flow_runs([probe, council_meeting])
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
    assert state == "COMPLETED" and kind == "WarmProcess"
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["pid"] != os.getpid() and seen["ppid"] != os.getpid()  # a child of the fork server
    assert seen["council_imported"] is True  # preloaded there: nothing left to import


def test_a_run_outliving_its_fork_server_is_waited_for_not_reported_ended(tmp_path: Path) -> None:
    """When the fork server dies (killed, out of memory), Python answers exit code 255 for each of its
    children at once: the run would be proposed Crashed, and run again beside itself. It is waited for."""
    import signal
    import time
    from multiprocessing import forkserver

    from supervisor.warm import WarmContext
    from tests.warm_flow import sleep_then_write

    out = tmp_path / "done"
    process = WarmContext().Process(target=sleep_then_write, args=(str(out), 3.0))
    process.start()
    time.sleep(0.5)
    os.kill(forkserver._forkserver._forkserver_pid, signal.SIGKILL)  # type: ignore[attr-defined]
    process.join(30)
    assert out.read_text(encoding="utf-8") == "done"  # joined only once the run itself had ended
    assert process.exitcode == 255  # its own code went with the fork server
