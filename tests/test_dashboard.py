"""The operators' and councils' view in the Prefect UI: the dashboard's figures (plain functions) and
artifacts (a flow run), run names and tags, the events that trace a dossier, and the meeting form."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from models import dashboard as dash
from models.meetings import Minutes, Outcome, apply_minutes, council_of, open_meeting
from models.nominations import Nomination, Status
from models.units import Level

RECEIVED = date(2026, 11, 2)  # a Monday
CAM_THACH = "thanh-hoa.cam-thach-2025"  # xã Cẩm Thạch, two-tier (from 1/7/2025)
CAM_THANH = "thanh-hoa.cam-thuy.cam-thanh"  # xã Cẩm Thành, huyện Cẩm Thủy (until 30/6/2025)
GIO_LINH = "quang-tri-2025.gio-linh-2025"  # xã Gio Linh, tỉnh Quảng Trị (merged, from 1/7/2025)


# the pipeline table's status columns, in order
STATUS_COLUMN_WORDS = [
    "đã nộp",
    "đang xét",
    "đã trình cấp trên",
    "chờ quyết định khen thưởng",
    "trả lại để bổ sung",
    "tạm dừng xét",
    "đã khen thưởng",
    "không khen thưởng",
    "đã rút",
]


def _row(n: int, unit: str, award: str, on: str, name: str | None = None) -> tuple[int, dict]:
    collective = award.startswith("co-thi-dua")
    return n, {
        "nominee": name or f"{'Thôn' if collective else 'Nguyễn Văn'} {award} {n}",
        "kind": "tập thể" if collective else "cá nhân",
        "unit": unit,
        "award": award,
        "campaign": "ntm-2021-2025",
        "achievement": "Đóng góp xây dựng nông thôn mới",
        "submitted_on": on,
    }


def _take_in(session, rows: list[tuple[int, dict]], received_on: date = RECEIVED) -> dict[str, str]:
    """Store a batch; returns {nominee: code}."""
    from models.intake import take_in

    result = take_in(session=session, rows=rows, source="test", received_on=received_on)
    session.commit()
    return {n["nominee"]: n["code"] for n in result.nominations}


def _hold_meeting(session, hierarchy, unit_code: str, decisions: list[dict], day: date) -> None:
    unit = hierarchy.by_code[unit_code]
    _, members = council_of(session=session, unit_id=unit.id)
    meeting = open_meeting(
        session=session, unit_id=unit.id, key=f"test:{unit_code}:{day}", hierarchy=hierarchy, on=day
    )
    minutes = Minutes(
        meeting_date=day,
        members_present=len(members),
        decisions=[{"votes_for": len(members)} | d for d in decisions],
    )
    apply_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=hierarchy)
    session.commit()


@pytest.fixture
def decided(session, sample) -> dict[str, str]:
    """Cẩm Thạch's council decided four dossiers; one 2022 dossier of Cẩm Thành and one of Gio Linh wait.

    Returns the codes of Cẩm Thạch's dossiers by award form, and `waiting` → the Gio Linh one."""
    rows = [
        _row(2, CAM_THACH, "giay-khen-xa", "02/03/2026"),
        _row(3, CAM_THACH, "bang-khen-tinh", "02/03/2026"),
        _row(4, CAM_THACH, "bang-khen-ttg", "02/03/2026"),
        _row(5, CAM_THACH, "co-thi-dua-tinh", "02/03/2026"),
        _row(6, CAM_THANH, "bang-khen-tinh", "15/06/2022"),
        _row(7, GIO_LINH, "giay-khen-xa", "10/09/2025"),
    ]
    by_nominee = _take_in(session, rows)
    codes = {r["award"]: by_nominee[r["nominee"]] for _, r in rows[:4]}
    codes["waiting"] = by_nominee[rows[5][1]["nominee"]]
    _hold_meeting(
        session,
        sample,
        CAM_THACH,
        [
            {"code": codes["giay-khen-xa"], "decision": "approve"},
            {"code": codes["bang-khen-tinh"], "decision": "approve"},
            {"code": codes["bang-khen-ttg"], "decision": "reject", "note": "Thành tích chưa tiêu biểu"},
            {"code": codes["co-thi-dua-tinh"], "decision": "return", "note": "Bổ sung báo cáo thành tích"},
        ],
        day=date(2026, 11, 10),
    )
    # the chairman's decision on what the council recommended (issue 13): the certificate is conferred
    from tests.deciding import decide_recommended

    decide_recommended(session, sample, date(2026, 11, 12))
    return codes


# --- the pipeline by province, level and status ---------------------------------------------------


