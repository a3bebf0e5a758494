"""The daily deadline digest (thư tổng hợp các thời hạn): one letter per recipient per day listing every item
of that recipient — reports due or overdue, reviews due or overdue — with the due dates as an .ics.

The letter's outbox key is `deadline-digest:<recipient>:<yyyy-mm-dd>`. Items are identified by their
own keys in the reminders' ledger (models/reminders.py); should a second run on the same day find new
items for someone who already had that day's digest, they go in a follow-up letter keyed `…:2`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast

from sqlalchemy import select
from sqlmodel import Session, col

from models.reminders import Recipient, ReminderItem, ReminderKind
from notifications.outbox import InvalidAddress, MailItem, OutboxMessage, normalize_address
from notifications.render import DIGEST_LABELS, DeadlineDigest, DigestEntry, DigestKind

DIGEST_PREFIX = "deadline-digest"
TEMPLATE = "deadline_digest"
SIGNED_BY = "Hệ thống theo dõi thi đua, khen thưởng phong trào “Chung sức xây dựng nông thôn mới”"
MAX_NAME = 200

_SECTION_ORDER = {kind: i for i, kind in enumerate(DIGEST_LABELS)}
_SEVERITY = {
    ReminderKind.report_due: 0,
    ReminderKind.review_due: 0,
    ReminderKind.report_overdue: 1,
    ReminderKind.review_overdue: 1,
    ReminderKind.report_escalation: 1,
    ReminderKind.review_escalation: 1,
}


_OVERDUE = {
    kind: "review_overdue" if kind.name.startswith("review") else "report_overdue" for kind in ReminderKind
}


def _digest_kind(item: ReminderItem, day: date) -> DigestKind:
    """The item's section: a dossier waiting for its head's decision has the decision's time limit
    (thời hạn ban hành quyết định khen thưởng), not the review's."""
    kind = _OVERDUE[item.kind] if day > item.due_on else item.kind.digest_kind
    if item.decision:
        kind = kind.replace("review_", "decision_")
    return cast(DigestKind, kind)


def digest_key(address: str, day: date, n: int = 1) -> str:
    base = f"{DIGEST_PREFIX}:{address.lower()}:{day.isoformat()}"
    return base if n == 1 else f"{base}:{n}"


@dataclass
class Digest:
    """One recipient's items of the day and the outbox key of the letter that carries them."""

    recipient: Recipient  # the address as the registry holds it (the outbox checks it against the registry)
    address: str  # the same as sent over SMTP, case-folded: what groups the items and names the letter
    items: list[ReminderItem]
    key: str = ""


def group_by_recipient(items: Iterable[ReminderItem]) -> tuple[list[Digest], list[ReminderItem]]:
    """Group by address (as sent over SMTP, case-folded); items with a malformed address are set aside."""
    groups: dict[str, Digest] = {}
    refused: list[ReminderItem] = []
    for n in items:
        try:
            address = normalize_address(n.recipient.email).lower()
        except InvalidAddress:
            refused.append(n)
            continue
        digest = groups.get(address)
        if digest is None:
            recipient = Recipient(n.recipient.email.strip(), n.recipient.name[:MAX_NAME])
            groups[address] = Digest(recipient=recipient, address=address, items=[n])
        else:
            digest.items.append(n)
    return sorted(groups.values(), key=lambda d: d.address), refused


def taken_keys(*, session: Session, day: date) -> set[str]:
    """The digest keys already in the outbox for `day` (a second run that day must not reuse them)."""
    pattern = f"{DIGEST_PREFIX}:%:{day.isoformat()}%"
    return set(
        session.execute(select(col(OutboxMessage.key)).where(col(OutboxMessage.key).like(pattern))).scalars()
    )


def assign_keys(digests: Sequence[Digest], *, day: date, taken: set[str]) -> None:
    """Give each digest the day's key, or the next follow-up key if that one is taken."""
    for digest in digests:
        n = 1
        while digest_key(digest.address, day, n) in taken:
            n += 1
        digest.key = digest_key(digest.address, day, n)


def entries(items: Iterable[ReminderItem], *, day: date) -> list[DigestEntry]:
    """One entry per obligation, in its most advanced state on `day`: an overdue report is not also
    'due soon', and a reminder caught up after its due date is listed as overdue."""
    best: dict[str, ReminderItem] = {}
    for n in items:
        current = best.get(n.obligation_id)
        if current is None or (_SEVERITY[n.kind], n.scheduled_on) > (
            _SEVERITY[current.kind],
            current.scheduled_on,
        ):
            best[n.obligation_id] = n
    out = [
        DigestEntry(
            kind=_digest_kind(n, day),
            obligation_id=n.obligation_id,
            title=n.title,
            unit_name=n.unit_name,
            due_date=n.due_on,
        )
        for n in best.values()
    ]
    out.sort(key=lambda e: (_SECTION_ORDER[e.kind], e.due_date, e.unit_name, e.title))
    return out


def letter(digest: Digest, *, day: date) -> MailItem:
    """The outbox letter of one digest."""
    return MailItem(
        key=digest.key,
        to_email=digest.recipient.email,
        to_name=digest.recipient.name,
        template=TEMPLATE,
        context=DeadlineDigest(signed_by=SIGNED_BY, day=day, entries=entries(digest.items, day=day)),
    )
