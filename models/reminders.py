"""What the daily reminder run sends (nhắc hạn): a pure function of the deadlines, the units they bind,
the reports filed, the councils' open reviews, the working-day calendar and the day — and the ledger
that lets each item go out once.

Every item has a scheduled day and an idempotency key:
- a report owed: reminders at `offsets` calendar days before the due date, to the unit's office
  (`report-reminder:<deadline>:<unit>:<year>:<offset>`); a reminder day that is not a working day
  moves to the working day before. After the due date, at `escalation_days` working days late, the
  unit's head (`report-overdue:…:<k>`), and at the last step also the body the report is owed to or the
  superior unit's head, as the deadline says (`escalate_to`; `report-escalation:…:<k>`). A deadline
  marked `confirmed: false` sends nothing.
- a review on a council's agenda: `review_window` working days before its due date, the council's
  standing office (`review-due:<nomination>:<unit>:<due>`); at each escalation step the council's
  chair (`review-overdue:…:<k>`) and the superior council's standing office (`review-escalation:…:<k>`).
  The due date is in the key, so a dossier whose clock stopped and restarted starts a new series.
  Returned, frozen or forwarded dossiers are not on an agenda and get nothing.

A run for day D with catch-up start S considers the items scheduled in [S, D] that are still owed when
it runs (no report recorded; the dossier still on the agenda with the same due date) — so a run for a
past day never reminds a unit that has filed since. The ledger (`ReminderNotice`) then removes what an
earlier run already sent, so overlapping windows never send twice, and a run after missed days sends
each missed item once. A reminder caught up after its due date is shown as overdue
(notifications/digests.py): it is not "due soon" any more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, select
from sqlmodel import Field, Session, SQLModel, col

from models.awards import catalogue
from models.calendar import add_working_days, previous_working_day, working_day_on_or_before
from models.clock import utcnow
from models.db import UTCDateTime, insert_for
from models.deadlines import DeadlineSpec
from models.hierarchy import Hierarchy, UnitRef
from models.nominations import AWAITING, Nomination, Nominee, Status
from models.reports import ReportingObligation, expand_obligations
from models.units import Council, CouncilMember, MemberRole


class ReminderKind(StrEnum):
    """The kinds of items; the value is the prefix of the item's idempotency key."""

    report_due = "report-reminder"
    report_overdue = "report-overdue"
    report_escalation = "report-escalation"
    review_due = "review-due"
    review_overdue = "review-overdue"
    review_escalation = "review-escalation"

    @property
    def before_due(self) -> bool:
        return self in (ReminderKind.report_due, ReminderKind.review_due)

    @property
    def digest_kind(self) -> str:
        """The section of the daily digest (notifications.render.DigestKind)."""
        return _DIGEST_KIND[self]


_DIGEST_KIND = {
    ReminderKind.report_due: "report_due",
    ReminderKind.report_overdue: "report_overdue",
    ReminderKind.report_escalation: "report_overdue",
    ReminderKind.review_due: "review_due",
    ReminderKind.review_overdue: "review_overdue",
    ReminderKind.review_escalation: "review_overdue",
}


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class ReminderItem:
    """One item for one recipient, scheduled on one day."""

    key: str
    kind: ReminderKind
    scheduled_on: date
    recipient: Recipient
    unit_id: int
    unit_code: str
    unit_name: str
    province_id: int | None
    obligation_id: str
    title: str
    due_on: date
    step: int
    deadline: str | None = None
    year: int | None = None
    nomination_id: int | None = None
    decision: bool = False  # the head's decision is awaited (the council recommended), not the review


@dataclass(frozen=True, slots=True)
class Unreachable:
    """An item that had nowhere to go (no address on the unit or council)."""

    kind: ReminderKind
    unit_code: str
    obligation_id: str


@dataclass(frozen=True)
class Policy:
    """When to remind: calendar days before a due date, working days after it."""

    offsets: tuple[int, ...] = (14, 7, 3, 1, 0)
    escalation_days: tuple[int, ...] = (1, 3, 5)
    review_window: int = 2

    def __post_init__(self) -> None:
        if any(o < 0 for o in self.offsets):
            raise ValueError(f"reminder offsets must be ≥ 0 days, got {self.offsets}")
        if not self.escalation_days or any(k < 1 for k in self.escalation_days):
            raise ValueError(f"escalation days must be ≥ 1 working day, got {self.escalation_days}")
        if self.review_window < 0:
            raise ValueError(f"review window must be ≥ 0 working days, got {self.review_window}")

    @classmethod
    def from_settings(cls, settings: Any | None = None) -> Policy:
        if settings is None:
            from models.settings import get_settings

            settings = get_settings()
        return cls(offsets=tuple(settings.reminder_offsets), escalation_days=tuple(settings.escalation_days))

    @property
    def last_escalation(self) -> int:
        return max(self.escalation_days)

    @property
    def lead_days(self) -> int:
        return max(self.offsets, default=0)