def test_pipeline_counts_each_province_by_the_level_holding_its_dossiers(session, sample, decided) -> None:
    rows = dash.pipeline_by_province(session=session, hierarchy=sample)
    got = {(r.province, r.level): {s.value: n for s, n in r.counts.items() if n} for r in rows}
    assert got == {
        ("tỉnh Quảng Trị (từ 01/07/2025)", Level.commune): {"submitted": 1},
        ("tỉnh Thanh Hóa", Level.commune): {"conferred": 1, "rejected": 1, "returned": 1, "submitted": 1},
        ("tỉnh Thanh Hóa", Level.province): {"forwarded": 1},
    }
    table = dash.pipeline_table(rows)
    assert list(table[0]) == ["Tỉnh/thành phố", "Cấp đang giữ hồ sơ", *STATUS_COLUMN_WORDS, "Tổng"]
    assert table[1]["Tỉnh/thành phố"] == "tỉnh Thanh Hóa" and table[1]["Cấp đang giữ hồ sơ"] == "cấp xã"
    assert table[-1]["Tỉnh/thành phố"] == "Tổng cộng" and table[-1]["Tổng"] == 6
    assert table[-1]["đã khen thưởng"] == 1 and table[-1]["đã trình cấp trên"] == 1


def test_pipeline_of_an_empty_database_is_only_the_total_row(session, sample) -> None:
    assert dash.pipeline_table(dash.pipeline_by_province(session=session, hierarchy=sample)) == [
        {
            "Tỉnh/thành phố": "Tổng cộng",
            "Cấp đang giữ hồ sơ": "",
            **dict.fromkeys(STATUS_COLUMN_WORDS, 0),
            "Tổng": 0,
        }
    ]


# --- overdue reviews, in working days -------------------------------------------------------------


def _due_dates(session) -> dict[str, date | None]:
    session.expire_all()
    return {n.code: n.due_on for n in session.scalars(select(Nomination))}


@pytest.mark.parametrize(
    ("offset", "expected_days"),
    [
        (0, None),  # on the due date itself: not late yet
        (1, 1),  # the next working day
        (3, 3),
    ],
)
def test_overdue_reviews_count_working_days_after_the_due_date(
    session, sample, decided, offset, expected_days
) -> None:
    from models.calendar import add_working_days

    waiting = decided["bang-khen-tinh"]  # at the province, forwarded and not yet received: no due date
    assert _due_dates(session)[waiting] is None
    pending = session.scalars(select(Nomination).where(Nomination.status == Status.submitted)).all()
    due = max(n.due_on for n in pending)
    today = add_working_days(due, offset) if offset else due
    units = dash.overdue_reviews(session=session, hierarchy=sample, today=today)
    late = {i.code: i.days_overdue for u in units for i in u.items}
    assert late.get(decided["waiting"]) == expected_days
    returned = decided["co-thi-dua-tinh"]
    assert returned not in late  # its clock stopped when it went back for completion


def test_overdue_reviews_skip_weekends_and_holidays(session, sample, decided) -> None:
    pending = session.scalars(select(Nomination).where(Nomination.status == Status.submitted)).all()
    far = date(2027, 2, 26)  # after Tết 2027 (6–10/2): those days off do not count
    units = dash.overdue_reviews(session=session, hierarchy=sample, today=far)
    from models.calendar import working_days_between

    for u in units:
        for item in u.items:
            assert item.days_overdue == working_days_between(item.due_on, far)
            assert item.days_overdue < (far - item.due_on).days * 5 // 7 + 1
    assert {i.code for u in units for i in u.items} == {n.code for n in pending}
    table = dash.overdue_table(units)
    # the 2022 Cẩm Thành dossier, received after 1/7/2025, is reviewed by its successor xã Cẩm Thạch (issue 13)
    assert {r["Đơn vị đang xét"] for r in table} == {"xã Cẩm Thạch", "xã Gio Linh"}
    first = table[0]
    assert set(first) == {
        "Đơn vị đang xét",
        "Tỉnh/thành phố",
        "Cấp",
        "Số hồ sơ quá hạn",
        "Quá hạn nhiều nhất (ngày làm việc)",
        "Hạn xét sớm nhất",
        "Hồ sơ (số ngày quá hạn)",
    }
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", first["Hạn xét sớm nhất"])
    assert "ngày)" in first["Hồ sơ (số ngày quá hạn)"]


# --- the yearly report ----------------------------------------------------------------------------


