"""The outbox (hộp thư đi): every letter is rendered and stored here first, in the caller's transaction,
then delivered by `notifications.mailer`. A letter is stored once per idempotency key and is marked sent
only after the mail server accepted it, so a down server delays mail but never loses it.

Life of a row: `pending` → (claimed by a deliverer, with a lease) `sending` → `sent` | `pending` again
with a later `next_attempt_at` (temporary failure) | `failed-permanent` (the server refused it for good).
A deliverer that dies leaves `sending` rows whose lease expires; they become due again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import (
    JSON,
    Column,
    Index,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    or_,
    select,
    union,
    update,
)
from sqlmodel import Field, Session, SQLModel, col

from models.clock import utcnow
from models.db import UTCDateTime, insert_for
from models.labelled import LabelledEnum
from models.settings import get_settings
from models.text import has_control_chars
from models.units import Council, CouncilMember, Unit
from notifications.mime import parse_sender
from notifications.render import Attachment, MailContext, render

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
DEFAULT_LEASE = timedelta(minutes=10)


class OutboxStatus(LabelledEnum):
    pending = "pending", "chờ gửi"
    sending = "sending", "đang gửi"
    sent = "sent", "đã gửi"
    failed = "failed-permanent", "lỗi vĩnh viễn"


class OutboxMessage(SQLModel, table=True):
    """One letter in the outbox (thư chờ gửi), rendered and ready to send."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        UniqueConstraint("key", name="uq_outbox_message_key"),
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_claim", "claim_token"),
        Index("ix_outbox_message_to", "to_email"),  # a unit's letters (the portal's Thư and dossier pages)
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, description="idempotency key, e.g. council-notice:<meeting>:<recipient>")
    category: str = Field(max_length=60, description="template name, for operators")
    to_email: str = Field(max_length=254)
    to_name: str = Field(default="", max_length=200)
    subject: str = Field(max_length=500)
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    attachments: list[dict[str, str]] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="[{filename, content_type, data (base64)}]",
    )
    message_id: str = Field(
        max_length=250, description="RFC 5322 Message-ID, fixed at enqueue, same on retries"
    )
    status: str = Field(default=OutboxStatus.pending, max_length=20)
    attempts: int = Field(default=0, description="delivery attempts started")
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    claim_token: str | None = Field(default=None, max_length=40, description="the deliverer holding it")
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    smtp_response: str | None = Field(default=None, max_length=1000, description="the server's last reply")
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))

    def attachment_files(self) -> list[Attachment]:
        return [Attachment.from_json(raw) for raw in self.attachments]


# ---------------------------------------------------------------- refusals


class OutboxError(ValueError):
    """A letter the outbox refuses; the message is Vietnamese, for officials."""


class InvalidAddress(OutboxError):
    pass


class UnknownRecipient(OutboxError):
    pass


class UnsafeHeader(OutboxError):
    pass


@lru_cache(maxsize=65536)
def normalize_address(address: str) -> str:
    """The address as sent over SMTP (ASCII, domain lower-cased); raises InvalidAddress."""
    try:
        checked = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"địa chỉ thư «{address}» không hợp lệ: {exc}") from None
    if not checked.ascii_email:
        raise InvalidAddress(f"địa chỉ thư «{address}» có ký tự ngoài ASCII ở phần trước @, chưa hỗ trợ")
    return checked.ascii_email


def check_header_text(*, value: str, what: str) -> str:
    """Refuse CR, LF and other control characters in a header value (header injection)."""
    if has_control_chars(value):
        raise UnsafeHeader(f"{what} «{value!r}» chứa ký tự điều khiển (xuống dòng…), không được phép")
    return value


