"""The council portal under load: N simulated secretaries for D seconds on 127.0.0.1 (it stops by itself),
each logging in, reading its inbox and dossiers and saving the minutes of its open meeting, against a
national-size database (the 2025 hierarchy, SIZE dossiers in flight). Beside it, the same pages'
database reads alone (the floor), in the same run.

    python bench/portal_load.py [--users 50] [--seconds 60] [--size 10000] [--workers 2] [--think 0]

Each secretary clicks again as soon as a page arrives (`--think 0`, the default: a stress test, not 50
people, whose latency is users / throughput) or after a pause of `--think` seconds on average (people
reading the page). Prints what it ran with (portal processes, Argon2 costs, cores, load average before
and after), requests per second and p50/p95/p99 latency per page, logins apart from reads, then one line
of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "mat-khau-tai-thu-2026"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(url: str, size: int, users: int) -> list[dict]:
    """The hierarchy, SIZE dossiers spread over communes, one open meeting and one secretary per busiest
    commune. Returns the users: username, unit code, dossier codes, meeting id."""
    from sqlalchemy import func, select
    from sqlmodel import Session, col

    from models.accounts import PortalUser, Role, hash_password
    from models.awards import NomineeKind, catalogue
    from models.campaigns import ensure_campaigns
    from models.clock import today_vn
    from models.db import create_all_for_tests, get_engine
    from models.hierarchy import Hierarchy
    from models.intake import take_in
    from models.meetings import open_meeting, waiting_key
    from models.nominations import Nomination
    from models.synthetic import generate_national
    from models.units import Level

    create_all_for_tests(url)
    rnd = random.Random(7)
    with Session(get_engine(url), expire_on_commit=False) as s:
        generate_national(session=s, shape="2025")
        ensure_campaigns(session=s)
        s.commit()
        hierarchy = Hierarchy.load(s)
        communes = [u for u in hierarchy.by_level[Level.commune] if u.code.startswith("syn.2025.")]
        busy = rnd.sample(communes, users)
        forms = [
            f
            for f in catalogue().forms.values()
            if f.authority == Level.province and NomineeKind.individual in f.kinds
        ]
        rows = []
        for i in range(size):
            unit = busy[i % users] if i < users * 20 else rnd.choice(communes)
            rows.append(
                (
                    i + 2,
                    {
                        "nominee": f"Người {i:06d}",
                        "kind": "cá nhân",
                        "unit": unit.code,
                        "award": rnd.choice(forms).code,
                        "campaign": "ntm-2021-2025",
                        "achievement": "Đóng góp xây dựng nông thôn mới",
                        "submitted_on": "02/03/2026",
                    },
                )
            )
        for start in range(0, size, 2000):
            take_in(session=s, rows=rows[start : start + 2000], source="bench", received_on=today_vn())
            s.commit()
        digest = hash_password(PASSWORD)  # one hash for every account: the setup is not the benchmark
        out = []
        for n, unit in enumerate(busy):
            meeting = open_meeting(
                session=s, unit_id=unit.id, key=waiting_key(f"bench-{n}"), hierarchy=hierarchy, on=today_vn()
            )
            s.add(
                PortalUser(username=f"tk{n:03d}", unit_id=unit.id, role=Role.secretary, password_hash=digest)
            )
            codes = list(
                s.scalars(
                    select(col(Nomination.code)).where(col(Nomination.origin_unit_id) == unit.id).limit(20)
                )
            )
            out.append(
                {
                    "username": f"tk{n:03d}",
                    "unit": unit.code,
                    "unit_id": unit.id,
                    "codes": codes,
                    "meeting": meeting.id,
                    "agenda": [a["code"] for a in meeting.agenda],
                }
            )
        s.commit()
        total = s.scalar(select(func.count()).select_from(Nomination))
    print(f"database: {total} dossiers, {len(communes)} communes, {users} secretaries", file=sys.stderr)
    return out


async def secretary(
    client,
    user: dict,
    until: float,
    times: dict[str, list[float]],
    errors: list[str],
    think: float = 0,
    ends: dict[str, list[float]] | None = None,
) -> None:
    ends = ends if ends is not None else defaultdict(list)

    async def timed(page: str, method: str, url: str, **kw):
        started = time.perf_counter()
        r = await client.request(method, url, **kw)
        times[page].append(time.perf_counter() - started)
        ends[page].append(time.perf_counter())
        if r.status_code >= 400 and not (page == "minutes" and r.status_code == 400):
            errors.append(f"{page} {r.status_code}")
        if think:
            await asyncio.sleep(rnd.uniform(0.5, 1.5) * think)
        return r

    rnd = random.Random(user["username"])

    form = await timed("login page", "GET", "/login")
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    await timed(
        "login", "POST", "/login", data={"username": user["username"], "password": PASSWORD, "csrf": token}
    )
    page = await timed("inbox", "GET", "/inbox")
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    while time.perf_counter() < until:
        await timed("inbox", "GET", "/inbox")
        await timed("dossier", "GET", f"/dossiers/{rnd.choice(user['codes'])}")
        await timed("meeting", "GET", f"/meetings/{user['meeting']}")
        if rnd.random() < 0.2:
            data = {
                "csrf": csrf,
                "action": "approve_all",
                "meeting_date": "",
                "members_present": "7",
                "all_votes_for": "7",
            }
            await timed("minutes", "POST", f"/meetings/{user['meeting']}/minutes", data=data)


def floor(users: list[dict], seconds: float) -> dict[str, list[float]]:
    """The same pages' database reads, called directly, one after another."""
    from sqlmodel import Session

    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from models.meetings import Meeting
    from models.queries import inbox, nomination_status

    times: dict[str, list[float]] = defaultdict(list)
    until = time.perf_counter() + seconds
    rnd = random.Random(1)
    with Session(get_engine()) as s:
        hierarchy = Hierarchy.load(s)
        while time.perf_counter() < until:
            user = rnd.choice(users)
            t = time.perf_counter()
            inbox(session=s, unit_id=user["unit_id"], hierarchy=Hierarchy.load(s))
            times["inbox"].append(time.perf_counter() - t)
            t = time.perf_counter()
            nomination_status(session=s, code=rnd.choice(user["codes"]), hierarchy=hierarchy)
            times["dossier"].append(time.perf_counter() - t)
            t = time.perf_counter()
            s.get(Meeting, user["meeting"])
            s.expire_all()
            times["meeting"].append(time.perf_counter() - t)
    return times


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children still running (the uvicorn workers):
    what the portal cost, whatever else the machine was doing."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's id
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