def test_report_filing_counts_the_units_bound_to_the_yearly_report(session, sample) -> None:
    from models.deadlines import YEARLY_REPORT
    from models.reports import file_report

    CAM_LO = "quang-tri-2025.cam-lo-2025"

    before = dash.report_filing(session=session, year=2025)
    assert before.filed == 0 and before.expected > 0 and before.due_on == date(2025, 11, 30)
    assert "xã Cam Lộ (tỉnh Quảng Trị)" in before.missing
    for on in (date(2025, 11, 20), date(2025, 11, 21)):  # filed, then amended: an amendment counts once
        file_report(
            session=session, unit=CAM_LO, year=2025, deadline=YEARLY_REPORT, on=on, today=date(2025, 11, 23)
        )
    session.commit()
    after = dash.report_filing(session=session, year=2025)
    assert (after.filed, after.expected) == (1, before.expected)
    assert "xã Cam Lộ (tỉnh Quảng Trị)" not in after.missing
    assert after.percent == round(100 / before.expected, 1)
    assert dash.report_filing(session=session, year=2021) is None  # the yearly report starts in 2022
    # and binds Quảng Trị only, for its plan's years (Decision 1872/QĐ-UBND, VII.4): none in 2026
    assert dash.report_filing(session=session, year=2026) is None
    assert not any("Thanh Hóa" in m for m in before.missing)


def test_without_the_reports_tables_the_other_figures_still_go_out(session, sample, decided) -> None:
    """A database migrated before the reports existed: the filing is skipped with a reason, nothing else."""
    from sqlalchemy import text

    from flows.dashboard import gather

    for table in ("portal_report_upload", "remindernotice", "report"):  # the portal's uploads came later
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    session.commit()
    figures = gather(date(2025, 11, 28))  # Quảng Trị's yearly report is due on 30/11/2025
    assert figures.filing is None and "report" in figures.filing_problem
    assert sum(r.total for r in figures.pipeline) == 6 and figures.summary.conferred == 1


def test_filing_progress_percent() -> None:
    assert dash.FilingProgress(2026, "Báo cáo", date(2026, 11, 30), 3, 4, ("xã Cẩm Tú",)).percent == 75.0
    assert dash.FilingProgress(2026, "Báo cáo", date(2026, 11, 30), 0, 0, ()).percent == 100.0


# --- the campaign's summary and the provinces' targets --------------------------------------------


def test_campaign_summary_counts_outcomes_by_form_and_province(session, sample, decided) -> None:
    summary = dash.campaign_summary(session=session, hierarchy=sample)
    assert [(f.code, n) for f, n in summary.conferred_by_form] == [("giay-khen-xa", 1)]
    assert summary.totals[Status.rejected] == 1 and summary.totals[Status.returned] == 1
    assert {t.name: t.total for t in summary.provinces} == {
        "tỉnh Quảng Trị (từ 01/07/2025)": 1,
        "tỉnh Thanh Hóa": 5,
    }
    markdown = dash.campaign_markdown(summary, as_of=date(2026, 11, 28))
    assert "| Giấy khen của Chủ tịch UBND xã | 1 |" in markdown
    assert "- Không khen thưởng: **1**" in markdown
    assert "- Trả lại để bổ sung (đang chờ đơn vị bổ sung): **1**" in markdown
    waiting = summary.totals[Status.recommended]
    assert f"- Hội đồng đã đề nghị, chờ người đứng đầu quyết định: **{waiting}**" in markdown
    assert (
        f"- Đang xét hoặc đang trình cấp trên: **{sum(summary.totals[s] for s in dash.IN_PROGRESS) - waiting}**"
        in markdown
    )
    assert "Số liệu đến ngày 28/11/2026." in markdown
    # the seeds' targets, with their plans' numbers, beside what the app knows of the province
    assert "### tỉnh Thừa Thiên Huế — 425/KH-UBND ngày 08/11/2022" in markdown
    assert "| Xã đạt chuẩn nông thôn mới (ít nhất) | 82 xã (87,2%) |" in markdown
    assert "| Xã đạt chuẩn nông thôn mới nâng cao | 34 xã (40,2%) |" in markdown
    assert "| Xã đạt chuẩn nông thôn mới kiểu mẫu | 9 xã (11%) |" in markdown
    quang_tri = markdown[markdown.index("### tỉnh Quảng Trị") :]
    assert "- Hồ sơ của tỉnh Quảng Trị (từ 01/07/2025): **1**" in quang_tri
    assert "@" not in markdown  # no addresses, ever


def test_targets_name_the_seeds_plans_and_provinces_of_the_sample(sample) -> None:
    plans = {p.plan: p for p in dash.province_plans()}
    assert set(plans) == {"425/KH-UBND", "4798/KH-UBND", "1872/QĐ-UBND", "2017/KH-UBND"}
    assert plans["425/KH-UBND"].issued_on == date(2022, 11, 8)
    for plan in plans.values():
        assert plan.province in sample.by_code
        assert all(s in sample.by_code for s in plan.successors)
        assert plan.targets and all(t.value > 0 for t in plan.targets)
        assert plan.source.startswith("shared/seeds/")


