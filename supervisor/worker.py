"""A Prefect process worker whose flow runs fork from a warm process: `python -m supervisor.worker`.

    THIDUA_DATABASE_URL=… PREFECT_API_URL=… python -m supervisor.worker --pool thidua-process [--limit 2]

The same worker as `prefect worker start --pool thidua-process --type process` (it polls the same pool,
shows in the UI as a process worker, honours the pool's and the deployments' concurrency, crashes and
cancellations), with one difference: a run of a thidua deployment does not start a fresh interpreter.
Prefect 3.8.8's process worker starts two per run (a workspace supervisor, then `python -m
prefect.engine`), each importing Prefect and the flow's modules again: ≈ 5 s of CPU per run on this
machine's surge, most of a short run. Here the run is a child forked from a process that has imported
them once (supervisor/warm.py), in this checkout (the worker runs where its code is; the deployments'
pull step is what the stock worker needs instead; THIDUA_CODE_DIR, if set, must be this checkout). A
deployment that is not thidua's (by name and entrypoint), or one given its own `command` or `working_dir`,
runs as the stock worker runs it. On SIGTERM the worker ends its runs (SIGTERM to each) and stops; the
"crashed run → run again" automation gives them to another worker. The app's settings (THIDUA_*) belong in
the worker's environment, not in job variables: the worker itself runs the runs' hooks.
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
        try:
            process = run_flow_in_subprocess(self._flow, flow_run=flow_run, env=env)
        except BaseException:
            if registered and self._control_channel is not None:
                self._control_channel.unregister(flow_run.id)
            raise
        task_status.started(ProcessHandle(process))
        try:
            await anyio.to_thread.run_sync(process.join, abandon_on_cancel=True)
        except BaseException:
            # the worker is stopping (SIGTERM, Ctrl-C): end the run as Prefect's worker ends its runs,
            # instead of waiting for it (a meeting can wait for its minutes for days)
            if process.exitcode is None:
                process.terminate()
            raise


class WarmProcessWorker(ProcessWorker):
    """A process worker (`type = "process"`) that forks thidua's flow runs instead of spawning them."""

    async def _thidua_deployment(self, flow_run: FlowRun) -> tuple[str, Flow] | None:
        """The run's deployment name and flow, if it is one of thidua's: the same name and entrypoint as
        in this checkout's prefect.yaml (read at each run: `prefect deploy` updates it in place)."""
        from flows.deployments import DEPLOYMENTS

        if flow_run.deployment_id is None:
            return None
        deployment = await self.client.read_deployment(flow_run.deployment_id)
        for spec in DEPLOYMENTS:
            if (spec.name, spec.entrypoint) == (deployment.name, deployment.entrypoint):
                return deployment.name, spec.load()
        return None

    async def run(
        self,
        flow_run: FlowRun,
        configuration: ProcessJobConfiguration,
        task_status: anyio.abc.TaskStatus[int] | None = None,
    ) -> ProcessWorkerResult:
        own = (
            None
            if configuration._command_configured or configuration.working_dir
            else await self._thidua_deployment(flow_run)
        )
        if own is None:
            return await super().run(flow_run, configuration, task_status)
        deployment_name, flow = own
        if task_status is None:
            task_status = anyio.TASK_STATUS_IGNORED
        # the job's environment where it differs from this worker's (which the child inherits)
        env = {k: v for k, v in configuration.env.items() if os.environ.get(k) != v}
        env["PREFECT__DEPLOYMENT_NAME"] = deployment_name

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

    # an entrypoint that does not import stops the worker here, not in a run
    fork_flow_runs(spec.load() for spec in DEPLOYMENTS)
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
    code_dir = os.environ.get("THIDUA_CODE_DIR")
    if code_dir and Path(code_dir).resolve() != PROJECT_ROOT:
        parser.exit(
            2,
            f"THIDUA_CODE_DIR is {code_dir}, but this worker runs the code of {PROJECT_ROOT}: start it from "
            "that checkout (its .venv/bin/python -m supervisor.worker), or unset THIDUA_CODE_DIR\n",
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.chdir(PROJECT_ROOT)  # the runs start here, as the deployments' pull step would put them
    sys.path.insert(0, str(PROJECT_ROOT))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop as on Ctrl-C: the worker leaves cleanly
    asyncio.run(work(args.pool, args.name, args.limit, args.with_healthcheck))


if __name__ == "__main__":
    main()