# ---------------------------------------------------------------- schedules (pure, per due date)


def report_schedule(
    *, due: date, policy: Policy, opens_on: date | None = None
) -> list[tuple[ReminderKind, int, date]]:
    """(kind, step, day) of every item of a report due on `due`: offsets (moved back to a working day,
    never before the window opens), then the escalation steps in working days."""
    out = []
    for offset in sorted(set(policy.offsets), reverse=True):
        day = working_day_on_or_before(due - timedelta(days=offset))
        if opens_on is None or day >= opens_on:
            out.append((ReminderKind.report_due, offset, day))
    for k in sorted(set(policy.escalation_days)):
        out.append((ReminderKind.report_overdue, k, add_working_days(due, k)))
    return out


def review_due_day(*, due: date, received_on: date | None, policy: Policy) -> date:
    """The first day on which the review has `review_window` working days or fewer left."""
    day = working_day_on_or_before(due)
    for _ in range(policy.review_window):
        day = previous_working_day(day)
    return max(day, received_on) if received_on else day


def in_window(day: date, *, since: date, today: date) -> bool:
    """Scheduled in [since, today]."""
    return since <= day <= today


# ---------------------------------------------------------------- reports


def _office(unit: UnitRef) -> Recipient | None:
    if unit.email:
        return Recipient(unit.email, unit.office_name)
    return _head(unit, fallback=False)


def _head(unit: UnitRef, *, fallback: bool = True) -> Recipient | None:
    if unit.head_email:
        name = f"{unit.head_name} – {unit.head_title}" if unit.head_name else unit.head_title
        return Recipient(unit.head_email, name)
    return _office(unit) if fallback and unit.email else None


@dataclass
class Plan:
    """What a day's run should send (before the ledger removes what was sent)."""

    items: list[ReminderItem] = field(default_factory=list)
    unreachable: list[Unreachable] = field(default_factory=list)
    occurrences: list[tuple[str, int]] = field(default_factory=list)  # (deadline, year) looked at

    def add(self, item_or_none: ReminderItem | None, kind: ReminderKind, unit_code: str, uid: str) -> None:
        if item_or_none is None:
            self.unreachable.append(Unreachable(kind, unit_code, uid))
        else:
            self.items.append(item_or_none)


def _item(
    of: ReportingObligation | OpenReview,
    kind: ReminderKind,
    step: int,
    day: date,
    to: Recipient | None,
    **own: Any,
) -> ReminderItem | None:
    """The item of a report owed or a review open: the unit, due date and uid come from it, the rest (key,
    title, unit name…) is the item's `own`; None when there is no one to send it to."""
    if to is None:
        return None
    return ReminderItem(
        kind=kind,
        step=step,
        scheduled_on=day,
        recipient=to,
        obligation_id=of.uid,
        unit_id=of.unit_id,
        unit_code=of.unit_code,
        province_id=of.province_id,
        due_on=of.due_on,
        **own,
    )


def _report_item(
    ob: ReportingObligation,
    spec: DeadlineSpec,
    kind: ReminderKind,
    step: int,
    day: date,
    to: Recipient | None,
) -> ReminderItem | None:
    key = f"{kind.value}:{spec.code}:{ob.unit_code}:{ob.year}:{step}"
    title = f"{spec.short_title(ob.year)} (gửi {ob.submit_to})"
    own = {"unit_name": ob.unit_name, "deadline": spec.code, "year": ob.year}
    return _item(ob, kind, step, day, to, key=key, title=title, **own)


def _escalation_recipient(
    spec: DeadlineSpec, ob: ReportingObligation, unit: UnitRef, directory: Hierarchy
) -> Recipient | None:
    """Who hears at the last step that a report is still missing, besides the unit's head: the body it
    is owed to, or the head of the level above (`escalate_to`, data/deadlines.yaml)."""
    if spec.escalate_to == "receiver":
        return Recipient(ob.submit_to_email, ob.submit_to) if ob.submit_to_email else None
    parent = directory.get(unit.parent_id)
    return _head(parent) if parent is not None else None