# --- the flow: artifacts, run names and tags, events -----------------------------------------------


def _rows_for_flow(unit: str, awards: list[str], on: str) -> list[dict]:
    return [_row(i + 2, unit, a, on)[1] | {"row": i + 2} for i, a in enumerate(awards)]


async def _artifact(key: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        found = await client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    assert found, f"no artifact {key}"
    return found[0]


async def _runs(flow_name: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        return await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])), sort=FlowRunSort.START_TIME_DESC
        )


def test_dashboard_flow_publishes_its_artifacts_under_stable_keys(
    prefect_api, session, sample, decided
) -> None:
    from flows.dashboard import dashboard

    result = asyncio.run(dashboard(on=date(2026, 11, 28)))
    assert result["artifacts"] == [
        "pipeline-by-province",
        "overdue-reviews",
        "deadlines",  # no yearly report in 2026: Quảng Trị's plan ended with 2025
        "campaign-summary",
    ]
    assert result["nominations"] == 6 and result["conferred"] == 1
    pipeline = asyncio.run(_artifact("pipeline-by-province"))
    assert pipeline.type == "table"
    rows = json.loads(pipeline.data) if isinstance(pipeline.data, str) else pipeline.data
    by_place = {(r["Tỉnh/thành phố"], r["Cấp đang giữ hồ sơ"]): r for r in rows}
    assert by_place[("tỉnh Thanh Hóa", "cấp tỉnh")]["đã trình cấp trên"] == 1
    assert by_place[("tỉnh Thanh Hóa", "cấp xã")]["đã khen thưởng"] == 1
    assert by_place[("Tổng cộng", "")]["Tổng"] == 6
    overdue = asyncio.run(_artifact("overdue-reviews"))
    assert "ngày 28/11/2026" in overdue.description
    deadlines = asyncio.run(_artifact("deadlines"))
    rows = json.loads(deadlines.data) if isinstance(deadlines.data, str) else deadlines.data
    shown = {r["Xác nhận"] for r in rows if "tổng kết" in r["Thời hạn"]}
    assert shown == {"chưa xác nhận — không gửi nhắc"}  # shown to operators, never sent
    assert "1 chưa xác nhận" in deadlines.description
    summary = asyncio.run(_artifact("campaign-summary"))
    assert summary.type == "markdown" and "82 xã (87,2%)" in summary.data
    runs = asyncio.run(_runs("dashboard"))
    assert runs[0].name.startswith("dashboard-")


def test_meeting_and_intake_runs_are_named_and_tagged_by_province_and_level(
    prefect_api, session, sample, monkeypatch
) -> None:
    from flows.council import council_meeting
    from flows.intake import intake

    received = date(2026, 11, 22)
    result = asyncio.run(
        intake(
            rows=_rows_for_flow(GIO_LINH, ["giay-khen-xa"], "10/09/2025")
            + _rows_for_flow(CAM_THACH, ["bang-khen-tinh"], "02/03/2026"),
            source="test",
            received_on=received,
            deliver=False,
        )
    )
    codes = {n["award"]: n["code"] for n in result["nominations"]}
    intake_run = asyncio.run(_runs("intake"))[0]
    assert intake_run.name == "intake-quang-tri-2026-11-22"
    assert {"tinh:quang-tri", "tinh:thanh-hoa", "cap:commune"} <= set(intake_run.tags)

    unit = sample.by_code[CAM_THACH]
    _, members = council_of(session=session, unit_id=unit.id)
    minutes = Minutes(
        meeting_date=date(2026, 11, 28),
        members_present=len(members),
        decisions=[{"code": codes["bang-khen-tinh"], "decision": "approve", "votes_for": len(members)}],
    )
    asyncio.run(council_meeting(unit=CAM_THACH, minutes=minutes, on=date(2026, 11, 28), deliver=False))
    meeting_run = asyncio.run(_runs("council-meeting"))[0]
    assert meeting_run.name == "meeting-cam-thach-2026-11-28"
    assert {"tinh:thanh-hoa", "cap:commune"} <= set(meeting_run.tags)
    # the meeting no longer runs the dashboard as its subflow (its deployment's trigger does, once a burst)
    assert not [r for r in asyncio.run(_runs("dashboard")) if r.parent_task_run_id is not None]


