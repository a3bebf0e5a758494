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

# Only what the command needs at module level: each forked run imports this module again (it is the
# parent's main module), so the worker class lives in supervisor/forked_worker.py, imported in `work`.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger("thidua.worker")


async def work(pool: str, name: str | None, limit: int | None, healthcheck: bool = False) -> None:
    from flows.deployments import DEPLOYMENTS
    from supervisor.forked_worker import WarmProcessWorker
    from supervisor.warm import fork_flow_runs
    from supervisor.warm_caches import fill_starter

    # an entrypoint that does not import stops the worker here, not in a run
    fork_flow_runs(spec.load() for spec in DEPLOYMENTS)
    fill_starter()
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
