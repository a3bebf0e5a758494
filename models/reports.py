"""Reporting obligations (nghĩa vụ báo cáo) and the reports units file against them.

A deadline binds the units of some levels as the hierarchy stood on its due date: the 30/11/2024
report is owed by the districts of 2024, the 30/11/2026 one by the communes of the two-tier shape. A
second filing for the same deadline and year is kept as an amendment (bổ sung) of the first, never as
a second report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.clock import VN, fmt_date, today_vn, utcnow
from models.deadlines import YEARLY_REPORT, Deadline, DeadlineSpec, Report, all_deadlines, ensure_deadlines
from models.hierarchy import CENTRAL, AmbiguousUnit, Hierarchy, UnitNotFound, UnitRef
from models.units import Level

if TYPE_CHECKING:
    from models.documents import Document


class ReportRefused(ValueError):
    """A filing the app refuses; the message is Vietnamese, for officials."""


# ---------------------------------------------------------------- obligations


@dataclass(frozen=True, slots=True)
class ReportingObligation:
    """A unit owes the `year` occurrence of a deadline, due on `due_on`, to `submit_to`."""

    deadline: str
    year: int
    due_on: date
    opens_on: date | None
    unit_id: int
    unit_code: str
    unit_name: str
    province_id: int | None
    submit_to: str
    submit_to_email: str | None

    @property
    def uid(self) -> str:
        """Stable across runs: the calendar UID and the prefix of every reminder key."""
        return f"report:{self.deadline}:{self.unit_code}:{self.year}"


def receiver(spec: DeadlineSpec, unit: UnitRef, directory: Hierarchy) -> tuple[str, str | None]:
    """Who receives this unit's report (name, address)."""
    if spec.submit_to == "ntm_office":
        province = directory.province_of(unit.id)
        if province is None:
            return "Văn phòng Điều phối nông thôn mới", None
        return f"Văn phòng Điều phối nông thôn mới {province.name}", province.ntm_office_email
    target = directory.get(unit.parent_id) if spec.submit_to == "parent" else directory.province_of(unit.id)
    if target is None:
        return "cơ quan cấp trên", None
    return (target.name if target.level in CENTRAL else f"UBND {target.name}"), target.email


def expand_obligations(*, spec: DeadlineSpec, year: int, directory: Hierarchy) -> list[ReportingObligation]:
    """The units bound by the `year` occurrence: those valid on its due date, at a level bound on that
    date, in the deadline's provinces; ordered by unit code."""
    due = spec.due_date(year)
    if due is None:
        return []
    levels = spec.levels_on(due)
    provinces: set[int] | None = None
    if spec.provinces:
        provinces = {
            u.id
            for u in directory.by_level.get(Level.province, [])
            if u.code in spec.provinces and u.valid_on(due)
        }
    out = []
    for level in sorted(levels, key=lambda lv: lv.rank):
        for unit in directory.by_level.get(level, []):
            if not unit.valid_on(due) or (provinces is not None and unit.province_id not in provinces):
                continue
            name, address = receiver(spec, unit, directory)
            out.append(
                ReportingObligation(
                    deadline=spec.code,
                    year=year,
                    due_on=due,
                    opens_on=spec.opens(year),
                    unit_id=unit.id,
                    unit_code=unit.code,
                    unit_name=unit.name,
                    province_id=unit.province_id,
                    submit_to=name,
                    submit_to_email=address,
                )
            )
    return out


def filed_on_map(
    *, session: Session, deadline_ids: Mapping[str, int], years: Iterable[int]
) -> dict[tuple[str, int, int], date]:
    """(deadline code, unit id, year) → the day the report was first filed."""
    code_of = {v: k for k, v in deadline_ids.items()}
    years = sorted(set(years))
    if not code_of or not years:
        return {}
    rows = session.exec(
        select(Report.deadline_id, Report.unit_id, Report.year, func.min(Report.filed_on))
        .where(col(Report.deadline_id).in_(list(code_of)), col(Report.year).in_(years))
        .group_by(col(Report.deadline_id), col(Report.unit_id), col(Report.year))
    ).all()
    return {(code_of[d], u, y): on for d, u, y, on in rows}


# ---------------------------------------------------------------- filing


@dataclass(frozen=True)
class Filing:
    """What `file_report` recorded."""

    report: Report
    unit: UnitRef
    amendment: bool
    obligation: ReportingObligation
    document_id: int | None = None  # the yearly report's paper (documents/), when its template rendered


