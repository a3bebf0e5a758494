"""Deliver the outbox over SMTP (aiosmtplib): claim due letters, send them over a few reused connections,
record each acceptance right away.

Exactly-once as far as SMTP allows: a letter is marked sent only after the server accepted it, and that
is committed before the connection carries the next letter. A deliverer killed between the server's
"250 OK" and that commit leaves at most one letter per connection to be sent again, with the same
Message-ID, so receivers can drop the duplicate.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections import deque
from datetime import datetime, timedelta
from email.headerregistry import Address

import aiosmtplib
from pydantic import BaseModel, Field
from sqlmodel import Session

from models.clock import utcnow
from models.db import get_engine
from models.settings import Settings, get_settings
from notifications.mime import compose, parse_sender
from notifications.outbox import DEFAULT_LEASE, DeliveryAttempt, OutboxMessage, claim_due, settle

CONNECT_TRIES = 3  # per connection, before the server is taken for down in this run


def _id(message: OutboxMessage) -> int:
    """A claimed message's id (claimed messages are stored rows: the id is always set)."""
    assert message.id is not None
    return message.id


def letter_bytes(message: OutboxMessage, *, sender: Address) -> bytes:
    """The letter a queued message becomes on the wire."""
    return compose(  # in the letter's own order: headers, then the bodies and the attachments
        sender=sender,
        to_name=message.to_name,
        to_email=message.to_email,
        subject=message.subject,
        extra_headers=[("X-Thidua-Category", message.category)],
        message_id=message.message_id,
        date=message.created_at,
        text=message.text_body,
        html=message.html_body,
        attachments=message.attachment_files(),
    )


class DeliveryFailure(BaseModel):
    """A letter the server refused for good (no body, no secrets)."""

    key: str
    to_email: str
    category: str
    reply: str


class DeliveryReport(BaseModel):
    """What one delivery run did."""

    claimed: int = 0
    sent: int = 0
    retried: int = Field(default=0, description="refused for now: queued again after a back-off")
    failed: int = Field(default=0, description="refused for good (failures)")
    lost_claims: int = Field(
        default=0, description="settled after their lease lapsed: another run holds them"
    )
    connections: int = 0
    elapsed: float = 0.0
    server_down: bool = False
    last_error: str | None = None
    failures: list[DeliveryFailure] = []

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


