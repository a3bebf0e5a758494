"""Working days: holidays from the `holidays` package plus the override table, and the due-date arithmetic.

Every exact date below was checked against holidays 0.109 (`holidays.country_holidays("VN", years=…)`)
and the notices cited in models/data/calendar_overrides.yaml.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.calendar import (
    FIRST_YEAR,
    LAST_YEAR,
    OverrideKind,
    add_working_days,
    is_working_day,
    load_overrides,
    next_working_day,
    previous_working_day,
    resume_due_date,
    working_day_on_or_after,
    working_day_on_or_before,
    working_days_between,
)

D = date

# Days off on a weekday (Mon–Fri), by period.
DAYS_OFF = {
    "Tết Dương lịch 2026 with the swapped Friday": [D(2026, 1, 1), D(2026, 1, 2)],
    "Tết 2025 (27–31/01)": [D(2025, 1, 27), D(2025, 1, 28), D(2025, 1, 29), D(2025, 1, 30), D(2025, 1, 31)],
    "Tết 2026 (29 Chạp – mùng 4; Mùng 1 = 17/02)": [D(2026, 2, d) for d in range(16, 21)],
    "Tết 2027 (Mùng 1 = Saturday 06/02)": [D(2027, 2, d) for d in (4, 5, 8, 9, 10)],
    "Giỗ Tổ 2026 on a Sunday → Monday 27/04": [D(2026, 4, 27)],
    "30/4–1/5 2025 with the swapped Friday 02/05": [D(2025, 4, 30), D(2025, 5, 1), D(2025, 5, 2)],
    "30/4–1/5 2026": [D(2026, 4, 30), D(2026, 5, 1)],
    "1/5 2027 on a Saturday → Monday 03/05": [D(2027, 4, 30), D(2027, 5, 3)],
    "Quốc khánh 2025": [D(2025, 9, 1), D(2025, 9, 2)],
    "Quốc khánh 2026 with the swapped Monday 31/08": [D(2026, 8, 31), D(2026, 9, 1), D(2026, 9, 2)],
    "Quốc khánh 2027": [D(2027, 9, 2), D(2027, 9, 3)],
    "Ngày Văn hóa Việt Nam": [D(2026, 11, 24), D(2027, 11, 24)],
}

# Saturdays declared working days.
WORKED_SATURDAYS = [D(2025, 4, 26), D(2026, 1, 10), D(2026, 8, 22)]

# Ordinary weekdays next to the holidays above (a wrong holiday table would usually break one).
ORDINARY_WEEKDAYS = [
    D(2025, 12, 31), D(2026, 1, 5), D(2026, 2, 13), D(2026, 2, 23), D(2026, 4, 24), D(2026, 4, 28),
    D(2026, 4, 29), D(2026, 5, 4), D(2026, 8, 28), D(2026, 9, 3), D(2026, 11, 23), D(2026, 11, 25),
    D(2027, 2, 3), D(2027, 2, 11), D(2027, 1, 4),
]  # fmt: skip


@pytest.mark.parametrize(
    "day", [pytest.param(d, id=f"{label}: {d}") for label, days in DAYS_OFF.items() for d in days]
)
def test_public_holidays_on_weekdays_are_not_working_days(day: date) -> None:
    assert day.weekday() < 5
    assert not is_working_day(day)


@pytest.mark.parametrize("day", WORKED_SATURDAYS, ids=str)
def test_swapped_saturdays_are_working_days(day: date) -> None:
    assert day.weekday() == 5
    assert is_working_day(day)


@pytest.mark.parametrize("day", ORDINARY_WEEKDAYS, ids=str)
def test_ordinary_weekdays_are_working_days(day: date) -> None:
    assert is_working_day(day)


@pytest.mark.parametrize("day", [D(2026, 3, 7), D(2026, 3, 8), D(2025, 4, 27), D(2026, 1, 3)], ids=str)
def test_ordinary_weekends_are_not_working_days(day: date) -> None:
    assert not is_working_day(day)


# Due dates (received, working days, due), by what the count crosses.
DUE_DATES = {
    "weekends": [
        (D(2026, 3, 6), 1, D(2026, 3, 9)),  # Friday → Monday
        (D(2026, 3, 7), 1, D(2026, 3, 9)),  # received on Saturday: day 1 is Monday
        (D(2026, 3, 2), 5, D(2026, 3, 9)),  # Monday + 5 → next Monday
        (D(2026, 3, 2), 10, D(2026, 3, 16)),
    ],
    "Tết 2025 (27–31/01)": [(D(2025, 1, 24), 1, D(2025, 2, 3))],
    "Tết 2026: off 16–20/02 (Mùng 1 Tết = Tuesday 17/02)": [
        (D(2026, 2, 13), 1, D(2026, 2, 23)),
        (D(2026, 2, 13), 5, D(2026, 2, 27)),
        (D(2026, 2, 12), 5, D(2026, 2, 26)),
        (D(2026, 2, 2), 10, D(2026, 2, 23)),
        (D(2026, 2, 17), 1, D(2026, 2, 23)),  # received (e-filed) on Mùng 1 Tết: day 1 is Monday 23/02
    ],
    "Tết 2027: off 04–05/02 and 08–10/02": [
        (D(2027, 2, 3), 1, D(2027, 2, 11)),
        (D(2027, 2, 3), 5, D(2027, 2, 17)),
    ],
    "Giỗ Tổ 2026 (Sunday 26/04, observed Monday 27/04), then 30/04–01/05": [
        (D(2026, 4, 24), 1, D(2026, 4, 28)),
        (D(2026, 4, 24), 3, D(2026, 5, 4)),
        (D(2026, 4, 29), 1, D(2026, 5, 4)),
        (D(2026, 4, 29), 5, D(2026, 5, 8)),
    ],
    "30/04–02/05 2025, Saturday 26/04 worked": [
        (D(2025, 4, 25), 1, D(2025, 4, 26)),
        (D(2025, 4, 29), 1, D(2025, 5, 5)),
    ],
    "01/05/2027 on a Saturday → Monday 03/05 off": [(D(2027, 4, 29), 1, D(2027, 5, 4))],
    "Quốc khánh": [
        (D(2025, 8, 29), 1, D(2025, 9, 3)),
        (D(2026, 8, 21), 1, D(2026, 8, 22)),  # Saturday 22/08/2026 worked…
        (D(2026, 8, 28), 1, D(2026, 9, 3)),  # …for Monday 31/08 off, with 01–02/09
        (D(2027, 9, 1), 1, D(2027, 9, 6)),
    ],
    "Ngày Văn hóa Việt Nam, 24/11/2026 (Tuesday)": [
        (D(2026, 11, 23), 1, D(2026, 11, 25)),
        (D(2026, 11, 20), 5, D(2026, 11, 30)),
    ],
    "year boundary": [
        (D(2025, 12, 31), 1, D(2026, 1, 5)),  # 01/01 holiday, 02/01 swapped off, weekend
        (D(2025, 12, 31), 5, D(2026, 1, 9)),
        (D(2025, 12, 31), 6, D(2026, 1, 10)),  # the worked Saturday counts
        (D(2026, 12, 31), 1, D(2027, 1, 4)),  # 01/01/2027 is a Friday
        (D(2026, 12, 24), 10, D(2027, 1, 8)),
        (D(2025, 12, 1), 60, D(2026, 3, 3)),  # spans Tết Dương lịch and Tết 2026
    ],
}


@pytest.mark.parametrize(
    ("received", "n", "due"),
    [
        pytest.param(received, n, due, id=f"{label}: {received} + {n}")
        for label, cases in DUE_DATES.items()
        for received, n, due in cases
    ],
)
def test_add_working_days(received: date, n: int, due: date) -> None:
    assert add_working_days(received, n) == due
    assert working_days_between(received, due) == n


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (D(2026, 3, 9), D(2026, 3, 9)),  # a working Monday is its own due date
        (D(2026, 3, 7), D(2026, 3, 9)),  # Saturday → Monday
        (D(2026, 2, 16), D(2026, 2, 23)),  # Tết
        (D(2026, 1, 10), D(2026, 1, 10)),  # the worked Saturday
    ],
)
def test_add_zero_working_days_is_the_working_day_on_or_after(start: date, expected: date) -> None:
    assert add_working_days(start, 0) == expected


def test_add_negative_working_days_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(D(2026, 3, 9), -1)


def test_working_days_between_counts_after_start_up_to_end() -> None:
    # 24/11/2026 falls inside the reminder window of the report due 30/11/2026
    assert working_days_between(D(2026, 11, 23), D(2026, 11, 30)) == 4
    assert working_days_between(D(2026, 11, 30), D(2026, 11, 23)) == -4
    assert working_days_between(D(2026, 11, 23), D(2026, 11, 23)) == 0
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 22)) == 0  # Tết: nothing used up
    assert working_days_between(D(2026, 1, 1), D(2026, 12, 31)) == 249
    assert working_days_between(D(2025, 12, 31), D(2027, 1, 1)) == 249


def test_next_and_previous_are_strict() -> None:
    assert next_working_day(D(2026, 2, 13)) == D(2026, 2, 23)
    assert next_working_day(D(2026, 2, 23)) == D(2026, 2, 24)
    assert previous_working_day(D(2026, 2, 23)) == D(2026, 2, 13)
    assert previous_working_day(D(2026, 1, 5)) == D(2025, 12, 31)
    assert previous_working_day(D(2026, 1, 12)) == D(2026, 1, 10)  # the worked Saturday


def test_on_or_after_and_on_or_before_are_inclusive() -> None:
    assert working_day_on_or_after(D(2026, 2, 13)) == D(2026, 2, 13)
    assert working_day_on_or_after(D(2026, 2, 14)) == D(2026, 2, 23)
    assert working_day_on_or_before(D(2026, 2, 23)) == D(2026, 2, 23)
    assert working_day_on_or_before(D(2026, 2, 22)) == D(2026, 2, 13)
    assert working_day_on_or_before(D(2026, 1, 4)) == D(2025, 12, 31)


class TestStoppedClock:
    """The clock stops while a dossier is back with the proposer for completion."""

    def test_remaining_days_run_again_from_the_day_it_comes_back(self) -> None:
        received = D(2026, 2, 2)
        due = add_working_days(received, 10)
        assert due == D(2026, 2, 23)
        # returned on Wednesday 04/02 after 2 working days (03/02, 04/02): 8 remain
        assert working_days_between(D(2026, 2, 4), due) == 8
        new_due = resume_due_date(due_on=due, paused_on=D(2026, 2, 4), resumed_on=D(2026, 3, 2))
        assert new_due == D(2026, 3, 12)
        assert working_days_between(D(2026, 3, 2), new_due) == 8

    def test_resuming_on_a_holiday_counts_from_the_next_working_day(self) -> None:
        due = D(2026, 11, 30)
        # 2 working days left after Thursday 26/11 (27/11, 30/11); back on 24/11/2027 (Wednesday, holiday)
        new_due = resume_due_date(due_on=due, paused_on=D(2026, 11, 26), resumed_on=D(2027, 11, 24))
        assert new_due == D(2027, 11, 26)

    def test_paused_and_resumed_the_same_day_keeps_the_due_date(self) -> None:
        due = D(2026, 3, 5)
        assert resume_due_date(due_on=due, paused_on=D(2026, 2, 13), resumed_on=D(2026, 2, 13)) == due

    def test_returned_when_already_overdue_is_due_on_return(self) -> None:
        due, paused = D(2026, 2, 13), D(2026, 2, 24)
        assert resume_due_date(due_on=due, paused_on=paused, resumed_on=D(2026, 3, 2)) == D(2026, 3, 2)
        assert resume_due_date(due_on=due, paused_on=paused, resumed_on=D(2026, 3, 7)) == D(2026, 3, 9)

    def test_resumed_before_paused_is_refused(self) -> None:
        with pytest.raises(ValueError):
            resume_due_date(due_on=D(2026, 3, 5), paused_on=D(2026, 3, 2), resumed_on=D(2026, 3, 1))


# ---- the override table -------------------------------------------------------------------------


def test_every_override_has_a_legal_basis_and_changes_what_the_package_says() -> None:
    """An entry the `holidays` package already agrees with is stale: delete it from the YAML."""
    overrides = load_overrides()
    assert overrides, "the override table is empty"
    for o in overrides:
        assert o.legal_basis and o.name
        package = holidays.country_holidays("VN", years=o.day.year)
        package_working = o.day in package.weekend_workdays or (o.day.weekday() < 5 and o.day not in package)
        if o.kind is OverrideKind.day_off:
            assert package_working, f"{o.day}: the package already has it as a day off"
            assert not is_working_day(o.day)
        else:
            assert not package_working, f"{o.day}: the package already has it as a working day"
            assert is_working_day(o.day)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "overrides:\n  - {date: 2026-13-01, kind: day_off, name: x, legal_basis: y}\n",
            "overrides.yaml: month",
        ),
        ("overrides:\n  - {date: '02/01/2026', kind: day_off, name: x, legal_basis: y}\n", "date"),
        ("overrides:\n  - {date: 2026-01-02, kind: holiday, name: x, legal_basis: y}\n", "kind"),
        ("overrides:\n  - {date: 2026-01-02, kind: day_off, name: x}\n", "legal_basis"),
        (
            "overrides:\n  - {date: 2026-01-02, kind: day_off, name: x, legal_basis: y}\n"
            "  - {date: 2026-01-02, kind: working_day, name: x, legal_basis: y}\n",
            "twice",
        ),
    ],
)
def test_malformed_override_table_is_refused(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_overrides(path)


def test_years_outside_the_lunar_calendar_are_refused() -> None:
    with pytest.raises(ValueError):
        is_working_day(D(LAST_YEAR + 1, 1, 2))
    with pytest.raises(ValueError):
        is_working_day(D(FIRST_YEAR - 1, 1, 2))


def test_ten_thousand_due_dates_are_fast() -> None:
    days = [D(2025, 1, 1) + timedelta(days=i % 1000) for i in range(10_000)]
    add_working_days(days[0], 20)  # warm the cache
    started = time.perf_counter()
    for day in days:
        working_days_between(day, add_working_days(day, 20))
    assert time.perf_counter() - started < 2.0


# ---- properties ---------------------------------------------------------------------------------

days = st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 6, 30))
counts = st.integers(min_value=0, max_value=400)


def _reference_is_working_day(day: date) -> bool:
    """Straight from the package and the YAML, without the module's caches."""
    kinds = {o.day: o.kind for o in load_overrides()}
    if day in kinds:
        return kinds[day] is OverrideKind.working_day
    package = holidays.country_holidays("VN", years=day.year)
    return day in package.weekend_workdays or (day.weekday() < 5 and day not in package)


