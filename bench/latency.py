"""The waits people feel under `thidua up` (issue 16), measured from outside as an official meets them:

- **`meeting open` → agenda ready**: the wall time of `thidua meeting open UNIT --json`, which returns
  once the council-meeting run (started from its deployment, in a fresh process by `thidua up`'s runner)
  has fixed the agenda;
- **a council's decision → the next council's inbox**: from the moment `thidua meeting decide UNIT --file`
  has recorded the minutes until the forwarded dossiers are under review in the province council's inbox.
  On the way: the suspended meeting run resumes and announces `thidua.council.decided`, the trigger
  creates a `receive-forwarded` run, the runner picks it up and starts its process, and the run opens
  the reviews. The table splits the wait at those points (read from the runs' own times).

Each round is one commune of the sample data: two nominations for the province's certificate of merit
(`thidua nominate`), its meeting opened, then decided by minutes approving both. The baseline in the
same run is what no service can go below: a read-only command (`thidua inbox PROVINCE`) and the
runner's poll interval.

    python bench/latency.py [--size 8]    # --size: rounds (meetings)

Aims (issue 16): decision → next inbox median ≤ 15 s; `meeting open` → agenda ≤ 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import approve_all  # noqa: E402

OPEN_AIM_S = 10.0
INBOX_AIM_S = 15.0
START_TIMEOUT = 300.0
MINUTES_HEADER = (
    "Mã hồ sơ,Quyết định,Hình thức thấp hơn,Đồng ý,Không đồng ý,Không biểu quyết,Lý do / nội dung bổ sung\n"
)


class Service:
    """`thidua up` on a throwaway data folder and free ports, stopped with SIGTERM."""

    def __init__(self, workdir: Path) -> None:
        from notifications.sink import free_port

        self.data_dir = workdir / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THIDUA_"))}
        self.env |= {"THIDUA_DATA_DIR": str(self.data_dir), "THIDUA_PORTAL_PORT": str(free_port())}
        self.port, self.sink_port = free_port(), free_port()
        self.log = workdir / "up.out"
        self.process: subprocess.Popen | None = None

    def thidua(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "cli.app", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def start(self) -> float:
        from supervisor.up import UP_FILE

        started = time.monotonic()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cli.app",
                    "up",
                    "--port",
                    str(self.port),
                    "--sink-port",
                    str(self.sink_port),
                ],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while not (self.data_dir / UP_FILE).exists():
            if self.process.poll() is not None or time.monotonic() - started > START_TIMEOUT:
                raise SystemExit(f"thidua up did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.25)
        self.info = json.loads((self.data_dir / UP_FILE).read_text(encoding="utf-8"))
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'thidua.db'}"


def communes(url: str, n: int) -> list[str]:
    """`n` communes of the sample valid today, in code order (repeated when the sample has fewer)."""
    from sqlmodel import Session

    from models.clock import today_vn
    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from models.units import Level

    with Session(get_engine(url)) as session:
        hierarchy = Hierarchy.load(session)
        found = [u.code for u in hierarchy.by_level.get(Level.commune, []) if u.valid_on(today_vn())]
    if not found:
        raise SystemExit("the sample data has no commune valid today")
    return [found[i % len(found)] for i in range(n)]


def statuses(url: str, codes: list[str]) -> dict[str, tuple[str, str]]:
    """Each dossier's status and the code of the unit that holds it."""
    from sqlalchemy import bindparam, text

    from models.db import get_engine

    query = text(
        "SELECT n.code, n.status, u.code FROM nomination n JOIN unit u ON u.id = n.current_unit_id "
        "WHERE n.code IN :codes"
    ).bindparams(bindparam("codes", expanding=True))
    with get_engine(url).connect() as conn:
        rows = conn.execute(query, {"codes": codes}).all()
    return {code: (status, unit) for code, status, unit in rows}