def report_items(
    *,
    specs: Sequence[DeadlineSpec],
    directory: Hierarchy,
    filed: Mapping[tuple[str, int, int], date],
    since: date,
    today: date,
    policy: Policy,
    plan: Plan | None = None,
) -> Plan:
    """Items scheduled in [since, today] for the reports still owed (`filed`: the reports recorded so far,
    (deadline, unit id, year) → day filed)."""
    plan = plan or Plan()
    for spec in specs:
        for year in spec.years(since.year - 1, today.year + 1):
            due = spec.due_date(year)
            assert due is not None
            items = [
                (k, s, d)
                for k, s, d in report_schedule(due=due, policy=policy, opens_on=spec.opens(year))
                if in_window(d, since=since, today=today)
            ]
            if not items:
                continue
            plan.occurrences.append((spec.code, year))
            if (
                not spec.confirmed
            ):  # shown to operators (the run's table, `thidua deadlines list`), never sent
                continue
            for ob in expand_obligations(spec=spec, year=year, directory=directory):
                if (spec.code, ob.unit_id, year) in filed:
                    continue
                unit = directory.by_id[ob.unit_id]
                for kind, step, day in items:
                    if kind is ReminderKind.report_due:
                        plan.add(
                            _report_item(ob, spec, kind, step, day, _office(unit)), kind, ob.unit_code, ob.uid
                        )
                        continue
                    plan.add(_report_item(ob, spec, kind, step, day, _head(unit)), kind, ob.unit_code, ob.uid)
                    if step == policy.last_escalation:
                        to = _escalation_recipient(spec, ob, unit, directory)
                        esc = ReminderKind.report_escalation
                        plan.add(_report_item(ob, spec, esc, step, day, to), esc, ob.unit_code, ob.uid)
    return plan


# ---------------------------------------------------------------- council reviews


@dataclass(frozen=True, slots=True)
class OpenReview:
    """A dossier on a council's agenda (submitted / under review) with a due date."""

    nomination_id: int
    code: str
    nominee: str
    award_form: str
    proposing_unit: str
    unit_id: int
    unit_code: str
    council_name: str
    province_id: int | None
    due_on: date
    received_on: date | None
    office: Recipient | None
    chair: Recipient | None
    superior_office: Recipient | None
    decision: bool = False  # waiting for the head's decision (recommended), not the council's review
    check: bool = False  # the completeness check (return an incomplete dossier in writing), not the review

    @property
    def uid(self) -> str:
        return f"{'check' if self.check else 'review'}:{self.code}:{self.unit_code}"


def _review_item(
    r: OpenReview, kind: ReminderKind, step: int, day: date, to: Recipient | None
) -> ReminderItem | None:
    key = f"{kind.value}:{'check:' if r.check else ''}{r.code}:{r.unit_code}:{r.due_on.isoformat()}"
    if kind is not ReminderKind.review_due:
        key += f":{step}"
    title = f"Hồ sơ {r.code} – {r.nominee} ({r.award_form}, {r.proposing_unit} đề nghị)"
    if r.check:
        title = f"Kiểm tra tính đầy đủ, trả lại bằng văn bản nếu chưa đầy đủ: {title}"
    own = {"unit_name": r.council_name, "nomination_id": r.nomination_id, "decision": r.decision}
    return _item(r, kind, step, day, to, key=key, title=title, **own)


def review_items(
    *, reviews: Iterable[OpenReview], since: date, today: date, policy: Policy, plan: Plan | None = None
) -> Plan:
    """Items for the open reviews: due soon to the standing office, overdue to the chair and the
    superior council's standing office. A completeness check gets the first escalation step only: after
    it the dossier is being appraised as complete, which its own review clock times."""
    plan = plan or Plan()
    for r in reviews:
        soon = review_due_day(due=r.due_on, received_on=r.received_on, policy=policy)
        if in_window(soon, since=since, today=today):
            kind = ReminderKind.review_due
            plan.add(_review_item(r, kind, policy.review_window, soon, r.office), kind, r.unit_code, r.uid)
        steps = sorted(set(policy.escalation_days))
        for k in steps[:1] if r.check else steps:
            day = add_working_days(r.due_on, k)
            if not in_window(day, since=since, today=today):
                continue
            for kind, to in (
                (ReminderKind.review_overdue, r.chair),
                (ReminderKind.review_escalation, r.superior_office),
            ):
                if kind is ReminderKind.review_escalation and to is None:
                    continue  # the top of the chain has no superior council: nobody to escalate to
                plan.add(_review_item(r, kind, k, day, to), kind, r.unit_code, r.uid)
    return plan


