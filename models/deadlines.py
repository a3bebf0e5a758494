"""Deadlines (hạn chót) of the campaigns, as data in `data/deadlines.yaml`, and the reports units file
against them (báo cáo đã nộp)."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select

from models.campaigns import Campaign, ensure_campaigns
from models.clock import utcnow
from models.db import UTCDateTime, insert_for
from models.units import Level

DEADLINES_FILE = Path(__file__).parent / "data" / "deadlines.yaml"

SubmitTo = Literal["ntm_office", "parent", "province"]
SUBMIT_TO_LABELS: dict[str, str] = {
    "ntm_office": "Văn phòng Điều phối nông thôn mới tỉnh",
    "parent": "cơ quan cấp trên trực tiếp",
    "province": "UBND tỉnh",
}


class Binding(BaseModel):
    """One level a deadline binds, during a period (inclusive; None = open)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    level: Level
    from_: date | None = PydanticField(default=None, alias="from")
    to: date | None = None

    def active_on(self, day: date) -> bool:
        return (self.from_ is None or self.from_ <= day) and (self.to is None or day <= self.to)


class DeadlineSpec(BaseModel):
    """A deadline as written in `data/deadlines.yaml`: yearly (day/month) or once (a date)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = PydanticField(max_length=60, pattern=r"^[a-z0-9][a-z0-9-]*$")
    campaign: str = PydanticField(max_length=60, description="the campaign's code")
    name: str = PydanticField(max_length=300, description="may hold {year}")
    short_name: str = PydanticField(max_length=120, description="may hold {year}")
    recurrence: Literal["yearly", "once"]
    day: int | None = PydanticField(default=None, ge=1, le=31)
    month: int | None = PydanticField(default=None, ge=1, le=12)
    first_year: int | None = None
    last_year: int | None = None
    due_on: date | None = None
    opens_on: date | None = None
    confirmed: bool = True
    submit_to: SubmitTo
    provinces: tuple[str, ...] = ()
    binds: tuple[Binding, ...] = PydanticField(min_length=1)
    legal_basis: str = PydanticField(max_length=500)

    @model_validator(mode="after")
    def _coherent(self) -> DeadlineSpec:
        if self.recurrence == "yearly":
            if self.day is None or self.month is None or self.due_on is not None:
                raise ValueError(f"{self.code}: a yearly deadline needs day and month, not due_on")
            date(2024, self.month, self.day)  # raises on 31/4; 29/2 is allowed (clamped in other years)
            if self.first_year and self.last_year and self.last_year < self.first_year:
                raise ValueError(f"{self.code}: last_year before first_year")
        else:
            if self.due_on is None or self.day is not None or self.month is not None:
                raise ValueError(f"{self.code}: a one-off deadline needs due_on, not day/month")
            if self.opens_on is not None and self.opens_on > self.due_on:
                raise ValueError(f"{self.code}: opens_on after due_on")
        return self

    def due_date(self, year: int) -> date | None:
        """The due date of the `year` occurrence, or None if the deadline has none that year."""
        if self.recurrence == "once":
            return self.due_on if self.due_on and self.due_on.year == year else None
        if (self.first_year and year < self.first_year) or (self.last_year and year > self.last_year):
            return None
        assert self.month is not None and self.day is not None
        return date(year, self.month, min(self.day, monthrange(year, self.month)[1]))

    def opens(self, year: int) -> date | None:
        """First day reminders may go out (the submission window), if any."""
        return self.opens_on if self.recurrence == "once" else None

    def years(self, first: int, last: int) -> list[int]:
        """The years in first..last with an occurrence."""
        return [y for y in range(first, last + 1) if self.due_date(y) is not None]

    def levels_on(self, day: date) -> frozenset[Level]:
        """The levels bound on `day`."""
        return frozenset(b.level for b in self.binds if b.active_on(day))

    def title(self, year: int) -> str:
        return self.name.format(year=year)

    def short_title(self, year: int) -> str:
        return self.short_name.format(year=year)


def load_deadlines(path: Path = DEADLINES_FILE) -> tuple[DeadlineSpec, ...]:
    """Read and check the deadlines file; raises ValueError on a malformed entry or a repeated code."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    specs = tuple(DeadlineSpec.model_validate(entry) for entry in raw.get("deadlines") or [])
    codes = [s.code for s in specs]
    if len(set(codes)) != len(codes):
        raise ValueError(f"{path.name}: a deadline code appears twice")
    return specs