async def load(
    base: str, users: list[dict], seconds: float, think: float = 0
) -> tuple[dict[str, list[float]], list[str], float, dict[str, list[float]]]:
    """Latencies per page, errors, elapsed seconds, and when each request ended (perf_counter)."""
    import httpx

    times: dict[str, list[float]] = defaultdict(list)
    ends: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    clients = [httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False) for _ in users]
    try:
        await asyncio.gather(
            *(secretary(c, u, until, times, errors, think, ends) for c, u in zip(clients, users, strict=True))
        )
    finally:
        for c in clients:
            await c.aclose()
    return times, errors, time.perf_counter() - started, ends


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="portal processes (thidua portal --workers)")
    parser.add_argument("--think", type=float, default=0, help="mean pause between clicks, seconds")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="thidua-bench-portal-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    os.environ.update(
        THIDUA_DATABASE_URL=url,
        THIDUA_DATA_DIR=str(folder / "data"),
        THIDUA_PORTAL_LOCKOUT_ADDRESS_FAILURES="100000",
    )
    from models.settings import get_settings

    s = get_settings()
    argon2 = {
        "time_cost": s.portal_argon2_time_cost,
        "memory_kib": s.portal_argon2_memory_kib,
        "parallelism": s.portal_argon2_parallelism,
    }
    started = time.perf_counter()
    users = build(url, args.size, args.users)
    setup = time.perf_counter() - started
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "portal.web:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--workers",
            str(args.workers),
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        for _ in range(args.workers):  # warm-up (templates, holiday tables, hierarchy cache): not measured
            asyncio.run(load(base, users[:1], 1.0))
        load_before = os.getloadavg()
        cpu_before = cpu_seconds(server.pid)
        times, errors, elapsed, ends = asyncio.run(load(base, users, args.seconds, args.think))
        server_cpu = cpu_seconds(server.pid) - cpu_before
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(15)
    try:
        bare = floor(users, min(args.seconds, 20))
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)  # the national-size database: rebuilt every run
    total = sum(len(v) for v in times.values())
    print(
        f"{'page':<12} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} | floor p50 / p95 ms"
    )
    figures: dict[str, dict] = {}
    for page, values in sorted(times.items()):
        f = bare.get(page, [])
        figures[page] = {
            "requests": len(values),
            "rps": round(len(values) / elapsed, 1),
            "p50_ms": round(pct(values, 50), 1),
            "p95_ms": round(pct(values, 95), 1),
            "p99_ms": round(pct(values, 99), 1),
        }
        if f:
            figures[page] |= {"floor_p50_ms": round(pct(f, 50), 2), "floor_p95_ms": round(pct(f, 95), 2)}
        floor_text = f"{pct(f, 50):.2f} / {pct(f, 95):.2f}" if f else ""
        print(
            f"{page:<12} {len(values):>9} {len(values) / elapsed:>7.1f} {pct(values, 50):>8.1f} {pct(values, 95):>8.1f} {pct(values, 99):>8.1f} | {floor_text}"
        )
    print(f"errors: {len(errors)} {sorted(set(errors))[:5]}; setup {setup:.0f} s")
    reads = [v for p, vs in times.items() if p in ("inbox", "dossier", "meeting") for v in vs]
    # reads once every secretary has logged in (the Argon2 burst of 50 logins is over)
    logged_in = max(ends.get("login", [0.0]))
    steady = [
        v
        for p in ("inbox", "dossier", "meeting")
        for v, end in zip(times.get(p, []), ends.get(p, []), strict=True)
        if end - v > logged_in
    ]
    ran = {
        "workers": args.workers,
        "think_s": args.think,
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "argon2": argon2,
        "python": sys.version.split()[0],
    }
    cpu_ms = round(1000 * server_cpu / max(total, 1), 1)
    print(f"portal CPU: {server_cpu:.1f} s for {total} requests, {cpu_ms} ms a request (logins included)")
    print(
        f"reads p95 {pct(reads, 95):.1f} ms (all), {pct(steady, 95):.1f} ms once all had logged in "
        f"({len(steady)} reads); ran with {ran}"
    )
    print(
        json.dumps(
            {
                "users": args.users,
                "seconds": args.seconds,
                "dossiers": args.size,
                "requests": total,
                "rps": round(total / elapsed, 1),
                "reads_p95_ms": round(pct(reads, 95), 1),
                "reads_after_logins_p95_ms": round(pct(steady, 95), 1),
                "portal_cpu_ms_per_request": cpu_ms,
                "ran_with": ran,
                "errors": len(errors),
                "pages": figures,
                "mean_read_ms": round(statistics.mean(reads) * 1000, 1) if reads else 0,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
