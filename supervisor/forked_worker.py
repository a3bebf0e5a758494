"""What `python -m supervisor.worker` runs (supervisor/worker.py): Prefect's process worker, whose runs of
thidua's deployments are forked from the warm process (supervisor/warm.py) instead of started in a fresh
interpreter. Kept apart from the command's module: a forked run imports its parent's main module again,
which should cost nothing."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import anyio
import anyio.abc
from httpx import HTTPStatusError
from prefect.client.schemas.responses import WorkerFlowRunResponse
from prefect.flow_engine import run_flow_in_subprocess
from prefect.runner._flow_run_executor import FlowRunExecutorContext
from prefect.runner._process_manager import ProcessHandle
from prefect.workers.process import ProcessJobConfiguration, ProcessWorker, ProcessWorkerResult

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun
    from prefect.runner._control_channel import ControlChannel


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
    """A process worker (`type = "process"`) that forks thidua's flow runs instead of spawning them, and
    that looks for waiting runs as soon as one of its runs ends (Prefect's worker waits for its next poll,
    PREFECT_WORKER_QUERY_SECONDS: a free slot idles ~half that on average, after every run)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ended: set[UUID] = set()
        self._held: set[UUID] = set()  # runs holding one of this worker's slots, from submission to release
        self._polling = self._poll_again = False
        self._poll_lock: anyio.Lock | None = None

    async def get_and_submit_flow_runs(self) -> list[FlowRun]:
        """Prefect's poll, one at a time: the regular one and the one after a run's end never overlap."""
        if self._poll_lock is None:
            self._poll_lock = anyio.Lock()
        async with self._poll_lock:
            return await super().get_and_submit_flow_runs()

    async def _get_scheduled_flow_runs(self) -> list[WorkerFlowRunResponse]:
        """Prefect's poll, asking for as many waiting runs as this worker has slots (`--limit`), not for
        every one: Prefect's asks for all, up to the API's 200, parameters and all, to start one (in a
        backlog of 200 intakes of 50 nominations, 208 ms a poll against 33 ms: bench/worker_poll.py).

        Enough, because the answer is the start of Prefect's, in the same order: the worker takes a slot
        for each run from the top until its free slots run out, and whether another worker got the run
        first, or the deployment's limit holds it back, is found out only after. The only runs it passes
        over without a slot are its own, already submitted (the rest of its slots). A limit the server
        refuses (over its default page, 200) is left to Prefect's poll."""
        if self._limiter is None:  # no limit: every waiting run can start, as Prefect asks
            return await super()._get_scheduled_flow_runs()
        scheduled_before = datetime.now(UTC) + timedelta(seconds=int(self._prefetch_seconds))
        self._logger.debug(f"Querying for flow runs scheduled before {scheduled_before}")
        try:
            response = await self.client.request(
                "POST",
                "/work_pools/{name}/get_scheduled_flow_runs",
                path_params={"name": self._work_pool_name},
                json={
                    "work_queue_names": list(self._work_queues),
                    "scheduled_before": scheduled_before.isoformat(),
                    "limit": int(self._limiter.total_tokens),
                },
            )
        except HTTPStatusError as exc:
            if exc.response.status_code == 404:
                return []  # no pool yet: Prefect's heartbeat creates it, as after its own poll
            if exc.response.status_code == 422:  # more slots than the server gives in one answer
                return await super()._get_scheduled_flow_runs()
            raise
        found = WorkerFlowRunResponse.model_validate_list(response.json())
        self._logger.debug(f"Discovered {len(found)} scheduled_flow_runs")
        return found

    async def _submit_scheduled_flow_runs(self, flow_run_response: list[Any]) -> list[FlowRun]:
        """Prefect's submission, minus the runs this worker already holds a slot for. A poll's answer can
        be older than a run's start (a busy server): Prefect would take a second slot for that run, and
        its limiter refuses with an error that stops the worker's polling loop."""
        fresh = [entry for entry in flow_run_response if entry.flow_run.id not in self._held]
        submitted: list[FlowRun] = await super()._submit_scheduled_flow_runs(flow_run_response=fresh)
        self._held.update(run.id for run in submitted)  # no await since the slots were taken
        return submitted

    def _release_limit_slot(self, flow_run_id: UUID) -> None:
        super()._release_limit_slot(flow_run_id)
        self._held.discard(flow_run_id)
        if flow_run_id not in self._ended:
            return  # a run that did not start (refused, failed to submit): no poll sooner than usual
        self._ended.discard(flow_run_id)
        self._poll_again = True
        if not self._polling and self._runs_task_group is not None:
            self._polling = True
            self._runs_task_group.start_soon(self._poll_while_asked)

    async def _poll_while_asked(self) -> None:
        """Poll once per burst of ended runs (after Prefect's own poll, if one is under way)."""
        try:
            while self._poll_again:
                self._poll_again = False
                await anyio.sleep(0.1)  # runs that end together free their slots together: one poll
                try:
                    await self.get_and_submit_flow_runs()
                except Exception:  # the regular poll tries again; the runs in progress go on
                    self._logger.warning("Could not look for waiting flow runs", exc_info=True)
        finally:
            self._polling = False

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
            result: ProcessWorkerResult = await super().run(flow_run, configuration, task_status)
            self._ended.add(flow_run.id)
            return result
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
        self._ended.add(flow_run.id)
        return ProcessWorkerResult(status_code=execution.status_code, identifier=str(execution.handle.pid))
