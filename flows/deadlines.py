"""Flow `deadline-reminders` (nhắc hạn): every morning, remind those who have not yet done what is due —
the yearly report before 30/11 and the other deadlines of the movement, the councils' review time
limits — and tell the heads and the level above when it is late. One digest per recipient per day.

Idempotency and catch-up: a run for day D looks at every item scheduled from S = D − `catchup_days`
(7 by default; `since` overrides it) up to D and still owed on D, then drops the items the ledger
(`reminder_notice`) already holds. So a re-run of D sends nothing new; a run after missed days sends
each missed item once, in D's digest; a gap longer than the window needs `since`. The ledger rows and
the letters are written in one transaction, so an item is recorded if and only if its letter is queued.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, timedelta

from anyio import to_thread
from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_progress_artifact, acreate_table_artifact
from pydantic import BaseModel
from sqlmodel import Session

from flows.delivery import DeliveryTally
from flows.events import DEADLINES_REMINDED, REMINDER_DAY, emit_batch_event
from flows.orphans import end_orphaned_subflows
from models.clock import fmt_date, today_vn
from models.db import session_scope
from models.deadlines import YEARLY_REPORT, DeadlineSpec, ensure_deadlines
from models.hierarchy import Hierarchy
from models.reminders import Policy, ReminderKind, due_items, open_reviews, record, unsent
from models.reports import expand_obligations, filed_on_map
from notifications.digests import assign_keys, group_by_recipient, letter, taken_keys
from notifications.outbox import enqueue_many

ARTIFACT_KEY = "deadline-reminders"
CATCHUP_DAYS = 7

KIND_LABELS = {
    ReminderKind.report_due: "Nhắc hạn báo cáo (văn phòng đơn vị)",
    ReminderKind.report_overdue: "Báo cáo quá hạn: báo thủ trưởng đơn vị",
    ReminderKind.report_escalation: "Báo cáo quá hạn: báo cấp trên",
    ReminderKind.review_due: "Hồ sơ sắp đến hạn xét: báo thường trực Hội đồng",
    ReminderKind.review_overdue: "Hồ sơ quá hạn xét: báo Chủ tịch Hội đồng",
    ReminderKind.review_escalation: "Hồ sơ quá hạn xét: báo thường trực Hội đồng cấp trên",
}


def window_start(*, day: date, since: date | None, catchup_days: int = CATCHUP_DAYS) -> date:
    """The first day whose items this run still considers."""
    if since is not None:
        if since > day:
            raise ValueError(f"ngày bắt đầu bù {fmt_date(since)} ở sau ngày chạy {fmt_date(day)}")
        return since
    if catchup_days < 0:
        raise ValueError("số ngày bù phải ≥ 0")
    return day - timedelta(days=catchup_days)


def reporting_year(spec: DeadlineSpec, day: date, policy: Policy) -> int | None:
    """The occurrence operators follow on `day`: the latest whose first reminder has gone out."""
    for year in (day.year + 1, day.year, day.year - 1):
        due = spec.due_date(year)
        if due is not None and due - timedelta(days=policy.lead_days) <= day:
            return year
    return None


class Owing(BaseModel):
    """Who still owes one deadline's occurrence in one province (the operators' follow-up)."""

    deadline: str
    year: int
    title: str
    due_on: date
    province: str
    bound: int
    filed: int
    owing: int
    confirmed: bool = True  # False: the date is not confirmed yet, nobody is reminded


class SentItem(BaseModel):
    """One item a run sent: its ledger key, its recipient and the letter that carried it."""

    key: str
    to: str
    digest: str


class ReminderDay(BaseModel):
    """What a reminder day did (nhắc hạn): letters and items queued, escalations, who still owes what;
    `delivery` when the run also sent the mail."""

    day: date
    since: date
    letters: int
    recipients: int
    items: int
    by_kind: dict[str, int]
    escalations: int
    unreachable: int
    considered: int
    owing: list[Owing]
    sent: list[SentItem] = []
    elapsed_s: float = 0.0
    delivery: DeliveryTally | None = None

    def summary(self) -> dict:
        """As the flow returns it and `thidua remind --json` prints it: JSON, without the item list
        (national-size)."""
        return self.model_dump(
            mode="json", exclude={"sent"} | ({"delivery"} if self.delivery is None else set())
        )


def reminder_day(*, session: Session, day: date, since: date, policy: Policy | None = None) -> ReminderDay:
    """The reminder-day use case: compute the day's items, record them in the ledger and queue one digest
    per recipient, in the caller's transaction (the flow and every path without the service call this)."""
    policy = policy or Policy.from_settings()
    rows = ensure_deadlines(session=session)
    specs = [r.to_spec() for r in rows.values()]
    deadline_ids = {code: r.id for code, r in rows.items() if r.id is not None}
    directory = Hierarchy.load(session)
    filed = filed_on_map(
        session=session, deadline_ids=deadline_ids, years=range(since.year - 1, day.year + 2)
    )
    plan = due_items(
        specs=specs,
        directory=directory,
        filed=filed,
        reviews=open_reviews(session=session, directory=directory),
        since=since,
        today=day,
        policy=policy,
    )
    digests, refused = group_by_recipient(unsent(session=session, items=plan.items))
    assign_keys(digests, day=day, taken=taken_keys(session=session, day=day))
    digest_of = {n.key: d.key for d in digests for n in d.items}
    inserted = record(
        session=session,
        items=[n for d in digests for n in d.items],
        sent_on=day,
        digest_of=digest_of,
        deadline_ids=deadline_ids,
    )
    for d in digests:  # a concurrent run that recorded an item first keeps it
        d.items = [n for n in d.items if n.key in inserted]
    digests = [d for d in digests if d.items]
    queued = enqueue_many(session=session, items=[letter(d, day=day) for d in digests])
    sent = [n for d in digests for n in d.items]
    owing = _owing(
        specs=specs, occurrences=plan.occurrences, directory=directory, filed=filed, day=day, policy=policy
    )
    return ReminderDay(
        day=day,
        since=since,
        letters=len(queued.created),
        recipients=len(digests),
        items=len(sent),
        by_kind=dict(Counter(n.kind.value for n in sent)),
        escalations=sum(1 for n in sent if not n.kind.before_due),
        unreachable=len(plan.unreachable) + len(refused),
        considered=len(plan.items),
        owing=owing,
        sent=[SentItem(key=n.key, to=n.recipient.email, digest=digest_of[n.key]) for n in sent],
    )