def _registry_query(among: list[str] | None = None):
    """Every registered address, or (with `among`, folded) only those; the filter sits inside each
    branch so no 100,000-row union is built to answer for a few addresses."""
    columns = (Unit.email, Unit.head_email, Unit.ntm_office_email, Council.office_email, CouncilMember.email)

    def branch(column):
        stmt = select(column.label("address")).where(column.is_not(None))
        # lower(address) is indexed in every table (ix_*_folded: 0001, 0013); stored addresses are trimmed
        return stmt.where(func.lower(column).in_(among)) if among is not None else stmt

    return union(*(branch(c) for c in columns))


def registered_addresses(*, session: Session, among: Iterable[str] | None = None) -> set[str]:
    """The addresses of the registry (units, their heads, councils' offices, council members), folded;
    with `among`, only those of them (a national registry holds ~100,000 addresses)."""
    configured = _configured_addresses()
    if among is None:
        rows = session.execute(_registry_query()).scalars()
        return {address.strip().lower() for address in rows if address} | configured
    wanted = sorted({a.strip().lower() for a in among if a})
    found: set[str] = configured & set(wanted)
    for start in range(0, len(wanted), 500):
        rows = session.execute(_registry_query(wanted[start : start + 500])).scalars()
        found.update(a.strip().lower() for a in rows if a)
    return found


def is_registered(*, session: Session, address: str) -> bool:
    """True if the address belongs to a unit, a unit's head, a council office or a council member, or is
    configured in the data (a body consulted, models/data/consultation.yaml)."""
    candidates = sorted({address.strip().lower(), normalize_address(address).lower()})
    if _configured_addresses() & set(candidates):
        return True
    return session.execute(_registry_query(candidates)).first() is not None


def _configured_addresses() -> set[str]:
    """Addresses the law-as-data files name (the bodies a province consults: hiệp y), folded."""
    from models.consultation import rules

    return {body.email.strip().lower() for body in rules().bodies.values()}


def _refuse_unknown(address: str) -> None:
    raise UnknownRecipient(
        f"địa chỉ «{address}» không có trong danh bạ đơn vị và hội đồng thi đua – khen thưởng; "
        "chỉ gửi thư đến địa chỉ đã đăng ký"
    )


# ---------------------------------------------------------------- enqueue


@dataclass(frozen=True, slots=True, kw_only=True)
class MailItem:
    """One letter to queue: recipient, template and its context."""

    key: str
    to_email: str
    to_name: str
    template: str
    context: MailContext | dict[str, Any]
    attachments: Sequence[Attachment] = field(default_factory=tuple)


class Queued(NamedTuple):
    message: OutboxMessage
    created: bool


class QueuedBatch(NamedTuple):
    created: list[str]
    existing: list[str]


@lru_cache(maxsize=8)
def _message_id_domain(mail_from: str) -> str:
    return parse_sender(mail_from).domain or "thidua.local"


def new_message_id() -> str:
    """A fresh RFC 5322 Message-ID on the sender's domain."""
    return f"<{uuid.uuid4().hex}.thidua@{_message_id_domain(get_settings().mail_from)}>"