@pytest.mark.any_database  # Prefect's trigger is the subject; the figures' queries are tested on both
def test_a_burst_of_meetings_refreshes_the_dashboard_once_with_every_meeting_in_it(
    prefect_api, session, sample
) -> None:
    """Three meetings back to back: the dashboard deployment's trigger from prefect.yaml creates one run
    after the last of them, and that run's artifacts count all three. The quiet window is widened to 90 s
    here: in the parallel suite one meeting could take longer than the real 30 s, which split the burst."""
    from dataclasses import replace

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        DeploymentFilter,
        DeploymentFilterId,
    )
    from prefect.flow_engine import run_flow_async

    from flows.council import council_meeting
    from flows.dashboard import SUMMARY_KEY, dashboard
    from flows.deployments import DEPLOYMENTS, build
    from tests.deciding import decide_recommended

    spec = next(s for s in DEPLOYMENTS if s.name == "dashboard")
    assert spec.trigger is not None and spec.trigger.quiet_s == 30
    spec = replace(spec, cron=None, trigger=replace(spec.trigger, quiet_s=90))
    deployment_id = asyncio.run(_apply(build(spec, dashboard)))
    time.sleep(3)  # the triggers service loads the new automation
    rows = [
        _row(2, CAM_THACH, "giay-khen-xa", "02/03/2026")[1] | {"row": 2},
        _row(3, CAM_THACH, "giay-khen-xa", "02/03/2026")[1] | {"row": 3},
        _row(4, GIO_LINH, "giay-khen-xa", "10/09/2025")[1] | {"row": 4},
    ]
    taken = _take_in(session, [(r["row"], {k: v for k, v in r.items() if k != "row"}) for r in rows])
    day = date(2026, 11, 10)
    for unit, nominee in ((CAM_THACH, rows[0]), (GIO_LINH, rows[2]), (CAM_THACH, rows[1])):
        _, members = council_of(session=session, unit_id=sample.by_code[unit].id)
        minutes = Minutes(
            meeting_date=day,
            members_present=len(members),
            decisions=[{"code": taken[nominee["nominee"]], "decision": "approve", "votes_for": len(members)}],
        )
        applied = asyncio.run(council_meeting(unit=unit, minutes=minutes, on=day, deliver=False))
        assert applied.counts == {Outcome.recommended: 1}  # a council recommends; its head decides (issue 13)
    decide_recommended(session, sample, day)

    async def triggered() -> list:
        async with get_client() as client:
            return await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )

    deadline = time.monotonic() + 240
    while not (runs := asyncio.run(triggered())):
        assert time.monotonic() < deadline, "the burst of meetings started no dashboard run"
        time.sleep(1)
    time.sleep(100)  # longer than the window and the triggers' 5 s tick: a second run would show by now
    runs = asyncio.run(triggered())
    assert len(runs) == 1, [r.name for r in runs]

    async def run_it() -> tuple[dict, list]:
        result = await run_flow_async(dashboard, flow_run=runs[0], parameters=runs[0].parameters)
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[runs[0].id]))
            )
            await client.delete_deployment(deployment_id)  # and its automation, for the tests after this one
        return result, artifacts  # type: ignore[return-value]

    result, artifacts = asyncio.run(run_it())
    assert result["conferred"] == 3 and result["nominations"] == 3
    summary = next(a for a in artifacts if a.key == SUMMARY_KEY)
    assert "3 đã khen thưởng" in (summary.description or "")


def test_the_dashboard_trigger_fires_once_after_a_burst_and_never_without_one(prefect_api) -> None:
    """The debounce of prefect.yaml on Prefect's own triggers service, its window cut to 10 s (Prefect's least): no run
    while no meeting decides (without `for_each`, Prefect opened an empty window of its own every
    window and fired at its end: a run every minute, forever), one run after a burst of three."""
    from dataclasses import replace

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from flows.dashboard import dashboard
    from flows.deployments import DEPLOYMENTS, build
    from flows.events import BURST, COUNCIL_DECIDED, MEETING, emit_batch_event

    spec = next(s for s in DEPLOYMENTS if s.name == "dashboard")
    assert spec.trigger is not None and spec.trigger.for_each == tuple(BURST)
    spec = replace(spec, cron=None, trigger=replace(spec.trigger, quiet_s=10))
    deployment_id = asyncio.run(_apply(build(spec, dashboard)))

    async def triggered() -> list:
        async with get_client() as client:
            return await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )

    try:
        time.sleep(35)  # three windows and more, with the triggers service's 5 s tick
        assert asyncio.run(triggered()) == [], "a dashboard run with no meeting"
        for meeting in (1, 2, 3):
            emit_batch_event(
                COUNCIL_DECIDED, resource_id=f"{MEETING}{meeting}", name="Phiên họp", payload={}, labels=BURST
            )
            time.sleep(1)
        deadline = time.monotonic() + 120
        while not asyncio.run(triggered()):
            assert time.monotonic() < deadline, "the burst started no dashboard run"
            time.sleep(1)
        time.sleep(35)
        assert len(runs := asyncio.run(triggered())) == 1, [(r.name, r.created) for r in runs]
    finally:

        async def delete() -> None:
            async with get_client() as client:
                await client.delete_deployment(deployment_id)  # and its automation

        asyncio.run(delete())


