"""The warm worker (`python -m supervisor.worker`) with one more deployment of its own to fork: `floor`
(bench/floor.py:floor_run), for the workers' floor in bench/surge_workers.py. Its thidua deployments are
the ones of prefect.yaml, and their runs go as under the worker itself (each forked run imports this
script again as `__mp_main__`, as it would `supervisor/worker.py`: a few ms).

    python bench/floor_worker.py --pool thidua-process --limit 4
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import flows.deployments  # noqa: E402
from flows.deployments import DeploymentSpec  # noqa: E402

FLOOR = DeploymentSpec(
    name="floor",
    entrypoint="bench/floor.py:floor_run",
    description="Prefect's floor: an empty run with its share of the real runs' tasks and events.",
)
if FLOOR not in flows.deployments.DEPLOYMENTS:  # the worker reads the list at each run: add it once
    flows.deployments.DEPLOYMENTS = (*flows.deployments.DEPLOYMENTS, FLOOR)

if __name__ == "__main__":
    from supervisor.worker import main

    main()
