"""Campaigns (phong trào thi đua), their deadlines (hạn chót, data in `data/deadlines.yaml`), the reports
units file against them (báo cáo), and the ledger of reminders sent (nhắc hạn)."""

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
from sqlmodel import Field, Session, SQLModel, col, select

from models.clock import utcnow
from models.db import UTCDateTime, insert_for
from models.units import Level


class CampaignBase(SQLModel):
    code: str = Field(max_length=60)
    name: str = Field(max_length=300)
    legal_basis: str = Field(max_length=300)
    starts_on: date = Field(description="first day of the movement's period")
    ends_on: date = Field(description="last day of the movement's period")
    accepts_from: date = Field(description="first dossier date accepted for the movement's awards")
    accepts_until: date = Field(description="last dossier date accepted (final review included)")
    award_kind: str = Field(default="movement", max_length=30, description="Law Art. 8: kind of commendation")

    @property
    def years(self) -> int:
        return self.ends_on.year - self.starts_on.year + 1


class Campaign(CampaignBase, table=True):
    __table_args__ = (UniqueConstraint("code", name="uq_campaign_code"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


NTM_2021_2025 = CampaignBase(
    code="ntm-2021-2025",
    name="Cả nước chung sức xây dựng nông thôn mới giai đoạn 2021–2025",
    legal_basis="Quyết định số 587/QĐ-TTg ngày 18/5/2022 của Thủ tướng Chính phủ",
    starts_on=date(2021, 1, 1),
    ends_on=date(2025, 12, 31),
    accepts_from=date(2021, 1, 1),
    # The final review (tổng kết) of 2025 proposes awards that councils decide through 2026.
    accepts_until=date(2026, 12, 31),
)

CAMPAIGNS = (NTM_2021_2025,)


def ensure_campaigns(*, session: Session) -> list[Campaign]:
    """Create the known campaigns if missing (idempotent)."""
    # INSERT … ON CONFLICT DO NOTHING: two first runs at once (two workers) must not both insert.
    session.execute(insert_for(session)(Campaign).on_conflict_do_nothing(index_elements=["code"]),
                    [{**spec.model_dump(), "created_at": utcnow()} for spec in CAMPAIGNS])
    rows = {c.code: c for c in session.exec(select(Campaign).where(col(Campaign.code).in_([s.code for s in CAMPAIGNS])))}
    return [rows[spec.code] for spec in CAMPAIGNS]


# ---------------------------------------------------------------- deadlines (hạn chót) as data

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
            "campaign_id": campaign.id, "name": spec.name, "recurrence": spec.recurrence,
            "legal_basis": spec.legal_basis, "spec": spec.model_dump(mode="json", by_alias=True),
        }
        row = rows.get(spec.code)
        if row is None:  # made race-free: a second first run at once finds it made, and updates it
            session.execute(insert_for(session)(Deadline).on_conflict_do_nothing(index_elements=["code"]),
                            [{"code": spec.code, **values, "created_at": utcnow(), "updated_at": utcnow()}])
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
    filed_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False), description="when it was recorded")
    filed_by: str = Field(default="", max_length=200)
    file_name: str = Field(default="", max_length=255)


# ---------------------------------------------------------------- the reminders' ledger


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
