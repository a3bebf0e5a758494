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
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import start_sink  # noqa: E402

RECEIVED = date(2026, 11, 23)
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
    """200 communes: the first 5 communes of the first 8 districts of the first 5 provinces."""
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
    from sqlalchemy import select
    from sqlmodel import Session

    from models.db import get_engine
    from models.nominations import AGENDA, Nomination
    from models.units import Unit

    with Session(get_engine(url)) as session:
        rows = session.execute(
            select(Unit.code, Nomination.code)
            .join(Unit, Unit.id == Nomination.current_unit_id)
            .where(Nomination.status.in_([s.value for s in AGENDA]))
            .order_by(Nomination.id)
        ).all()
    out: dict[str, list[str]] = {}
    for unit, code in rows:
        out.setdefault(unit, []).append(code)
    return out


def approve_all(url: str, unit_code: str, codes: list[str]):
    from sqlalchemy import select
    from sqlmodel import Session

    from models.db import get_engine
    from models.meetings import Minutes, council_of
    from models.units import Unit

    with Session(get_engine(url)) as session:
        unit_id = session.scalars(select(Unit.id).where(Unit.code == unit_code)).one()
        council, members = council_of(session=session, unit_id=unit_id)
    return Minutes(
        meeting_date=RECEIVED,
        members_present=len(members),
        decisions=[{"code": c, "decision": "approve", "votes_for": len(members)} for c in codes],
    )


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


async def run_prefect(url: str, rows: list[list[dict]], concurrency: int, timer: Timer) -> dict:
    """Through the flows: intake per commune, one meeting run per council, receive and deliver per level."""
    from flows.council import council_meeting, minutes_parameters, receive_forwarded
    from flows.delivery import deliver_mail
    from flows.intake import intake

    runs = 0
    t = time.perf_counter()
    await bounded(
        concurrency,
        [lambda b=b: intake(rows=b, source="surge", received_on=RECEIVED, deliver=False) for b in rows],
    )
    runs += len(rows)
    timer.add("intake", time.perf_counter() - t)
    from flows.decisions import issue_decision

    levels = 0
    while pending := pending_units(url):
        levels += 1
        t = time.perf_counter()
        central = {u: c for u, c in pending.items() if u.startswith("central.")}
        pending = {u: c for u, c in pending.items() if u not in central}
        # no council vote at the centre: the Ministry submits, the Prime Minister decides (issue 13)
        for u, codes in central.items():
            await issue_decision(unit=u, codes=codes, decision_date=RECEIVED, auto_number=True, deliver=False)
            runs += 1
        timer.add("decisions", time.perf_counter() - t)
        t = time.perf_counter()
        minutes = {u: approve_all(url, u, codes) for u, codes in pending.items()}
        results = await bounded(
            concurrency,
            [
                lambda u=u, m=minutes: council_meeting(
                    unit=u,
                    **minutes_parameters(unit=u, minutes=m[u]),
                    on=RECEIVED,
                    deliver=False,
                    dashboard=False,
                )
                for u in pending
            ],
        )
        runs += len(pending)
        timer.add("meetings", time.perf_counter() - t)
        t = time.perf_counter()
        forwarded = [r["meeting_id"] for r in results if r["counts"].get("forwarded")]
        if forwarded:
            await receive_forwarded(meeting_ids=forwarded, on=RECEIVED, deliver=False)
            runs += 1
        timer.add("receive", time.perf_counter() - t)
        t = time.perf_counter()
        await deliver_mail()
        runs += 1
        timer.add("mail", time.perf_counter() - t)
    return {"flow_runs": runs, "levels": levels}


