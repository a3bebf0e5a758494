"""Deadlines, reports and reminders: the 30/11 report over a simulated November–December 2026, review
time limits, catch-up after missed days, weekends and holidays, the year boundary, the hierarchy of the
year, bad input; then the `deadline-reminders` flow against the Prefect test server and a real SMTP
server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, defaultdict
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import pytest
import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

from models import nominations as nm
from models.deadlines import YEARLY_REPORT as QUANG_TRI_REPORT
from models.deadlines import (
    Deadline,
    DeadlineSpec,
    Report,
    ensure_deadlines,
    load_deadline_file,
    load_deadlines,
    read_deadline_file,
)
from models.hierarchy import Hierarchy
from models.intake import take_in
from models.reminders import Policy, ReminderKind, ReminderNotice, due_items, report_schedule, review_due_day
from models.reports import ReportRefused, expand_obligations, file_report
from notifications.outbox import OutboxMessage
from tests.fixtures_prefect import latest_artifact

# The reminder mechanics run over a test plan that binds every province with no end year (the real 30/11
# report, QUANG_TRI_REPORT, binds Quảng Trị's units only, until 2025): loaded as an operator would.
TEST_PLAN = Path(__file__).parent / "data" / "deadlines_every_province.yaml"
YEARLY_REPORT = "bao-cao-nam-mau"
YEAR = 2026
DUE = date(2026, 11, 30)  # a Monday
START, END = date(2026, 11, 1), date(2026, 12, 10)

# The default offsets (14, 7, 3, 1, 0 days before) and escalations (1, 3, 5 working days after) for
# 30/11/2026, worked out by hand: 29/11 is a Sunday, so the 1-day reminder moves back to Friday 27/11,
# together with the 3-day one; 24/11 (Ngày Văn hóa Việt Nam) is a holiday inside the window.
REMINDERS = {
    date(2026, 11, 16): (14,),
    date(2026, 11, 23): (7,),
    date(2026, 11, 27): (3, 1),
    date(2026, 11, 30): (0,),
}
ESCALATIONS = {date(2026, 12, 1): 1, date(2026, 12, 3): 3, date(2026, 12, 7): 5}

COMMUNES_2026 = {
    "thanh-hoa": [
        "thanh-hoa.bien-thuong-2025",
        "thanh-hoa.cam-thach-2025",
        "thanh-hoa.cam-thuy-2025",
        "thanh-hoa.cam-tu-2025",
        "thanh-hoa.tay-do-2025",
    ],
    "quang-tri-2025": [
        "quang-tri-2025.cam-lo-2025",
        "quang-tri-2025.cua-viet-2025",
        "quang-tri-2025.gio-linh-2025",
        "quang-tri-2025.hieu-giang-2025",
    ],
    "vinh-long-2025": [
        "vinh-long-2025.ba-tri-2025",
        "vinh-long-2025.bao-thanh-2025",
        "vinh-long-2025.giao-long-2025",
        "vinh-long-2025.phu-tuc-2025",
    ],
    "quang-ngai-2025": [
        "quang-ngai-2025.dak-ha-2025",
        "quang-ngai-2025.dak-to-2025",
        "quang-ngai-2025.dak-ui-2025",
        "quang-ngai-2025.kon-dao-2025",
    ],
    "hue": ["hue.dan-dien-2025", "hue.phu-vang-2025", "hue.phu-vinh-2025", "hue.quang-dien-2025"],
}
# the districts that owed the yearly report in 2024 (before the two-tier shape of 1/7/2025)
DISTRICTS_2024 = [
    "ben-tre.ba-tri",
    "ben-tre.chau-thanh",
    "kon-tum.dak-ha",
    "kon-tum.dak-to",
    "quang-tri.cam-lo",
    "quang-tri.gio-linh",
    "thanh-hoa.cam-thuy",
    "thanh-hoa.vinh-loc",
    "thua-thien-hue.phu-vang",
    "thua-thien-hue.quang-dien",
]
ALL_COMMUNES = sorted(c for cs in COMMUNES_2026.values() for c in cs)

# Who files when (before that day's run); everyone else never files.
FILINGS = {
    "thanh-hoa.cam-thach-2025": date(2026, 11, 20),  # after the 14-day reminder only
    "thanh-hoa.cam-thuy-2025": date(2026, 11, 30),  # on the due date, before the run: no day-0 reminder
    "quang-tri-2025.cam-lo-2025": date(2026, 12, 2),  # late: the head hears on day 1 only
    "hue.phu-vinh-2025": date(2026, 12, 4),  # late: days 1 and 3
    "vinh-long-2025.ba-tri-2025": date(2026, 11, 2),  # before any reminder
}


@pytest.fixture
def sample(sample, session):
    """The sample tree, with the test plan loaded beside the built-in deadlines."""
    load_deadline_file(session=session, path=TEST_PLAN)
    session.commit()
    return sample


def all_specs() -> dict[str, DeadlineSpec]:
    return {s.code: s for s in (*load_deadlines(), *read_deadline_file(TEST_PLAN))}


def days(start: date = START, end: date = END):
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def run_day(day: date, since: date | None = None) -> dict:
    from flows.deadlines import plan_and_queue, window_start

    return plan_and_queue(day=day, since=window_start(day=day, since=since))


def file_due(session, day: date) -> None:
    for code, on in FILINGS.items():
        if on == day:
            file_report(
                session=session,
                unit=code,
                year=YEAR,
                deadline=YEARLY_REPORT,
                on=day,
                today=day,
                filed_by="Văn thư",
            )
    session.commit()


def ledger(session) -> set[tuple[date, str, str]]:
    """(day sent, recipient, item key) of every item ever sent."""
    session.expire_all()
    return {(r.sent_on, r.recipient, r.key) for r in session.scalars(select(ReminderNotice))}


def letters(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def contacts(session):
    return Hierarchy.load(session)


def expected_reports(
    directory: Hierarchy,
    filings: dict[str, date],
    *,
    only: set[date] | None = None,
    catch_up: dict[date, date] | None = None,
) -> set[tuple[date, str, str]]:
    """The report items by hand: reminders to the office, escalations to the head, the last to the
    province's head too — for units that had not filed by the day of the run that sends them."""
    catch_up = catch_up or {}
    out = set()
    for code in ALL_COMMUNES:
        unit = directory.by_code[code]
        province = directory.by_id[unit.parent_id]
        filed = filings.get(code)
        for day, steps in REMINDERS.items():
            sent = catch_up.get(day, day)
            if (filed is None or filed > sent) and (only is None or day in only):
                out |= {
                    (sent, unit.email, f"report-reminder:{YEARLY_REPORT}:{code}:{YEAR}:{s}") for s in steps
                }
        for day, k in ESCALATIONS.items():
            sent = catch_up.get(day, day)
            if (filed is None or filed > sent) and (only is None or day in only):
                out.add((sent, unit.head_email, f"report-overdue:{YEARLY_REPORT}:{code}:{YEAR}:{k}"))
                if k == 5:
                    out.add(
                        (sent, province.head_email, f"report-escalation:{YEARLY_REPORT}:{code}:{YEAR}:{k}")
                    )
    return out


