"""The year-end surge beyond one machine: N nominations (default 10,000) entered at 200 communes in 40
districts of 5 provinces of the national-size hierarchy, every council meeting once per level with its
minutes passed in, up to the Prime Minister — run through Prefect workers (a Prefect server on
PostgreSQL, `prefect deploy --all` to the `thidua-process` pool, two workers — thidua's warm worker
`python -m supervisor.worker` and/or Prefect's `prefect worker start` (`--worker warm|stock|both`) —
the app database on PostgreSQL) and, in the same session, as the embedded single-process run on SQLite
(`bench/surge.py`'s Prefect path: flows called in-process against the Prefect server as `thidua up`
runs it).

Both paths do the same work in the same runs (`surge.walk`): one intake run per commune, one meeting run
per council and level, one receive-forwarded run per level, one issue-decision run per head's decision
or central submission, one deliver-mail run per level; the consulted bodies' answers are recorded
directly on both. On the worker path the
`thidua.council.decided` trigger is paused for the run (it would add one receive-forwarded run per
meeting; the batch run per level replaces it, as on the embedded path).

    python bench/surge_workers.py [--size 10000] [--workers 2] [--limit 2] [--worker warm|stock|both]
                                  [--postgres URL]

`--postgres` is a server where the benchmark may create (and drop) two databases; without it a
throwaway cluster is started with .ci/start-postgres (fsync off) and stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import surge  # noqa: E402 - data, minutes and the embedded path come from bench/surge.py
from common import isolated_environment, prefect_server, start_sink, wait_healthy  # noqa: E402

HOST = "127.0.0.1"
TRIGGER = "receive-forwarded on thidua.council.decided"
DATABASE_TASKS = {
    "screen-and-store",
    "open-meeting",
    "apply-meeting",
    "open-reviews",
    "record-decision",
}  # apply-meeting checks too
MAIL_TASKS = {"deliver-due-mail"}


def tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and every process under it, the ones they have reaped included (/proc): a warm
    worker's runs are reaped by its fork server, which the worker never waits for when stopped."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
    tree, total = [pid], 0.0
    while tree:
        current = tree.pop()
        if current in stats:
            total += sum(int(x) for x in stats[current][11:15]) / tick  # utime stime cutime cstime
        tree += [p for p, fields in stats.items() if int(fields[1]) == current]
    return total


def child_pid(marker: str) -> int | None:
    """This process's child whose command line contains `marker` (the embedded path's Prefect server)."""
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if (
                entry.name.isdigit()
                and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
                and marker.encode() in (entry / "cmdline").read_bytes()
            ):
                return int(entry.name)
    return None


class CpuSplit:
    """CPU seconds over a path by who spent them: each named process with everything under it (tree_cpu),
    this process on its own; `rest` is whatever else kept the machine busy."""

    def __init__(self, roots: dict[str, list[int | None]]) -> None:
        self.roots = {name: [p for p in pids if p] for name, pids in roots.items() if any(pids)}
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        return {
            "machine": machine_cpu(),
            "bench": time.process_time(),
            **{name: sum(tree_cpu(p) for p in pids) for name, pids in self.roots.items()},
        }

    def stop(self) -> dict[str, float]:
        spent = {name: value - self.start[name] for name, value in self._now().items()}
        spent["rest"] = spent["machine"] - sum(v for k, v in spent.items() if k != "machine")
        return spent


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine since boot, every core (/proc/stat): the server, PostgreSQL
    and the runs included. Over a path it shows whether that path was waiting or the machine was full
    (at most cores × wall)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- PostgreSQL, the Prefect server, the workers ------------------------------------------------


@contextlib.contextmanager
def postgres(url: str | None, workdir: Path) -> Iterator[tuple[str, int | None]]:
    """An admin URL and the server's pid: the URL given (pid unknown), or a throwaway cluster from
    .ci/start-postgres (stopped after)."""
    if url:
        yield url, None
        return
    # As root the cluster runs as `postgres`, which cannot enter the private (0700) work folder: a folder
    # of its own beside it.
    state = Path(tempfile.mkdtemp(prefix="thidua-surge-pg-"))
    state.chmod(0o755)
    env = {**os.environ, "THIDUA_PG_DIR": str(state / "pg")}
    started = subprocess.run([str(ROOT / ".ci/start-postgres")], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        raise SystemExit(f"PostgreSQL did not start:\n{started.stderr[-2000:]}")
    try:
        yield started.stdout.strip(), int((state / "pg" / "pid").read_text())
    finally:
        subprocess.run([str(ROOT / ".ci/stop-postgres")], env=env, capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)


def build_on(url: str) -> None:
    """The national 2022 hierarchy and the campaigns, as bench/surge.py's SQLite template has them."""
    from sqlmodel import Session

    from models.campaigns import ensure_campaigns
    from models.db import create_all_for_tests, get_engine
    from models.synthetic import generate_national

    create_all_for_tests(url)
    with Session(get_engine(url)) as session:
        generate_national(session=session, shape="2022")
        ensure_campaigns(session=session)
        session.commit()


