"""What one worker poll costs in a backlog: N intake runs waiting in a process pool (default 200, one per
commune, as the surge submits them), each carrying its batch of nominations as parameters; the warm
worker's poll (as many runs as it has slots) beside Prefect's (every waiting run, up to the API's 200),
against a Prefect server on SQLite as `thidua up` runs it.

    python bench/worker_poll.py [--size 200] [--rows 50] [--limit 4] [--polls 20]

`--rows` is the nominations per intake run: 50 at the 10,000-nomination surge, 5 at 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import surge  # noqa: E402 - the surge's intake rows
from common import isolated_environment, prefect_server  # noqa: E402


def rows_of(commune: int, n: int) -> list[dict]:
    return surge.batches([f"C{commune:05d}"], n, seed=commune)[0]


async def measure(size: int, rows: int, limit: int, polls: int) -> list[dict]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    from supervisor.forked_worker import WarmProcessWorker

    pool = f"poll-{uuid.uuid4().hex[:8]}"
    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        flow_id = await client.create_flow_from_name("intake")
        deployment = await client.create_deployment(flow_id=flow_id, name="intake", work_pool_name=pool)
        for n in range(size):
            await client.create_flow_run_from_deployment(deployment, parameters={"rows": rows_of(n, rows)})

    found = []
    for name, kind in (
        ("Prefect's process worker", ProcessWorker),
        ("thidua's warm worker", WarmProcessWorker),
    ):
        async with kind(work_pool_name=pool, limit=limit) as worker:
            for _ in range(limit - 1):  # one slot free, as when a run has just ended
                worker.limiter.acquire_on_behalf_of_nowait(uuid.uuid4())
            answer = await worker._get_scheduled_flow_runs()  # warm up the connection
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(polls):
                answer = await worker._get_scheduled_flow_runs()
            found.append(
                {
                    "worker": name,
                    "runs_per_poll": len(answer),
                    "kb_per_poll": round(len(json.dumps([a.model_dump(mode="json") for a in answer])) / 1024),
                    "wall_ms": round((time.perf_counter() - wall) / polls * 1000, 1),
                    "worker_cpu_ms": round((time.process_time() - cpu) / polls * 1000, 1),
                }
            )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=200, help="intake runs waiting")
    parser.add_argument("--rows", type=int, default=50, help="nominations per intake run")
    parser.add_argument("--limit", type=int, default=4, help="the worker's --limit (one slot free)")
    parser.add_argument("--polls", type=int, default=20)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="thidua-poll-"))
    try:
        isolated_environment(workdir)
        with prefect_server(workdir / "prefect"):
            found = asyncio.run(measure(args.size, args.rows, args.limit, args.polls))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"\nOne poll with {args.size} intake runs waiting ({args.rows} nominations each), "
        f"--limit {args.limit} with one slot free, mean of {args.polls} polls\n"
    )
    print(f"{'worker':<26} {'runs':>5} {'KB':>7} {'wall ms':>8} {'worker CPU ms':>14}")
    for f in found:
        print(
            f"{f['worker']:<26} {f['runs_per_poll']:>5} {f['kb_per_poll']:>7} {f['wall_ms']:>8.1f} "
            f"{f['worker_cpu_ms']:>14.1f}"
        )
    print(
        "  wall = the server's work and the worker's (one machine); the server's alone is wall − worker CPU"
    )
    print(
        json.dumps(
            {
                "benchmark": "worker_poll",
                "waiting": args.size,
                "rows": args.rows,
                "limit": args.limit,
                "polls": found,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