# ---------------------------------------------------------------- deadlines as data


def test_deadlines_file_names_campaign_and_legal_basis(session, sample) -> None:
    specs = {s.code: s for s in load_deadlines()}
    quang_tri = specs[QUANG_TRI_REPORT]
    assert quang_tri.due_date(2025) == date(2025, 11, 30) and quang_tri.submit_to == "ntm_office"
    assert "1872/QĐ-UBND" in quang_tri.legal_basis and "VII.4" in quang_tri.legal_basis
    # Quảng Trị's plan (2021–2025) sets it for Quảng Trị (and the merged province carrying it on), to 2025
    assert quang_tri.provinces == ("quang-tri", "quang-tri-2025") and quang_tri.due_date(2026) is None
    assert specs["kon-tum-ke-hoach-tinh-2022"].due_date(2022) == date(2022, 7, 15)
    assert specs["kon-tum-ke-hoach-huyen-2022"].due_date(2022) == date(2022, 7, 31)
    assert all(
        "2017/KH-UBND" in specs[c].legal_basis
        for c in ("kon-tum-ke-hoach-tinh-2022", "kon-tum-ke-hoach-huyen-2022")
    )
    final = specs["ntm-tong-ket-2025"]
    assert final.opens_on and final.due_on and final.opens_on < final.due_on and not final.confirmed
    first = ensure_deadlines(session=session)
    session.commit()
    again = ensure_deadlines(session=session)
    assert {k: v.id for k, v in first.items()} == {k: v.id for k, v in again.items()}
    assert len(session.scalars(select(Deadline).where(Deadline.source == "built-in")).all()) == len(specs)
    assert all(r.to_spec() == specs[r.code] for r in again.values() if r.source == "built-in")
    assert again[YEARLY_REPORT].source == TEST_PLAN.name  # the operator's file: the built-in one leaves it


def test_the_30_11_report_reminds_only_quang_tris_communes(session, sample) -> None:
    """Issue 13 item 6: only Quảng Trị's plan (Decision 1872/QĐ-UBND, VII.4) sets the 30/11 report; it
    ends with the plan (2025), and a late one is told to the NTM office that compiles the reports."""
    directory = contacts(session)
    built_in = [s for s in load_deadlines() if s.code == QUANG_TRI_REPORT]

    def planned(since: date, today: date):
        return due_items(
            specs=built_in,
            directory=directory,
            filed={},
            reviews=[],
            since=since,
            today=today,
            policy=Policy(),
        )

    plan = planned(date(2025, 11, 16), date(2025, 12, 8))
    owing = {n.unit_code for n in plan.items}
    assert owing == {c for c in ALL_COMMUNES if c.startswith("quang-tri-2025.")} and owing
    escalations = {n.recipient.email for n in plan.items if n.kind is ReminderKind.report_escalation}
    assert escalations == {"vpdp.ntm@quangtri.example.gov.vn"}  # the receiver, not the provincial chairman
    # 2024: Quảng Trị's districts of the time only
    districts = planned(date(2024, 11, 29), date(2024, 11, 29))
    assert {n.unit_code for n in districts.items} == {"quang-tri.cam-lo", "quang-tri.gio-linh"}
    # no 2026 occurrence: the plan ended with 2025
    later = planned(date(2026, 11, 1), date(2026, 12, 10))
    assert later.items == [] and later.occurrences == []


