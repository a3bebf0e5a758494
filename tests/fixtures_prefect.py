"""One Prefect test harness for the whole session (it costs ~12 s to start)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prefect_api():
    from prefect.testing.utilities import prefect_test_harness

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
