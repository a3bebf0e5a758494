"""flows/orphans.py: a subflow left "Running" by a killed attempt is marked Crashed when its parent ends
after a re-run (seen in CI: a receive-forwarded run crashed with its worker, ran again and completed, and
its first attempt's deliver-mail subflow stayed Running for ever)."""

from __future__ import annotations

import asyncio

from prefect import flow


@flow(name="orphans-test-parent")
def _parent() -> None:
    pass


@flow(name="orphans-test-child")
def _child() -> None:
    pass


def test_a_reruns_end_crashes_the_subflow_its_killed_attempt_left_running(prefect_api) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    from flows.orphans import end_orphaned_subflows

    async def scenario() -> tuple[str, str]:
        async with get_client() as client:
            parent = await client.create_flow_run(_parent, state=Running())
            task_run = await client.create_task_run(
                task=_stand_in_task(), flow_run_id=parent.id, dynamic_key="0", state=Running()
            )
            child = await client.create_flow_run(_child, parent_task_run_id=task_run.id, state=Running())
            await end_orphaned_subflows(_parent, parent, None)  # a first attempt: its subflows returned
            first = (await client.read_flow_run(child.id)).state_name
            parent.run_count = 2
            await end_orphaned_subflows(_parent, parent, None)
            return first, (await client.read_flow_run(child.id)).state_name

    first, after_rerun = asyncio.run(scenario())
    assert first == "Running"
    assert after_rerun == "Crashed"


def _stand_in_task():
    from prefect import task

    @task(name="deliver-mail")
    def stand_in() -> None:
        pass

    return stand_in
