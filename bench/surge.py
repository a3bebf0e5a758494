"""The year-end surge on one machine: N nominations (default 10,000) entered at 200 communes in 40
districts of 5 provinces of the national-size hierarchy, every council meeting once per level with its
minutes passed in, all the way up to the Prime Minister — run through the Prefect flows (in-process,
against a local Prefect API) and, in the same run, as the same domain work called directly.

    python bench/surge.py [--size 10000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import common  # noqa: E402
from common import prefect_server, start_sink, waiting_by_unit  # noqa: E402

RECEIVED = date(2024, 11, 25)  # a year-end while the 2022 hierarchy (with districts) stands
SUBMITTED = "15/06/2022"
PROVINCES, DISTRICTS, COMMUNES = 5, 8, 5  # 5 provinces × 8 districts × 5 communes = 200 communes
FORMS = (("bang-khen-ttg", "cá nhân", "Ông"), ("co-thi-dua-cp", "tập thể", "Thôn"))


def build_template(path: Path) -> None:
    """A national-size 2022 hierarchy with the campaigns, in a SQLite file copied for each path."""
    from sqlmodel import Session

    from models.calendar import add_working_days
    from models.campaigns import ensure_campaigns
    from models.db import create_all_for_tests, dispose_engines, get_engine
    from models.synthetic import generate_national

    add_working_days(RECEIVED, 1)  # holiday tables: a one-off start-up cost, kept out of both timings
    url = f"sqlite:///{path}"
    create_all_for_tests(url)
    with Session(get_engine(url)) as session:
        generate_national(session=session, shape="2022")
        ensure_campaigns(session=session)
        session.commit()
    dispose_engines()


def surge_communes(url: str) -> list[str]:
    """The first COMMUNES communes of the first DISTRICTS districts of the first PROVINCES provinces (200)."""
    from sqlmodel import Session

    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from models.units import Level

    with Session(get_engine(url)) as session:
        h = Hierarchy.load(session)
    children: dict[int, list] = {}
    for u in sorted(h.by_id.values(), key=lambda u: u.code):
        if u.parent_id is not None:
            children.setdefault(u.parent_id, []).append(u)
    provinces = sorted(
        (u for u in h.by_id.values() if u.level == Level.province and u.code.startswith("syn.2022")),
        key=lambda u: u.code,
    )[:PROVINCES]
    communes = []
    for p in provinces:
        for d in [c for c in children[p.id] if c.level == Level.district][:DISTRICTS]:
            communes += [c.code for c in children[d.id] if c.level == Level.commune][:COMMUNES]
    assert len(communes) == PROVINCES * DISTRICTS * COMMUNES, len(communes)
    return communes


def batches(communes: list[str], size: int, seed: int = 11) -> list[list[dict]]:
    """One intake batch per commune, `size` nominations in all."""
    rnd = random.Random(seed)
    per = size // len(communes)
    out = []
    for ci, commune in enumerate(communes):
        rows = []
        for i in range(per + (1 if ci < size % len(communes) else 0)):
            form, kind, title = FORMS[rnd.random() < 0.2]
            rows.append(
                {
                    "row": i + 2,
                    "nominee": f"{title} Nguyễn Văn {ci:03d}-{i:04d}",
                    "kind": kind,
                    "unit": commune,
                    "award": form,
                    "campaign": "ntm-2021-2025",
                    "achievement": "Đóng góp xây dựng nông thôn mới",
                    "submitted_on": SUBMITTED,
                }
            )
        out.append(rows)
    return out


def pending_units(url: str) -> dict[str, list[str]]:
    """What waits for a council's meeting, by unit (central bodies hold no meeting: see `decisions_due`)."""
    from models.db import get_engine
    from models.nominations import AGENDA

    central = central_codes(url)
    return {
        u: c
        for u, c in waiting_by_unit(get_engine(url), [s.value for s in AGENDA]).items()
        if u not in central
    }


def central_codes(url: str) -> set[str]:
    from sqlmodel import Session

    from models.db import get_engine
    from models.hierarchy import CENTRAL, Hierarchy

    with Session(get_engine(url)) as session:
        return {u.code for u in Hierarchy.load(session).by_id.values() if u.level in CENTRAL}


def consult_every_body(url: str) -> int:
    """Each body a province must consult on a state-level award is asked and agrees (hiệp y, issue 13):
    outside the councils' work, the same on both paths; returns the dossiers consulted."""
    from sqlmodel import Session

    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from tests.deciding import consult_all

    with Session(get_engine(url)) as session:
        return len(consult_all(session, Hierarchy.load(session), RECEIVED))