def test_an_unconfirmed_deadline_sends_nothing_but_is_shown(session, sample) -> None:
    """Issue 13 item 7: `confirmed: false` (the final review's placeholder dates) sends no reminder and no
    escalation; the run's table still lists who owes it, marked unconfirmed. Confirmed, it would send."""
    from flows.deadlines import dashboard_rows, reminder_day

    spec = next(s for s in load_deadlines() if s.code == "ntm-tong-ket-2025")
    assert not spec.confirmed
    kwargs = {
        "directory": contacts(session),
        "filed": {},
        "reviews": [],
        "since": date(2025, 10, 1),
        "today": date(2025, 11, 10),
    }
    assert due_items(specs=[spec], policy=Policy(), **kwargs).items == []
    confirmed = due_items(specs=[spec.model_copy(update={"confirmed": True})], policy=Policy(), **kwargs)
    assert {n.kind for n in confirmed.items} >= {ReminderKind.report_due, ReminderKind.report_escalation}
    for day in (date(2025, 10, 17), date(2025, 11, 7)):  # a reminder day and an escalation day
        result = reminder_day(session=session, day=day, since=day)
        assert not any("ntm-tong-ket-2025" in s.key for s in result.sent)
        shown = [r for r in dashboard_rows(result) if "tổng kết" in r["Mục"]]
        assert shown and all("chưa xác nhận, không gửi nhắc" in r["Mục"] for r in shown)
    session.rollback()


PROVINCE_FILE = """deadlines:
  - code: thanh-hoa-bao-cao-quy
    campaign: ntm-2021-2025
    name: Báo cáo quý {year} của xã
    short_name: Báo cáo quý {year}
    recurrence: yearly
    day: 15
    month: 12
    first_year: 2026
    submit_to: province
    provinces: [thanh-hoa]
    binds:
      - {level: commune, from: 2025-07-01}
    confirmed: %s
    legal_basis: "Kế hoạch số 99/KH-UBND ngày 02/01/2026 của UBND tỉnh Thanh Hóa, mục III.2"
"""


def test_deadlines_load_refuses_a_file_without_legal_basis(session, sample, tmp_path) -> None:
    from cli.app import app

    runner = CliRunner()
    no_basis = tmp_path / "thieu-can-cu.yaml"
    no_basis.write_text(
        "\n".join(line for line in (PROVINCE_FILE % "true").splitlines() if "legal_basis" not in line),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["deadlines", "load", str(no_basis)])
    assert result.exit_code == 1
    assert "chưa nạp gì" in result.output and "thiếu căn cứ pháp lý (legal_basis)" in result.output
    assert "thanh-hoa-bao-cao-quy" in result.output
    assert session.scalars(select(Deadline).where(Deadline.code == "thanh-hoa-bao-cao-quy")).first() is None
    for body, message in (
        ("deadlines: [\n  - {code: x", "không đúng định dạng YAML"),
        ("!!python/object/apply:os.system ['true']", "không đúng định dạng YAML"),  # safe_load: no objects
        ("x" * 300_000, "quá lớn"),
        ("deadlines: []", "ít nhất một hạn"),
        (
            (PROVINCE_FILE % "true").replace("[thanh-hoa]", "[khong-co]"),
            "không có tỉnh/thành phố mã: khong-co",
        ),
    ):
        bad = tmp_path / "sai.yaml"
        bad.write_text(body, encoding="utf-8")
        refused = runner.invoke(app, ["deadlines", "load", str(bad)])
        assert refused.exit_code == 1 and message in refused.output, refused.output


def test_an_operator_loads_then_confirms_a_provinces_deadline(session, sample, tmp_path) -> None:
    from cli.app import app
    from flows.deadlines import reminder_day

    runner, path = CliRunner(), tmp_path / "thanh-hoa.yaml"
    path.write_text(PROVINCE_FILE % "false", encoding="utf-8")
    loaded = runner.invoke(app, ["deadlines", "load", str(path)], env={"COLUMNS": "200"})
    assert loaded.exit_code == 0 and "CHƯA XÁC NHẬN" in loaded.output, loaded.output
    day = date(2026, 12, 1)  # the 14-day reminder
    assert not any(
        "thanh-hoa-bao-cao-quy" in s.key for s in reminder_day(session=session, day=day, since=day).sent
    )
    session.rollback()
    path.write_text(PROVINCE_FILE % "true", encoding="utf-8")
    assert runner.invoke(app, ["deadlines", "load", str(path)]).exit_code == 0
    sent = {
        s.key.split(":")[2]
        for s in reminder_day(session=session, day=day, since=day).sent
        if "thanh-hoa-bao-cao-quy" in s.key
    }
    assert sent == set(COMMUNES_2026["thanh-hoa"])  # Thanh Hóa's communes, nobody else
    session.commit()
    listed = json.loads(runner.invoke(app, ["deadlines", "list", "--json"]).output)
    by_code = {d["code"]: d for d in listed}
    assert (
        by_code["thanh-hoa-bao-cao-quy"]["confirmed"] is True
        and by_code["thanh-hoa-bao-cao-quy"]["source"] == path.name
    )
    assert by_code["ntm-tong-ket-2025"]["confirmed"] is False and by_code[QUANG_TRI_REPORT]["provinces"] == [
        "quang-tri",
        "quang-tri-2025",
    ]
    # the built-in file, applied again, leaves the operator's deadlines alone
    ensure_deadlines(session=session)
    assert ensure_deadlines(session=session)["thanh-hoa-bao-cao-quy"].to_spec().confirmed


@pytest.mark.parametrize(
    "entry",
    [
        {"recurrence": "yearly", "month": 4, "day": 31},
        {"recurrence": "yearly", "month": 11},
        {"recurrence": "once"},
        {"recurrence": "once", "due_on": "2022-07-15", "opens_on": "2022-08-01"},
        {"recurrence": "yearly", "month": 11, "day": 30, "binds": []},
    ],
)
def test_a_malformed_deadline_is_refused(entry: dict) -> None:
    base = {
        "code": "x",
        "campaign": "ntm-2021-2025",
        "name": "X",
        "short_name": "X",
        "submit_to": "parent",
        "binds": [{"level": "commune"}],
        "legal_basis": "Y",
    }
    with pytest.raises(ValueError):
        DeadlineSpec.model_validate({**base, **entry})