class Service:
    """The processes of the worker path, each in its own session; stopped in reverse order."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.processes: dict[str, subprocess.Popen] = {}

    def spawn(self, name: str, cmd: list[str], **env: str) -> None:
        with (self.workdir / f"{name}.log").open("ab") as out:
            self.processes[name] = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def run(self, cmd: list[str], **env: str) -> None:
        result = subprocess.run(cmd, cwd=ROOT, env={**self.env, **env}, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"{' '.join(cmd)}:\n{result.stdout}\n{result.stderr}")

    def stop(self, *names: str) -> None:
        for name in names or reversed(list(self.processes)):
            process = self.processes.pop(name, None)
            if process is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def prefect_cli() -> list[str]:
    return [sys.executable, "-m", "prefect"]


# the warm worker forks each run from a process that has imported everything (supervisor/worker.py);
# Prefect's process worker starts a workspace supervisor and then `python -m prefect.engine` per run
WORKER_COMMANDS = {
    # supervisor.worker with the floor's deployment added to the ones it forks (bench/floor_worker.py)
    "warm": [sys.executable, str(ROOT / "bench" / "floor_worker.py")],
    "stock": [*prefect_cli(), "worker", "start"],
}


# --- the worker path ------------------------------------------------------------------------------


async def submit_and_wait(runs: list[tuple[str, dict]]) -> list:
    """Start deployment runs (the pool's workers pick them up) and wait until every one has finished.
    The wait asks the server for one count a second, not for the runs themselves (200 full runs a second
    in a backlog loaded the server more than any worker did): the embedded path waits for nothing."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment

    submitted = [await run_deployment(name, parameters=parameters, timeout=0) for name, parameters in runs]
    ids = [r.id for r in submitted]
    # a crashed run is not over: the automation runs it again
    ended = [StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED]
    async with get_client() as client:
        while await client.count_flow_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=ids),
                state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=ended)),
            )
        ):
            await asyncio.sleep(1)
        done = []
        for start in range(0, len(ids), 200):
            done += await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids[start : start + 200])), limit=200
            )
    failed = [r for r in done if not (r.state and r.state.is_completed())]
    if failed:
        raise RuntimeError(f"{len(failed)} runs did not complete, e.g. {failed[0].name}: {failed[0].state}")
    return done


def forwarding_meetings(url: str, keys: list[str]) -> list[int]:
    """The meetings (by key) that forwarded something: the embedded path's `forwarded` list."""
    from sqlalchemy import select
    from sqlmodel import Session

    from models.db import get_engine
    from models.meetings import Meeting, MeetingStatus

    with Session(get_engine(url)) as session:
        meetings = session.scalars(
            select(Meeting).where(Meeting.key.in_(keys), Meeting.status == MeetingStatus.applied)
        )
        return [m.id for m in meetings if m.summary.get("counts", {}).get("forwarded")]


