"""Flow runs forked from a warm process instead of started in a fresh interpreter.

Prefect 3.8.8 starts every flow run in a new Python: `thidua up`'s runner as `python -m prefect.engine`
(or, for a flow it holds in memory, a `multiprocessing` "spawn" child), a process worker as a workspace
supervisor that then starts `python -m prefect.engine`. Each imports Prefect and the flow's modules again:
≈ 2 s of CPU before the flow's first line, the largest part of a short run (an intake, a receipt, a
delivery) and of the wait between a council's decision and the next council's inbox.

Here a run is a fork of one warm process instead: multiprocessing's "forkserver", started once, imports
Prefect and every deployment's flow module, then fills the caches each run would otherwise fill again
(supervisor/warm_caches.py), and each run is a child forked from it. A run keeps what a process gives it
— its own pid, killed on cancellation, a crash that is its own — and has nothing left to import.
Prefect's own `run_flow_in_subprocess` still builds the run's process: in the child it sets the run's
environment and opens a fresh settings context from it, as it does after a spawn.
"""

from __future__ import annotations

import copyreg
import importlib
import multiprocessing
import multiprocessing.context
import sys
import time
from collections.abc import Iterable
from multiprocessing import forkserver
from pathlib import Path
from typing import Any


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie does not: it has ended, and nobody reaped it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class WarmProcess(multiprocessing.context.ForkServerProcess):
    """A run's process, forked by the fork server. Should the fork server die first (killed, out of
    memory), Python reports exit code 255 for each of its children at once, running or not: the run
    would be proposed Crashed, and run again, while it still works. So a child still alive then is
    waited for by its pid (its own exit code is lost with the fork server: 255 stays, and a run that
    reported its own final state keeps it)."""

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        super().join(timeout)
        while self.exitcode == 255 and self.pid and _alive(self.pid):
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(0.5)


class WarmContext(multiprocessing.context.ForkServerContext):
    Process = WarmProcess  # type: ignore[assignment]


class _ForkServerContext:
    """`multiprocessing` as `prefect.flow_engine` sees it: its one call, `get_context("spawn")` in
    `run_flow_in_subprocess`, gets the forkserver context."""

    def __init__(self, context: Any) -> None:
        self._context = context

    def get_context(self, method: str | None = None) -> Any:
        return self._context

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)


def _flow_named(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def _pickle_by_name(flow: Any) -> Any:
    """A flow that its module holds under its function's name pickles as that name: the child finds it
    already imported. (By value, cloudpickle copies the function with only the globals its code uses,
    and pydantic cannot resolve the parameters' annotations: `date` is not defined.)"""
    module, name = flow.fn.__module__, flow.fn.__name__
    if getattr(sys.modules.get(module), name, None) is flow:
        return _flow_named, (module, name)
    return object.__reduce_ex__(flow, 4)


def fork_flow_runs(flows: Iterable[Any]) -> None:
    """Make `run_flow_in_subprocess` fork its runs from a server process that has imported these flows'
    modules (and Prefect's engine), and start that server now, so the first run does not wait for its
    imports. Each flow must be its module's attribute of its function's name (so it pickles as that)."""
    from prefect import Flow, flow_engine

    flows = list(flows)
    for flow in flows:
        if _pickle_by_name(flow)[0] is not _flow_named:
            raise ValueError(
                f"flow {flow.name!r} is not {flow.fn.__module__}.{flow.fn.__name__}: a forked run could not find it"
            )
    copyreg.pickle(Flow, _pickle_by_name)
    context = WarmContext()
    modules = sorted({flow.fn.__module__ for flow in flows})
    # last, once everything is imported: the caches a run would fill again (supervisor/warm_caches.py)
    context.set_forkserver_preload(["prefect.flow_engine", __name__, *modules, "supervisor.warm_fill"])
    flow_engine.multiprocessing = _ForkServerContext(context)  # type: ignore[assignment]
    forkserver.ensure_running()
