"""Flow runs forked from a warm process (supervisor/warm.py), as `thidua up` and `python -m
supervisor.worker` start them: the run is a process of its own, a child of the fork server (not of the
process that asked for it), and finds the flow modules imported already."""

from __future__ import annotations

import asyncio
import copyreg
import json
import os
import uuid
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


def test_a_forked_run_inherits_the_caches_the_warm_process_filled(
    sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit tree, Prefect's TLS context, the templates and the calendar are made once in the fork
    server (supervisor/warm_caches.py), not again in each run."""
    from multiprocessing import forkserver

    from prefect import Flow, flow_engine

    from supervisor.warm import WarmContext, fork_flow_runs
    from tests.warm_flow import caches_seen, probe

    monkeypatch.setattr(flow_engine, "multiprocessing", flow_engine.multiprocessing)
    monkeypatch.setitem(copyreg.dispatch_table, Flow, copyreg.dispatch_table.get(Flow))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # as a worker's: an http:// API
    server = forkserver._forkserver  # type: ignore[attr-defined]
    server._stop()  # one started by an earlier test has another test's database in its environment
    try:
        fork_flow_runs([probe])
        out = tmp_path / "caches.json"
        process = WarmContext().Process(target=caches_seen, args=(str(out),))
        process.start()
        process.join(60)
        assert process.exitcode == 0
    finally:
        server._stop()
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert seen["tree_inherited"] is True and seen["units"] == len(sample)
    assert seen["tls_shared"] is True and seen["docxtpl_imported"] is True
    assert seen["templates_compiled"] >= 4 and seen["years_built"] >= 3


def test_a_cached_unit_tree_is_read_again_after_an_edit_in_place(session, sample) -> None:
    """A process that loaded the tree earlier (the warm process, the portal) sees a unit renamed in place
    by another process (a sample reload): the edit bumps the units' revision."""
    from sqlmodel import Session

    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from models.sample import DATA, _cached, upsert_units

    specs = list(_cached(DATA))
    commune = next(s for s in specs if s.level == "commune")
    renamed = commune.model_copy(update={"name": commune.name + " mới"})
    with Session(get_engine()) as other:  # another process's edit: nothing here is told of it
        upsert_units(session=other, units=[renamed if s is commune else s for s in specs])
        other.commit()
    tree = Hierarchy.load(session)
    assert tree is not sample
    assert tree.by_code[commune.code].name == renamed.name


def test_the_warm_worker_looks_for_waiting_runs_as_soon_as_a_run_ends(prefect_api) -> None:
    """A slot freed by a run that ended is filled at once, not at the next poll (every
    PREFECT_WORKER_QUERY_SECONDS); runs ending together cause one poll; a run that never started
    (refused, failed to submit) causes none. The poll itself is counted here, not run: it is Prefect's."""
    import anyio

    from supervisor.forked_worker import WarmProcessWorker

    polls: list[float] = []

    async def scenario() -> list[int]:
        seen = []
        async with WarmProcessWorker(work_pool_name="warm-test", limit=5) as worker:

            async def counted() -> list:
                polls.append(anyio.current_time())
                return []

            worker.get_and_submit_flow_runs = counted  # type: ignore[method-assign]
            ended, refused, burst = uuid.uuid4(), uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
            for run_id in (ended, refused, *burst):
                worker.limiter.acquire_on_behalf_of_nowait(run_id)
            worker._ended.add(ended)
            worker._release_limit_slot(ended)
            await anyio.sleep(0.5)
            seen.append(len(polls))
            worker._release_limit_slot(refused)
            await anyio.sleep(0.5)
            seen.append(len(polls))
            worker._ended.update(burst)
            for run_id in burst:
                worker._release_limit_slot(run_id)
            await anyio.sleep(0.5)
            seen.append(len(polls))
            seen.append(worker.limiter.borrowed_tokens)
        return seen

    assert asyncio.run(scenario()) == [1, 1, 2, 0]


def test_a_stale_poll_answer_does_not_take_a_second_slot_for_a_run_already_running(prefect_api) -> None:
    """A poll answered before a run started (a busy server) still lists it: Prefect's worker would take
    a second slot for it, its limiter refuses with RuntimeError, and that stops the polling loop."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.client.schemas.responses import WorkerFlowRunResponse

    from supervisor.forked_worker import WarmProcessWorker

    async def scenario() -> tuple[list, int]:
        async with WarmProcessWorker(work_pool_name="warm-test", limit=2) as worker:
            running = FlowRun(id=uuid.uuid4(), flow_id=uuid.uuid4(), name="running")
            worker.limiter.acquire_on_behalf_of_nowait(running.id)  # submitted by an earlier poll
            worker._held.add(running.id)
            stale = WorkerFlowRunResponse(
                work_pool_id=uuid.uuid4(), work_queue_id=uuid.uuid4(), flow_run=running
            )
            submitted = await worker._submit_scheduled_flow_runs(flow_run_response=[stale])
            return submitted, worker.limiter.borrowed_tokens

    submitted, held = asyncio.run(scenario())
    assert submitted == [] and held == 1


def test_the_warm_worker_asks_only_for_the_runs_it_could_take(prefect_api) -> None:
    """A poll asks for as many waiting runs as the worker has slots, the earliest first, not for every one
    (Prefect's asks for up to 200, parameters and all, to start one); a worker without a limit, or with
    more slots than the server gives in one answer, asks as Prefect does."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    from supervisor.forked_worker import WarmProcessWorker

    pool = f"warm-poll-{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[list[int], list, list]:
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            flow_id = await client.create_flow_from_name("bounded-poll")
            deployment = await client.create_deployment(flow_id=flow_id, name="d", work_pool_name=pool)
            waiting = [await client.create_flow_run_from_deployment(deployment) for _ in range(12)]
        asked = []
        async with WarmProcessWorker(work_pool_name=pool, limit=3) as worker:
            asked.append(len(await worker._get_scheduled_flow_runs()))
            worker.limiter.acquire_on_behalf_of_nowait(uuid.uuid4())  # one slot taken: still 3
            earliest = [r.flow_run.id for r in await worker._get_scheduled_flow_runs()]
            asked.append(len(earliest))
        for limit in (None, 250):  # 250: over the server's page of 200, refused (422) if asked for
            async with WarmProcessWorker(work_pool_name=pool, limit=limit) as other:
                asked.append(len(await other._get_scheduled_flow_runs()))
        return asked, earliest, sorted(waiting, key=lambda r: r.next_scheduled_start_time)

    asked, earliest, waiting = asyncio.run(scenario())
    assert asked == [3, 3, 12, 12]
    assert earliest == [r.id for r in waiting[:3]]


def test_prefect_clients_share_a_tls_context_only_for_an_http_api() -> None:
    """Over http:// the context is never used for a handshake: one serves every client. Over https://
    httpcore changes a context at each connection, so each client keeps its own, as in Prefect."""
    import certifi
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from supervisor.warm_caches import SharedTLSContexts

    shared = SharedTLSContexts()
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        first, second = (shared.create_default_context(cafile=certifi.where()) for _ in range(2))
        assert first is second
        assert (
            shared.create_default_context() is not shared.create_default_context()
        )  # unverified: changed after
    with temporary_settings({PREFECT_API_URL: "https://prefect.example.vn/api"}):
        assert shared.create_default_context(cafile=certifi.where()) is not first


def test_settings_are_serialised_once_per_settings_object_and_given_out_as_copies(monkeypatch) -> None:
    """The process that starts runs serialises its settings for each run (the job's environment, the
    context the child hydrates): kept per settings object, the same answer as Prefect's; a new object
    (a changed setting) is serialised anew, and a caller changing its copy changes nothing kept."""
    from prefect.context import SettingsContext
    from prefect.settings import PREFECT_API_URL, Settings, get_current_settings, temporary_settings

    from supervisor.warm_caches import serialise_settings_once

    settings = get_current_settings()
    context = SettingsContext.get()
    assert context is not None
    expected_env = settings.to_environment_variables(exclude_unset=True)
    expected_context = context.serialize()
    # Prefect's own, counted (and restored after the test: the patched methods stay in this test)
    walks: list[str] = []
    prefects_env, prefects_context = Settings.to_environment_variables, SettingsContext.serialize

    def counted_env(self, **options):
        walks.append("env")
        return prefects_env(self, **options)

    def counted_context(self, include_secrets=True):
        walks.append("context")
        return prefects_context(self, include_secrets)

    monkeypatch.setattr(Settings, "to_environment_variables", counted_env)
    monkeypatch.setattr(SettingsContext, "serialize", counted_context)

    serialise_settings_once()
    first = settings.to_environment_variables(exclude_unset=True)
    assert settings.to_environment_variables(exclude_unset=True) is not first
    assert walks == ["env"]  # the second answer was kept, not walked again
    assert first == expected_env
    first["PREFECT_API_URL"] = "http://changed.invalid/api"
    assert settings.to_environment_variables(exclude_unset=True) == expected_env
    served = context.serialize()
    assert served == expected_context
    served["settings"].clear()
    assert context.serialize() == expected_context
    assert walks == ["env", "context"]
    assert settings.to_environment_variables() != expected_env  # exclude_unset is part of the key

    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4999/api"}):
        changed = get_current_settings()
        assert changed.to_environment_variables(exclude_unset=True)["PREFECT_API_URL"] == (
            "http://127.0.0.1:4999/api"
        )
        now = SettingsContext.get()
        assert now is not None and now.serialize()["settings"]["api"]["url"] == "http://127.0.0.1:4999/api"


def test_the_warm_process_checks_the_server_version_once_for_its_runs(prefect_api) -> None:
    """Prefect checks its API's version once per process (its websockets' check and its API clients',
    each under its own key): the fork server does both, and every forked run inherits the answers; an API
    that does not answer is not remembered, and said so (the fill logs it)."""
    import prefect
    from prefect._internal import version_checking
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from supervisor.warm_caches import STEPS, _server_version

    assert STEPS["server version"] is _server_version
    version_checking._clear_api_version_check_cache()
    try:
        _server_version()
        api_url = PREFECT_API_URL.value()
        client_url = str(get_client().api_url)
        assert client_url != api_url  # two keys: the websockets' and the API client's
        assert version_checking._API_VERSION_CHECK_CACHE == {
            (api_url, prefect.__version__),
            (client_url, prefect.__version__),
        }
        version_checking._clear_api_version_check_cache()
        with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):  # nothing listens there
            with pytest.raises(LookupError, match="does not answer yet"):
                _server_version()
        assert not version_checking._API_VERSION_CHECK_CACHE
    finally:
        version_checking._clear_api_version_check_cache()