def decisions_due(url: str) -> list[tuple[str, list[str]]]:
    """(unit code, codes) of each decision to record now: the heads' on what their councils recommended,
    the Ministry's submissions and the Prime Minister's decisions."""
    from sqlmodel import Session

    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from tests.deciding import decisions_due as due

    with Session(get_engine(url)) as session:
        hierarchy = Hierarchy.load(session)
        return [(hierarchy.get(u).code, codes) for u, codes in due(session, hierarchy)]


def approve_all(url: str, unit_code: str, codes: list[str]):
    from models.db import get_engine

    return common.approve_all(get_engine(url), unit_code, codes, on=RECEIVED)


async def bounded(concurrency: int, jobs: list[Callable[[], Awaitable]]) -> list:
    gate = asyncio.Semaphore(concurrency)

    async def one(job):
        async with gate:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


class Timer:
    def __init__(self) -> None:
        self.parts: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.parts[name] = self.parts.get(name, 0.0) + seconds


PARTS = ("intake", "consult", "meetings", "receive", "decisions", "mail")


def walk(url: str, timer: Timer, steps: dict[str, Callable]) -> dict:
    """The surge after intake, level by level until nothing waits: the bodies consulted, every council
    with dossiers on its agenda meets (all approved), the levels above take in what was forwarded, the
    heads and central bodies decide or submit, the letters go. `steps` does each part on one path."""
    levels = 0
    while True:
        t = time.perf_counter()
        consult_every_body(url)
        timer.add("consult", time.perf_counter() - t)
        pending, due = pending_units(url), decisions_due(url)
        if not pending and not due:
            return {"levels": levels}
        levels += 1
        for part, args in (("meetings", pending), ("receive", None), ("decisions", due), ("mail", None)):
            t = time.perf_counter()
            steps[part](args)
            timer.add(part, time.perf_counter() - t)


def run_prefect(url: str, rows: list[list[dict]], concurrency: int, timer: Timer) -> dict:
    """Through the flows: intake per commune, one meeting run per council, one receive-forwarded run per
    level, one issue-decision run per decision, one deliver-mail run per level."""
    from flows.council import council_meeting, minutes_parameters, receive_forwarded
    from flows.decisions import issue_decision
    from flows.delivery import deliver_mail
    from flows.intake import intake

    runs = 0
    forwarded: list[int] = []

    async def run_all(jobs: list[Callable[[], Awaitable]]) -> list:
        nonlocal runs
        runs += len(jobs)
        return await bounded(concurrency, jobs)

    def meetings(pending: dict[str, list[str]]) -> None:
        minutes = {u: approve_all(url, u, codes) for u, codes in pending.items()}
        results = loop.run_until_complete(
            run_all(
                [
                    lambda u=u: council_meeting(
                        unit=u, **minutes_parameters(unit=u, minutes=minutes[u]), on=RECEIVED, deliver=False
                    )
                    for u in pending
                ]
            )
        )
        refused = [r for r in results if not hasattr(r, "counts")]
        if refused:
            raise RuntimeError(f"{len(refused)} meetings refused, e.g. {refused[0]}")
        forwarded[:] = [r.meeting_id for r in results if r.counts.get("forwarded")]

    def receive(_: None) -> None:
        if forwarded:
            loop.run_until_complete(
                run_all([lambda: receive_forwarded(meeting_ids=forwarded, on=RECEIVED, deliver=False)])
            )

    def decisions(due: list[tuple[str, list[str]]]) -> None:
        results = loop.run_until_complete(
            run_all(
                [
                    lambda u=u, c=c: issue_decision(
                        unit=u, codes=c, decision_date=RECEIVED, auto_number=True, deliver=False
                    )
                    for u, c in due
                ]
            )
        )
        refused = [r for r in results if not hasattr(r, "decision_id")]
        if refused:
            raise RuntimeError(f"{len(refused)} decisions refused, e.g. {refused[0]}")

    def mail(_: None) -> None:
        loop.run_until_complete(run_all([deliver_mail]))

    loop = asyncio.new_event_loop()
    try:
        t = time.perf_counter()
        loop.run_until_complete(
            run_all(
                [
                    lambda b=b: intake(rows=b, source="surge", received_on=RECEIVED, deliver=False)
                    for b in rows
                ]
            )
        )
        timer.add("intake", time.perf_counter() - t)
        walked = walk(
            url, timer, {"meetings": meetings, "receive": receive, "decisions": decisions, "mail": mail}
        )
    finally:
        loop.close()
    return {"flow_runs": runs, **walked}