def reminder_day_in_transaction(*, day: date, since: date, policy: Policy | None = None) -> ReminderDay:
    """`reminder_day` in its own transaction, timed with the commit."""
    started = time.perf_counter()
    with session_scope() as session:
        result = reminder_day(session=session, day=day, since=since, policy=policy)
    result.elapsed_s = round(time.perf_counter() - started, 3)
    return result


def plan_and_queue(*, day: date, since: date, policy: Policy | None = None) -> dict:
    """The reminder day in its own transaction, as JSON (with every item sent)."""
    return reminder_day_in_transaction(day=day, since=since, policy=policy).model_dump(mode="json")


def _owing(
    *,
    specs: list[DeadlineSpec],
    occurrences: list[tuple[str, int]],
    directory: Hierarchy,
    filed: dict,
    day: date,
    policy: Policy,
) -> list[Owing]:
    """Per deadline occurrence followed on `day` and per province: units bound, filed, still owing."""
    wanted = dict.fromkeys(occurrences)
    for spec in specs:
        year = reporting_year(spec, day, policy) if spec.recurrence == "yearly" else None
        if year is not None:
            wanted[(spec.code, year)] = None
    by_code = {s.code: s for s in specs}
    out = []
    for code, year in wanted:
        spec = by_code[code]
        due = spec.due_date(year)
        assert due is not None
        provinces: dict[int | None, list[int]] = {}
        for ob in expand_obligations(spec=spec, year=year, directory=directory):
            provinces.setdefault(ob.province_id, [0, 0])
            provinces[ob.province_id][0] += 1
            provinces[ob.province_id][1] += int((code, ob.unit_id, year) in filed)
        for province_id, (bound, done) in sorted(provinces.items(), key=lambda kv: _name(directory, kv[0])):
            out.append(
                Owing(
                    deadline=code,
                    year=year,
                    title=spec.short_title(year),
                    due_on=due,
                    province=_name(directory, province_id),
                    bound=bound,
                    filed=done,
                    owing=bound - done,
                    confirmed=spec.confirmed,
                )
            )
    return out


def _name(directory: Hierarchy, unit_id: int | None) -> str:
    unit = directory.get(unit_id)
    return unit.name if unit else "(không thuộc tỉnh nào)"