def _chunks(items: Sequence[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _open_checks(session: Session, directory: Hierarchy) -> list[tuple]:
    """The dossiers at a level with a completeness check (the Ministry of Home Affairs, `check_days`) that it
    has neither returned nor acted on: rows shaped as `open_reviews` reads them, due = arrival + the days.
    A dossier resubmitted there is not timed again (models.nominations.check_missed)."""
    from models.nominations import Action, NominationStep, check_due

    levels = {lv for rs in catalogue().rule_sets for lv in rs.check_days}
    units = [u.id for u in directory.by_id.values() if u.level in levels]
    if not units:
        return []
    found = session.execute(
        select(Nomination, col(Nominee.name))
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(
            col(Nomination.current_unit_id).in_(units),
            col(Nomination.status).in_([Status.forwarded, Status.under_review]),
        )
        .order_by(Nomination.code)
    ).all()
    if not found:
        return []
    arrivals: dict[tuple[int, int], date] = {}
    resubmitted: set[tuple[int, int]] = set()
    ids = [n.id for n, _ in found if n.id is not None]
    for chunk in _chunks(ids):
        for nid, to_unit, unit_id, action, on in session.execute(
            select(
                col(NominationStep.nomination_id),
                col(NominationStep.to_unit_id),
                col(NominationStep.unit_id),
                col(NominationStep.action),
                col(NominationStep.on_date),
            )
            .where(col(NominationStep.nomination_id).in_(chunk))
            .order_by(col(NominationStep.id))
        ):
            if to_unit is not None and on is not None:
                arrivals[(nid, to_unit)] = on  # the last one wins
            if action == Action.resubmit and unit_id is not None:
                resubmitted.add((nid, unit_id))
    rows = []
    for n, nominee in found:
        key = (n.id, n.current_unit_id)
        arrived = arrivals.get(key) or n.received_on
        if arrived is None or key in resubmitted:
            continue
        due = check_due(nomination=n, level=directory.by_id[n.current_unit_id].level, received_on=arrived)
        if due is not None:
            rows.append(
                (
                    n.id,
                    n.code,
                    nominee,
                    n.award_code,
                    n.origin_unit_id,
                    n.current_unit_id,
                    due,
                    arrived,
                    "check",
                )
            )
    return rows


def open_reviews(*, session: Session, directory: Hierarchy) -> list[OpenReview]:
    """The dossiers on a council's agenda with a due date, and those awaiting a completeness check, with the
    addresses of that council's standing office and chair and of the superior council's standing office."""
    found = session.execute(
        select(
            col(Nomination.id),
            col(Nomination.code),
            col(Nominee.name),
            col(Nomination.award_code),
            col(Nomination.origin_unit_id),
            col(Nomination.current_unit_id),
            col(Nomination.due_on),
            col(Nomination.received_on),
            col(Nomination.status),
        )
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(col(Nomination.status).in_(list(AWAITING)), col(Nomination.due_on).is_not(None))
        .order_by(Nomination.code)
    ).all()
    rows: list[Any] = [*found, *_open_checks(session, directory)]
    if not rows:
        return []
    units = {r[5] for r in rows}
    parents = {u.parent_id for u in (directory.get(i) for i in units) if u is not None and u.parent_id}
    councils: dict[int, Council] = {}
    for chunk in _chunks(sorted(units | parents)):
        councils.update(
            (c.unit_id, c)
            for c in session.execute(select(Council).where(col(Council.unit_id).in_(chunk))).scalars()
        )
    chairs: dict[int, CouncilMember] = {}
    for chunk in _chunks(sorted(c.id for c in councils.values() if c.id is not None)):
        for m in session.execute(
            select(CouncilMember)
            .where(col(CouncilMember.council_id).in_(chunk), col(CouncilMember.role) == MemberRole.chair)
            .order_by(col(CouncilMember.id))
        ).scalars():
            chairs.setdefault(m.council_id, m)
    forms = catalogue().forms
    out = []
    for nid, code, nominee, award, origin_id, unit_id, due, received, status in rows:
        unit = directory.by_id[unit_id]
        council = councils.get(unit_id)
        parent = directory.get(unit.parent_id)
        superior = councils.get(parent.id) if parent is not None else None
        chair = chairs.get(council.id) if council is not None and council.id is not None else None
        origin = directory.get(origin_id)
        out.append(
            OpenReview(
                nomination_id=nid,
                code=code,
                nominee=nominee,
                award_form=forms[award].name if award in forms else award,
                proposing_unit=origin.name if origin else "",
                unit_id=unit_id,
                unit_code=unit.code,
                council_name=council.name if council else f"Hội đồng Thi đua – Khen thưởng {unit.name}",
                province_id=unit.province_id,
                due_on=due,
                received_on=received,
                office=Recipient(council.office_email, f"Thường trực {council.name}") if council else None,
                chair=Recipient(chair.email, f"{chair.name} – Chủ tịch {council.name}")
                if chair and council
                else None,
                superior_office=Recipient(superior.office_email, f"Thường trực {superior.name}")
                if superior
                else None,
                decision=status == Status.recommended,
                check=status == "check",
            )
        )
    return out


def due_items(
    *,
    specs: Sequence[DeadlineSpec],
    directory: Hierarchy,
    filed: Mapping[tuple[str, int, int], date],
    reviews: Iterable[OpenReview],
    since: date,
    today: date,
    policy: Policy,
) -> Plan:
    """Everything scheduled in [since, today] that is still owed on `today` (pure)."""
    if since > today:
        raise ValueError(f"since {since} is after today {today}")
    plan = report_items(
        specs=specs, directory=directory, filed=filed, since=since, today=today, policy=policy
    )
    return review_items(reviews=reviews, since=since, today=today, policy=policy, plan=plan)


# ---------------------------------------------------------------- the ledger


class ReminderNotice(SQLModel, table=True):
    """One reminder item sent (nhắc hạn): its idempotency key and the daily digest that carried it.

    The outbox's key identifies a letter (one digest per recipient per day); this ledger identifies
    each item in it, so a re-run or a catch-up never sends an item twice."""

    __tablename__ = "reminder_notice"
    __table_args__ = (
        UniqueConstraint("key", name="uq_reminder_notice_key"),
        Index("ix_reminder_notice_sent_on", "sent_on"),
        Index("ix_reminder_notice_unit", "unit_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, description="e.g. report-reminder:<deadline>:<unit>:<year>:<offset>")
    kind: str = Field(max_length=30)
    recipient: str = Field(max_length=254)
    unit_id: int = Field(foreign_key="unit.id", description="the unit that owes the report or the review")
    deadline_id: int | None = Field(default=None, foreign_key="deadline.id")
    nomination_id: int | None = Field(default=None, foreign_key="nomination.id")
    year: int | None = None
    due_on: date
    scheduled_on: date = Field(description="the day the item was due to go out")
    sent_on: date = Field(description="the day of the run that queued it")
    digest_key: str = Field(max_length=300, description="the outbox letter that carried it")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


def already_sent(*, session: Session, keys: Iterable[str]) -> set[str]:
    """The keys among `keys` that an earlier run recorded."""
    keys = list(dict.fromkeys(keys))
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(
            session.execute(
                select(col(ReminderNotice.key)).where(col(ReminderNotice.key).in_(chunk))
            ).scalars()
        )
    return found


def unsent(*, session: Session, items: Sequence[ReminderItem]) -> list[ReminderItem]:
    """The items no earlier run sent (one per key: the first one wins)."""
    sent = already_sent(session=session, keys=(n.key for n in items))
    out, seen = [], set()
    for n in items:
        if n.key not in sent and n.key not in seen:
            seen.add(n.key)
            out.append(n)
    return out


def record(
    *,
    session: Session,
    items: Sequence[ReminderItem],
    sent_on: date,
    digest_of: Mapping[str, str],
    deadline_ids: Mapping[str, int],
) -> set[str]:
    """Write the ledger rows, `digest_of` giving each item's key its letter (INSERT … ON CONFLICT DO
    NOTHING; no commit); returns the keys inserted,
    so a concurrent run that got there first keeps its items and this one drops them."""
    if not items:
        return set()
    now = utcnow()
    rows = [
        {
            "key": n.key,
            "kind": n.kind.value,
            "recipient": n.recipient.email,
            "unit_id": n.unit_id,
            "deadline_id": deadline_ids.get(n.deadline) if n.deadline else None,
            "nomination_id": n.nomination_id,
            "year": n.year,
            "due_on": n.due_on,
            "scheduled_on": n.scheduled_on,
            "sent_on": sent_on,
            "digest_key": digest_of[n.key],
            "created_at": now,
        }
        for n in items
    ]
    table = ReminderNotice.metadata.tables["reminder_notice"]
    stmt = insert_for(session)(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
    inserted: set[str] = set()
    for start in range(0, len(rows), 2000):
        inserted.update(session.execute(stmt, rows[start : start + 2000]).scalars())
    return inserted
