"""Prefect's floor for the surge: empty async flow runs that pay what the real runs pay to Prefect — the
same number of runs, task runs and thidua events — and do no domain work (no app database, no mail).

Each floor run takes its share of the tasks and events the real path made; every task returns at
once; each event names 75 dossiers as related resources, as `flows.events` batches them, so the
server stores as many resource rows as for the real trail."""

from __future__ import annotations

from prefect import flow, task
from prefect.events import emit_event

from flows.events import NOMINATION, NOMINATION_ROLE, NOMINATIONS_PER_EVENT


@task(name="floor-task")
async def floor_task(n: int) -> int:
    return n


@flow(name="floor", log_prints=False)
async def floor_run(tasks: int, events: int, run: int) -> int:
    """`tasks` empty task runs and `events` batched events: what a run costs Prefect, nothing more."""
    for n in range(tasks):
        await floor_task(n)
    for n in range(events):
        emit_event(
            event="thidua.floor.step",
            resource={"prefect.resource.id": f"thidua.floor.{run}.{n}"},
            related=[
                {
                    "prefect.resource.id": f"{NOMINATION}F{run}-{n}-{i}",
                    "prefect.resource.role": NOMINATION_ROLE,
                }
                for i in range(NOMINATIONS_PER_EVENT)
            ],
            payload={"run": run},
        )
    return tasks + events


def shares(total: int, runs: int) -> list[int]:
    """`total` spread over `runs` as evenly as whole numbers allow."""
    return [total // runs + (1 if i < total % runs else 0) for i in range(runs)]
