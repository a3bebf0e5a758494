"""Delivery against a real SMTP server that misbehaves: down, dropping connections, 4xx, 5xx, TLS, AUTH,
and a deliverer killed with SIGKILL mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from models.clock import utcnow
from notifications.outbox import OutboxMessage, OutboxStatus, enqueue_many
from tests.fixtures_smtp import SMTP_PASSWORD, SMTP_USER, SmtpServer, busy_the_first_time
from tests.notifications.conftest import deliver, sample_letter

ROOT = Path(__file__).resolve().parents[2]


def _queue(session, registry, n: int, *, template: str = "outcome_forwarded") -> list[str]:
    items = [
        sample_letter(f"{template}:{i}", registry.commune(i % registry.communes), f"UBND xã Số {i}", template)
        for i in range(n)
    ]
    created = enqueue_many(session=session, items=items).created
    session.commit()
    return created


def _rows(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def _all_sent_once(session, server: SmtpServer, n: int) -> None:
    rows = _rows(session)
    assert [r.status for r in rows] == [OutboxStatus.sent] * n
    assert server.message_ids() == Counter({r.message_id: 1 for r in rows})


def test_server_down_delays_mail_and_loses_none(session, db_url, registry, smtp_server):
    _queue(session, registry, 20)
    smtp_server.stop()
    report = deliver(db_url, smtp_server.settings())
    assert report.server_down and (report.sent, report.retried) == (0, 20)
    assert "refused" in (report.last_error or "").lower() or "connect" in (report.last_error or "").lower()
    rows = _rows(session)
    assert {r.status for r in rows} == {OutboxStatus.pending}
    assert all(r.attempts == 1 and r.next_attempt_at > utcnow() + timedelta(seconds=50) for r in rows)
    assert deliver(db_url, smtp_server.settings()).claimed == 0  # backing off: nothing due yet

    smtp_server.start()  # the server comes back, same port
    report = deliver(db_url, smtp_server.settings(), now=utcnow() + timedelta(minutes=2))
    assert (report.sent, report.retried, report.failed) == (20, 0, 0)
    _all_sent_once(session, smtp_server, 20)


def test_connection_dropped_mid_batch_reconnects(session, db_url, registry, smtp_server):
    _queue(session, registry, 30)
    smtp_server.handler.drop_every = 7  # the peer vanishes instead of answering every 7th letter
    report = deliver(db_url, smtp_server.settings(smtp_concurrency=2))
    assert (report.sent, report.failed) == (30, 0)
    assert report.connections > 2  # it reconnected
    _all_sent_once(session, smtp_server, 30)


def test_temporary_refusal_then_success(session, db_url, registry, smtp_server):
    _queue(session, registry, 10)
    smtp_server.handler.data_reply = busy_the_first_time(
        "451 4.3.0 Hệ thống bận, thử lại sau".encode().decode("ascii", "replace")
    )
    report = deliver(db_url, smtp_server.settings())
    assert (report.sent, report.retried) == (0, 10)
    assert all(r.status == OutboxStatus.pending and r.smtp_response.startswith("451") for r in _rows(session))

    report = deliver(db_url, smtp_server.settings(), now=utcnow() + timedelta(minutes=2))
    assert (report.sent, report.retried) == (10, 0)
    assert {r.attempts for r in _rows(session)} == {2}
    _all_sent_once(session, smtp_server, 10)


def test_permanent_refusal_is_kept_with_the_reason(session, db_url, registry, smtp_server):
    _queue(session, registry, 6)
    smtp_server.handler.rcpt_replies[registry.commune(1)] = "550 5.1.1 <ubnd.xa1>: Recipient address rejected"
    smtp_server.handler.data_reply = lambda data: (
        "554 5.7.1 Message rejected by policy" if b"xa2@" in data.split(b"\r\n\r\n")[0] else None
    )
    report = deliver(db_url, smtp_server.settings())
    assert (report.sent, report.failed, report.retried) == (4, 2, 0)
    failed = {r.to_email: r for r in _rows(session) if r.status == OutboxStatus.failed}
    assert set(failed) == {registry.commune(1), registry.commune(2)}
    assert "5.1.1" in failed[registry.commune(1)].smtp_response
    assert "Recipient address rejected" in failed[registry.commune(1)].last_error
    assert failed[registry.commune(2)].smtp_response.startswith("554 5.7.1 Message rejected")
    assert {f.to_email for f in report.failures} == set(failed)
    # never retried: a later run leaves them alone
    assert deliver(db_url, smtp_server.settings(), now=utcnow() + timedelta(days=1)).claimed == 0


def test_starttls_with_self_signed_certificate_and_auth(
    session, db_url, registry, smtp_tls_server, tls_files
):
    _queue(session, registry, 5, template="report_reminder")
    settings = smtp_tls_server.settings(
        smtp_security="starttls",
        smtp_ca_file=tls_files.cert,
        smtp_username=SMTP_USER,
        smtp_password=SecretStr(SMTP_PASSWORD),
    )
    report = deliver(db_url, settings)
    assert (report.sent, report.retried) == (5, 0)
    _all_sent_once(session, smtp_tls_server, 5)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the connection is TLS
def test_implicit_tls_with_auth(session, db_url, registry, smtp_ssl_server, tls_files):
    _queue(session, registry, 3)
    settings = smtp_ssl_server.settings(
        smtp_security="ssl",
        smtp_ca_file=tls_files.cert,
        smtp_username=SMTP_USER,
        smtp_password=SecretStr(SMTP_PASSWORD),
    )
    assert deliver(db_url, settings).sent == 3
    _all_sent_once(session, smtp_ssl_server, 3)


def test_wrong_password_is_retried_not_lost_and_not_logged(
    session, db_url, registry, smtp_tls_server, tls_files
):
    _queue(session, registry, 3)
    settings = smtp_tls_server.settings(
        smtp_security="starttls",
        smtp_ca_file=tls_files.cert,
        smtp_username=SMTP_USER,
        smtp_password=SecretStr("sai-mật-khẩu"),
    )
    report = deliver(db_url, settings)
    assert (report.sent, report.failed, report.retried) == (0, 0, 3)
    assert "sai-mật-khẩu" not in report.model_dump_json() and "sai-mật-khẩu" not in repr(settings)
    assert all("sai" not in (r.last_error or "") for r in _rows(session))


def test_untrusted_certificate_is_refused(session, db_url, registry, smtp_tls_server):
    _queue(session, registry, 2)
    settings = smtp_tls_server.settings(
        smtp_security="starttls", smtp_username=SMTP_USER, smtp_password=SecretStr(SMTP_PASSWORD)
    )
    report = deliver(db_url, settings)
    assert (report.sent, report.retried) == (0, 2)
    assert "certificate" in (report.last_error or "").lower()


KILLED_DELIVERER = """
import asyncio
from notifications.mailer import deliver_due
asyncio.run(deliver_due())
"""


def test_sigkill_mid_batch_then_rerun_sends_the_rest_once(session, db_url, registry, smtp_server, tmp_path):
    n, concurrency = 120, 2
    _queue(session, registry, n)
    smtp_server.handler.delay = 0.02  # slow enough to be caught in the middle
    env = {
        **os.environ,
        "THIDUA_DATABASE_URL": db_url,
        "THIDUA_DATA_DIR": str(tmp_path / "data"),
        "THIDUA_SMTP_HOST": smtp_server.host,
        "THIDUA_SMTP_PORT": str(smtp_server.port),
        "THIDUA_SMTP_SECURITY": "none",
        "THIDUA_SMTP_CONCURRENCY": str(concurrency),
        "THIDUA_SMTP_BATCH_SIZE": "50",
    }
    child = subprocess.Popen([sys.executable, "-c", KILLED_DELIVERER], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while len(smtp_server.captured) < 30 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=10) == -signal.SIGKILL
    before = len(smtp_server.captured)
    assert 30 <= before < n

    rows = _rows(session)
    assert {r.status for r in rows} >= {OutboxStatus.sending}  # claims of the dead deliverer
    smtp_server.handler.delay = 0
    # its claims expire after the lease; a later run (here: 11 minutes on) takes them over
    report = deliver(db_url, smtp_server.settings(), now=utcnow() + timedelta(minutes=11))
    assert report.failed == 0

    rows = _rows(session)
    assert {r.status for r in rows} == {OutboxStatus.sent}
    counts = smtp_server.message_ids()
    assert set(counts) == {r.message_id for r in rows}  # every letter arrived, under its one Message-ID
    twice = [mid for mid, c in counts.items() if c > 1]
    assert max(counts.values()) <= 2 and len(twice) <= concurrency  # at most the ones in flight