@pytest.mark.parametrize(
    ("code", "year", "expected"),
    [
        # the hierarchy as it stood on the due date: districts in 2024, communes of the two-tier shape in 2026
        (YEARLY_REPORT, 2024, DISTRICTS_2024),
        (YEARLY_REPORT, 2026, ALL_COMMUNES),
        ("kon-tum-ke-hoach-tinh-2022", 2022, ["kon-tum"]),
        ("kon-tum-ke-hoach-huyen-2022", 2022, ["kon-tum.dak-ha", "kon-tum.dak-to"]),
        (
            "ntm-tong-ket-2025",
            2025,
            ["hue", "quang-ngai-2025", "quang-tri-2025", "thanh-hoa", "vinh-long-2025"],
        ),
        ("kon-tum-ke-hoach-huyen-2022", 2023, []),
    ],
)
def test_obligations_bind_the_units_of_that_year(session, sample, code, year, expected) -> None:
    spec = all_specs()[code]
    obligations = expand_obligations(spec=spec, year=year, directory=contacts(session))
    assert sorted(o.unit_code for o in obligations) == sorted(expected)


def test_the_report_goes_to_the_provinces_ntm_office(session, sample) -> None:
    spec = all_specs()[YEARLY_REPORT]
    by_code = {o.unit_code: o for o in expand_obligations(spec=spec, year=2026, directory=contacts(session))}
    assert by_code["quang-tri-2025.cam-lo-2025"].submit_to_email == "vpdp.ntm@quangtri.example.gov.vn"
    assert by_code["thanh-hoa.cam-thach-2025"].submit_to == "Văn phòng Điều phối nông thôn mới tỉnh Thanh Hóa"


# ---------------------------------------------------------------- schedules: weekends, holidays, year boundary


@pytest.mark.parametrize(
    ("due", "expected"),  # expected: each reminder asked for (working days before), with the day it goes out
    [
        (
            DUE,
            [
                (14, date(2026, 11, 16)),
                (7, date(2026, 11, 23)),
                (3, date(2026, 11, 27)),
                (1, date(2026, 11, 27)),
                (0, date(2026, 11, 30)),
            ],
        ),
        (DUE, [(6, date(2026, 11, 23))]),  # 24/11/2026 is Ngày Văn hóa Việt Nam: the day before
        (
            date(2022, 7, 31),
            [
                (14, date(2022, 7, 15)),
                (7, date(2022, 7, 22)),
                (3, date(2022, 7, 28)),
                (1, date(2022, 7, 29)),
                (0, date(2022, 7, 29)),
            ],
        ),  # due on a Sunday
        (date(2025, 11, 30), [(1, date(2025, 11, 28)), (0, date(2025, 11, 28))]),  # Sunday again
        (date(2027, 1, 5), [(7, date(2026, 12, 29)), (4, date(2026, 12, 31))]),  # 1/1/2027 off, 2/1 Saturday
    ],
)
def test_reminders_before_a_day_off_move_to_the_working_day_before(due, expected) -> None:
    offsets = tuple(offset for offset, _ in expected)
    schedule = report_schedule(due=due, policy=Policy(offsets=offsets, escalation_days=(1,)))
    assert [(s, d) for k, s, d in schedule if k is ReminderKind.report_due] == expected


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (DUE, [date(2026, 12, 1), date(2026, 12, 3), date(2026, 12, 7)]),
        (date(2022, 7, 31), [date(2022, 8, 1), date(2022, 8, 3), date(2022, 8, 5)]),  # counted from a Sunday
        (date(2026, 11, 20), [date(2026, 11, 23), date(2026, 11, 26), date(2026, 11, 30)]),  # over 24/11
        (date(2026, 12, 31), [date(2027, 1, 4), date(2027, 1, 6), date(2027, 1, 8)]),  # over New Year
    ],
)
def test_escalations_count_working_days_after_the_due_date(due, expected) -> None:
    schedule = report_schedule(due=due, policy=Policy())
    assert [d for k, _, d in schedule if k is ReminderKind.report_overdue] == expected


