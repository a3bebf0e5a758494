"""Prefect's floor for the surge: empty async flow runs that pay what the real runs pay to Prefect — the
same number of runs, task runs and thidua events — and do no domain work (no app database, no mail).

Each floor run takes its share of the tasks and events the real path made; every task returns at
once; each event names dossiers as related resources, as `flows.events` batches them: 75 each (its
most), or, given `related`, the run's share of the dossiers the real path's events named (counted in
the server's database), so that the server stores as many resource rows as for the real trail."""

from __future__ import annotations

from prefect import flow, task
from prefect.events import emit_event

from flows.events import NOMINATION, NOMINATION_ROLE, NOMINATIONS_PER_EVENT


@task(name="floor-task")
async def floor_task(n: int) -> int:
    return n


@flow(name="floor", log_prints=False)
async def floor_run(tasks: int, events: int, run: int, related: int | None = None) -> int:
    """`tasks` empty task runs and `events` batched events naming `related` dossiers between them (75 each
    if not given): what a run costs Prefect, nothing more."""
    named = [NOMINATIONS_PER_EVENT] * events if related is None else shares(related, events)
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
                for i in range(named[n])
            ],
            payload={"run": run},
        )
    return tasks + events


def shares(total: int, runs: int) -> list[int]:
    """`total` spread over `runs` as evenly as whole numbers allow."""
    return [total // runs + (1 if i < total % runs else 0) for i in range(runs)] if runs else []
