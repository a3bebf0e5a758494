"""Flow `dashboard` (bảng theo dõi): the operators' and councils' view, as Prefect artifacts.

Hourly, and once after each burst of council meetings (its deployment's trigger in `prefect.yaml`
waits until no `thidua.council.decided` has come for 30 s), it publishes under stable keys (the UI keeps each key's
history): the dossiers by province, level and status (`pipeline-by-province`), the reviews past their
due date in working days (`overdue-reviews`), this year's filing of the yearly report
(`report-filing-<year>`), every deadline with whether it is confirmed (`deadlines`: an unconfirmed one
is shown but sends nothing) and the campaign's summary beside the provinces' targets (`campaign-summary`). The figures come from `models/dashboard.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from anyio import to_thread
from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_progress_artifact, acreate_table_artifact
from sqlalchemy.exc import SQLAlchemyError

from flows.naming import dashboard_run_name
from models.clock import fmt_date, today_vn
from models.dashboard import (
    CampaignSummary,
    FilingProgress,
    OverdueUnit,
    PipelineRow,
    campaign_markdown,
    campaign_summary,
    overdue_reviews,
    overdue_table,
    pipeline_by_province,
    pipeline_table,
    report_filing,
)
from models.db import session_scope
from models.deadlines import all_deadlines, deadlines_table
from models.hierarchy import Hierarchy

PIPELINE_KEY = "pipeline-by-province"
OVERDUE_KEY = "overdue-reviews"
SUMMARY_KEY = "campaign-summary"
DEADLINES_KEY = "deadlines"
MAX_MISSING_LISTED = 30


def filing_key(year: int) -> str:
    return f"report-filing-{year}"


@dataclass
class Figures:
    today: date
    pipeline: list[PipelineRow]
    overdue: list[OverdueUnit]
    summary: CampaignSummary
    filing: FilingProgress | None = None
    filing_problem: str | None = None  # why the filing could not be read, for the run's log
    deadlines: list[dict[str, str]] | None = None


def gather(today: date) -> Figures:
    """Every figure of the dashboard; the yearly report's filing read apart, so its failure spares the rest."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        figures = Figures(
            today=today,
            pipeline=pipeline_by_province(session=session, hierarchy=hierarchy),
            overdue=overdue_reviews(session=session, hierarchy=hierarchy, today=today),
            summary=campaign_summary(session=session, hierarchy=hierarchy),
        )
    try:
        with session_scope() as session:
            figures.filing = report_filing(session=session, year=today.year)
            figures.deadlines = deadlines_table(all_deadlines(session=session), today)
    except SQLAlchemyError as exc:  # e.g. a database whose migrations do not create the reports' tables yet
        figures.filing_problem = str(exc).splitlines()[0]
    return figures


@task(name="gather-figures")
async def gather_task(today: date) -> Figures:
    """Read the pipeline, the overdue reviews, the yearly reports and the campaign's results."""
    return await to_thread.run_sync(lambda: gather(today))


@task(name="publish-artifacts")
async def publish(figures: Figures) -> list[str]:
    """Publish each figure under its stable key; returns the keys published."""
    day = fmt_date(figures.today)
    in_pipeline = sum(r.total for r in figures.pipeline)
    await acreate_table_artifact(
        key=PIPELINE_KEY,
        table=pipeline_table(figures.pipeline),
        description=f"Hồ sơ theo tỉnh, cấp đang giữ và trạng thái — {in_pipeline} hồ sơ, ngày {day}",
    )
    overdue = sum(len(u.items) for u in figures.overdue)
    await acreate_table_artifact(
        key=OVERDUE_KEY,
        table=overdue_table(figures.overdue),
        description=(
            f"Hồ sơ quá hạn xét (tính theo ngày làm việc) — {overdue} hồ sơ tại {len(figures.overdue)} "
            f"Hội đồng, ngày {day}"
        )
        if overdue
        else f"Không có hồ sơ quá hạn xét, ngày {day}",
    )
    keys = [PIPELINE_KEY, OVERDUE_KEY]
    if figures.filing is not None:
        f = figures.filing
        missing = ", ".join(f.missing[:MAX_MISSING_LISTED]) + (
            " …" if len(f.missing) > MAX_MISSING_LISTED else ""
        )
        # The same key as deadline-reminders' daily figure (models.reports counts both): hourly here.
        await acreate_progress_artifact(
            key=filing_key(f.year),
            progress=f.percent,
            description=f"{f.title}: {f.filed}/{f.expected} đơn vị đã nộp (hạn {fmt_date(f.due_on)})"
            + (f"; chưa nộp: {missing}" if missing else ""),
        )
        keys.append(filing_key(f.year))
    if figures.deadlines is not None:
        unconfirmed = sum(1 for d in figures.deadlines if not d["Xác nhận"].startswith("đã"))
        await acreate_table_artifact(
            key=DEADLINES_KEY,
            table=figures.deadlines,
            description=f"Thời hạn của các kế hoạch: {len(figures.deadlines)} hạn, {unconfirmed} chưa xác nhận "
            f"(không gửi nhắc), ngày {day}",
        )
        keys.append(DEADLINES_KEY)
    await acreate_markdown_artifact(
        key=SUMMARY_KEY,
        markdown=campaign_markdown(figures.summary, as_of=figures.today),
        description=f"Tổng hợp phong trào: {figures.summary.conferred} đã khen thưởng, ngày {day}",
    )
    keys.append(SUMMARY_KEY)
    return keys


@flow(name="dashboard", flow_run_name=dashboard_run_name, log_prints=False)
async def dashboard(on: date | None = None) -> dict:
    """Refresh the dashboard: the pipeline, overdue reviews, yearly reports and the campaign's summary."""
    logger = get_run_logger()
    figures = await gather_task(on or today_vn())
    keys = await publish(figures)
    if figures.filing_problem:
        logger.warning("%s skipped: %s", filing_key(figures.today.year), figures.filing_problem)
    elif figures.filing is None:
        logger.info(
            "no yearly report due in %d; %s skipped", figures.today.year, filing_key(figures.today.year)
        )
    return {
        "artifacts": keys,
        "nominations": sum(r.total for r in figures.pipeline),
        "overdue": sum(len(u.items) for u in figures.overdue),
        "conferred": figures.summary.conferred,
    }
