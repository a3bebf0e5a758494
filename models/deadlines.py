"""Deadlines (thời hạn) of the campaigns, as data, and the reports units file against them (báo cáo đã nộp).

Each deadline binds the provinces (and years) whose plan sets it, with the plan as its legal basis. The
built-in ones live in `data/deadlines.yaml`; operators add or confirm a province's own from a file
(`thidua deadlines load FILE.yaml`, `load_deadline_file`), which the built-in file never overwrites.
A deadline marked `confirmed: false` is shown (dashboard, `thidua deadlines list`) but sends nothing."""

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

from models import yamlfile
from models.campaigns import Campaign, ensure_campaigns
from models.clock import fmt_date, utcnow
from models.db import UTCDateTime, insert_for
from models.units import Level

DEADLINES_FILE = Path(__file__).parent / "data" / "deadlines.yaml"

SubmitTo = Literal["ntm_office", "parent", "province"]
# Who hears of a report still missing at the last escalation step, besides the unit's head:
#   receiver     the body the report is owed to (e.g. Quảng Trị's NTM coordination office, which
#                compiles the reports for the provincial committee: Decision 1872/QĐ-UBND, VII.4)
#   parent_head  the head of the unit's parent (the chairman of the level above)
EscalateTo = Literal["receiver", "parent_head"]
BUILT_IN = "built-in"  # Deadline.source of the rows from data/deadlines.yaml
MAX_FILE_BYTES = 256 * 1024  # an operator's deadlines file: a province's plan is a few entries
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
    escalate_to: EscalateTo = "receiver"
    provinces: tuple[str, ...] = ()
    binds: tuple[Binding, ...] = PydanticField(min_length=1)
    legal_basis: str = PydanticField(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _coherent(self) -> DeadlineSpec:
        if not self.legal_basis.strip():
            raise ValueError(f"{self.code}: legal_basis is empty")
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

    def binds_province(self, code: str) -> bool:
        """Whether units of the province with that code owe it (no list: every province)."""
        return not self.provinces or code in self.provinces

    def title(self, year: int) -> str:
        return self.name.format(year=year)

    def short_title(self, year: int) -> str:
        return self.short_name.format(year=year)


def load_deadlines(path: Path = DEADLINES_FILE) -> tuple[DeadlineSpec, ...]:
    """Read and check the deadlines file; raises ValueError on a malformed entry or a repeated code."""
    raw = yamlfile.safe_load(path.read_text(encoding="utf-8")) or {}
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
    """Thời hạn of a campaign, from `data/deadlines.yaml` or an operator's file (`source`)."""

    __table_args__ = (UniqueConstraint("code", name="uq_deadline_code"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=60)
    campaign_id: int = Field(foreign_key="campaign.id")
    name: str = Field(max_length=300)
    recurrence: str = Field(max_length=10, description="yearly | once")
    legal_basis: str = Field(max_length=500)
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False), description="the file's entry")
    source: str = Field(
        default=BUILT_IN,
        max_length=300,
        sa_column_kwargs={"server_default": BUILT_IN},
        description="built-in (data/deadlines.yaml) or the operator's file it was loaded from",
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))

    def to_spec(self) -> DeadlineSpec:
        return DeadlineSpec.model_validate(self.spec)


def ensure_deadlines(
    *, session: Session, specs: tuple[DeadlineSpec, ...] | None = None, source: str = BUILT_IN
) -> dict[str, Deadline]:
    """Create or update the deadlines from the built-in file, or from an operator's file when `source`
    names it (idempotent; the caller commits); code → row. The built-in file never overwrites a row an
    operator loaded; an operator's file overwrites any row of the same code."""
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
            "source": source,
        }
        row = rows.get(spec.code)
        if source == BUILT_IN and row is not None and row.source != BUILT_IN:
            continue  # an operator loaded (or confirmed) this one from a province's file: theirs stands
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


# ---------------------------------------------------------------- an operator's deadlines file


class DeadlineFileRefused(ValueError):
    """An operator's deadlines file that cannot be loaded; the message lists every problem (Vietnamese)."""


def _entry_problems(index: int, entry: object) -> list[str]:
    """What is wrong with one entry, in words an official understands (the legal basis first)."""
    if not isinstance(entry, dict):
        return [f"mục {index}: phải là một hạn (code, name, …), không phải «{str(entry)[:40]}»"]
    label = f"mục {index} ({str(entry.get('code') or 'chưa có mã')[:60]})"
    problems = []
    basis = entry.get("legal_basis")
    if not isinstance(basis, str) or not basis.strip():
        problems.append(
            f"{label}: thiếu căn cứ pháp lý (legal_basis) — ghi số, ngày ban hành và mục, điều của văn bản "
            "quy định thời hạn này (ví dụ «Quyết định số 1872/QĐ-UBND ngày 15/7/2022, mục VII.4»)"
        )
    try:
        DeadlineSpec.model_validate(entry)
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        for err in errors() if callable(errors) else [{"loc": (), "msg": str(exc)}]:
            where = ".".join(str(x) for x in err.get("loc", ())) or "mục"
            if where == "legal_basis" and problems:
                continue
            problems.append(f"{label}: {where}: {err.get('msg', '')}")
    return problems