@task(name="queue-reminders")
async def queue_reminders(day: date, since: date) -> ReminderDay:
    """Work out what is due, record each item in the ledger and queue one digest per recipient."""
    return await to_thread.run_sync(lambda: reminder_day_in_transaction(day=day, since=since))


def dashboard_rows(result: ReminderDay) -> list[dict[str, str]]:
    """The operators' table: what this run sent, then who still owes each report, per province."""
    rows = [
        {"Mục": "Ngày chạy", "Chi tiết": fmt_date(result.day), "Số lượng": ""},
        {"Mục": "Xét các việc đến hạn từ ngày", "Chi tiết": fmt_date(result.since), "Số lượng": ""},
        {"Mục": "Người nhận được nhắc", "Chi tiết": "", "Số lượng": str(result.recipients)},
        {"Mục": "Thư tổng hợp đã xếp hàng gửi", "Chi tiết": "", "Số lượng": str(result.letters)},
        {
            "Mục": "Việc nhắc quá hạn (báo thủ trưởng, cấp trên)",
            "Chi tiết": "",
            "Số lượng": str(result.escalations),
        },
    ]
    rows += [
        {"Mục": label, "Chi tiết": "", "Số lượng": str(result.by_kind.get(kind.value, 0))}
        for kind, label in KIND_LABELS.items()
    ]
    if result.unreachable:
        rows.append(
            {
                "Mục": "Không gửi được: đơn vị/hội đồng chưa có địa chỉ thư",
                "Chi tiết": "",
                "Số lượng": str(result.unreachable),
            }
        )
    rows += [
        {
            "Mục": f"Còn nợ «{o.title}» (hạn {fmt_date(o.due_on)}"
            + ("" if o.confirmed else "; hạn chưa xác nhận, không gửi nhắc")
            + ")",
            "Chi tiết": o.province,
            "Số lượng": f"{o.owing}/{o.bound}",
        }
        for o in result.owing
    ]
    return rows


async def publish(result: ReminderDay) -> None:
    """The `deadline-reminders` table and the year's report-filing progress."""
    await acreate_table_artifact(
        key=ARTIFACT_KEY,
        table=dashboard_rows(result),
        description=f"Nhắc hạn ngày {fmt_date(result.day)}: {result.letters} thư tổng hợp, "
        f"{result.escalations} việc quá hạn",
    )
    for code, year in sorted({(o.deadline, o.year) for o in result.owing}):
        rows = [o for o in result.owing if (o.deadline, o.year) == (code, year)]
        bound, done = sum(o.bound for o in rows), sum(o.filed for o in rows)
        if not bound:
            continue
        key = f"report-filing-{year}" if code == YEARLY_REPORT else f"report-filing-{code}-{year}"
        await acreate_progress_artifact(
            progress=round(100.0 * done / bound, 1),
            key=key,
            description=f"{rows[0].title}: {done}/{bound} đơn vị đã nộp (hạn {fmt_date(rows[0].due_on)})",
        )


def reminders_run_name() -> str:
    from prefect.runtime import flow_run

    today = (flow_run.parameters or {}).get("today")
    return f"deadline-reminders-{today or today_vn().isoformat()}"


@flow(
    name="deadline-reminders",
    flow_run_name=reminders_run_name,
    log_prints=False,
    on_completion=[end_orphaned_subflows],
    on_failure=[end_orphaned_subflows],
)
async def deadline_reminders(
    today: date | None = None,
    deliver: bool = True,
    since: date | None = None,
    catchup_days: int = CATCHUP_DAYS,
) -> dict:
    """Remind those who still owe a report or a review, tell heads and superiors of what is late.
    Returns the `ReminderDay` as JSON (`ReminderDay.summary`)."""
    logger = get_run_logger()
    day = today or today_vn()
    result = await queue_reminders(day, window_start(day=day, since=since, catchup_days=catchup_days))
    emit_batch_event(
        DEADLINES_REMINDED,
        resource_id=f"{REMINDER_DAY}{day.isoformat()}",
        name=f"Nhắc hạn ngày {fmt_date(day)}",
        payload=result.model_dump(
            mode="json", include={"day", "since", "letters", "recipients", "items", "by_kind", "escalations"}
        ),
    )
    await publish(result)
    logger.info(
        "reminders for %s (from %s): %d items in %d letters",
        result.day,
        result.since,
        result.items,
        result.letters,
    )
    if deliver and result.letters:
        from flows.delivery import deliver_mail

        result.delivery = DeliveryTally.of(await deliver_mail())
    return result.summary()