class _ServerDown(Exception):
    """Connecting failed CONNECT_TRIES times in a row."""


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.smtp_security == "none":
        return None
    context = ssl.create_default_context(cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None)
    if not settings.smtp_validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def smtp_client(settings: Settings) -> aiosmtplib.SMTP:
    """An SMTP client configured from THIDUA_SMTP_* (not connected yet)."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_security == "ssl",
        start_tls=settings.smtp_security == "starttls",
        validate_certs=settings.smtp_validate_certs,
        tls_context=_tls_context(settings),
        username=settings.smtp_username,
        password=password,
        timeout=settings.smtp_timeout,
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:2000]


def _reply_code(exc: Exception) -> int | None:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        return exc.recipients[0].code
    return getattr(exc, "code", None)


def _reply_text(exc: Exception) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return f"{first.code} {first.message}"
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", str(exc))
    return f"{code} {message}" if code else str(message)


class _Run:
    """State of one delivery run: the database session, the connections and the tally.

    Outcomes that arrive together are committed together (group commit: one UPDATE per kind, one
    COMMIT), but a connection never starts its next letter before its last acceptance is committed.
    The database calls are short and run on the event loop itself: handing them to a thread cost
    more CPU (GIL hand-offs) than it saved.
    """

    def __init__(
        self, *, settings: Settings, session: Session, now: datetime | None, lease: timedelta
    ) -> None:
        self.settings = settings
        self.session = session
        self.fixed_now = now
        self.lease = lease
        self.token = uuid.uuid4().hex
        self.sender = parse_sender(settings.mail_from)
        self.report = DeliveryReport()
        self.clients: list[aiosmtplib.SMTP | None] = []
        self.by_id: dict[int, OutboxMessage] = {}
        self._pending: list[DeliveryAttempt] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._flushing = False
        self._flusher: asyncio.Future[None] | None = None

    def now(self) -> datetime:
        return self.fixed_now or utcnow()

    # ------------------------------------------------------------ database

    def _claim(self, size: int) -> list[OutboxMessage]:
        claimed = claim_due(
            session=self.session, token=self.token, now=self.now(), limit=size, lease=self.lease
        )
        self.session.commit()
        return claimed

    def _write(self, outcomes: list[DeliveryAttempt]) -> int:
        try:
            held = settle(session=self.session, token=self.token, tried=outcomes, now=self.now())
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return held

    async def _flush(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # let the other connections' outcomes of this tick join
                outcomes, waiters = self._pending, self._waiters
                self._pending, self._waiters = [], []
                try:
                    held = self._write(outcomes)
                except Exception as exc:  # the senders waiting on this commit fail with it
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                self._tally(outcomes, held)
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            self._flushing = False

    def _tally(self, outcomes: list[DeliveryAttempt], held: int) -> None:
        self.report.lost_claims += len(outcomes) - held
        for outcome in outcomes:
            if outcome.result == "sent":
                self.report.sent += 1
            elif outcome.result == "retry":
                self.report.retried += 1
            else:
                self.report.failed += 1
                message = self.by_id[outcome.message_id]
                self.report.failures.append(
                    DeliveryFailure(
                        key=message.key,
                        to_email=message.to_email,
                        category=message.category,
                        reply=outcome.response or outcome.error or "",
                    )
                )

    async def record(self, outcome: DeliveryAttempt) -> None:
        """Queue an outcome for the next group commit and wait until it is committed."""
        waiter = asyncio.get_running_loop().create_future()
        self._pending.append(outcome)
        self._waiters.append(waiter)
        if not self._flushing:
            self._flushing = True  # set before the task runs: outcomes of this same tick join it
            self._flusher = asyncio.ensure_future(self._flush())
        await waiter

    async def retry(self, message: OutboxMessage, error: str, response: str | None = None) -> None:
        self.report.last_error = error
        await self.record(
            DeliveryAttempt(
                message_id=_id(message),
                result="retry",
                error=error,
                response=response,
                attempts=message.attempts,
            )
        )

    # ------------------------------------------------------------ SMTP

    async def connect(self, slot: int) -> aiosmtplib.SMTP:
        client = self.clients[slot]
        if client is not None and client.is_connected:
            return client
        error: BaseException | None = None
        for attempt in range(CONNECT_TRIES):
            if self.report.server_down:
                break
            client = smtp_client(self.settings)
            try:
                await client.connect()
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                error = exc
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            self.clients[slot] = client
            self.report.connections += 1
            return client
        if not self.report.server_down:
            self.report.server_down = True
            self.report.last_error = _describe(error) if error else "cannot connect"
        raise _ServerDown(self.report.last_error)

    async def close(self) -> None:
        for client in self.clients:
            if client is not None and client.is_connected:
                try:
                    await asyncio.wait_for(client.quit(), timeout=2)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()

    async def send_one(self, slot: int, message: OutboxMessage) -> None:
        raw = letter_bytes(message, sender=self.sender)
        for attempt in (1, 2):  # a dropped connection is retried once at once, on a fresh one
            client = await self.connect(slot)
            try:
                _refused, response = await client.sendmail(self.sender.addr_spec, [message.to_email], raw)
            except aiosmtplib.SMTPServerDisconnected as exc:
                client.close()
                if attempt == 2:
                    await self.retry(message, _describe(exc))
                continue
            except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
                code, reply = _reply_code(exc), _reply_text(exc)
                if code is not None and 500 <= code < 600:
                    await self.record(
                        DeliveryAttempt(message_id=_id(message), result="failed", response=reply, error=reply)
                    )
                    return
                if code == 421:  # the server is closing this connection
                    client.close()
                await self.retry(message, reply, reply)
                return
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                client.close()
                await self.retry(message, _describe(exc))
                return
            await self.record(DeliveryAttempt(message_id=_id(message), result="sent", response=response))
            return

    async def worker(self, slot: int, queue: deque[OutboxMessage]) -> None:
        while queue and not self.report.server_down:
            message = queue.popleft()
            if (
                self.fixed_now is None
                and message.claimed_until is not None
                and message.claimed_until <= utcnow()
            ):
                await self.retry(message, "lease expired before sending")
                continue
            try:
                await self.send_one(slot, message)
            except _ServerDown:
                await self.retry(message, self.report.last_error or "server down")
                return

    async def run(self, limit: int | None) -> DeliveryReport:
        started = time.perf_counter()
        remaining = limit
        batch_size = max(1, self.settings.smtp_batch_size)
        try:
            while not self.report.server_down and (remaining is None or remaining > 0):
                size = batch_size if remaining is None else min(remaining, batch_size)
                claimed = self._claim(size)
                if not claimed:
                    break
                self.report.claimed += len(claimed)
                self.by_id.update((_id(m), m) for m in claimed)
                if remaining is not None:
                    remaining -= len(claimed)
                queue = deque(claimed)
                workers = max(1, min(self.settings.smtp_concurrency, len(claimed)))
                self.clients += [None] * (workers - len(self.clients))
                results = await asyncio.gather(
                    *(self.worker(slot, queue) for slot in range(workers)), return_exceptions=True
                )
                errors = [r for r in results if isinstance(r, BaseException)]
                if errors:  # e.g. the database went away: stop; unsettled claims expire with their lease
                    raise errors[0]
                # left over once the server went down: back to the queue, after the back-off
                await asyncio.gather(*(self.retry(m, self.report.last_error or "server down") for m in queue))
        finally:
            await self.close()
            self.report.elapsed = time.perf_counter() - started
        return self.report


async def deliver_due(
    *,
    database_url: str | None = None,
    limit: int | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> DeliveryReport:
    """Send every due letter of the outbox (at most `limit`), with retries; returns the tally."""
    settings = settings or get_settings()
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        return await _Run(settings=settings, session=session, now=now, lease=lease).run(limit)