def _as_json(parameters: dict) -> dict:
    return {k: v.model_dump(mode="json") if hasattr(v, "model_dump") else v for k, v in parameters.items()}


def run_workers(url: str, rows: list[list[dict]], timer: surge.Timer) -> dict:
    """The same runs as the embedded path (surge.walk), each a deployment run executed by a worker."""
    from flows.council import minutes_parameters
    from models.meetings import minutes_key

    on = surge.RECEIVED.isoformat()
    runs = 0
    forwarded: list[int] = []

    def submit(batch: list[tuple[str, dict]]) -> None:
        nonlocal runs
        runs += len(batch)
        asyncio.run(submit_and_wait(batch))

    def meetings(pending: dict[str, list[str]]) -> None:
        minutes = {u: surge.approve_all(url, u, codes) for u, codes in pending.items()}
        submit(
            [
                (
                    "council-meeting/council-meeting",
                    {
                        "unit": u,
                        **_as_json(minutes_parameters(unit=u, minutes=m)),
                        "on": on,
                        "deliver": False,
                    },
                )
                for u, m in minutes.items()
            ]
        )
        forwarded[:] = forwarding_meetings(
            url, [minutes_key(unit_code=u, minutes=m) for u, m in minutes.items()]
        )

    def receive(_: None) -> None:
        if forwarded:
            submit(
                [
                    (
                        "receive-forwarded/receive-forwarded",
                        {"meeting_ids": forwarded, "on": on, "deliver": False},
                    )
                ]
            )

    def decisions(due: list[tuple[str, list[str]]]) -> None:
        submit(
            [
                (
                    "issue-decision/issue-decision",
                    {"unit": u, "codes": c, "decision_date": on, "auto_number": True, "deliver": False},
                )
                for u, c in due
            ]
        )

    t = time.perf_counter()
    submit(
        [("intake/intake", {"rows": b, "source": "surge", "received_on": on, "deliver": False}) for b in rows]
    )
    timer.add("intake", time.perf_counter() - t)
    walked = surge.walk(
        url,
        timer,
        {
            "meetings": meetings,
            "receive": receive,
            "decisions": decisions,
            "mail": lambda _: submit([("deliver-mail/deliver-mail", {})]),
        },
    )
    return {"flow_runs": runs, **walked}


async def set_trigger(enabled: bool) -> None:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        for automation in await client.read_automations_by_name(TRIGGER):
            await (client.resume_automation if enabled else client.pause_automation)(automation.id)


# --- where the time goes --------------------------------------------------------------------------