def run_direct(url: str, rows: list[list[dict]], timer: Timer) -> dict:
    """The same domain work, calling the functions the flows call, without Prefect."""
    from flows.council import apply_and_queue, open_or_find, receive_at_units, receive_from_meetings
    from flows.decisions import issue_and_queue
    from flows.intake import screen_store_and_queue
    from models.decisions import DecisionRequest
    from models.meetings import minutes_key
    from notifications.mailer import deliver_due

    t = time.perf_counter()
    for b in rows:
        screen_store_and_queue(rows=b, source="surge", actor="", received_on=RECEIVED)
    timer.add("intake", time.perf_counter() - t)
    levels = 0
    while pending := pending_units(url):
        levels += 1
        t = time.perf_counter()
        meeting_ids = []
        for u, codes in pending.items():
            if u.startswith("central."):  # no council vote at the centre: its step is the decision
                issued, _, _ = issue_and_queue(
                    DecisionRequest(unit=u, codes=codes, decision_date=RECEIVED, auto_number=True)
                )
                if issued.forwarded_to:
                    receive_at_units(
                        sorted(set(issued.forwarded_to.values())), RECEIVED, f"d-{issued.decision_id}"
                    )
                continue
            minutes = approve_all(url, u, codes)
            opening = open_or_find(
                unit=u, key=minutes_key(unit_code=u, minutes=minutes), on=RECEIVED, flow_run_id=None
            )
            applied = apply_and_queue(opening.meeting_id, minutes)
            if isinstance(applied, list):
                raise RuntimeError(f"minutes refused at {u}: {applied}")
            if applied.result.counts.get("forwarded"):
                meeting_ids.append(applied.result.meeting_id)
        timer.add("meetings", time.perf_counter() - t)
        t = time.perf_counter()
        if meeting_ids:
            receive_from_meetings(meeting_ids, RECEIVED)
        timer.add("receive", time.perf_counter() - t)
        t = time.perf_counter()
        asyncio.run(deliver_due())
        timer.add("mail", time.perf_counter() - t)
    return {"levels": levels}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8, help="flow runs at once (Prefect path)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="thidua-surge-"))
    os.environ["THIDUA_DATA_DIR"] = str(tmp / "data")
    os.environ.setdefault("PREFECT_HOME", str(tmp / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from supervisor.up import SQLITE_PATIENCE  # the embedded server's settings, as `thidua up` runs it

    for name, value in SQLITE_PATIENCE.items():
        os.environ.setdefault(name, value)
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

        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=180):
            use_database(f"sqlite:///{prefect_db}", port)
            prefect_timer = Timer()
            t = time.perf_counter()
            orchestrated = asyncio.run(
                run_prefect(f"sqlite:///{prefect_db}", rows, args.concurrency, prefect_timer)
            )
            prefect_s = time.perf_counter() - t
            prefect_check = check(f"sqlite:///{prefect_db}", args.size)
    finally:
        sink.terminate()
        sink.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    ratio = prefect_s / direct_s
    print(
        f"\nYear-end surge: {args.size:,} nominations, 200 communes / 40 districts / 5 provinces → Prime Minister "
        f"(hierarchy set-up {setup_s:.1f} s, not counted)\n"
    )
    print(
        f"{'path':<26} {'wall s':>8} {'nom/s':>7} {'flow runs':>10}  {'intake':>7} {'meetings':>9} {'receive':>8} {'mail':>6}"
    )
    for name, secs, runs, timer in (
        ("direct (no Prefect)", direct_s, 0, direct_timer),
        (f"Prefect flows (×{args.concurrency})", prefect_s, orchestrated["flow_runs"], prefect_timer),
    ):
        p = timer.parts
        print(
            f"{name:<26} {secs:>8.1f} {args.size / secs:>7.0f} {runs:>10}  {p['intake']:>7.1f} {p['meetings']:>9.1f} "
            f"{p['receive']:>8.1f} {p['mail']:>6.1f}"
        )
    print(
        f"\nPrefect / direct = {ratio:.2f}×; steps: {prefect_check['steps']:,} (direct {direct_check['steps']:,}); "
        f"letters: {prefect_check['letters']}"
    )
    print(f"command: python bench/surge.py --size {args.size} --concurrency {args.concurrency}")
    print(
        json.dumps(
            {
                "benchmark": "surge",
                "size": args.size,
                "concurrency": args.concurrency,
                "direct_s": round(direct_s, 2),
                "prefect_s": round(prefect_s, 2),
                "ratio": round(ratio, 2),
                "prefect_nominations_per_s": round(args.size / prefect_s, 1),
                "direct_nominations_per_s": round(args.size / direct_s, 1),
                "flow_runs": orchestrated["flow_runs"],
                "levels": orchestrated["levels"],
                "direct_parts_s": {k: round(v, 2) for k, v in direct_timer.parts.items()},
                "prefect_parts_s": {k: round(v, 2) for k, v in prefect_timer.parts.items()},
                "steps": prefect_check["steps"],
                "letters": prefect_check["letters"],
                "setup_s": round(setup_s, 2),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