def read_deadline_file(path: Path) -> tuple[DeadlineSpec, ...]:
    """Read an operator's deadlines file safely (size bound, a safe YAML loader, every entry checked);
    raises DeadlineFileRefused listing every problem, before anything is stored."""
    try:
        size = path.stat().st_size
    except OSError:
        raise DeadlineFileRefused(f"không đọc được tệp «{path}»") from None
    if not path.is_file():
        raise DeadlineFileRefused(f"«{path}» không phải là tệp")
    if size > MAX_FILE_BYTES:
        raise DeadlineFileRefused(
            f"tệp «{path.name}» quá lớn ({size // 1024} KB; tối đa {MAX_FILE_BYTES // 1024} KB)"
        )
    try:
        raw = yamlfile.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise DeadlineFileRefused(f"tệp «{path.name}» không phải văn bản UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (dòng {mark.line + 1})" if mark is not None else ""
        raise DeadlineFileRefused(f"tệp «{path.name}» không đúng định dạng YAML{where}") from None
    entries = raw.get("deadlines") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise DeadlineFileRefused(f"tệp «{path.name}» phải có danh sách «deadlines:» với ít nhất một hạn")
    problems = [p for i, entry in enumerate(entries, 1) for p in _entry_problems(i, entry)]
    if problems:
        raise DeadlineFileRefused("\n".join(problems))
    specs = tuple(DeadlineSpec.model_validate(e) for e in entries)
    codes = [s.code for s in specs]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise DeadlineFileRefused(f"mã hạn lặp lại trong tệp: {', '.join(repeated)}")
    return specs


def load_deadline_file(
    *, session: Session, path: Path, province_codes: set[str] | None = None
) -> list[Deadline]:
    """Add or replace (by code) the deadlines of an operator's file; the caller commits. The provinces it
    names must be known units (`province_codes`) and its campaigns known campaigns."""
    specs = read_deadline_file(path)
    if province_codes is not None:
        unknown = sorted({p for s in specs for p in s.provinces if p not in province_codes})
        if unknown:
            raise DeadlineFileRefused(f"không có tỉnh/thành phố mã: {', '.join(unknown)}")
    campaigns = {c.code for c in ensure_campaigns(session=session)} | {
        c.code for c in session.exec(select(Campaign))
    }
    missing = sorted({s.campaign for s in specs if s.campaign not in campaigns})
    if missing:
        raise DeadlineFileRefused(f"không có phong trào (campaign) mã: {', '.join(missing)}")
    rows = ensure_deadlines(session=session, specs=specs, source=path.name[:300])
    return [rows[s.code] for s in specs]


def all_deadlines(*, session: Session) -> list[Deadline]:
    """Every deadline, built-in and loaded, by code (the built-in file applied first)."""
    ensure_deadlines(session=session)
    return list(session.exec(select(Deadline).order_by(col(Deadline.code))))


def next_due(spec: DeadlineSpec, today: date) -> date | None:
    """The first due date on or after `today` (this year's or next year's), if any."""
    for year in (today.year, today.year + 1):
        due = spec.due_date(year)
        if due is not None and due >= today:
            return due
    return None


def deadline_summary(row: Deadline, today: date) -> dict[str, Any]:
    """One deadline as operators read it (`thidua deadlines list`, the dashboard's `deadlines` table)."""
    spec = row.to_spec()
    due = next_due(spec, today)
    if spec.recurrence == "yearly":
        when = f"hằng năm {spec.day:02d}/{spec.month:02d} ({spec.first_year or ''}–{spec.last_year or ''})"
    else:
        when = fmt_date(spec.due_on)
    return {
        "code": spec.code,
        "name": spec.name,
        "when": when,
        "next_due": due.isoformat() if due else None,
        "provinces": list(spec.provinces),
        "levels": sorted({b.level.value for b in spec.binds}),
        "confirmed": spec.confirmed,
        "legal_basis": spec.legal_basis,
        "source": row.source,
    }


def deadlines_table(rows: list[Deadline], today: date) -> list[dict[str, str]]:
    """The dashboard's table of deadlines: the unconfirmed ones shown as such (they send nothing)."""
    out = []
    for row in rows:
        d = deadline_summary(row, today)
        out.append(
            {
                "Thời hạn": d["name"].format(year=today.year),
                "Ngày": d["when"],
                "Hạn tới": fmt_date(date.fromisoformat(d["next_due"])) if d["next_due"] else "",
                "Tỉnh áp dụng": ", ".join(d["provinces"]) or "mọi tỉnh",
                "Xác nhận": "đã xác nhận" if d["confirmed"] else "chưa xác nhận — không gửi nhắc",
                "Căn cứ": d["legal_basis"],
            }
        )
    return out