def receive_run_times(service: Service, meeting_id: int) -> dict[str, float] | None:
    """When the `receive-forwarded` run for `meeting_id` was created (the trigger fired), started (its
    process ran) and ended, as POSIX times; None if there is no such run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def read() -> dict[str, float] | None:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["receive-forwarded"]))
            )
        for run in runs:
            if run.parameters.get("meeting_id") == meeting_id:
                return {
                    "created": run.created.timestamp() if run.created else 0.0,
                    "started": run.start_time.timestamp() if run.start_time else 0.0,
                    "ended": run.end_time.timestamp() if run.end_time else 0.0,
                }
        return None

    with temporary_settings({PREFECT_API_URL: service.info["api_url"]}):
        return asyncio.run(read())


def one_round(service: Service, unit: str, n: int, workdir: Path) -> dict[str, float]:
    rows = [
        {
            "nominee": f"Người thứ {n}-{i}",
            "kind": "cá nhân",
            "unit": unit,
            "award": "bang-khen-tinh",
            "campaign": "ntm-2021-2025",
            "achievement": "Góp công xây dựng nông thôn mới",
            "submitted_on": "02/03/2026",
        }
        for i in (1, 2)
    ]
    path = workdir / f"ho-so-{n}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    nominated = service.thidua("nominate", str(path), "--json")
    if nominated.returncode != 0:
        raise SystemExit(f"thidua nominate failed:\n{nominated.stderr}")
    codes = [item["code"] for item in json.loads(nominated.stdout)]

    t0 = time.monotonic()
    opened = service.thidua("meeting", "open", unit, "--json")
    open_s = time.monotonic() - t0
    if opened.returncode != 0:
        raise SystemExit(f"thidua meeting open {unit} failed:\n{opened.stderr}")
    meeting = json.loads(opened.stdout)
    if sorted(a["code"] for a in meeting["agenda"]) != sorted(codes):
        raise SystemExit(f"the agenda of {unit} is not the two dossiers: {meeting['agenda']}")

    from models.clock import today_vn
    from models.db import get_engine

    minutes = approve_all(get_engine(service.database_url), unit, codes, on=today_vn())
    sheet = workdir / f"bien-ban-{n}.csv"
    sheet.write_text(
        MINUTES_HEADER + "".join(f"{d.code},thông qua,,{d.votes_for},0,0,\n" for d in minutes.decisions),
        encoding="utf-8",
    )
    t1 = time.monotonic()
    decided = service.thidua("meeting", "decide", unit, "--file", str(sheet), "--json")
    decided_at, decided_wall = time.monotonic(), time.time()
    if decided.returncode != 0:
        raise SystemExit(f"thidua meeting decide {unit} failed:\n{decided.stderr}\n{decided.stdout}")
    deadline = decided_at + 300
    while True:
        now = statuses(service.database_url, codes)
        if all(status == "under_review" for status, _ in now.values()) and len(now) == len(codes):
            inbox_s = time.monotonic() - decided_at
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the dossiers of {unit} never reached the next inbox: {now}")
        time.sleep(0.1)
    times = receive_run_times(service, meeting["meeting_id"]) or {}
    return {
        "reached": len(codes),
        "open_s": open_s,
        "decide_s": decided_at - t1,
        "inbox_s": inbox_s,
        "to_trigger_s": max(0.0, times.get("created", decided_wall) - decided_wall),
        "to_start_s": max(0.0, times.get("started", decided_wall) - times.get("created", decided_wall)),
        "in_run_s": max(0.0, decided_wall + inbox_s - times.get("started", decided_wall)),
    }


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered), 2),
        "p95": round(p95, 2),
        "max": round(ordered[-1], 2),
    }


def least_wall(service: Service, *args: str, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.monotonic()
        done = service.thidua(*args)
        if done.returncode != 0:
            raise SystemExit(f"thidua {' '.join(args)} failed:\n{done.stderr}")
        best = min(best, time.monotonic() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=8, help="rounds: one meeting each (default 8)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="thidua-latency-"))
    service = Service(workdir)
    try:
        up_s = service.start()
        units = communes(service.database_url, args.size)
        baseline = least_wall(service, "inbox", units[0].split(".")[0])
        rounds = []
        for n, unit in enumerate(units, start=1):
            rounds.append(one_round(service, unit, n, workdir))
            r = rounds[-1]
            print(
                f"  {n:>3} {unit:<32} open {r['open_s']:5.1f} s   decide {r['decide_s']:5.1f} s   "
                f"→ inbox {r['inbox_s']:5.1f} s",
                flush=True,
            )
    finally:
        service.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    from supervisor.up import RUNNER_POLL_FREQUENCY

    figures = {
        "size": args.size,
        "reached_inbox": sum(int(r["reached"]) for r in rounds),
        "up_ready_s": round(up_s, 1),
        "baseline_cli_s": round(baseline, 2),
        "runner_poll_s": float(RUNNER_POLL_FREQUENCY),
        "open_s": spread([r["open_s"] for r in rounds]),
        "inbox_s": spread([r["inbox_s"] for r in rounds]),
        "decide_s": spread([r["decide_s"] for r in rounds]),
        "inbox_parts_s": {
            part: spread([r[part] for r in rounds]) for part in ("to_trigger_s", "to_start_s", "in_run_s")
        },
        "aims_s": {"open": OPEN_AIM_S, "inbox_median": INBOX_AIM_S},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(f"\nLatency under `thidua up`, {args.size} meetings (ready in {up_s:.0f} s)\n")
    print(f"{'wait, s':<60} {'median':>7} {'p95':>7} {'max':>7} {'aim':>7}")
    table = [
        ("meeting open → agenda ready", figures["open_s"], f"≤{OPEN_AIM_S:g}"),
        ("decision recorded → next council's inbox", figures["inbox_s"], f"≤{INBOX_AIM_S:g}"),
        (
            "  … to the receive-forwarded run (resume, event, trigger)",
            figures["inbox_parts_s"]["to_trigger_s"],
            "",
        ),
        ("  … to its process running (runner poll, start)", figures["inbox_parts_s"]["to_start_s"], ""),
        ("  … to the reviews open (the run)", figures["inbox_parts_s"]["in_run_s"], ""),
        ("meeting decide (the command, for reference)", figures["decide_s"], ""),
    ]
    for name, s, aim in table:
        print(f"{name:<60} {s['median']:>7.1f} {s['p95']:>7.1f} {s['max']:>7.1f} {aim:>7}")
    print(f"{'baseline: thidua inbox PROVINCE (least of 3)':<60} {baseline:>7.2f}")
    print(f"{'baseline: the runner polls every':<60} {float(RUNNER_POLL_FREQUENCY):>7.1f}")
    print()
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
