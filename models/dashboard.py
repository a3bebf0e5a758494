"""The figures of the operators' and councils' dashboard (bảng theo dõi), as plain queries.

`flows/dashboard.py` publishes them as Prefect artifacts with stable keys; tests call these functions
directly. Each query is one aggregate over the nominations (a national year is a few hundred thousand
rows), mapped onto the unit tree in memory. What they show is what a council needs: codes, nominee
names, units and counts, never an address.

A dossier belongs to the province of its proposing unit (as that unit stood: a 2022 commune of Bến Tre
counts under tỉnh Bến Tre, a 2026 one under tỉnh Vĩnh Long), whichever level now holds it.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlmodel import Session, col

from models import yamlfile
from models.awards import AwardForm, catalogue
from models.calendar import working_days_between
from models.campaigns import NTM_2021_2025, Campaign
from models.clock import fmt_date
from models.hierarchy import Hierarchy, UnitRef
from models.nominations import AWAITING, Nomination, Status
from models.text import fold
from models.units import Level

logger = logging.getLogger(__name__)

TARGETS = Path(__file__).parent / "data" / "targets.yaml"
CENTRAL = "Trung ương"
# Columns of the pipeline table, in the order a dossier meets them.
STATUS_COLUMNS = (
    Status.submitted,
    Status.under_review,
    Status.forwarded,
    Status.recommended,
    Status.returned,
    Status.frozen,
    Status.conferred,
    Status.rejected,
    Status.withdrawn,
)
IN_PROGRESS = frozenset(
    {Status.submitted, Status.under_review, Status.forwarded, Status.recommended, Status.frozen}
)
MAX_CODES_LISTED = 20


# --- provinces ------------------------------------------------------------------------------------


def home_province(hierarchy: Hierarchy, unit_id: int) -> UnitRef | None:
    """The province a unit lies in (itself for a province); None for the central bodies."""
    unit = hierarchy.get(unit_id)
    return unit if unit.level == Level.province else hierarchy.province_of(unit_id)


def province_label(province: UnitRef | None) -> str:
    """'tỉnh Quảng Trị (đến 30/06/2025)': the dates tell apart a province before and after a merger."""
    if province is None:
        return CENTRAL
    if province.valid_to is not None:
        return f"{province.name} (đến {fmt_date(province.valid_to)})"
    if province.valid_from.year > 1900:
        return f"{province.name} (từ {fmt_date(province.valid_from)})"
    return province.name


def _province_order(province: UnitRef | None) -> tuple:
    return (
        province is None,
        fold(province.name) if province else "",
        province.valid_from if province else date.min,
    )


# --- nominations by province, level and status ----------------------------------------------------


@dataclass
class PipelineRow:
    """How many dossiers of one province a level holds, by status."""

    province_code: str | None
    province: str
    level: Level
    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def pipeline_by_province(*, session: Session, hierarchy: Hierarchy) -> list[PipelineRow]:
    """Dossiers per province of origin and level now holding them, with a count per status."""
    keys = (col(Nomination.origin_unit_id), col(Nomination.current_unit_id), col(Nomination.status))
    stmt = select(*keys, func.count()).where(col(Nomination.status) != Status.draft).group_by(*keys)
    rows: dict[tuple[str | None, Level], tuple[UnitRef | None, PipelineRow]] = {}
    for origin, current, status, count in session.execute(stmt):
        province = home_province(hierarchy, origin)
        level = hierarchy.get(current).level
        key = (province.code if province else None, level)
        if key not in rows:
            rows[key] = (province, PipelineRow(key[0], province_label(province), level))
        rows[key][1].counts[Status(status)] += count
    ordered = sorted(rows.values(), key=lambda pr: (_province_order(pr[0]), pr[1].level.rank))
    return [row for _, row in ordered]


def pipeline_table(rows: list[PipelineRow]) -> list[dict]:
    """The artifact's rows (Vietnamese headers), with a last row for the whole country."""
    table = [
        {
            "Tỉnh/thành phố": r.province,
            "Cấp đang giữ hồ sơ": r.level.label,
            **{s.label: r.counts[s] for s in STATUS_COLUMNS},
            "Tổng": r.total,
        }
        for r in rows
    ]
    total: Counter = sum((r.counts for r in rows), Counter())
    table.append(
        {
            "Tỉnh/thành phố": "Tổng cộng",
            "Cấp đang giữ hồ sơ": "",
            **{s.label: total[s] for s in STATUS_COLUMNS},
            "Tổng": sum(total.values()),
        }
    )
    return table


