"""Serve every thidua deployment from one process: `python -m supervisor.serve` (started by `thidua up`).

Waits for the Prefect API (PREFECT_API_URL) so it can start while the server is still booting,
registers the deployments, writes `--ready-file` (JSON: pid and deployment names), then runs until
SIGTERM. Flow runs start in the repository root, where the deployments' entrypoints are relative to.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from pathlib import Path

logger = logging.getLogger("thidua.serve")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON so that a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)


async def wait_for_api(timeout: float) -> None:
    """Block until the API's health check answers (the server may still be starting)."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while (error := await client.api_healthcheck()) is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Prefect API did not answer within {timeout:.0f} s: {error}")
            await asyncio.sleep(0.25)


async def serve(*, ready_file: Path | None, api_timeout: float) -> None:
    """Register every deployment once the API answers, signal readiness, then poll for work until stopped."""
    from prefect.runner import Runner

    from flows.deployments import DEPLOYMENTS, build_deployments  # here: `thidua` commands import it
    from supervisor.warm import fork_flow_runs
    from supervisor.warm_caches import fill_starter

    deployments = await build_deployments()  # imports the flows while the server may still boot
    fork_flow_runs(spec.load() for spec in DEPLOYMENTS)
    fill_starter()
    await wait_for_api(api_timeout)
    runner = Runner(name="thidua", pause_on_shutdown=True)
    for spec, deployment in zip(DEPLOYMENTS, deployments, strict=True):
        deployment_id = await runner.aadd_deployment(deployment)
        # The flow in memory, as `Runner.add_flow` keeps it: its runs start in a process forked from the
        # warm one (supervisor/warm.py), not as `python -m prefect.engine`, which imports everything again.
        runner._deployment_registry.register_flow(deployment_id, spec.load())
    names = [d.name for d in deployments]
    logger.info("Serving %d deployments: %s", len(names), ", ".join(names))
    if ready_file is not None:
        write_json_atomic(ready_file, {"pid": os.getpid(), "deployments": names})
    await runner.start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m supervisor.serve", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ready-file", type=Path, help="write this JSON file once every deployment is registered"
    )
    parser.add_argument(
        "--api-timeout", type=float, default=120.0, help="seconds to wait for the Prefect API"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API request drowns the runs' logs
    os.chdir(PROJECT_ROOT)  # entrypoints are relative to the repository root, as in prefect.yaml
    asyncio.run(serve(ready_file=args.ready_file, api_timeout=args.api_timeout))


if __name__ == "__main__":
    main()