def test_a_yearly_deadline_across_the_year_boundary(session, sample) -> None:
    """A plan due 5 January: reminders in December of the year before, escalations in January; a
    report due 31 December escalates into the next year."""
    base = {
        "campaign": "ntm-2021-2025",
        "recurrence": "yearly",
        "submit_to": "ntm_office",
        "legal_basis": "thử",
        "binds": [{"level": "commune", "from": "2025-07-01"}],
        "provinces": ["hue"],
    }
    january = DeadlineSpec.model_validate(
        {
            **base,
            "code": "ke-hoach-nam",
            "name": "Kế hoạch năm {year}",
            "short_name": "Kế hoạch năm {year}",
            "day": 5,
            "month": 1,
        }
    )
    december = DeadlineSpec.model_validate(
        {
            **base,
            "code": "tong-hop-nam",
            "name": "Tổng hợp năm {year}",
            "short_name": "Tổng hợp năm {year}",
            "day": 31,
            "month": 12,
        }
    )
    directory = contacts(session)
    policy = Policy(offsets=(7, 0), escalation_days=(1,))
    seen: dict[date, set[str]] = {}
    for day in days(date(2026, 12, 20), date(2027, 1, 10)):
        plan = due_items(
            specs=[january, december],
            directory=directory,
            filed={},
            reviews=[],
            since=day,
            today=day,
            policy=policy,
        )
        if plan.items:
            seen[day] = {f"{n.deadline}:{n.year}:{n.step}:{n.kind.value}" for n in plan.items}
    assert seen == {
        date(2026, 12, 24): {"tong-hop-nam:2026:7:report-reminder"},
        date(2026, 12, 29): {"ke-hoach-nam:2027:7:report-reminder"},
        date(2026, 12, 31): {"tong-hop-nam:2026:0:report-reminder"},
        date(2027, 1, 4): {"tong-hop-nam:2026:1:report-overdue", "tong-hop-nam:2026:1:report-escalation"},
        date(2027, 1, 5): {"ke-hoach-nam:2027:0:report-reminder"},
        date(2027, 1, 6): {"ke-hoach-nam:2027:1:report-overdue", "ke-hoach-nam:2027:1:report-escalation"},
    }  # with one escalation step, it is also the last: the superior hears at once
    on_the_fifth = due_items(
        specs=[january],
        directory=directory,
        filed={},
        reviews=[],
        since=date(2027, 1, 5),
        today=date(2027, 1, 5),
        policy=policy,
    )
    assert sorted(n.unit_code for n in on_the_fifth.items) == COMMUNES_2026["hue"]


def test_offsets_and_escalations_come_from_the_settings(session, sample, monkeypatch) -> None:
    """THIDUA_REMINDER_OFFSETS=[6]: the one reminder falls on 24/11/2026, a holiday, so it goes on 23/11."""
    from models.settings import reset_settings

    monkeypatch.setenv("THIDUA_REMINDER_OFFSETS", "[6]")
    monkeypatch.setenv("THIDUA_ESCALATION_DAYS", "[2]")
    reset_settings()
    for day in days():
        run_day(day)
    sent = {(d, k.split(":")[0], k.rsplit(":", 1)[1]) for d, _, k in ledger(session)}
    assert sent == {
        (date(2026, 11, 23), "report-reminder", "6"),
        (date(2026, 12, 2), "report-overdue", "2"),
        (date(2026, 12, 2), "report-escalation", "2"),
    }


def test_review_due_soon_counts_working_days_over_the_holiday() -> None:
    policy = Policy()
    assert review_due_day(due=date(2026, 11, 26), received_on=date(2026, 11, 12), policy=policy) == date(
        2026, 11, 23
    )
    assert review_due_day(due=date(2026, 11, 27), received_on=None, policy=policy) == date(2026, 11, 25)
    assert review_due_day(due=date(2026, 11, 27), received_on=date(2026, 11, 26), policy=policy) == date(
        2026, 11, 26
    )


# ---------------------------------------------------------------- reports: filing and bad input


def test_a_second_filing_is_an_amendment_not_a_duplicate(session, sample) -> None:
    file = partial(file_report, session=session, year=YEAR, deadline=YEARLY_REPORT, today=date(2026, 11, 23))
    first = file(unit="cam thach", on=date(2026, 11, 20), file_name="bao-cao-2026.pdf")
    second = file(unit="thanh-hoa.cam-thach-2025", filed_by="Nguyễn Thị Hoa")  # the same commune, by its code
    session.commit()
    assert not first.amendment and second.amendment
    assert (first.report.sequence, second.report.sequence) == (0, 1)
    assert second.report.amendment_of == first.report.id and first.report.amendment_of is None
    assert first.report.filed_at.tzinfo is not None and first.report.filed_at.utcoffset() == timedelta(0)
    assert first.report.filed_at.isoformat() == "2026-11-19T17:00:00+00:00"  # 00:00 on 20/11 in Hà Nội
    from models.reports import filing_status

    _, rows = filing_status(session=session, year=YEAR, deadline=YEARLY_REPORT, province="thanh hoa")
    cam_thach = next(r for r in rows if r.obligation.unit_code == "thanh-hoa.cam-thach-2025")
    assert (cam_thach.filed_on, cam_thach.amendments, cam_thach.file_name) == (
        date(2026, 11, 20),
        1,
        "bao-cao-2026.pdf",
    )
    assert sum(r.filed for r in rows) == 1 and len(rows) == 5


@pytest.mark.parametrize(
    ("unit", "year", "on", "message"),
    [
        ("xã Không Tồn Tại", 2026, None, "không tìm thấy đơn vị «xã Không Tồn Tại»"),
        ("cam thach", 2027, None, "năm 2027: năm này chưa đến"),
        ("cam thach", 2026, date(2026, 11, 24), "ở sau hôm nay"),
        (
            "thanh-hoa.cam-thuy.cam-thanh",
            2026,
            None,
            "đơn vị kế tục là xã Cẩm Thạch (thanh-hoa.cam-thach-2025)",
        ),
        ("thanh-hoa", 2026, None, "chỉ áp dụng cho cấp xã"),
        ("thanh-hoa.cam-thach-2025", 2024, None, "không phải nộp «Báo cáo phong trào năm 2024»"),
        ("cam thach", 2021, None, "không có hạn nộp năm 2021"),
    ],
)
def test_bad_filings_are_refused_in_vietnamese(session, sample, unit, year, on, message) -> None:
    with pytest.raises(ReportRefused, match=re.escape(message)):
        file_report(
            session=session, unit=unit, year=year, deadline=YEARLY_REPORT, on=on, today=date(2026, 11, 23)
        )
    assert session.scalars(select(Report)).all() == []