# --- overdue reviews ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverdueItem:
    code: str
    nominee: str
    due_on: date
    days_overdue: int  # working days after the due date


@dataclass
class OverdueUnit:
    """A council with reviews past their due date, most overdue first."""

    unit_code: str
    unit: str
    province: str
    level: Level
    items: list[OverdueItem]

    @property
    def days_max(self) -> int:
        return self.items[0].days_overdue


def overdue_reviews(*, session: Session, hierarchy: Hierarchy, today: date) -> list[OverdueUnit]:
    """Dossiers on a council's agenda more than one working day past their due date, by council.

    A dossier returned for completion or held (frozen) is not on an agenda: its clock is stopped.
    """
    from models.nominations import Nominee

    stmt = (
        select(
            col(Nomination.code), col(Nominee.name), col(Nomination.current_unit_id), col(Nomination.due_on)
        )
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(col(Nomination.status).in_([s.value for s in AWAITING]), col(Nomination.due_on) < today)
    )
    by_unit: dict[int, list[OverdueItem]] = defaultdict(list)
    for code, nominee, unit_id, due_on in session.execute(stmt):
        days = working_days_between(due_on, today)
        if days > 0:
            by_unit[unit_id].append(OverdueItem(code, nominee, due_on, days))
    out = []
    for unit_id, items in by_unit.items():
        unit = hierarchy.get(unit_id)
        items.sort(key=lambda i: (-i.days_overdue, i.code))
        out.append(
            OverdueUnit(
                unit.code, unit.name, province_label(home_province(hierarchy, unit_id)), unit.level, items
            )
        )
    out.sort(key=lambda u: (-u.days_max, -len(u.items), u.unit_code))
    return out


def overdue_table(units: list[OverdueUnit]) -> list[dict]:
    """The artifact's rows: one per council, its overdue dossiers listed with their delay."""
    table = []
    for u in units:
        listed = ", ".join(f"{i.code} ({i.days_overdue} ngày)" for i in u.items[:MAX_CODES_LISTED])
        if len(u.items) > MAX_CODES_LISTED:
            listed += f", … và {len(u.items) - MAX_CODES_LISTED} hồ sơ khác"
        table.append(
            {
                "Đơn vị đang xét": u.unit,
                "Tỉnh/thành phố": u.province,
                "Cấp": u.level.label,
                "Số hồ sơ quá hạn": len(u.items),
                "Quá hạn nhiều nhất (ngày làm việc)": u.days_max,
                "Hạn xét sớm nhất": fmt_date(min(i.due_on for i in u.items)),
                "Hồ sơ (số ngày quá hạn)": listed,
            }
        )
    return table


# --- the yearly report (báo cáo năm) --------------------------------------------------------------


@dataclass(frozen=True)
class FilingProgress:
    """Who has filed this year's report on the movement (báo cáo năm, due 30/11)."""

    year: int
    title: str
    due_on: date
    filed: int
    expected: int
    missing: tuple[str, ...]  # the units that still owe it, by province

    @property
    def percent(self) -> float:
        return 100.0 if self.expected == 0 else round(100.0 * self.filed / self.expected, 1)