@lru_cache(maxsize=4)
def deadline_specs(path: Path = DEADLINES_FILE) -> tuple[DeadlineSpec, ...]:
    """The deadlines file, read once per process."""
    return load_deadlines(path)


YEARLY_REPORT = "ntm-bao-cao-nam"  # the yearly report before 30/11: default of `thidua report`


class Deadline(SQLModel, table=True):
    """Hạn chót of a campaign, as loaded from `data/deadlines.yaml` (the file is the source)."""

    __table_args__ = (UniqueConstraint("code", name="uq_deadline_code"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=60)
    campaign_id: int = Field(foreign_key="campaign.id")
    name: str = Field(max_length=300)
    recurrence: str = Field(max_length=10, description="yearly | once")
    legal_basis: str = Field(max_length=500)
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False), description="the file's entry")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))

    def to_spec(self) -> DeadlineSpec:
        return DeadlineSpec.model_validate(self.spec)


def ensure_deadlines(
    *, session: Session, specs: tuple[DeadlineSpec, ...] | None = None
) -> dict[str, Deadline]:
    """Create or update the deadlines from the file (idempotent; the caller commits); code → row."""
    specs = deadline_specs() if specs is None else specs
    campaigns = {c.code: c for c in ensure_campaigns(session=session)}
    campaigns.update({c.code: c for c in session.exec(select(Campaign))})
    rows = {d.code: d for d in session.exec(select(Deadline))}
    for spec in specs:
        campaign = campaigns.get(spec.campaign)
        if campaign is None:
            raise ValueError(f"deadline {spec.code}: unknown campaign {spec.campaign!r}")
        values: dict[str, Any] = {
            "campaign_id": campaign.id,
            "name": spec.name,
            "recurrence": spec.recurrence,
            "legal_basis": spec.legal_basis,
            "spec": spec.model_dump(mode="json", by_alias=True),
        }
        row = rows.get(spec.code)
        if row is None:  # made race-free: a second first run at once finds it made, and updates it
            session.execute(
                insert_for(session)(Deadline).on_conflict_do_nothing(index_elements=["code"]),
                [{"code": spec.code, **values, "created_at": utcnow(), "updated_at": utcnow()}],
            )
            row = rows[spec.code] = session.exec(select(Deadline).where(Deadline.code == spec.code)).one()
        if any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
    session.flush()
    return rows


# ---------------------------------------------------------------- reports filed (báo cáo đã nộp)


class Report(SQLModel, table=True):
    """One filing of a report a unit owes for a deadline and year; a later filing is an amendment."""

    __table_args__ = (
        UniqueConstraint("deadline_id", "unit_id", "year", "sequence", name="uq_report_filing"),
        Index("ix_report_deadline_year", "deadline_id", "year"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deadline_id: int = Field(foreign_key="deadline.id")
    unit_id: int = Field(foreign_key="unit.id")
    year: int
    sequence: int = Field(default=0, description="0 the report, 1, 2… its amendments (bổ sung)")
    amendment_of: int | None = Field(default=None, foreign_key="report.id", description="the original filing")
    filed_on: date = Field(description="the day the report was received (Asia/Ho_Chi_Minh)")
    filed_at: datetime = Field(
        sa_column=Column(UTCDateTime, nullable=False), description="when it was recorded"
    )
    filed_by: str = Field(default="", max_length=200)
    file_name: str = Field(default="", max_length=255)