def _deadline(session: Session, code: str) -> tuple[Deadline, DeadlineSpec]:
    rows = ensure_deadlines(session=session)
    row = rows.get(code)
    if row is None:
        raise ReportRefused(f"không có hạn báo cáo «{code}»; có: {', '.join(sorted(rows))}")
    return row, row.to_spec()


def yearly_report(*, session: Session, year: int, province: UnitRef | None = None) -> str:
    """The code of the yearly report the plans set for `year`, of `province`'s plan when given (None: any
    province's). Deadlines are per plan: the built-in ntm-bao-cao-nam binds Quảng Trị only, until 2025;
    another province's report is the one its operator loaded (`thidua deadlines load`). YEARLY_REPORT when
    no plan sets one, so that the refusal names it."""
    codes = [
        row.code
        for row in all_deadlines(session=session)
        if row.recurrence == "yearly"
        and (spec := row.to_spec()).due_date(year) is not None
        and (province is None or spec.binds_province(province.code))
    ]
    return YEARLY_REPORT if YEARLY_REPORT in codes or not codes else codes[0]


def _bound_unit(
    *, ref: str, spec: DeadlineSpec, year: int, due: date, hierarchy: Hierarchy
) -> tuple[UnitRef, ReportingObligation]:
    try:
        unit = hierarchy.resolve(ref, on=due)
    except UnitNotFound:
        try:
            unit = hierarchy.resolve(ref)  # it exists, but not in that year's shape
        except AmbiguousUnit as exc:
            raise ReportRefused(str(exc)) from None
        except UnitNotFound as exc:
            raise ReportRefused(str(exc)) from None
    except AmbiguousUnit as exc:
        raise ReportRefused(str(exc)) from None
    for obligation in expand_obligations(spec=spec, year=year, directory=hierarchy):
        if obligation.unit_id == unit.id:
            return unit, obligation
    reason = f"{unit.name} ({unit.code}) không phải nộp «{spec.short_title(year)}» (hạn {fmt_date(due)})"
    if not unit.valid_on(due):
        reason += f": đơn vị chỉ tồn tại {unit.span}"
        successor = hierarchy.successor_on(unit, due)
        if successor is not None:
            reason += f"; đơn vị kế tục là {successor.name} ({successor.code})"
    else:
        reason += f": hạn này chỉ áp dụng cho {', '.join(lv.label for lv in spec.levels_on(due))}"
        if spec.provinces:
            reason += f" thuộc {', '.join(spec.provinces)}"
    raise ReportRefused(reason)


def file_report(
    *,
    session: Session,
    unit: str,
    year: int,
    deadline: str,
    filed_by: str = "",
    file_name: str = "",
    on: date | None = None,
    today: date | None = None,
    hierarchy: Hierarchy | None = None,
) -> Filing:
    """Record that `unit` filed the `year` report of `deadline` (on `on`, default today); the caller
    commits. A second filing becomes an amendment of the first. Raises ReportRefused."""
    today = today or today_vn()
    on = on or today
    if year > today.year:
        raise ReportRefused(
            f"không thể nộp báo cáo cho năm {year}: năm này chưa đến (hôm nay {fmt_date(today)})"
        )
    if on > today:
        raise ReportRefused(f"ngày nộp {fmt_date(on)} ở sau hôm nay ({fmt_date(today)})")
    row, spec = _deadline(session, deadline)
    due = spec.due_date(year)
    if due is None:
        span = (
            f"năm {spec.due_on.year}"
            if spec.due_on
            else f"từ năm {spec.first_year}" + (f" đến năm {spec.last_year}" if spec.last_year else "")
        )
        raise ReportRefused(f"«{spec.short_title(year)}» không có hạn nộp năm {year} (chỉ {span})")
    hierarchy = hierarchy or Hierarchy.load(session)
    unit_row, obligation = _bound_unit(ref=unit, spec=spec, year=year, due=due, hierarchy=hierarchy)
    # Filed today: the moment it is recorded; filed on an earlier day: the start of that day (VN).
    filed_at = utcnow() if on == today else datetime.combine(on, time(0, 0), VN).astimezone(UTC)
    prior = session.exec(
        select(Report)
        .where(Report.deadline_id == row.id, Report.unit_id == unit_row.id, Report.year == year)
        .order_by(col(Report.sequence))
    ).all()
    assert row.id is not None and unit_row.id is not None
    report = Report(
        deadline_id=row.id,
        unit_id=unit_row.id,
        year=year,
        sequence=len(prior),
        amendment_of=prior[0].id if prior else None,
        filed_on=on,
        filed_at=filed_at,
        filed_by=filed_by.strip()[:200],
        file_name=file_name.strip()[:255],
    )
    session.add(report)
    try:
        session.flush()
    except IntegrityError:  # the unique (deadline, unit, year, sequence): another filing won the number
        raise ReportRefused(
            f"{unit_row.name} vừa được ghi nhận nộp báo cáo ở nơi khác; hãy thử lại"
        ) from None
    paper = _yearly_paper(session, hierarchy, spec, unit_row, year, on)
    return Filing(
        report=report,
        unit=unit_row,
        amendment=bool(prior),
        obligation=obligation,
        document_id=paper.id if paper is not None else None,
    )