def run_direct(url: str, rows: list[list[dict]], timer: Timer) -> dict:
    """The same domain work, calling the functions the flows call (papers included), without Prefect."""
    from flows.council import apply_and_queue, open_or_find, receive_at_units, receive_from_meetings
    from flows.decisions import issue_and_queue
    from flows.intake import screen_store_and_queue
    from flows.paperwork import make_decision_paper, make_meeting_papers
    from models.decisions import DecisionKind, DecisionRequest
    from models.meetings import Outcome, minutes_key
    from notifications.mailer import deliver_due

    forwarded: list[int] = []

    def meetings(pending: dict[str, list[str]]) -> None:
        forwarded.clear()
        for u, codes in pending.items():
            minutes = approve_all(url, u, codes)
            opening = open_or_find(
                unit=u, key=minutes_key(unit_code=u, minutes=minutes), on=RECEIVED, flow_run_id=None
            )
            applied = apply_and_queue(opening.meeting_id, minutes)
            if isinstance(applied, list):
                raise RuntimeError(f"minutes refused at {u}: {applied[:3]}")
            make_meeting_papers(applied.result.meeting_id)
            if applied.result.counts.get("forwarded"):
                forwarded.append(applied.result.meeting_id)

    def receive(_: None) -> None:
        if forwarded:
            receive_from_meetings(forwarded, RECEIVED)

    def decisions(due: list[tuple[str, list[str]]]) -> None:
        for u, codes in due:
            issued, _, _ = issue_and_queue(
                DecisionRequest(unit=u, codes=codes, decision_date=RECEIVED, auto_number=True)
            )
            if issued.forwarded_to:
                receive_at_units(
                    sorted(set(issued.forwarded_to.values())), RECEIVED, f"decision-{issued.decision_id}"
                )
            if issued.kind == DecisionKind.confer:
                conferred = [c for c, o in issued.outcomes.items() if o == Outcome.conferred]
                make_decision_paper(issued.unit, issued.number, issued.decision_date, conferred)

    t = time.perf_counter()
    for b in rows:
        taken = screen_store_and_queue(rows=b, source="surge", actor="", received_on=RECEIVED)
        if not hasattr(taken, "nominations"):
            raise RuntimeError(f"intake refused: {taken}")
    timer.add("intake", time.perf_counter() - t)
    return walk(
        url,
        timer,
        {
            "meetings": meetings,
            "receive": receive,
            "decisions": decisions,
            "mail": lambda _: asyncio.run(deliver_due()),
        },
    )


def check(url: str, size: int) -> dict:
    from sqlalchemy import func, select
    from sqlmodel import Session

    from models.db import get_engine
    from models.nominations import Nomination, NominationStep
    from notifications.outbox import OutboxMessage

    with Session(get_engine(url)) as session:
        statuses = dict(
            session.execute(select(Nomination.status, func.count()).group_by(Nomination.status)).all()
        )
        steps = session.execute(select(func.count()).select_from(NominationStep)).scalar_one()
        mail = dict(
            session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
        )
    conferred = statuses.get("conferred", 0)
    assert conferred == size, statuses
    return {"conferred": conferred, "steps": steps, "letters": mail}


def use_database(url: str, smtp_port: int) -> None:
    from models.db import dispose_engines
    from models.settings import reset_settings

    os.environ["THIDUA_DATABASE_URL"] = url
    os.environ["THIDUA_SMTP_HOST"], os.environ["THIDUA_SMTP_PORT"] = "127.0.0.1", str(smtp_port)
    os.environ["THIDUA_SMTP_SECURITY"] = "none"
    dispose_engines()
    reset_settings()


class Requests:
    """Every HTTP request this process makes to the Prefect API (each attempt, retries included): how
    many, the longest, and how many the server answered with an error (5xx)."""

    def __init__(self) -> None:
        self.count = 0
        self.server_errors = 0
        self.longest_s = 0.0
        self.longest = ""
        self.errors: Counter[str] = Counter()  # "METHOD /path → status" of each 5xx, ids as {id}

    def watch(self) -> None:
        import httpx

        original = httpx.AsyncClient.send

        async def send(client, request, *args, **kwargs):
            t = time.perf_counter()
            response = await original(client, request, *args, **kwargs)
            took = time.perf_counter() - t
            self.count += 1
            if response.status_code >= 500:
                self.server_errors += 1
                path = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{id}", request.url.path)
                self.errors[f"{request.method} {path} → {response.status_code}"] += 1
            if took > self.longest_s:
                self.longest_s, self.longest = (
                    took,
                    f"{request.method} {request.url.path} → {response.status_code}",
                )
            return response

        httpx.AsyncClient.send = send  # type: ignore[method-assign]

    def mark(self) -> tuple[int, int, Counter[str]]:
        """Start a phase: its longest request is looked for from here."""
        self.longest_s, self.longest = 0.0, ""
        return self.count, self.server_errors, Counter(self.errors)

    def since(self, mark: tuple[int, int, Counter[str]]) -> dict:
        """The phase since `mark`: requests, 5xx (and by route), its longest request."""
        return {
            "requests": self.count - mark[0],
            "server_errors": self.server_errors - mark[1],
            "server_errors_by_route": dict(self.errors - mark[2]),
            "longest_request_s": round(self.longest_s, 2),
            "longest_request": self.longest,
        }


