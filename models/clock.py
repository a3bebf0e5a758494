"""Time: UTC in storage, Asia/Ho_Chi_Minh for people, dd/mm/yyyy on screen and in mail."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_vn() -> date:
    return datetime.now(VN).date()


# A date that has already happened (a dossier received, a meeting held) may be at most this far ahead of
# today in Vietnam: room for a clock or a time zone a little off, not for a typo in the year.
FUTURE_MARGIN = timedelta(days=1)


def latest_date(today: date | None = None) -> date:
    """The latest date accepted for something that has already happened (day arithmetic: 29/02 is safe)."""
    return (today or today_vn()) + FUTURE_MARGIN


def fmt_date(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def fmt_datetime(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN).strftime("%H:%M %d/%m/%Y")


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier; 29/02 becomes 28/02 when that year has no leap day."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def parse_date(text: str) -> date:
    """Parse dd/mm/yyyy (also accepts ISO yyyy-mm-dd); raises ValueError with a Vietnamese message."""
    raw = (text or "").strip()
    if match := _DMY.fullmatch(raw):
        try:
            return date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            raise ValueError(f"ngày «{raw}» không hợp lệ, cần dạng dd/mm/yyyy") from None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"ngày «{raw}» không hợp lệ, cần dạng dd/mm/yyyy")
