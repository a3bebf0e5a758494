"""One Prefect test harness for the whole session (it costs ~12 s to start)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prefect_api():
    """Prefect's test harness, serving the server `thidua up` runs (supervisor/prefect_server.py): as
    shipped, its SQLite stalls for 60 s (`database is locked`) and drops events now and then."""
    from prefect.testing.utilities import prefect_test_harness

    from supervisor.prefect_server import temporary_servers_fixed

    temporary_servers_fixed()
    with prefect_test_harness(server_startup_timeout=120):
        yield


def latest_artifact(key: str):
    """The newest artifact under `key` on the Prefect API, or None."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read():
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                limit=1,
                sort="CREATED_DESC",
            )
            return found[0] if found else None

    return asyncio.run(read())