SUBMIT = ("report", "submit", "--deadline", YEARLY_REPORT)
STATUS = ("report", "status", "--deadline", YEARLY_REPORT)


def _cli() -> typer.Typer:
    from cli.reports import remind_command, report_app

    app = typer.Typer()
    app.add_typer(report_app, name="report")
    app.command("remind")(remind_command)
    return app


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([*SUBMIT, "cam thach", "--year", "2026", "--on", "31/11/2026"], 2, "ngày «31/11/2026» không hợp lệ"),
        ([*SUBMIT, "cam thach", "--year", "2026", "--on", "2026/11/20"], 2, "cần dạng dd/mm/yyyy"),
        ([*SUBMIT, "không có", "--year", "2026"], 1, "không tìm thấy đơn vị"),
        ([*SUBMIT, "cam thach", "--year", "2999"], 1, "năm này chưa đến"),
        ([*SUBMIT, "cam thach", "--year", "2026", "--file", "/nope/bc.pdf"], 2, "không tìm thấy tệp"),
        ([*STATUS, "--year", "2026", "--province", "cam thach"], 1, "không phải là tỉnh"),
        (["remind", "--today", "32/11/2026"], 2, "ngày «32/11/2026» không hợp lệ"),
        (["remind", "--today", "01/12/2026", "--since", "02/12/2026"], 2, "ở sau --today"),
    ],
)
def test_cli_bad_input(session, sample, args, code, message) -> None:
    result = CliRunner().invoke(_cli(), args, env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())


def test_cli_submit_twice_then_status(session, sample, tmp_path) -> None:
    report = tmp_path / "Báo cáo 2026.pdf"
    report.write_bytes(b"%PDF")
    runner, app = CliRunner(), _cli()
    first = runner.invoke(
        app,
        [
            "report",
            "submit",
            "xã Cẩm Thạch",
            "--year",
            "2026",
            "--on",
            "20/11/2026",
            "--file",
            str(report),
            "--by",
            "Nguyễn Văn An",
            "--deadline",
            YEARLY_REPORT,
        ],
        env={"COLUMNS": "200"},
    )
    assert first.exit_code == 0, first.output
    assert "nộp ngày 20/11/2026, hạn 30/11/2026 — đúng hạn" in first.output
    second = runner.invoke(
        app,
        [
            "report",
            "submit",
            "thanh-hoa.cam-thach-2025",
            "--year",
            "2026",
            "--json",
            "--deadline",
            YEARLY_REPORT,
        ],
    )
    assert second.exit_code == 0 and json.loads(second.output)["amendment"] is True
    status = runner.invoke(app, ["report", "status", "--year", "2026", "--json", "--deadline", YEARLY_REPORT])
    rows = {r["unit_code"]: r for r in json.loads(status.output)}
    assert set(rows) == set(ALL_COMMUNES)
    assert rows["thanh-hoa.cam-thach-2025"]["amendments"] == 1
    assert rows["thanh-hoa.cam-thach-2025"]["file_name"] == "Báo cáo 2026.pdf"
    assert rows["thanh-hoa.cam-thach-2025"]["filed_at"].endswith("+00:00")
    assert (
        rows["hue.phu-vinh-2025"]["filed_at"] is None
        and rows["hue.phu-vinh-2025"]["province"] == "thành phố Huế"
    )
    table = runner.invoke(
        app,
        ["report", "status", "--year", "2026", "--province", "thanh hoa", "--deadline", YEARLY_REPORT],
        env={"COLUMNS": "200"},
    )
    assert table.exit_code == 0 and "1/5 đơn vị đã nộp" in table.output and "chưa nộp" in table.output


# ---------------------------------------------------------------- the simulated November–December 2026


@pytest.fixture
def reviews(session, sample) -> dict[str, str]:
    """Two dossiers at xã Cẩm Tú's council, due 26/11/2026: one stays on the agenda, one goes back to
    the proposer for completion on 20/11 (its clock stops: never reminded)."""
    alike = {"unit": "thanh-hoa.cam-tu-2025", "award": "giay-khen-xa", "submitted_on": "10/11/2026"}
    nominees = [("Nguyễn Văn Bình", "cá nhân"), ("Thôn Cẩm Hưng", "tập thể")]
    rows = [(i, {"nominee": name, "kind": kind} | alike) for i, (name, kind) in enumerate(nominees, start=2)]
    result = take_in(session=session, hierarchy=sample, received_on=date(2026, 11, 12), rows=rows)
    codes = [n["code"] for n in result.nominations]
    session.execute(
        update(nm.Nomination)
        .where(nm.Nomination.code.in_(codes))
        .values(due_on=date(2026, 11, 26), received_on=date(2026, 11, 12))
    )
    session.commit()
    returned = nm.by_code(session=session, code=codes[1])
    nm.return_for_completion(
        session=session,
        nomination=returned,
        act=nm.Act(actor="thư ký", on=date(2026, 11, 20), note="Bổ sung biên bản họp thôn"),
    )
    session.commit()
    return {"open": codes[0], "returned": codes[1]}


