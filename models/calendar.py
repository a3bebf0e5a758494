"""Working days (ngày làm việc) for the statutory time limits of a dossier.

A working day is Monday–Friday, minus the public holidays the `holidays` package knows for Vietnam
(Tết Dương lịch, Tết Nguyên Đán, Giỗ Tổ Hùng Vương, 30/4, 1/5, Quốc khánh and its adjacent day, from
2026 Ngày Văn hóa Việt Nam, days off in lieu, and the swaps it knows), adjusted by the Prime Minister's
yearly swaps in `models/data/calendar_overrides.yaml` (extra days off; Saturdays worked instead).

Counting rules, as the procedures state them ("trong thời hạn N ngày làm việc kể từ ngày nhận đủ hồ
sơ"): the day of receipt does not count; day 1 is the first working day after it. So
`add_working_days(received, 5)` is the due date, and `working_days_between(received, day)` is how
many working days of the limit have been used up by the end of `day`.

Everything here is pure and cached per year: a year's working days are built once into a sorted
tuple of ordinals, and each call is a bisect or a set lookup.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

import yaml

from models import yamlfile

OVERRIDES_FILE = Path(__file__).parent / "data" / "calendar_overrides.yaml"

# The lunar calendar inside `holidays` covers these years; outside them Tết would silently vanish.
FIRST_YEAR = 1901
LAST_YEAR = 2100

_SATURDAY = 5


class OverrideKind(StrEnum):
    """What the Prime Minister's notice does to one day."""

    day_off = "day_off"  # a weekday declared a day off (ngày nghỉ hoán đổi)
    working_day = "working_day"  # a weekend day declared a working day (làm bù)


@dataclass(frozen=True, slots=True)
class CalendarOverride:
    """One day changed by an official notice (hoán đổi ngày làm việc), with its legal basis."""

    day: date
    kind: OverrideKind
    name: str
    legal_basis: str


def load_overrides(path: Path = OVERRIDES_FILE) -> tuple[CalendarOverride, ...]:
    """Read and check the override table; raises ValueError on a malformed or contradictory entry."""
    try:
        raw = yamlfile.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for 2026-13-01
        raise ValueError(f"{path.name}: {exc}") from exc
    seen: dict[date, CalendarOverride] = {}
    for entry in raw.get("overrides") or []:
        day = entry.get("date")
        if not isinstance(day, date):
            raise ValueError(f"{path.name}: 'date' must be an ISO date (yyyy-mm-dd), got {day!r}")
        try:
            kind = OverrideKind(entry.get("kind"))
        except ValueError:
            raise ValueError(f"{path.name}: {day}: unknown kind {entry.get('kind')!r}") from None
        name, basis = str(entry.get("name") or "").strip(), str(entry.get("legal_basis") or "").strip()
        if not name or not basis:
            raise ValueError(f"{path.name}: {day}: 'name' and 'legal_basis' are required")
        if day in seen:
            raise ValueError(f"{path.name}: {day} is listed twice")
        seen[day] = CalendarOverride(day=day, kind=kind, name=name, legal_basis=basis)
    return tuple(sorted(seen.values(), key=lambda o: o.day))


@cache
def _overrides_by_day() -> dict[date, OverrideKind]:
    return {o.day: o.kind for o in load_overrides()}


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"working days are known only for {FIRST_YEAR}–{LAST_YEAR}, not {year}")


@cache
def _working_ordinals(year: int) -> tuple[int, ...]:
    """The year's working days as sorted date ordinals (built once per year)."""
    _check_year(year)
    import holidays  # its tables cost ~0.15 s to import: only when a year is first built

    official = holidays.country_holidays("VN", years=year)
    # Saturdays the package itself knows were worked; it keeps every year's in one set.
    worked_weekends = {d for d in official.weekend_workdays if d.year == year}
    overrides = _overrides_by_day()
    day, end, result = date(year, 1, 1), date(year, 12, 31), []
    while day <= end:
        kind = overrides.get(day)
        if kind is OverrideKind.working_day:
            working = True
        elif kind is OverrideKind.day_off:
            working = False
        else:
            working = day in worked_weekends or (day.weekday() < _SATURDAY and day not in official)
        if working:
            result.append(day.toordinal())
        day += timedelta(days=1)
    return tuple(result)


@cache
def _working_set(year: int) -> frozenset[int]:
    return frozenset(_working_ordinals(year))


def clear_cache() -> None:
    """Forget the cached years and overrides (tests that swap the override table)."""
    _overrides_by_day.cache_clear()
    _working_ordinals.cache_clear()
    _working_set.cache_clear()


def is_working_day(day: date) -> bool:
    """True if `day` is a working day (ngày làm việc) for state bodies."""
    return day.toordinal() in _working_set(day.year)


def working_day_on_or_after(day: date) -> date:
    """`day` itself if it is a working day, else the first working day after it."""
    return day if is_working_day(day) else next_working_day(day)


def working_day_on_or_before(day: date) -> date:
    """`day` itself if it is a working day, else the last working day before it."""
    return day if is_working_day(day) else previous_working_day(day)


def next_working_day(day: date) -> date:
    """The first working day strictly after `day`."""
    return add_working_days(day, 1)


def previous_working_day(day: date) -> date:
    """The last working day strictly before `day`."""
    year = day.year
    ordinals = _working_ordinals(year)
    i = bisect_left(ordinals, day.toordinal()) - 1
    while i < 0:
        year -= 1
        ordinals = _working_ordinals(year)
        i = len(ordinals) - 1
    return date.fromordinal(ordinals[i])


def add_working_days(start: date, n: int) -> date:
    """The due date `n` working days after `start` (the day of receipt, which does not count).

    For n ≥ 1 this is the n-th working day strictly after `start`, whatever `start` is (a dossier
    received on Saturday is on day 1 the next Monday). For n = 0 it is `start` if that is a working
    day, else the next one: a due date is always a working day. Negative `n` raises ValueError.
    """
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    if n == 0:
        return working_day_on_or_after(start)
    year = start.year
    ordinals = _working_ordinals(year)
    i = bisect_right(ordinals, start.toordinal()) + n - 1
    while i >= len(ordinals):
        i -= len(ordinals)
        year += 1
        ordinals = _working_ordinals(year)
    return date.fromordinal(ordinals[i])


def _working_days_up_to(day: date) -> int:
    """Working days from 1 January of `day`'s year up to and including `day`."""
    return bisect_right(_working_ordinals(day.year), day.toordinal())


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`; 0 if equal, negative if `end` < `start`.

    The sign is antisymmetric: working_days_between(a, b) == -working_days_between(b, a). So for
    a due date, working_days_between(today, due) > 0 means that many working days remain, and
    working_days_between(due, today) > 0 means it is that many working days overdue.
    """
    if end < start:
        return -working_days_between(end, start)
    count = _working_days_up_to(end) - _working_days_up_to(start)
    for year in range(start.year, end.year):
        count += len(_working_ordinals(year))
    return count


def resume_due_date(*, due_on: date, paused_on: date, resumed_on: date) -> date:
    """The new due date after the clock stopped (dossier returned for completion) and restarted.

    The working days left when the dossier went back on `paused_on` (those after `paused_on` up to
    `due_on`) run again from `resumed_on`, which, like a day of receipt, does not count. A dossier
    returned on or after its due date has nothing left: it is due on `resumed_on` (or the next
    working day).
    """
    if resumed_on < paused_on:
        raise ValueError(f"resumed_on {resumed_on} is before paused_on {paused_on}")
    remaining = max(0, working_days_between(paused_on, due_on))
    return add_working_days(resumed_on, remaining)