def report_filing(*, session: Session, year: int) -> FilingProgress | None:
    """The yearly report's filing for `year` (models.reports), or None when it has no occurrence that year."""
    from models.deadlines import YEARLY_REPORT
    from models.reports import ReportRefused, filing_status

    try:
        spec, statuses = filing_status(session=session, year=year, deadline=YEARLY_REPORT)
    except ReportRefused as exc:
        logger.info("no yearly report to follow in %d: %s", year, exc)
        return None
    missing = tuple(
        f"{s.obligation.unit_name} ({s.province})" if s.province else s.obligation.unit_name
        for s in statuses
        if not s.filed
    )
    due_on = spec.due_date(year)
    assert due_on is not None  # filing_status refuses a year without one
    return FilingProgress(
        year, spec.short_title(year), due_on, len(statuses) - len(missing), len(statuses), missing
    )


# --- the campaign's summary and the provinces' targets --------------------------------------------


class Target(BaseModel):
    """One figure a province's plan aims for by 2025."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    value: float
    unit: str
    share: float | None = None
    note: str | None = None

    def describe(self) -> str:
        """'82 xã (87,2%)', '80%'."""
        text = (
            f"{_number(self.value)}{self.unit}" if self.unit == "%" else f"{_number(self.value)} {self.unit}"
        )
        if self.share is not None:
            text += f" ({_number(self.share)}%)"
        return text


class ProvincePlan(BaseModel):
    """A province's plan for the movement: its number, date and targets (models/data/targets.yaml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    province: str
    successors: tuple[str, ...] = ()
    plan: str
    issued_on: date
    issuer: str
    title: str
    source: str
    targets: tuple[Target, ...]


def _number(value: float) -> str:
    """Vietnamese decimal comma: 87.2 → '87,2', 82.0 → '82'."""
    return f"{value:g}".replace(".", ",")


@cache
def province_plans(path: Path = TARGETS) -> tuple[ProvincePlan, ...]:
    raw = yamlfile.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(ProvincePlan.model_validate(p) for p in raw.get("plans") or [])


@dataclass
class Tally:
    """A province's dossiers of the campaign, by outcome."""

    code: str | None
    name: str
    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def in_progress(self) -> int:
        return sum(self.counts[s] for s in IN_PROGRESS)


@dataclass
class CampaignSummary:
    name: str
    legal_basis: str
    conferred_by_form: list[tuple[AwardForm, int]]
    totals: Counter
    provinces: list[Tally]
    plans: list[tuple[ProvincePlan, list[Tally]]]

    @property
    def conferred(self) -> int:
        return sum(n for _, n in self.conferred_by_form)


def campaign_summary(
    *, session: Session, hierarchy: Hierarchy, campaign_code: str = NTM_2021_2025.code
) -> CampaignSummary:
    """What the campaign has conferred (by the form actually awarded), rejected and returned, by province."""
    campaign = session.scalars(select(Campaign).where(col(Campaign.code) == campaign_code)).first()
    name, basis = (campaign.name, campaign.legal_basis) if campaign else (campaign_code, "")
    forms = catalogue().forms
    by_form: Counter = Counter()
    totals: Counter = Counter()
    tallies: dict[str | None, tuple[UnitRef | None, Tally]] = {}
    if campaign is not None:
        stmt = (
            select(
                col(Nomination.origin_unit_id),
                col(Nomination.status),
                func.coalesce(Nomination.awarded_code, Nomination.award_code),
                func.count(),
            )
            .where(col(Nomination.campaign_id) == campaign.id, col(Nomination.status) != Status.draft)
            .group_by(
                col(Nomination.origin_unit_id),
                col(Nomination.status),
                func.coalesce(Nomination.awarded_code, Nomination.award_code),
            )
        )
        for origin, status, form, count in session.execute(stmt):
            status = Status(status)
            totals[status] += count
            if status == Status.conferred:
                by_form[form] += count
            province = home_province(hierarchy, origin)
            code = province.code if province else None
            if code not in tallies:
                tallies[code] = (province, Tally(code, province_label(province)))
            tallies[code][1].counts[status] += count
    provinces = [t for _, t in sorted(tallies.values(), key=lambda pt: _province_order(pt[0]))]
    by_code = {t.code: t for t in provinces}
    plans = []
    for plan in province_plans():
        units = [c for c in (plan.province, *plan.successors) if c in hierarchy.by_code]
        plans.append(
            (plan, [by_code.get(c) or Tally(c, province_label(hierarchy.by_code[c])) for c in units])
        )
    conferred = sorted(((forms[c], n) for c, n in by_form.items() if c in forms), key=lambda fn: fn[0].rank)
    return CampaignSummary(name, basis, conferred, totals, provinces, plans)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |"