def _yearly_paper(
    session: Session, hierarchy: Hierarchy, spec: DeadlineSpec, unit: UnitRef, year: int, on: date
) -> Document | None:
    """A yearly report's filing makes its summary paper (báo cáo năm, documents/), dated the filing day:
    the same day again finds the same paper (same ID, same hash); a template that cannot render leaves
    the filing recorded without it (`thidua docs make --report` once mended)."""
    if spec.recurrence != "yearly":
        return None
    from documents.papers import if_renderable, yearly_report_of

    return if_renderable(
        session, lambda: yearly_report_of(session=session, hierarchy=hierarchy, unit=unit, year=year, day=on)
    )


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class FilingStatus:
    """One bound unit and what it filed for the year."""

    obligation: ReportingObligation
    province: str
    province_code: str
    filed_on: date | None
    filed_at: datetime | None
    filed_by: str
    file_name: str
    amendments: int

    @property
    def filed(self) -> bool:
        return self.filed_on is not None

    def public(self) -> dict:
        return {
            "unit_code": self.obligation.unit_code,
            "unit_name": self.obligation.unit_name,
            "province": self.province,
            "province_code": self.province_code,
            "due_on": self.obligation.due_on.isoformat(),
            "filed": self.filed,
            "filed_on": self.filed_on.isoformat() if self.filed_on else None,
            "filed_at": self.filed_at.isoformat() if self.filed_at else None,
            "filed_by": self.filed_by,
            "file_name": self.file_name,
            "amendments": self.amendments,
        }


def filing_status(
    *,
    session: Session,
    year: int,
    deadline: str,
    province: str | None = None,
    hierarchy: Hierarchy | None = None,
) -> tuple[DeadlineSpec, list[FilingStatus]]:
    """Every unit bound by the `year` occurrence (optionally in one province), filed or not."""
    row, spec = _deadline(session, deadline)
    if spec.due_date(year) is None:
        raise ReportRefused(f"«{spec.short_title(year)}» không có hạn nộp năm {year}")
    hierarchy = hierarchy or Hierarchy.load(session)
    obligations = expand_obligations(spec=spec, year=year, directory=hierarchy)
    if province:
        due = spec.due_date(year)
        try:
            target = hierarchy.resolve(province, on=due)
        except (UnitNotFound, AmbiguousUnit) as exc:
            raise ReportRefused(str(exc)) from None
        if target.level != Level.province:
            raise ReportRefused(f"{target.name} không phải là tỉnh/thành phố")
        obligations = [o for o in obligations if o.province_id == target.id]
    reports = session.exec(
        select(Report).where(Report.deadline_id == row.id, Report.year == year).order_by(col(Report.sequence))
    ).all()
    by_unit: dict[int, list[Report]] = {}
    for r in reports:
        by_unit.setdefault(r.unit_id, []).append(r)
    out = []
    for o in obligations:
        filings = by_unit.get(o.unit_id, [])
        first = filings[0] if filings else None
        prov = hierarchy.get(o.province_id)
        out.append(
            FilingStatus(
                obligation=o,
                province=prov.name if prov else "",
                province_code=prov.code if prov else "",
                filed_on=first.filed_on if first else None,
                filed_at=first.filed_at if first else None,
                filed_by=first.filed_by if first else "",
                file_name=first.file_name if first else "",
                amendments=max(0, len(filings) - 1),
            )
        )
    out.sort(key=lambda s: (s.province_code, s.obligation.unit_code))
    return spec, out