async def breakdown(since: datetime) -> dict[str, float]:
    """Run-seconds summed over every flow run since `since` (they overlap: parallel runs), split into
    waiting to start (queue, poll, new process, imports), database tasks, mail tasks and the rest of the
    run (the engine, events, artifacts)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        TaskRunFilter,
        TaskRunFilterStartTime,
    )

    async def every(read, **filters) -> list:
        """All pages of a Prefect list call (200 a page)."""
        found: list = []
        while batch := await read(**filters, limit=200, offset=len(found)):
            found += batch
        return found

    async with get_client() as client:
        flow_runs = await every(
            client.read_flow_runs,
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)),
        )
        task_runs = await every(
            client.read_task_runs,
            task_run_filter=TaskRunFilter(start_time=TaskRunFilterStartTime(after_=since)),
        )
    top = [r for r in flow_runs if r.parent_task_run_id is None and r.start_time and r.end_time]
    waiting = sum(
        max(0.0, (r.start_time - (r.expected_start_time or r.start_time)).total_seconds()) for r in top
    )
    running = sum((r.end_time - r.start_time).total_seconds() for r in top)
    task_s = {"database": 0.0, "mail": 0.0}
    for t in task_runs:
        if t.start_time and t.end_time:
            kind = (
                "database"
                if t.name.rsplit("-", 1)[0] in DATABASE_TASKS
                else "mail"
                if t.name.rsplit("-", 1)[0] in MAIL_TASKS
                else None
            )
            if kind:
                task_s[kind] += (t.end_time - t.start_time).total_seconds()
    return {
        "flow_runs": len(flow_runs),
        "waiting_to_start": waiting,
        "database": task_s["database"],
        "mail": task_s["mail"],
        "engine_events_artifacts": max(0.0, running - sum(task_s.values())),
    }


# --- Prefect's floor through the workers ----------------------------------------------------------


async def deploy_floor(pool: str) -> None:
    """The floor's deployment (bench/floor.py), in the workers' pool, under the entrypoint they fork."""
    from floor_worker import FLOOR

    from flows.deployments import build

    deployment = await build(FLOOR, FLOOR.load())
    deployment.entrypoint = FLOOR.entrypoint  # as the worker matches it, wherever this bench runs from
    await deployment.aapply(work_pool_name=pool)


def dossiers_named(prefect_url: str, since: datetime) -> int:
    """How many dossiers the events since `since` named between them (related resources of role
    `nomination`, rows in the Prefect server's database)."""
    from sqlalchemy import create_engine, text

    from flows.events import NOMINATION_ROLE

    engine = create_engine(prefect_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT count(*) FROM event_resources WHERE resource_role = :role AND occurred >= :since"
                    ),
                    {"role": NOMINATION_ROLE, "since": since},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def run_floor(pool: str, runs: int, real: dict) -> None:
    """As many empty deployment runs as the real path submitted, sharing the task runs, events and dossiers
    named that it made (bench/floor.py), all submitted at once: what the same workers, server and database
    cost with no domain work at all."""
    from floor import shares

    asyncio.run(deploy_floor(pool))
    jobs = [
        ("floor/floor", {"tasks": t, "events": e, "run": i, "related": r})
        for i, (t, e, r) in enumerate(
            zip(
                shares(real["task_runs"], runs),
                shares(real["events"], runs),
                shares(real["related"], runs),
                strict=True,
            )
        )
    ]
    asyncio.run(submit_and_wait(jobs))


# --- the two paths --------------------------------------------------------------------------------


def embedded(
    workdir: Path,
    rows: list[list[dict]],
    template: Path,
    port: int,
    size: int,
    concurrency: int,
    sink_pid: int,
) -> dict:
    db = workdir / "embedded.db"
    shutil.copy(template, db)
    url = f"sqlite:///{db}"
    with prefect_server(workdir / "embedded-prefect"):  # as `thidua up` runs it
        surge.use_database(url, port)
        timer = surge.Timer()
        since = datetime.now().astimezone()
        spent = CpuSplit({"prefect_server": [child_pid("supervisor.prefect_server")], "sink": [sink_pid]})
        t = time.perf_counter()
        runs = surge.run_prefect(url, rows, concurrency, timer)
        wall = time.perf_counter() - t
        by = spent.stop()
        cpu, busy = by["bench"], by["machine"]
        split = asyncio.run(breakdown(since))
        checked = surge.check(url, size)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "machine_cpu_s": busy,
        "cpu_by": by,
        "timer": timer.parts,
        "runs": runs,
        "split": split,
        "check": checked,
    }