def campaign_markdown(summary: CampaignSummary, *, as_of: date) -> str:
    """The summary as markdown for the artifact `campaign-summary`."""
    t = summary.totals
    lines = [f"# Phong trào «{summary.name}»", ""]
    if summary.legal_basis:
        lines.append(f"Căn cứ: {summary.legal_basis}. ")
    lines += [
        f"Số liệu đến ngày {fmt_date(as_of)}.",
        "",
        "## Kết quả khen thưởng",
        "",
        _row("Hình thức khen thưởng", "Số đã khen"),
        "| --- | ---: |",
    ]
    lines += [_row(form.name, n) for form, n in summary.conferred_by_form] or [_row("_(chưa có)_", 0)]
    lines += [
        _row("**Cộng**", f"**{summary.conferred}**"),
        "",
        f"- Không khen thưởng: **{t[Status.rejected]}**",
        f"- Trả lại để bổ sung (đang chờ đơn vị bổ sung): **{t[Status.returned]}**",
        f"- Hội đồng đã đề nghị, chờ người đứng đầu quyết định: **{t[Status.recommended]}**",
        f"- Đang xét hoặc đang trình cấp trên: **{sum(t[s] for s in IN_PROGRESS - {Status.recommended})}**",
        f"- Tổng số hồ sơ của phong trào: **{sum(t.values())}**",
        "",
        "## Theo tỉnh, thành phố (nơi đề nghị)",
        "",
        _row("Tỉnh/thành phố", "Hồ sơ", "Đã khen", "Không khen", "Trả lại", "Đang xét"),
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        _row(
            p.name,
            p.total,
            p.counts[Status.conferred],
            p.counts[Status.rejected],
            p.counts[Status.returned],
            p.in_progress,
        )
        for p in summary.provinces
    ] or [_row("_(chưa có hồ sơ)_", 0, 0, 0, 0, 0)]
    if summary.plans:
        lines += [
            "",
            "## Chỉ tiêu đến năm 2025 theo kế hoạch của các tỉnh",
            "",
            "Hệ thống chưa theo dõi việc công nhận xã, huyện đạt chuẩn; chỉ tiêu ghi để Hội đồng đối chiếu "
            "với kết quả khen thưởng của tỉnh.",
        ]
    for plan, tallies in summary.plans:
        lines += [
            "",
            f"### {plan.issuer.removeprefix('Ủy ban nhân dân ')} — {plan.plan} ngày {fmt_date(plan.issued_on)}",
            "",
            f"_{plan.title}_",
            "",
        ]
        for tally in tallies:
            lines.append(
                f"- Hồ sơ của {tally.name}: **{tally.total}**, đã khen **{tally.counts[Status.conferred]}**, "
                f"không khen {tally.counts[Status.rejected]}, trả lại {tally.counts[Status.returned]}, "
                f"đang xét {tally.in_progress}"
            )
        if not tallies:
            lines.append("- Chưa có đơn vị này trong hệ thống.")
        lines += ["", _row("Chỉ tiêu", "Mục tiêu đến 2025", "Ghi chú"), "| --- | --- | --- |"]
        lines += [_row(x.label, x.describe(), x.note or "") for x in plan.targets]
    return "\n".join(lines) + "\n"
