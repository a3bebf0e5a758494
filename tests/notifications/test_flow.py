"""The `deliver-mail` flow, run against the session-wide Prefect test server."""

from __future__ import annotations

import asyncio
import json

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from notifications.outbox import MailItem, enqueue_many
from tests.notifications.conftest import sample_context


def test_deliver_mail_flow_sends_and_publishes_the_tally(
    prefect_api, session, registry, smtp_env, monkeypatch
):
    from flows.delivery import ARTIFACT_KEY, deliver_mail
    from models.settings import reset_settings

    monkeypatch.setenv("THIDUA_SMTP_PASSWORD", "không-được-lộ")
    reset_settings()
    items = [
        MailItem(
            key=f"flow:{i}",
            to_email=registry.commune(i),
            to_name=f"UBND xã Số {i}",
            template="outcome_returned",
            context=sample_context("outcome_returned"),
        )
        for i in range(5)
    ]
    enqueue_many(session=session, items=items)
    session.commit()
    smtp_env.handler.rcpt_replies[registry.commune(4)] = "550 5.1.1 No such mailbox here"

    report = asyncio.run(deliver_mail())
    assert (report.sent, report.failed) == (4, 1)
    assert len(smtp_env.captured) == 4

    async def artifact():
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[ARTIFACT_KEY])),
                limit=1,
                sort="CREATED_DESC",
            )
            return found[0]

    latest = asyncio.run(artifact())
    assert latest.type == "table"
    text = json.dumps(json.loads(latest.data), ensure_ascii=False)
    assert "Đã gửi" in text and "5.1.1 No such mailbox here" in text
    assert "không-được-lộ" not in text and "Kính gửi" not in text  # no secrets, no bodies

    assert asyncio.run(deliver_mail()).sent == 0  # a second run finds nothing to send