@given(days)
def test_is_working_day_matches_the_package_and_the_overrides(day: date) -> None:
    assert is_working_day(day) == _reference_is_working_day(day)


@given(days, counts)
def test_due_date_is_a_working_day(day: date, n: int) -> None:
    assert is_working_day(add_working_days(day, n))


@given(days, counts, counts)
def test_due_date_is_monotonic_in_n(day: date, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert add_working_days(day, lo) <= add_working_days(day, hi)
    if 1 <= lo < hi:
        assert add_working_days(day, lo) < add_working_days(day, hi)


@given(days, st.integers(min_value=1, max_value=400))
def test_working_days_between_inverts_add_working_days(day: date, n: int) -> None:
    assert working_days_between(day, add_working_days(day, n)) == n


@given(days)
def test_add_zero_inverts_for_working_days_only(day: date) -> None:
    assert working_days_between(day, add_working_days(day, 0)) == (0 if is_working_day(day) else 1)


@given(days, days, days)
def test_working_days_between_is_additive_and_antisymmetric(a: date, b: date, c: date) -> None:
    assert working_days_between(a, b) == -working_days_between(b, a)
    assert working_days_between(a, b) + working_days_between(b, c) == working_days_between(a, c)


@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2001, 12, 31)), st.integers(min_value=0, max_value=60))
def test_working_days_between_matches_a_day_by_day_count(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    expected = sum(is_working_day(start + timedelta(days=i)) for i in range(1, span + 1))
    assert working_days_between(start, end) == expected


@given(days)
def test_neighbours(day: date) -> None:
    after, before = next_working_day(day), previous_working_day(day)
    assert before < day < after
    assert is_working_day(after) and is_working_day(before)
    assert working_days_between(day, after) == 1
    assert working_days_between(before, day) == (1 if is_working_day(day) else 0)
    assert working_day_on_or_after(day) == (day if is_working_day(day) else after)
    assert working_day_on_or_before(day) == (day if is_working_day(day) else before)


@given(days, st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=60), counts)
def test_stopped_clock_keeps_the_remaining_days(day: date, used: int, left: int, gap: int) -> None:
    received = working_day_on_or_after(day)
    due = add_working_days(received, used + left)
    paused = add_working_days(received, used) if used else received
    resumed = paused + timedelta(days=gap)
    new_due = resume_due_date(due_on=due, paused_on=paused, resumed_on=resumed)
    assert is_working_day(new_due)
    assert working_days_between(resumed, new_due) == (left if left else int(not is_working_day(resumed)))