async def recorded(since: datetime, expected: tuple[int, int, int] | None = None) -> dict:
    """What the Prefect server recorded since `since`: flow runs, task runs, thidua events, and how long
    after the last run it took to record them all (`catch_up_s`: its event stream's backlog)."""
    from prefect.client.orchestration import get_client

    after = {"start_time": {"after_": since.isoformat()}}
    events_filter = {"occurred": {"since": since.isoformat()}, "event": {"prefix": ["thidua."]}}
    async with get_client() as client:

        async def count() -> tuple[int, int, int]:
            flow_runs = await client.request("POST", "/flow_runs/count", json={"flow_runs": after})
            task_runs = await client.request("POST", "/task_runs/count", json={"task_runs": after})
            events = await client.request(
                "POST", "/events/filter", json={"filter": events_filter, "limit": 1}
            )
            return flow_runs.json(), task_runs.json(), events.json()["total"]

        # task runs and events are written from the event stream, behind the runs: wait until the
        # counts have not moved for 30 s (or reach `expected`, when the caller knows it)
        t = time.perf_counter()
        counted = [await count()]
        while counted[-1] != expected and (len(counted) < 11 or counted[-1] != counted[-11]):
            await asyncio.sleep(3)
            counted.append(await count())
            if time.perf_counter() - t > 600:
                break
        caught_up = time.perf_counter() - t - (0 if counted[-1] == expected else 30)
    flow_runs, task_runs, events = counted[-1]
    return {
        "flow_runs": flow_runs,
        "task_runs": task_runs,
        "events": events,
        "catch_up_s": round(max(caught_up, 0), 1),
    }


def run_floor(runs: int, tasks: int, events: int, concurrency: int) -> None:
    """Prefect's floor: `runs` empty async flow runs sharing `tasks` task runs and `events` events."""
    from floor import floor_run, shares

    jobs = [
        lambda t=t, e=e, i=i: floor_run(tasks=t, events=e, run=i)
        for i, (t, e) in enumerate(zip(shares(tasks, runs), shares(events, runs), strict=True))
    ]
    asyncio.run(bounded(concurrency, jobs))


def shape_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shape", default="5,8,5", help="provinces,districts per province,communes per district"
    )


