"""The `deliver-mail` flow, run against the session-wide Prefect test server."""

from __future__ import annotations

import asyncio
import json

from notifications.outbox import enqueue_many
from tests.fixtures_prefect import latest_artifact
from tests.notifications.conftest import sample_letter


def test_deliver_mail_flow_sends_and_publishes_the_tally(
    prefect_api, session, registry, smtp_env, monkeypatch
):
    from flows.delivery import ARTIFACT_KEY, deliver_mail
    from models.settings import reset_settings

    monkeypatch.setenv("THIDUA_SMTP_PASSWORD", "không-được-lộ")
    reset_settings()
    items = [
        sample_letter(f"flow:{i}", registry.commune(i), f"UBND xã Số {i}", "outcome_returned")
        for i in range(5)
    ]
    enqueue_many(session=session, items=items)
    session.commit()
    smtp_env.handler.rcpt_replies[registry.commune(4)] = "550 5.1.1 No such mailbox here"

    report = asyncio.run(deliver_mail())
    assert (report.sent, report.failed) == (4, 1)
    assert len(smtp_env.captured) == 4

    latest = latest_artifact(ARTIFACT_KEY)
    assert latest is not None
    assert latest.type == "table"
    text = json.dumps(json.loads(latest.data), ensure_ascii=False)
    assert "Đã gửi" in text and "5.1.1 No such mailbox here" in text
    assert "không-được-lộ" not in text and "Kính gửi" not in text  # no secrets, no bodies

    assert asyncio.run(deliver_mail()).sent == 0  # a second run finds nothing to send