async def _apply(deployment: Any) -> Any:
    return await (await deployment).aapply()


@pytest.mark.parametrize(
    ("ref", "on", "expected"),
    [
        ("thanh-hoa.cam-thuy", date(2022, 6, 15), ("cam-thuy", Level.district, "thanh-hoa")),
        ("Cẩm Thủy", date(2026, 11, 28), ("cam-thuy", Level.commune, "thanh-hoa")),  # the commune of 1/7/2025
        ("cam thach", None, ("cam-thach", Level.commune, "thanh-hoa")),
        ("hue", None, ("hue", Level.province, "hue")),
        ("central.thu-tuong", None, ("thu-tuong-chinh-phu", Level.prime_minister, None)),
    ],
)
def test_units_are_found_for_names_and_tags(session, sample, ref, on, expected) -> None:
    from flows.naming import find_place, tags_of

    place = find_place(ref, on)
    assert (place.slug, place.level, place.province_slug) == expected
    assert tags_of([place])[-1] == f"cap:{expected[1].value}"
    assert find_place("không có xã này") is None


def test_events_trace_one_dossier_from_commune_to_conferral(prefect_api, session, sample) -> None:
    """bang-khen-tinh from xã Cẩm Thạch: submitted → forwarded → received → recommended → conferred (the
    head's decision), read back from the API with the filter the UI's event feed sends for a resource
    (`any_resource`): the events are batched per step, each dossier a related resource, and the trail is
    still whole."""
    from prefect.events.filters import EventAnyResourceFilter, EventFilter, EventOccurredFilter

    from flows.council import council_meeting, receive_forwarded
    from flows.events import dossiers_named
    from flows.intake import intake

    day = date(2026, 11, 24)
    started = datetime.now(
        UTC
    )  # codes repeat across tests (a fresh app database each), events do not go away
    result = asyncio.run(
        intake(
            rows=_rows_for_flow(CAM_THACH, ["bang-khen-tinh", "bang-khen-tinh"], "02/03/2026"),
            source="test-events",
            received_on=day,
            deliver=False,
        )
    )
    code, other = (n["code"] for n in result["nominations"])
    for unit_code in (CAM_THACH, "thanh-hoa"):
        _, members = council_of(session=session, unit_id=sample.by_code[unit_code].id)
        minutes = Minutes(
            meeting_date=day,
            members_present=len(members),
            decisions=[{"code": c, "decision": "approve", "votes_for": len(members)} for c in (code, other)],
        )
        meeting = asyncio.run(council_meeting(unit=unit_code, minutes=minutes, on=day, deliver=False))
        if meeting.counts.get("forwarded"):
            asyncio.run(receive_forwarded(meeting_id=meeting.meeting_id, on=day, deliver=False))
    # the province's council recommends; the chairman's decision confers (issue 13)
    from flows.decisions import issue_decision

    asyncio.run(
        issue_decision(
            unit="thanh-hoa", codes=[code, other], number="7/QĐ-UBND", decision_date=day, deliver=False
        )
    )

    async def read() -> list:
        from prefect.client.orchestration import get_client

        wanted = EventFilter(
            any_resource=EventAnyResourceFilter(id=[f"thidua.nomination.{code}"]),
            occurred=EventOccurredFilter(since=started),
        )
        deadline = time.monotonic() + 30
        async with get_client() as client:
            while True:
                page = await client.read_events(filter=wanted, limit=50)
                if len(page.events) >= 5 or time.monotonic() > deadline:
                    return sorted(page.events, key=lambda e: e.occurred)
                await asyncio.sleep(0.5)

    events = asyncio.run(read())
    assert [e.event for e in events] == [
        "thidua.nomination.submitted",
        "thidua.nomination.forwarded",
        "thidua.nomination.received",
        "thidua.nomination.recommended",
        "thidua.nomination.conferred",
    ]
    units = [next(r.id for r in e.related if r.role == "unit") for e in events]
    assert units == [
        "thidua.unit." + CAM_THACH,
        "thidua.unit.thanh-hoa",
        "thidua.unit.thanh-hoa",
        "thidua.unit.thanh-hoa",
        "thidua.unit.thanh-hoa",
    ]
    assert all(any(r.id == "thidua.award.bang-khen-tinh" for r in e.related) for e in events)
    # one event per step for both dossiers of the batch and the meetings, each dossier's details in it
    assert all(sorted(dossiers_named(e)) == sorted([code, other]) for e in events)
    assert events[-1].payload["nominations"][code]["decision_number"] == "7/QĐ-UBND"
    named = next(r for r in events[0].related if r.id == f"thidua.nomination.{code}")
    assert named.role == "nomination" and named.name.startswith(code)
    assert events[0].resource.id.startswith("thidua.batch.")
    assert events[-2].resource.id.startswith("thidua.meeting.")
    assert events[-1].resource.id.startswith("thidua.decision.")