def expected_reviews(directory: Hierarchy, code: str) -> set[tuple[date, str, str]]:
    """Due 26/11 (Thursday): 'due soon' two working days before — Monday 23/11, since 24/11 is a holiday —
    to the standing office; 1, 3 and 5 working days late (27/11, 01/12, 03/12) to the chair and to the
    standing office of the province's council."""
    unit = "thanh-hoa.cam-tu-2025"
    office, chair = "tdkt@camtu.thanhhoa.example.gov.vn", directory.by_code[unit].head_email
    superior = "bantdkt@snv.thanhhoa.example.gov.vn"
    out = {(date(2026, 11, 23), office, f"review-due:{code}:{unit}:2026-11-26")}
    for day, k in ((date(2026, 11, 27), 1), (date(2026, 12, 1), 3), (date(2026, 12, 3), 5)):
        out |= {
            (day, chair, f"review-overdue:{code}:{unit}:2026-11-26:{k}"),
            (day, superior, f"review-escalation:{code}:{unit}:2026-11-26:{k}"),
        }
    return out


def test_a_simulated_november_sends_each_item_once_on_its_day(session, sample, reviews) -> None:
    directory = contacts(session)
    results = {}
    for day in days():
        file_due(session, day)
        results[day] = run_day(day)
    got = ledger(session)
    assert got == expected_reports(directory, FILINGS) | expected_reviews(directory, reviews["open"])
    assert not any(reviews["returned"] in key for _, _, key in got)  # the clock stopped
    # nothing on weekends, on the holiday, or to anyone after they filed
    sent_days = {d for d, _, _ in got}
    assert all(d.weekday() < 5 and d != date(2026, 11, 24) for d in sent_days)
    for code, filed in FILINGS.items():
        assert not any(code in key and d >= filed for d, _, key in got)
    # the 2022 commune Cẩm Thành is not reminded in 2026; its successor Cẩm Thạch is
    assert not any("thanh-hoa.cam-thuy.cam-thanh" in key for _, _, key in got)
    assert any("thanh-hoa.cam-thach-2025" in key for _, _, key in got)
    # one digest per recipient per day, each item in exactly one of them
    mail = letters(session)
    per_day = Counter((m.key.split(":")[1], m.key.split(":")[2]) for m in mail)
    assert all(n == 1 for n in per_day.values()) and not any(m.key.count(":") > 2 for m in mail)
    assert {(date.fromisoformat(d), r) for r, d in per_day} == {(d, r) for d, r, _ in got}
    assert sum(r["letters"] for r in results.values()) == len(mail)
    assert sum(r["items"] for r in results.values()) == len(got)
    # the chair of Cẩm Tú (also its head) gets the overdue report and the overdue review in one letter on 01/12
    head = directory.by_code["thanh-hoa.cam-tu-2025"].head_email
    letter = next(m for m in mail if m.key == f"deadline-digest:{head}:2026-12-01")
    assert "Báo cáo quá hạn (1)" in letter.text_body and "Hồ sơ quá hạn thẩm định (1)" in letter.text_body
    # 27/11: the 3-day and 1-day reminders are one entry in one letter
    office = directory.by_code["hue.dan-dien-2025"].email
    friday = next(m for m in mail if m.key == f"deadline-digest:{office}:2026-11-27")
    assert friday.text_body.count("Báo cáo phong trào năm 2026") == 1
    assert friday.attachment_files()[0].filename.endswith(".ics")
    # 07/12: the province's head hears of every late commune of the province, in one letter
    province_head = directory.by_code["thanh-hoa"].head_email
    escalation = next(m for m in mail if m.key == f"deadline-digest:{province_head}:2026-12-07")
    late = [c for c in COMMUNES_2026["thanh-hoa"] if c not in FILINGS]
    assert f"Báo cáo quá hạn ({len(late)})" in escalation.text_body
    # re-running any day changes nothing
    before = len(letters(session))
    for day in days():
        again = run_day(day)
        assert (again["letters"], again["items"]) == (0, 0), day
    assert len(letters(session)) == before and ledger(session) == got


def test_missed_days_are_caught_up_once(session, sample, reviews) -> None:
    """No run from Thursday 26/11 to Monday 30/11: Tuesday's run sends the Friday and Monday items once,
    as overdue (their due date has passed), together with Tuesday's own; units that filed meanwhile
    get nothing."""
    directory = contacts(session)
    skipped = set(days(date(2026, 11, 26), date(2026, 11, 30)))
    for day in days():
        file_due(session, day)
        if day not in skipped:
            run_day(day)
    got = ledger(session)
    catch_up = {d: date(2026, 12, 1) for d in skipped}
    assert got == (
        expected_reports(directory, FILINGS, catch_up=catch_up)
        | {(catch_up.get(d, d), r, k) for d, r, k in expected_reviews(directory, reviews["open"])}
    )
    assert not any(
        "thanh-hoa.cam-thuy-2025" in key for d, _, key in got if d == date(2026, 12, 1)
    )  # filed 30/11
    office = directory.by_code["hue.dan-dien-2025"].email
    [tuesday] = [m for m in letters(session) if m.key == f"deadline-digest:{office}:2026-12-01"]
    assert "Báo cáo quá hạn (1)" in tuesday.text_body and "sắp đến hạn" not in tuesday.text_body
    assert all(run_day(day)["items"] == 0 for day in days())  # and nothing twice afterwards


