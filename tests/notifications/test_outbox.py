"""The outbox: idempotent enqueue, refusals, claims and back-off."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models.clock import utcnow
from notifications.mailer import deliver_due
from notifications.outbox import (
    InvalidAddress,
    MailItem,
    OutboxMessage,
    OutboxStatus,
    UnknownRecipient,
    UnsafeHeader,
    backoff,
    claim_due,
    due_messages,
    enqueue,
    enqueue_many,
)
from tests.notifications.conftest import deliver, sample_context, sample_letter


def _reminder(registry, i: int, *, key: str | None = None) -> MailItem:
    context = sample_context("report_reminder") | {"obligation_id": f"report:ntm-2025:xa-{i}:2025"}
    return MailItem(
        key=key or f"report-reminder:ntm-2025:xa-{i}:2025:7",
        to_email=registry.commune(i % registry.communes),
        to_name=f"UBND xã Số {i}",
        template="report_reminder",
        context=context,
    )


def _count(session, **where) -> int:
    stmt = select(func.count()).select_from(OutboxMessage)
    for column, value in where.items():
        stmt = stmt.where(getattr(OutboxMessage, column) == value)
    return session.execute(stmt).scalar_one()


def test_same_key_twice_is_stored_once_and_sent_once(session, db_url, registry, smtp_server):
    letter = sample_letter(
        "council-notice:meeting-12:thuongtruc",
        registry.council_office,
        "Thường trực Hội đồng",
        "council_new_items",
    )
    first = enqueue(session=session, item=letter)
    second = enqueue(session=session, item=letter)
    session.commit()
    assert first.created and not second.created
    assert first.message.id == second.message.id and first.message.message_id == second.message.message_id
    batch = enqueue_many(session=session, items=[_reminder(registry, 1), _reminder(registry, 1)])
    again = enqueue_many(session=session, items=[_reminder(registry, 1), _reminder(registry, 2)])
    session.commit()
    assert (len(batch.created), len(again.created), again.existing) == (1, 1, [_reminder(registry, 1).key])

    assert deliver(db_url, smtp_server.settings()).sent == 3
    assert deliver(db_url, smtp_server.settings()).sent == 0
    assert sorted(smtp_server.message_ids().values()) == [1, 1, 1]


def test_enqueue_is_part_of_the_callers_transaction(session, registry):
    enqueue_many(session=session, items=[_reminder(registry, 3)])
    session.rollback()
    assert _count(session) == 0


def test_unknown_recipient_is_refused(session, registry):
    with pytest.raises(UnknownRecipient, match="không có trong danh bạ"):
        enqueue(session=session, item=sample_letter("x", "someone@gmail.com", "A", "outcome_rejected"))
    items = [_reminder(registry, 1), replace(_reminder(registry, 2), to_email="x@evil.example")]
    with pytest.raises(UnknownRecipient):
        enqueue_many(session=session, items=items)
    assert _count(session) == 0  # nothing of a refused batch is stored


def test_registry_match_ignores_case(session, registry):
    letter = sample_letter(
        "case", registry.council_chair.upper().replace("@", "@"), "Bà Mai", "review_overdue"
    )
    queued = enqueue(session=session, item=letter)
    assert queued.created


@pytest.mark.parametrize("address", ["not-an-address", "a@b", "trailing@dot.vn.", "bộ@thanhhoa.gov.vn"])
def test_invalid_addresses_are_refused(session, registry, address):
    with pytest.raises(InvalidAddress):
        enqueue(session=session, item=sample_letter("bad", address, "A", "outcome_rejected"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to_name", "Ông A\r\nBcc: victim@example.com"),
        ("to_name", "Ông A\nX-Injected: 1"),
        ("to_name", "Ông A\x00"),
        ("to_name", "Ông A\u2028B"),
        ("report_name", "Báo cáo\r\nBcc: victim@example.com"),
    ],
)
def test_header_injection_is_refused(session, registry, field, value):
    item = _reminder(registry, 5)
    if field == "to_name":
        item = replace(item, to_name=value)
    else:
        item = replace(item, context={**item.context, field: value})
    with pytest.raises(UnsafeHeader, match="ký tự điều khiển"):
        enqueue_many(session=session, items=[item])


def test_bulk_enqueue_is_fast(session, registry):
    items = [_reminder(registry, i) for i in range(1000)]
    started = time.perf_counter()
    result = enqueue_many(session=session, items=items)
    session.commit()
    elapsed = time.perf_counter() - started
    assert len(result.created) == 1000 and _count(session) == 1000
    assert elapsed < 10, f"1000 letters took {elapsed:.1f} s"  # ~0.5 s on an idle machine
    assert len({m.message_id for m in due_messages(session=session, limit=5000)}) == 1000


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n) for n in (1, 2, 3, 7, 8, 50)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


def test_claims_are_exclusive_and_expire(session, registry):
    enqueue_many(session=session, items=[_reminder(registry, i) for i in range(10)])
    session.commit()
    now = utcnow()
    mine = claim_due(session=session, token="a", now=now, limit=6, lease=timedelta(minutes=5))
    theirs = claim_due(session=session, token="b", now=now, limit=100, lease=timedelta(minutes=5))
    session.commit()
    assert len(mine) == 6 and len(theirs) == 4
    assert {m.id for m in mine}.isdisjoint(m.id for m in theirs)
    assert all(m.status == OutboxStatus.sending and m.attempts == 1 for m in mine + theirs)
    assert claim_due(session=session, token="c", now=now + timedelta(minutes=4)) == []
    # the deliverers died: after the lease, the letters are due again
    assert len(due_messages(session=session, now=now + timedelta(minutes=6))) == 10
    assert len(claim_due(session=session, token="c", now=now + timedelta(minutes=6))) == 10


def test_two_deliverers_at_once_send_each_letter_once(session, db_url, registry, smtp_server):
    enqueue_many(session=session, items=[_reminder(registry, i) for i in range(120)])
    session.commit()
    settings = smtp_server.settings(smtp_batch_size=15, smtp_concurrency=3)

    async def both():
        return await asyncio.gather(
            deliver_due(database_url=db_url, settings=settings),
            deliver_due(database_url=db_url, settings=settings),
        )

    reports = asyncio.run(both())
    assert sum(r.sent for r in reports) == 120 and all(r.sent for r in reports)
    assert len(smtp_server.captured) == 120 and set(smtp_server.message_ids().values()) == {1}
    assert _count(session, status=OutboxStatus.sent) == 120
