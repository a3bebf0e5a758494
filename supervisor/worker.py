"""A Prefect process worker whose flow runs fork from a warm process: `python -m supervisor.worker`.

    THIDUA_DATABASE_URL=… PREFECT_API_URL=… python -m supervisor.worker --pool thidua-process [--limit 2]

The same worker as `prefect worker start --pool thidua-process --type process` (it polls the same pool,
shows in the UI as a process worker, honours the pool's and the deployments' concurrency, crashes and
cancellations), with one difference: a run of a thidua deployment does not start a fresh interpreter.
Prefect 3.8.8's process worker starts two per run (a workspace supervisor, then `python -m
prefect.engine`), each importing Prefect and the flow's modules again: ≈ 5 s of CPU per run on this
machine's surge, most of a short run. Here the run is a child forked from a process that has imported
them once (supervisor/warm.py), in this checkout (the worker runs where its code is; the deployments'
pull step is what the stock worker needs instead). A deployment that is not thidua's, or one given its
own `command`, runs as the stock worker runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from prefect.flow_engine import run_flow_in_subprocess
from prefect.runner._flow_run_executor import FlowRunExecutorContext
from prefect.runner._process_manager import ProcessHandle
from prefect.workers.process import ProcessJobConfiguration, ProcessWorker, ProcessWorkerResult

if TYPE_CHECKING:
    from uuid import UUID

    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun
    from prefect.runner._control_channel import ControlChannel

PROJECT_ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger("thidua.worker")


class ForkedFlowStarter:
    """Starts one flow run as a child of the warm process (Prefect's `run_flow_in_subprocess`), with the
    run's job environment; the same steps as Prefect's `DirectSubprocessStarter`, which takes no
    environment beyond the heartbeat."""

    def __init__(
        self, flow: Flow, env: dict[str, str | None], control_channel: ControlChannel | None
    ) -> None:
        self._flow = flow
        self._env = env
        self._control_channel = control_channel

    async def start(
        self, flow_run: FlowRun, task_status: anyio.abc.TaskStatus[ProcessHandle] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        env = dict(self._env)
        registered = False
        if self._control_channel is not None:
            try:
                port, token = self._control_channel.register(flow_run.id)
                env |= {"PREFECT__CONTROL_PORT": str(port), "PREFECT__CONTROL_TOKEN": token}
                registered = True
            except RuntimeError:
                pass  # no control channel: cancellation kills the process, as it always could
        handed_off = False
        try:
            process = run_flow_in_subprocess(self._flow, flow_run=flow_run, env=env)
            task_status.started(ProcessHandle(process))
            handed_off = True
            await anyio.to_thread.run_sync(process.join)
        except BaseException:
            if registered and not handed_off and self._control_channel is not None:
                self._control_channel.unregister(flow_run.id)
            raise


class WarmProcessWorker(ProcessWorker):
    """A process worker (`type = "process"`) that forks thidua's flow runs instead of spawning them."""

    _flows_by_deployment: dict[UUID, Flow | None]

    async def _flow_for(self, flow_run: FlowRun) -> Flow | None:
        """The flow object of the run's deployment, if it is one of thidua's (by its entrypoint)."""
        from flows.deployments import DEPLOYMENTS

        if flow_run.deployment_id is None:
            return None
        cache = self.__dict__.setdefault("_flows_by_deployment", {})
        if flow_run.deployment_id not in cache:
            deployment = await self.client.read_deployment(flow_run.deployment_id)
            specs = {spec.entrypoint: spec for spec in DEPLOYMENTS}
            spec = specs.get(deployment.entrypoint or "")
            cache[flow_run.deployment_id] = spec.load() if spec else None
        return cache[flow_run.deployment_id]

    async def run(
        self,
        flow_run: FlowRun,
        configuration: ProcessJobConfiguration,
        task_status: anyio.abc.TaskStatus[int] | None = None,
    ) -> ProcessWorkerResult:
        flow = None if configuration._command_configured else await self._flow_for(flow_run)
        if flow is None:
            return await super().run(flow_run, configuration, task_status)
        if task_status is None:
            task_status = anyio.TASK_STATUS_IGNORED
        # the job's environment where it differs from this worker's (which the child inherits)
        env = {k: v for k, v in configuration.env.items() if os.environ.get(k) != v}

        async def resolve(_: FlowRun) -> Flow:
            return flow

        async with FlowRunExecutorContext() as ctx:
            starter = ForkedFlowStarter(flow, env, ctx.control_channel)
            executor = ctx.create_executor(flow_run, starter, resolve_flow=resolve, propose_submitting=False)
            execution: Any = None

            async def execute(
                *, task_status: anyio.abc.TaskStatus[ProcessHandle] = anyio.TASK_STATUS_IGNORED
            ):
                nonlocal execution
                execution = await executor.submit(task_status=task_status)

            async with anyio.create_task_group() as group:
                handle = await group.start(execute)
                if handle.pid is None:
                    raise RuntimeError("Flow run process has no PID")
                task_status.started(handle.pid)
        if execution is None or execution.status_code is None:
            raise RuntimeError("Failed to start flow run process.")
        return ProcessWorkerResult(status_code=execution.status_code, identifier=str(execution.handle.pid))


async def work(pool: str, name: str | None, limit: int | None, healthcheck: bool = False) -> None:
    from flows.deployments import DEPLOYMENTS
    from supervisor.warm import fork_flow_runs

    for spec in DEPLOYMENTS:
        spec.load()  # an entrypoint that does not import stops the worker here, not in a run
    fork_flow_runs(spec.module for spec in DEPLOYMENTS)
    async with WarmProcessWorker(work_pool_name=pool, name=name, limit=limit) as worker:
        logger.info("Worker %s polls pool %s (thidua's runs fork from a warm process)", worker.name, pool)
        await worker.start(with_healthcheck=healthcheck)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m supervisor.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--pool", required=True, help="the process work pool to poll (thidua-process)")
    parser.add_argument("--name", help="the worker's name in the UI (default: Prefect's)")
    parser.add_argument("--limit", type=int, help="flow runs at once (default: no limit)")
    parser.add_argument(
        "--with-healthcheck", action="store_true", help="serve a local health endpoint (as Prefect's worker)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.chdir(PROJECT_ROOT)  # the runs start here, as the deployments' pull step would put them
    sys.path.insert(0, str(PROJECT_ROOT))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop as on Ctrl-C: the worker leaves cleanly
    asyncio.run(work(args.pool, args.name, args.limit, args.with_healthcheck))


if __name__ == "__main__":
    main()