def test_a_gap_longer_than_the_window_needs_since(session, sample) -> None:
    """Down from 10/11 to 30/11: the default window (7 days) reaches back to 24/11 only; --since 10/11
    sends the 16/11 and 23/11 reminders too, once."""
    directory = contacts(session)
    first = run_day(date(2026, 12, 1))
    keys = {k for _, _, k in ledger(session)}
    assert not any(k.endswith(":14") or k.endswith(":7") for k in keys)
    assert first["items"] == len(
        expected_reports(directory, {}, only={date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 1)})
    )
    second = run_day(date(2026, 12, 1), since=date(2026, 11, 10))
    assert second["items"] == 2 * len(ALL_COMMUNES)  # the 14- and 7-day reminders, nothing else
    assert second["letters"] == len(ALL_COMMUNES)  # a follow-up letter to each office…
    assert all(
        m.key.endswith(":2") for m in letters(session)[-second["letters"] :]
    )  # …keyed apart from the first
    assert run_day(date(2026, 12, 1), since=date(2026, 11, 10))["items"] == 0
    assert {(d, r, k) for d, r, k in ledger(session)} == {
        (date(2026, 12, 1), r, k)
        for _, r, k in expected_reports(directory, {}, only={*REMINDERS, date(2026, 12, 1)})
    }


def test_2024_reminds_the_districts_of_2024(session, sample) -> None:
    """30/11/2024 was a Saturday: the last reminder goes out on Friday 29/11 to the districts; the
    communes (which did not owe the report before 1/7/2025) get nothing."""
    run_day(date(2024, 11, 29), since=date(2024, 11, 29))
    got = ledger(session)
    units = {k.split(":")[2] for _, _, k in got}
    assert units == set(DISTRICTS_2024)
    assert {k.rsplit(":", 1)[1] for _, _, k in got} == {"1", "0"}


def test_kon_tum_plans_of_july_2022(session, sample) -> None:
    """The provincial plan due Friday 15/07/2022, the districts' plans by Sunday 31/07/2022."""
    sent: dict[date, list[str]] = {}
    for day in days(date(2022, 7, 1), date(2022, 8, 8)):
        run_day(day)
    for day_sent, _, key in ledger(session):
        kind, deadline, *_, step = key.split(":")
        sent.setdefault(day_sent, [])
        if f"{kind}:{deadline}:{step}" not in sent[day_sent]:
            sent[day_sent] = sorted([*sent[day_sent], f"{kind}:{deadline}:{step}"])
    assert sent[date(2022, 7, 1)] == ["report-reminder:kon-tum-ke-hoach-tinh-2022:14"]
    assert sent[date(2022, 7, 15)] == [
        "report-reminder:kon-tum-ke-hoach-huyen-2022:14",
        "report-reminder:kon-tum-ke-hoach-tinh-2022:0",
    ]
    assert sent[date(2022, 7, 29)] == [
        "report-reminder:kon-tum-ke-hoach-huyen-2022:0",
        "report-reminder:kon-tum-ke-hoach-huyen-2022:1",
    ]
    assert sent[date(2022, 8, 5)] == [
        "report-escalation:kon-tum-ke-hoach-huyen-2022:5",
        "report-overdue:kon-tum-ke-hoach-huyen-2022:5",
    ]
    province_head = contacts(session).by_code["kon-tum"].head_email
    assert {r for d, r, k in ledger(session) if k.startswith("report-escalation:kon-tum-ke-hoach-huyen")} == {
        province_head
    }


# ---------------------------------------------------------------- the flow, end to end


def test_the_flow_over_the_simulated_calendar_delivers_over_smtp(
    prefect_api, session, sample, reviews, smtp_env
) -> None:
    from flows.deadlines import ARTIFACT_KEY, deadline_reminders

    directory = contacts(session)
    for day in days():
        file_due(session, day)
        asyncio.run(deadline_reminders(today=day))
    got = ledger(session)
    assert got == expected_reports(directory, FILINGS) | expected_reviews(directory, reviews["open"])
    captured = smtp_env.captured
    per_recipient_day = defaultdict(int)
    for c in captured:
        per_recipient_day[(c.rcpt_tos[0], c.message["Subject"])] += 1
    assert len(captured) == len(letters(session)) and max(per_recipient_day.values()) == 1
    assert all(n == 1 for n in smtp_env.message_ids().values())
    sample_letter = captured[0].message
    parts = [p.get_content_type() for p in sample_letter.walk()]
    assert parts.index("text/plain") < parts.index("text/html") and "text/calendar" in parts
    # a second run the same day sends nothing
    again = asyncio.run(deadline_reminders(today=date(2026, 12, 7)))
    assert again["letters"] == 0 and len(smtp_env.captured) == len(captured)
    table = latest_artifact(ARTIFACT_KEY)
    text = json.dumps(json.loads(table.data), ensure_ascii=False)
    assert (
        "Người nhận được nhắc" in text
        and "tỉnh Thanh Hóa" in text
        and "Còn nợ «Báo cáo phong trào năm 2026»" in text
    )
    progress = latest_artifact(f"report-filing-{YEARLY_REPORT}-{YEAR}")  # report-filing-<year>: Quảng Trị's
    assert progress.type == "progress" and float(progress.data) == pytest.approx(
        100 * len(FILINGS) / len(ALL_COMMUNES), abs=0.1
    )


def test_remind_command_runs_the_flow(prefect_api, session, sample, smtp_env) -> None:
    result = CliRunner().invoke(_cli(), ["remind", "--today", "16/11/2026", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["letters"] == len(ALL_COMMUNES) and data["delivery"]["sent"] == len(ALL_COMMUNES)
    table = CliRunner().invoke(
        _cli(), ["remind", "--today", "16/11/2026", "--no-deliver"], env={"COLUMNS": "200"}
    )
    assert table.exit_code == 0 and "Nhắc hạn ngày 16/11/2026" in table.output
    assert len(smtp_env.captured) == len(ALL_COMMUNES)