def _row(item: MailItem, *, now: datetime) -> dict[str, Any]:
    if not item.key or len(item.key) > 300 or has_control_chars(item.key):
        raise OutboxError(f"khóa thư «{item.key!r}» không hợp lệ (1–300 ký tự, không ký tự điều khiển)")
    to_email = normalize_address(item.to_email)
    to_name = check_header_text(value=item.to_name.strip(), what="tên người nhận")
    if len(to_name) > 200:
        raise OutboxError(f"tên người nhận dài quá 200 ký tự: «{to_name[:60]}…»")
    rendered = render(template=item.template, context=item.context, recipient_name=to_name or to_email)
    check_header_text(value=rendered.subject, what="tiêu đề thư")
    if len(rendered.subject) > 500:
        raise OutboxError(f"tiêu đề thư dài quá 500 ký tự: «{rendered.subject[:60]}…»")
    files = [*rendered.attachments, *item.attachments]
    for file in files:
        check_header_text(value=file.filename, what="tên tệp đính kèm")
    return {
        "key": item.key,
        "category": item.template,
        "to_email": to_email,
        "to_name": to_name,
        "subject": rendered.subject,
        "text_body": rendered.text,
        "html_body": rendered.html,
        "attachments": [f.to_json() for f in files],
        "message_id": new_message_id(),
        "status": OutboxStatus.pending.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _insert_ignoring_duplicates(*, session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """INSERT … ON CONFLICT (key) DO NOTHING; returns the keys actually inserted (race-safe)."""
    if not rows:
        return set()
    table = OutboxMessage.__table__  # type: ignore[attr-defined]  # sqlmodel declares no __table__
    stmt = insert_for(session)(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
    return set(session.execute(stmt, rows).scalars())


def _existing_keys(*, session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(
            session.execute(select(col(OutboxMessage.key)).where(col(OutboxMessage.key).in_(chunk))).scalars()
        )
    return found


def enqueue(*, session: Session, item: MailItem) -> Queued:
    """Render and store one letter under its key; a key already queued is kept as it was (created=False).

    Runs in the caller's transaction (no commit), so a letter is queued if and only if the change it
    reports is committed."""
    if not is_registered(session=session, address=item.to_email):
        _refuse_unknown(item.to_email)
    inserted = _insert_ignoring_duplicates(session=session, rows=[_row(item, now=utcnow())])
    message = session.execute(select(OutboxMessage).where(col(OutboxMessage.key) == item.key)).scalar_one()
    return Queued(message=message, created=bool(inserted))


def enqueue_many(*, session: Session, items: Iterable[MailItem]) -> QueuedBatch:
    """Render and store many letters in bulk (no commit); keys already queued are skipped.

    Every item is checked before anything is stored: one unknown recipient refuses the whole batch."""
    batch: dict[str, MailItem] = {}
    for item in items:
        batch.setdefault(item.key, item)
    if not batch:
        return QueuedBatch(created=[], existing=[])
    candidates = {
        form
        for item in batch.values()
        for form in (item.to_email.strip().lower(), normalize_address(item.to_email).lower())
    }
    registry = registered_addresses(session=session, among=candidates)
    for item in batch.values():
        if not {item.to_email.strip().lower(), normalize_address(item.to_email).lower()} & registry:
            _refuse_unknown(item.to_email)
    existing = _existing_keys(session=session, keys=list(batch))
    now = utcnow()
    rows = [_row(item, now=now) for key, item in batch.items() if key not in existing]
    inserted = _insert_ignoring_duplicates(session=session, rows=rows)
    created = [key for key in batch if key in inserted]
    return QueuedBatch(created=created, existing=[key for key in batch if key not in inserted])


# ---------------------------------------------------------------- delivery bookkeeping


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 1 min × 2^(attempts-1), at most 1 h."""
    exponent = max(attempts - 1, 0)
    if exponent >= 12:
        return BACKOFF_CAP
    return min(BACKOFF_BASE * (2**exponent), BACKOFF_CAP)


def _due_clause(now: datetime):
    return or_(
        and_(col(OutboxMessage.status) == OutboxStatus.pending, col(OutboxMessage.next_attempt_at) <= now),
        and_(col(OutboxMessage.status) == OutboxStatus.sending, col(OutboxMessage.claimed_until) < now),
    )


def due_messages(*, session: Session, now: datetime | None = None, limit: int = 100) -> list[OutboxMessage]:
    """Letters due for delivery now (pending and due, or claimed by a deliverer whose lease expired)."""
    now = now or utcnow()
    stmt = (
        select(OutboxMessage)
        .where(_due_clause(now))
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
    )
    return list(session.execute(stmt.limit(limit)).scalars())


def claim_due(
    *,
    session: Session,
    token: str,
    now: datetime | None = None,
    limit: int = 500,
    lease: timedelta = DEFAULT_LEASE,
) -> list[OutboxMessage]:
    """Claim up to `limit` due letters for one deliverer (compare-and-set; no commit).

    Two deliverers never hold the same letter: the UPDATE re-checks that each row is still due, so a
    row another deliverer claimed in between is skipped (PostgreSQL re-evaluates the condition after
    waiting on the row lock, and SELECT … FOR UPDATE SKIP LOCKED keeps them from picking the same
    rows at all; SQLite serialises writers)."""
    now = now or utcnow()
    for _ in range(5):  # another deliverer may win every row we picked; then pick again
        ids = list(
            session.execute(
                select(col(OutboxMessage.id))
                .where(_due_clause(now))
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(limit)
                .with_for_update(skip_locked=True)  # PostgreSQL: skip rows being claimed; SQLite: ignored
            ).scalars()
        )
        if not ids:
            return []
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(ids), _due_clause(now))
            .values(
                status=OutboxStatus.sending,
                claim_token=token,
                claimed_until=now + lease,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        stmt = select(OutboxMessage).where(
            col(OutboxMessage.claim_token) == token, col(OutboxMessage.id).in_(ids)
        )
        claimed = list(
            session.execute(
                stmt.order_by(col(OutboxMessage.id)).execution_options(populate_existing=True)
            ).scalars()
        )
        if claimed:
            return claimed
    return []


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """How one delivery attempt ended: `sent`, `retry` (temporary failure) or `failed` (permanent)."""

    message_id: int
    result: Literal["sent", "retry", "failed"]
    response: str | None = None
    error: str | None = None
    attempts: int = 1


def _settle_statement(**values: Any):
    table = OutboxMessage.__table__  # type: ignore[attr-defined]  # sqlmodel declares no __table__
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.claim_token == bindparam("b_token"),
            table.c.status == OutboxStatus.sending.value,
        )
        .values(claim_token=None, claimed_until=None, **values)
    )


# built once: a delivery run settles thousands of rows, and building UPDATEs per row costs more than sending
_SETTLE = {
    "sent": _settle_statement(
        status=OutboxStatus.sent.value,
        sent_at=bindparam("b_at"),
        smtp_response=bindparam("b_response"),
        last_error=None,
    ),
    "retry": _settle_statement(
        status=OutboxStatus.pending.value,
        next_attempt_at=bindparam("b_at"),
        last_error=bindparam("b_error"),
        smtp_response=bindparam("b_response"),
    ),
    "failed": _settle_statement(
        status=OutboxStatus.failed.value,
        last_error=bindparam("b_error"),
        smtp_response=bindparam("b_response"),
    ),
}


def settle(
    *, session: Session, token: str, tried: Sequence[DeliveryAttempt], now: datetime | None = None
) -> int:
    """Record how attempts ended, in bulk (no commit); returns how many rows this deliverer still held.

    A row whose claim was lost (lease expired and another deliverer took it) is left alone."""
    now = now or utcnow()
    groups: dict[str, list[dict[str, Any]]] = {}
    for o in tried:
        at = now + backoff(o.attempts) if o.result == "retry" else now
        groups.setdefault(o.result, []).append(
            {
                "b_id": o.message_id,
                "b_token": token,
                "b_at": at,
                "b_response": (o.response or "")[:1000] or None,
                "b_error": (o.error or "")[:2000] or None,
            }
        )
    connection = session.connection()
    held = 0
    for result, params in groups.items():
        held += connection.execute(_SETTLE[result], params).rowcount
    return held


def requeue_failed(*, session: Session, keys: Sequence[str] | None = None) -> int:
    """Give permanently failed letters another chance (after an operator fixed the cause; no commit)."""
    stmt = update(OutboxMessage).where(col(OutboxMessage.status) == OutboxStatus.failed)
    if keys is not None:
        stmt = stmt.where(col(OutboxMessage.key).in_(list(keys)))
    stmt = stmt.values(status=OutboxStatus.pending, next_attempt_at=utcnow(), attempts=0)
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