def with_workers(
    workdir: Path,
    rows: list[list[dict]],
    admin_url: str,
    pg_pid: int | None,
    port: int,
    size: int,
    workers: int,
    limit: int,
    kind: str,
    sink_pid: int,
    floor: bool,
) -> dict:
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from sqlalchemy.engine import make_url

    from notifications.sink import free_port

    suffix = uuid.uuid4().hex[:8]
    from models.db import throwaway_databases

    with throwaway_databases(admin_url, f"surge_app_{suffix}", f"surge_prefect_{suffix}") as (
        app_url,
        prefect_url,
    ):
        t = time.perf_counter()
        build_on(app_url)
        setup = {"hierarchy_on_postgres_s": time.perf_counter() - t}
        api_port = free_port()
        api_url = f"http://{HOST}:{api_port}/api"
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "THIDUA_DATABASE_URL"))
        }
        env.update(
            PREFECT_API_URL=api_url,
            THIDUA_DATABASE_URL=app_url,
            THIDUA_SMTP_HOST=HOST,
            THIDUA_SMTP_PORT=str(port),
            THIDUA_SMTP_SECURITY="none",
            PREFECT_WORKER_QUERY_SECONDS="2",
        )
        service = Service(workdir, env)
        try:
            t = time.perf_counter()
            service.spawn(
                "server",
                [*prefect_cli(), "server", "start", "--host", HOST, "--port", str(api_port)],
                PREFECT_API_DATABASE_CONNECTION_URL=make_url(prefect_url)
                .set(drivername="postgresql+asyncpg")
                .render_as_string(hide_password=False),
            )
            wait_healthy(api_url)
            service.run([*prefect_cli(), "work-pool", "create", "thidua-process", "--type", "process"])
            service.run([*prefect_cli(), "--no-prompt", "deploy", "--all"])
            service.run([*prefect_cli(), "automation", "create", "--from-file", "prefect.yaml"])
            with temporary_settings({PREFECT_API_URL: api_url}):  # this process's client
                asyncio.run(set_trigger(False))
                start = WORKER_COMMANDS[kind]
                for n in range(workers):
                    service.spawn(
                        f"worker-{n + 1}",
                        [
                            *start,
                            "--pool",
                            "thidua-process",
                            "--name",
                            f"surge-{n + 1}",
                            "--limit",
                            str(limit),
                        ],
                        THIDUA_CODE_DIR=str(ROOT),
                    )
                setup["service_s"] = time.perf_counter() - t
                surge.use_database(app_url, port)
                timer = surge.Timer()
                since = datetime.now().astimezone()
                pids = {
                    "prefect_server": [service.processes["server"].pid],
                    "postgres": [pg_pid],
                    "workers_and_runs": [service.processes[f"worker-{n + 1}"].pid for n in range(workers)],
                    "sink": [sink_pid],
                }
                spent = CpuSplit(pids)
                t = time.perf_counter()
                runs = run_workers(app_url, rows, timer)
                wall, by = time.perf_counter() - t, spent.stop()
                busy = by["machine"]
                split = asyncio.run(breakdown(since))
                checked = surge.check(app_url, size)
                floor_figures = None
                if floor and kind == "warm":  # the floor's runs fork only under the warm worker
                    real = asyncio.run(surge.recorded(since))  # its task runs and events, once recorded
                    real["related"] = dossiers_named(prefect_url, since)
                    spent = CpuSplit(pids)
                    t = time.perf_counter()
                    run_floor("thidua-process", runs["flow_runs"], real)
                    floor_figures = {
                        "wall_s": time.perf_counter() - t,
                        "cpu_by": spent.stop(),
                        "flow_runs": runs["flow_runs"],
                        "task_runs": real["task_runs"],
                        "events": real["events"],
                        "related": real["related"],
                    }
                service.stop(*[f"worker-{n + 1}" for n in range(workers)])
                asyncio.run(set_trigger(True))
        finally:
            service.stop()
    return {
        "wall_s": wall,
        "cpu_s": by["workers_and_runs"],  # the workers and every flow-run process they ran
        "machine_cpu_s": busy,
        "cpu_by": by,
        "timer": timer.parts,
        "runs": runs,
        "split": split,
        "check": checked,
        "setup": setup,
        "floor": floor_figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8, help="flow runs at once on the embedded path")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=2, help="flow-run processes at once per worker")
    parser.add_argument(
        "--worker",
        choices=["warm", "stock", "both"],
        default="warm",
        help="warm: python -m supervisor.worker (runs fork from a warm process); stock: prefect worker start",
    )
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (default: a throwaway one)")
    surge.shape_argument(parser)
    parser.add_argument(
        "--workers-only",
        action="store_true",
        help="skip the embedded path (it is bench/surge.py's Prefect path, ≈ 20 min at 10,000)",
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip Prefect's floor through the warm workers (empty runs with the real runs' tasks and events)",
    )
    args = parser.parse_args()
    surge.use_shape(args.shape)
    communes_n = surge.PROVINCES * surge.DISTRICTS * surge.COMMUNES

    workdir = Path(tempfile.mkdtemp(prefix="thidua-surge-workers-"))
    # The embedded server's SQLite, under 8 runs at once each emitting an event per nomination, answered
    # 503 (its 10 s statement timeout) after the client's 5 retries: give both more patience.
    from supervisor.up import SQLITE_PATIENCE  # as `thidua up` runs its embedded server

    isolated_environment(workdir, PREFECT_LOGGING_LEVEL="WARNING", **SQLITE_PATIENCE)
    sink, port = start_sink(maildir=workdir / "mail")
    try:
        template = workdir / "template.db"
        t = time.perf_counter()
        surge.build_template(template)
        setup_s = time.perf_counter() - t
        rows = surge.batches(surge.surge_communes(f"sqlite:///{template}"), args.size)
        one = (
            None
            if args.workers_only
            else embedded(workdir, rows, template, port, args.size, args.concurrency, sink.pid)
        )
        with postgres(args.postgres, workdir) as (admin_url, pg_pid):
            kinds = ["warm", "stock"] if args.worker == "both" else [args.worker]
            many = {
                kind: with_workers(
                    workdir,
                    rows,
                    admin_url,
                    pg_pid,
                    port,
                    args.size,
                    args.workers,
                    args.limit,
                    kind,
                    sink.pid,
                    not args.no_floor,
                )
                for kind in kinds
            }
    finally:
        sink.terminate()
        sink.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    shape = (
        f"{communes_n} communes / {surge.PROVINCES * surge.DISTRICTS} districts / {surge.PROVINCES} provinces"
    )
    print(
        f"\nYear-end surge: {args.size:,} nominations at {shape} → Prime Minister "
        f"(SQLite hierarchy {setup_s:.0f} s, PostgreSQL hierarchy "
        f"{max(p['setup']['hierarchy_on_postgres_s'] for p in many.values()):.0f} s, server + deploy + workers "
        f"{max(p['setup']['service_s'] for p in many.values()):.0f} s: not counted)\n"
    )
    paths = tuple(((f"embedded, SQLite (×{args.concurrency})", one),) if one else ()) + tuple(
        (f"{args.workers} {kind} workers ×{args.limit}, PG", p) for kind, p in many.items()
    )
    print(
        f"{'path':<30} {'wall s':>7} {'nom/s':>6} {'runs':>5} {'CPU s':>7} {'CPU s/run':>9} {'machine':>8}  "
        + " ".join(f"{part:>9}" for part in surge.PARTS)
    )
    for name, p in paths:
        parts = p["timer"]
        print(
            f"{name:<30} {p['wall_s']:>7.1f} {args.size / p['wall_s']:>6.0f} {p['runs']['flow_runs']:>5} "
            f"{p['cpu_s']:>7.0f} {p['cpu_s'] / p['runs']['flow_runs']:>9.2f} "
            f"{p['machine_cpu_s'] / (os.cpu_count() or 1) / p['wall_s']:>8.0%}  "
            + " ".join(f"{parts.get(part, 0.0):>9.1f}" for part in surge.PARTS)
        )
    print("\nWhere the time goes (run-seconds summed over the flow runs, which overlap):")
    print(f"{'path':<30} {'to start':>9} {'database':>9} {'mail':>7} {'engine+events':>14}")
    for name, p in paths:
        s = p["split"]
        print(
            f"{name:<30} {s['waiting_to_start']:>9.0f} {s['database']:>9.0f} {s['mail']:>7.0f} "
            f"{s['engine_events_artifacts']:>14.0f}"
        )
    print("\nWho kept the machine busy (CPU s over the path; rest = every other process and the kernel):")
    who = ["bench", "prefect_server", "postgres", "workers_and_runs", "sink", "rest", "machine"]
    print(f"{'path':<30} " + " ".join(f"{w:>16}" for w in who))
    for name, p in paths:
        print(
            f"{name:<30} "
            + " ".join(f"{p['cpu_by'][w]:>16.0f}" if w in p["cpu_by"] else f"{'–':>16}" for w in who)
        )
    floors = [(kind, p["floor"]) for kind, p in many.items() if p["floor"]]
    for kind, f in floors:
        print(
            f"\nPrefect's floor through the same {args.workers} {kind} workers ×{args.limit}, server and database: "
            f"{f['flow_runs']} empty runs with the real path's {f['task_runs']:,} task runs and {f['events']:,} "
            f"events naming {f['related']:,} dossiers, submitted at once; timed, as the real paths are, until "
            "every run has ended (the server may still be recording their events)"
        )
        print(f"{'':<30} {'wall s':>7} " + " ".join(f"{w:>16}" for w in who))
        print(
            f"{'floor':<30} {f['wall_s']:>7.1f} "
            + " ".join(f"{f['cpu_by'][w]:>16.0f}" if w in f["cpu_by"] else f"{'–':>16}" for w in who)
        )
        if one:
            print(
                f"  the floor alone is {f['wall_s'] / one['wall_s']:.2f}× the embedded path's wall time "
                f"({one['wall_s']:.1f} s), with the whole surge's domain work in it"
            )
    print(
        "  to start = queued, picked up by a worker, a new Python process, imports, the pull step "
        "(embedded: none); CPU s = this process (embedded) or the workers and their flow-run processes; "
        "machine = the whole machine's CPU in use over the path (every process, every core)"
    )
    print(
        "\n"
        + "; ".join(
            f"{name}: steps {p['check']['steps']:,}, letters {p['check']['letters']}" for name, p in paths
        )
    )
    print(
        f"command: python bench/surge_workers.py --size {args.size} --workers {args.workers} --limit {args.limit} "
        f"--worker {args.worker} --shape {args.shape}"
        + (" --workers-only" if one is None else "")
        + (" --no-floor" if args.no_floor else "")
    )

    def summary(p: dict) -> dict:
        return {
            "wall_s": round(p["wall_s"], 1),
            "nominations_per_s": round(args.size / p["wall_s"], 1),
            "flow_runs": p["runs"]["flow_runs"],
            "levels": p["runs"]["levels"],
            "cpu_s": round(p["cpu_s"], 1),
            "machine_cpu_s": round(p["machine_cpu_s"], 1),
            "cpu_by_s": {k: round(v, 1) for k, v in p["cpu_by"].items()},
            "parts_s": {k: round(v, 1) for k, v in p["timer"].items()},
            "run_seconds": {k: round(v, 1) for k, v in p["split"].items()},
            "steps": p["check"]["steps"],
            "letters": p["check"]["letters"],
        }

    print(
        json.dumps(
            {
                "benchmark": "surge_workers",
                "size": args.size,
                "communes": communes_n,
                "workers": args.workers,
                "limit": args.limit,
                "embedded": summary(one) if one else None,
                "workers_path": summary(next(iter(many.values()))),
                "worker_paths": {kind: summary(p) for kind, p in many.items()},
                "workers_vs_embedded": (
                    {kind: round(p["wall_s"] / one["wall_s"], 2) for kind, p in many.items()} if one else None
                ),
                "workers_floor": {
                    kind: {
                        "wall_s": round(f["wall_s"], 1),
                        "flow_runs": f["flow_runs"],
                        "task_runs": f["task_runs"],
                        "events": f["events"],
                        "dossiers_named": f["related"],
                        "cpu_by_s": {k: round(v, 1) for k, v in f["cpu_by"].items()},
                        "vs_embedded": round(f["wall_s"] / one["wall_s"], 2) if one else None,
                    }
                    for kind, f in floors
                },
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
