"""Flow `deliver-mail`: send what waits in the outbox (hộp thư đi), each letter once.

Runs after any flow that queues mail and every few minutes; the work is `notifications.mailer`.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import acreate_table_artifact
from pydantic import BaseModel

from notifications.mailer import DeliveryReport, deliver_due

ARTIFACT_KEY = "mail-delivery"
MAX_FAILURE_ROWS = 50


class DeliveryTally(BaseModel):
    """The counts of one delivery run, as a flow that also delivered its letters reports them."""

    sent: int
    retried: int
    failed: int
    elapsed: float

    @classmethod
    def of(cls, report: DeliveryReport) -> DeliveryTally:
        return cls.model_validate(report.model_dump(include={"sent", "retried", "failed", "elapsed"}))


@task(name="deliver-due-mail", retries=0)
async def deliver_due_mail(*, limit: int | None) -> DeliveryReport:
    """Claim the due letters and send them over SMTP (database and server from THIDUA_* settings)."""
    return await deliver_due(limit=limit)


def delivery_table(report: DeliveryReport) -> list[dict[str, str]]:
    """Rows for the operators' table: the counts, then each permanent failure (no body, no secret)."""
    rows = [
        {"mục": "Đã gửi", "giá trị": str(report.sent)},
        {"mục": "Thử lại sau", "giá trị": str(report.retried)},
        {"mục": "Lỗi vĩnh viễn", "giá trị": str(report.failed)},
        {"mục": "Thời gian (giây)", "giá trị": f"{report.elapsed:.2f}"},
        {"mục": "Thư/giây", "giá trị": f"{report.rate:.0f}"},
    ]
    if report.server_down or report.last_error:
        rows.append({"mục": "Lỗi gần nhất", "giá trị": report.last_error or ""})
    rows += [
        {"mục": f"Lỗi vĩnh viễn: {f.to_email} ({f.category})", "giá trị": f"{f.reply} [{f.key}]"}
        for f in report.failures[:MAX_FAILURE_ROWS]
    ]
    if len(report.failures) > MAX_FAILURE_ROWS:
        more = len(report.failures) - MAX_FAILURE_ROWS
        rows.append({"mục": f"… và {more} thư lỗi khác", "giá trị": "xem `thidua mail outbox`"})
    return rows


@flow(name="deliver-mail", log_prints=False)
async def deliver_mail(limit: int | None = None) -> DeliveryReport:
    """Send the due letters of the outbox and publish the tally as the `mail-delivery` artifact."""
    report = await deliver_due_mail(limit=limit)
    await acreate_table_artifact(
        key=ARTIFACT_KEY,
        table=delivery_table(report),
        description=f"Gửi thư: {report.sent} đã gửi, {report.retried} thử lại sau, {report.failed} lỗi vĩnh viễn",
    )
    return report