def test_a_large_step_is_split_into_events_within_prefects_related_limit(prefect_api) -> None:
    """160 dossiers of one unit and award form: 3 events, none over 100 related resources, and any
    one dossier is found by its own filter."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventAnyResourceFilter, EventFilter, EventOccurredFilter
    from prefect.events.worker import EventsWorker

    from flows.events import NOMINATIONS_PER_EVENT, dossiers_named, emit_nomination_events

    started = datetime.now(UTC)
    tag = f"T{time.time_ns()}"  # codes unique to this test: events outlive the app database
    items = [
        {"code": f"{tag}-{i:03d}", "nominee": f"Ông {i}", "award": "giay-khen-xa", "unit_code": CAM_THACH}
        | {"unit": "xã Cẩm Thạch", "payload": {"n": i}}
        for i in range(160)
    ]
    assert emit_nomination_events(
        "thidua.nomination.submitted", items, resource_id=f"thidua.batch.{tag}", name=tag
    ) == -(-160 // NOMINATIONS_PER_EVENT)
    EventsWorker.drain_all()

    async def read(code: str) -> list:
        wanted = EventFilter(
            any_resource=EventAnyResourceFilter(id=[f"thidua.nomination.{code}"]),
            occurred=EventOccurredFilter(since=started),
        )
        deadline = time.monotonic() + 30
        async with get_client() as client:
            while not (page := await client.read_events(filter=wanted, limit=50)).events:
                assert time.monotonic() < deadline, f"no event names {code}"
                await asyncio.sleep(0.5)
        return page.events

    last = asyncio.run(read(f"{tag}-159"))
    assert len(last) == 1 and len(last[0].related) <= 100
    assert dossiers_named(last[0]) == [f"{tag}-{i:03d}" for i in range(150, 160)]
    assert last[0].payload["nominations"][f"{tag}-159"] == {"n": 159}


# --- the meeting form ----------------------------------------------------------------------------

AGENDA = [
    {
        "code": "HS2026-000001",
        "version": 1,
        "nominee": "Nguyễn Văn An",
        "award": "bang-khen-tinh",
        "award_name": "Bằng khen của Chủ tịch UBND tỉnh",
        "origin_unit": "xã Cẩm Thạch",
        "due_on": "2026-12-07",
    },
    {
        "code": "HS2026-000002",
        "version": 1,
        "nominee": "Thôn Cẩm Hoa",
        "award": "co-thi-dua-tinh",
        "award_name": "Cờ thi đua của UBND tỉnh",
        "origin_unit": "xã Cẩm Thạch",
        "due_on": None,
    },
]
JSON_SCHEMA_WORDS = {
    "items",
    "type",
    "properties",
    "required",
    "enum",
    "format",
    "default",
    "title",
    "description",
    "definitions",
    "$ref",
    "allOf",
    "anyOf",
    "oneOf",
    "minimum",
    "maximum",
}


def _form():
    from flows.inputs import MeetingDecisions, agenda_markdown, initial_form

    return MeetingDecisions.with_initial_data(
        description=agenda_markdown(council="Hội đồng Thi đua – Khen thưởng xã Cẩm Thạch", agenda=AGENDA),
        **initial_form(agenda=AGENDA, meeting_date=date(2026, 11, 28), members=7),
    )


def _schema(model) -> dict:
    from prefect._internal.pydantic.v2_schema import create_v2_schema

    return create_v2_schema(model.__name__, model_base=model)  # what the UI receives


def test_the_form_keeps_vietnamese_titles_and_sensible_defaults() -> None:
    schema = _schema(_form())
    top = schema["properties"]
    assert {k: v["title"] for k, v in top.items()} == {
        "meeting_date": "Ngày họp",
        "members_present": "Số thành viên dự họp",
        "secretary": "Thư ký phiên họp",
        "agenda_items": "Quyết định cho từng hồ sơ",
    }
    assert top["members_present"]["default"] == 7 and top["members_present"]["minimum"] == 0
    assert top["meeting_date"]["default"] == "2026-11-28"
    first, second = top["agenda_items"]["default"]
    assert first == {
        "code": "HS2026-000001",
        "nominee": "Nguyễn Văn An",
        "award_name": "Bằng khen của Chủ tịch UBND tỉnh",
        "decision": "Thông qua",
    }
    assert second["award_name"] == "Cờ thi đua của UBND tỉnh"
    assert "votes_for" not in first  # the card starts at 0: the council counts its own votes
    item = schema["definitions"]["AgendaDecision"]["properties"]
    assert item["votes_for"]["default"] == 0 and item["decision"]["enum"][0] == "Thông qua"
    assert all(p.get("title") for p in item.values())
    assert schema["definitions"]["AgendaDecision"]["description"].startswith("Một hồ sơ")  # shown by the UI


def test_the_agenda_is_in_the_description_and_in_the_list_field() -> None:
    form = _form()
    description = form._description
    field = _schema(form)["properties"]["agenda_items"]["description"]
    for text in (description, field):
        assert (
            "1. **HS2026-000001** — Nguyễn Văn An — Bằng khen của Chủ tịch UBND tỉnh — đề nghị: xã Cẩm Thạch "
            "— hạn xét 07/12/2026" in text
        )
        assert (
            "\n\n2. **HS2026-000002** — Thôn Cẩm Hoa — Cờ thi đua của UBND tỉnh — đề nghị: xã Cẩm Thạch "
            "— hạn xét —\n\n" in text
        )  # blank lines: the default UI joins single line breaks
        assert "|" not in text  # the default UI shows a markdown table as raw pipes


def test_a_refused_attempt_shows_its_problems_above_the_agenda() -> None:
    from flows.inputs import MeetingDecisions, agenda_markdown, initial_form

    problems = ["hồ sơ HS2026-000001: không thông qua thì phải ghi rõ lý do"]
    form = MeetingDecisions.with_initial_data(
        description=agenda_markdown(council="Hội đồng xã", agenda=AGENDA, problems=problems),
        **initial_form(agenda=AGENDA, meeting_date=date(2026, 11, 28), members=7),
    )
    field = _schema(form)["properties"]["agenda_items"]["description"]
    assert (
        field.index("Biên bản chưa hợp lệ")
        < field.index("- hồ sơ HS2026-000001: không thông qua")
        < field.index("1. **HS2026-000001**")
    )


def test_no_field_is_named_like_a_json_schema_keyword() -> None:
    schema = _schema(_form())
    names = set(schema["properties"]) | set(schema["definitions"]["AgendaDecision"]["properties"])
    assert not names & JSON_SCHEMA_WORDS


def test_submitted_form_becomes_minutes() -> None:
    from flows.inputs import initial_form

    values = initial_form(agenda=AGENDA, meeting_date=date(2026, 11, 28), members=7)
    values["agenda_items"][0] |= {"votes_for": 6, "votes_abstain": 1}
    values["agenda_items"][1] |= {
        "decision": "Khen mức thấp hơn",
        "lower_award": "Bằng khen tỉnh",
        "votes_for": 5,
    }
    minutes = _form()(**values).to_minutes()
    first, second = minutes.decisions
    assert (first.decision, first.lower_award, first.votes_for, first.votes_abstain) == ("approve", "", 6, 1)
    assert (second.decision, second.lower_award) == ("award-lower", "bang-khen-tinh")
    with pytest.raises(ValueError):
        _form()(**(values | {"members_present": -1}))


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Bằng khen tỉnh", "bang-khen-tinh"),
        ("bang khen tinh", "bang-khen-tinh"),
        ("bang-khen-tinh", "bang-khen-tinh"),
        ("Giấy khen của Chủ tịch UBND xã", "giay-khen-xa"),
        ("", ""),
        ("bang-khen-xyz", "bang-khen-xyz"),
    ],
)
def test_lower_award_is_read_from_a_name_or_a_code(typed: str, code: str) -> None:
    from flows.inputs import lower_award_code

    assert lower_award_code(typed) == code


def test_the_form_takes_what_the_cli_sends_when_it_resumes_a_meeting() -> None:
    """`thidua meeting decide` resumes with decision words and form codes (cli/meetings.py)."""
    from models.meetings import Decision

    run_input = {
        "meeting_date": "2026-11-28",
        "members_present": 7,
        "secretary": "",
        "agenda_items": [
            {
                "code": "HS2026-000001",
                "decision": Decision("approve").label,
                "lower_award": "",
                "votes_for": 7,
                "votes_against": 0,
                "votes_abstain": 0,
                "note": "",
            },
            {
                "code": "HS2026-000002",
                "decision": Decision("award-lower").label,
                "lower_award": "bang-khen-tinh",
                "votes_for": 6,
                "votes_against": 1,
                "votes_abstain": 0,
                "note": "",
            },
        ],
    }
    assert "enum" not in _schema(_form())["definitions"]["AgendaDecision"]["properties"]["lower_award"]
    minutes = _form()(**run_input).to_minutes()
    assert [(d.decision, d.lower_award) for d in minutes.decisions] == [
        ("approve", ""),
        ("award-lower", "bang-khen-tinh"),
    ]