def use_shape(shape: str) -> None:
    """The surge's communes from `--shape` (PROVINCES,DISTRICTS,COMMUNES): see `surge_communes`."""
    global PROVINCES, DISTRICTS, COMMUNES
    PROVINCES, DISTRICTS, COMMUNES = (int(x) for x in shape.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8, help="flow runs at once (Prefect path)")
    shape_argument(parser)
    parser.add_argument(
        "--stock",
        action="store_true",
        help="Prefect's server as shipped (`prefect server start`), not as `thidua up` runs it",
    )
    args = parser.parse_args()
    use_shape(args.shape)
    tmp = Path(tempfile.mkdtemp(prefix="thidua-surge-"))
    os.environ["THIDUA_DATA_DIR"] = str(tmp / "data")
    os.environ.setdefault("PREFECT_HOME", str(tmp / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from supervisor.up import SQLITE_PATIENCE  # the embedded server's settings, as `thidua up` runs it

    for name, value in SQLITE_PATIENCE.items():
        os.environ.setdefault(name, value)
    requests = Requests()
    requests.watch()
    sink, port = start_sink(maildir=tmp / "mail")
    try:
        template = tmp / "template.db"
        t = time.perf_counter()
        build_template(template)
        setup_s = time.perf_counter() - t
        direct_db, prefect_db = tmp / "direct.db", tmp / "prefect-path.db"
        shutil.copy(template, direct_db)
        shutil.copy(template, prefect_db)
        rows = batches(surge_communes(f"sqlite:///{template}"), args.size)

        use_database(f"sqlite:///{direct_db}", port)
        direct_timer = Timer()
        t = time.perf_counter()
        run_direct(f"sqlite:///{direct_db}", rows, direct_timer)
        direct_s = time.perf_counter() - t
        direct_check = check(f"sqlite:///{direct_db}", args.size)

        with prefect_server(tmp / "prefect-server", stock=args.stock):
            use_database(f"sqlite:///{prefect_db}", port)
            prefect_timer = Timer()
            since, mark = datetime.now(UTC), requests.mark()
            t = time.perf_counter()
            orchestrated = run_prefect(f"sqlite:///{prefect_db}", rows, args.concurrency, prefect_timer)
            prefect_s = time.perf_counter() - t
            real = requests.since(mark)
            prefect_check = check(f"sqlite:///{prefect_db}", args.size)
            real.update(asyncio.run(recorded(since)))

            since, mark = datetime.now(UTC), requests.mark()
            t = time.perf_counter()
            run_floor(real["flow_runs"], real["task_runs"], real["events"], args.concurrency)
            floor_s = time.perf_counter() - t
            floor = requests.since(mark)
            expected = (real["flow_runs"], real["task_runs"], real["events"])
            floor.update(asyncio.run(recorded(since, expected)))
    finally:
        sink.terminate()
        sink.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    communes = PROVINCES * DISTRICTS * COMMUNES
    print(
        f"\nYear-end surge: {args.size:,} nominations, {communes} communes / {PROVINCES * DISTRICTS} districts / "
        f"{PROVINCES} provinces → Prime Minister (hierarchy set-up {setup_s:.1f} s, not counted)\n"
    )
    print(f"{'path':<30} {'wall s':>8} {'× direct':>8} {'runs':>5}  " + " ".join(f"{p:>9}" for p in PARTS))
    for name, secs, runs, timer in (
        ("direct (no Prefect)", direct_s, 0, direct_timer),
        (
            f"Prefect {'stock' if args.stock else 'embedded'} (×{args.concurrency})",
            prefect_s,
            orchestrated["flow_runs"],
            prefect_timer,
        ),
    ):
        print(
            f"{name:<30} {secs:>8.1f} {secs / direct_s:>8.2f} {runs:>5}  "
            + " ".join(f"{timer.parts.get(p, 0.0):>9.1f}" for p in PARTS)
        )
    print(
        f"{f'Prefect floor (×{args.concurrency})':<30} {floor_s:>8.1f} {floor_s / direct_s:>8.2f} {floor['flow_runs']:>5}"
    )
    print(
        f"\n{'against the embedded server':<30} {'runs':>6} {'tasks':>6} {'events':>7} {'s/run':>6} {'requests':>9} {'5xx':>4} {'catch-up s':>10}  longest request"
    )
    for name, secs, figures in (("the flows", prefect_s, real), ("Prefect's floor", floor_s, floor)):
        print(
            f"{name:<30} {figures['flow_runs']:>6} {figures['task_runs']:>6} {figures['events']:>7} "
            f"{secs / max(figures['flow_runs'], 1):>6.2f} {figures['requests']:>9} {figures['server_errors']:>4} {figures['catch_up_s']:>10.0f}  "
            f"{figures['longest_request_s']:.1f} s ({figures['longest_request']})"
        )
    print(
        "  catch-up: after the last run, until the server had recorded every task run and event (its backlog)"
    )
    print(
        f"\nsteps: {prefect_check['steps']:,} (direct {direct_check['steps']:,}); letters: {prefect_check['letters']}"
    )
    print(
        f"command: python bench/surge.py --size {args.size} --concurrency {args.concurrency} --shape {args.shape}"
    )
    print(
        json.dumps(
            {
                "benchmark": "surge",
                "size": args.size,
                "shape": args.shape,
                "concurrency": args.concurrency,
                "server": "stock" if args.stock else "thidua",
                "direct_s": round(direct_s, 2),
                "prefect_s": round(prefect_s, 2),
                "floor_s": round(floor_s, 2),
                "ratio": round(prefect_s / direct_s, 2),
                "floor_ratio": round(floor_s / direct_s, 2),
                "levels": orchestrated["levels"],
                "flows": real,
                "floor": floor,
                "direct_parts_s": {k: round(v, 2) for k, v in direct_timer.parts.items()},
                "prefect_parts_s": {k: round(v, 2) for k, v in prefect_timer.parts.items()},
                "conferred": prefect_check["conferred"],
                "direct_conferred": direct_check["conferred"],
                "steps": prefect_check["steps"],
                "direct_steps": direct_check["steps"],
                "letters": prefect_check["letters"],
                "setup_s": round(setup_s, 2),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
