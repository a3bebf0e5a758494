"""The sample hierarchy (đơn vị mẫu): the seeds' localities as they stood in 2022 and after 1/7/2025.

The data lives in `models/data/sample_units.yaml` (its header explains the codes and the dates); this
module reads it, checks it and upserts it by `code`, so loading it twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import insert
from sqlmodel import Session, col, select
from sqlmodel._compat import SQLModelConfig

from models import yamlfile
from models.clock import utcnow
from models.text import fold, nfc
from models.units import Council, CouncilMember, Level, MemberRole, Unit, UnitBase

DATA = Path(__file__).parent / "data" / "sample_units.yaml"

CENTRAL_PREFIX = "central."
MOHA = "central.bo-noi-vu"

# Sample people must never reach a real mailbox.
EXAMPLE_DOMAINS = ("example.gov.vn", "example.vn")


def is_example_address(address: str) -> bool:
    """True for a syntactically valid address under example.gov.vn or example.vn (or a subdomain)."""
    try:
        domain = validate_email(address, check_deliverability=False).domain.lower()
    except EmailNotValidError:
        return False
    return any(domain == d or domain.endswith("." + d) for d in EXAMPLE_DOMAINS)


def _clean(value: Any) -> Any:
    return nfc(value) if isinstance(value, str) else value


def _example_address(value: str | None) -> str | None:
    if value is not None and not is_example_address(value):
        raise ValueError(
            f"{value!r} is not a valid address on an example domain ({', '.join(EXAMPLE_DOMAINS)})"
        )
    return value


class SampleMember(BaseModel):
    """One council member as written in the file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    role: MemberRole = MemberRole.member

    _nfc = field_validator("name", "email", mode="before")(_clean)
    _example = field_validator("email")(_example_address)


class SampleCouncil(BaseModel):
    """A unit's council (Hội đồng Thi đua – Khen thưởng) as written in the file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=250)
    office_email: str = Field(max_length=254)
    decision_series: str = Field(default="QĐ-UBND", max_length=40)
    members: list[SampleMember] = Field(min_length=1)

    _nfc = field_validator("name", "office_email", "decision_series", mode="before")(_clean)
    _example = field_validator("office_email")(_example_address)

    @model_validator(mode="after")
    def _one_chair_no_twins(self) -> SampleCouncil:
        chairs = [m for m in self.members if m.role == MemberRole.chair]
        if len(chairs) != 1:
            raise ValueError(f"{self.name}: needs exactly one chair, has {len(chairs)}")
        emails = [m.email.lower() for m in self.members]
        if len(set(emails)) != len(emails):
            raise ValueError(f"{self.name}: two members share an email")
        return self


class SampleUnit(UnitBase):
    """A unit as written in the file: the table's own fields plus references by code."""

    model_config = SQLModelConfig(extra="forbid")  # a misspelt key must not be silently dropped

    parent: str | None = None
    successor: str | None = None
    council: SampleCouncil | None = None

    _nfc = field_validator(
        "code",
        "name",
        "email",
        "head_name",
        "head_email",
        "parent",
        "successor",
        "ntm_office_email",
        mode="before",
    )(_clean)
    _example = field_validator("email", "head_email", "ntm_office_email")(_example_address)

    @model_validator(mode="after")
    def _dates_in_order(self) -> SampleUnit:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"{self.code}: valid_to {self.valid_to} before valid_from {self.valid_from}")
        return self

    def table_values(self) -> dict[str, Any]:
        """The Unit columns this entry sets by itself (links are resolved once every row has an id)."""
        values = self.model_dump(include=set(UnitBase.model_fields))
        values["name_key"] = fold(self.name)
        return values


def read_sample(path: Path = DATA, *, prefix: str = "") -> list[SampleUnit]:
    """Parse and check the sample file (or only the units whose code starts with `prefix`): unique
    codes, references that exist among them, no cycles."""
    raw = yamlfile.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = [e for e in raw.get("units", []) if str(e.get("code", "")).startswith(prefix)]
    units = [SampleUnit.model_validate(entry) for entry in entries]
    by_code: dict[str, SampleUnit] = {}
    for unit in units:
        if unit.code in by_code:
            raise ValueError(f"{path.name}: code {unit.code} appears twice")
        by_code[unit.code] = unit
    for unit in units:
        for ref in (unit.parent, unit.successor):
            if ref is not None and ref not in by_code:
                raise ValueError(f"{path.name}: {unit.code} refers to unknown code {ref}")
        _province_code(unit, by_code)  # raises on a cycle
    return units


@lru_cache(maxsize=8)
def _cached(path: Path, prefix: str = "") -> tuple[SampleUnit, ...]:
    return tuple(read_sample(path, prefix=prefix))


def ntm_office_emails(path: Path = DATA) -> dict[str, str]:
    """Province code → email of its NTM coordination office (the yearly reports go there)."""
    return {u.code: u.ntm_office_email for u in _cached(path) if u.ntm_office_email}


def _province_code(unit: SampleUnit, by_code: dict[str, SampleUnit]) -> str | None:
    """The province a unit lies in: itself for a province, None for a central body."""
    seen = set()
    current: SampleUnit | None = unit
    while current is not None:
        if current.code in seen:
            raise ValueError(f"the parents of {unit.code} form a cycle")
        seen.add(current.code)
        if current.level == Level.province:
            return current.code
        current = by_code.get(current.parent) if current.parent else None
    return None


def _assign(row: Any, values: dict[str, Any]) -> bool:
    """Set only what differs; True if anything did."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


COUNT_KEYS = (
    "units",
    "units_created",
    "units_updated",
    "councils",
    "councils_created",
    "councils_updated",
    "members",
    "members_created",
    "members_updated",
)


def upsert_units(*, session: Session, units: list[SampleUnit] | tuple[SampleUnit, ...]) -> dict[str, int]:
    """Create or update these units (by code) with their councils and members; the caller commits.

    Members are matched by email within their council; members in the database but not in the file
    are left alone (they may carry votes already cast).
    """
    counts: Counter[str] = Counter(units=len(units))
    rows = _upsert_unit_rows(session, units, counts)
    councils = _upsert_councils(session, units, rows, counts)
    _upsert_members(session, units, rows, councils, counts)
    return {key: counts[key] for key in COUNT_KEYS}


def _upsert_unit_rows(session: Session, units: Sequence[SampleUnit], counts: Counter[str]) -> dict[str, Unit]:
    """The units' rows by code, created or updated, then linked (parent, successor, province)."""
    by_code = {u.code: u for u in units}
    existing = {row.code: row for row in session.exec(select(Unit).where(col(Unit.code).in_(list(by_code))))}
    rows: dict[str, Unit] = {}
    created: set[str] = set()
    updated: set[str] = set()
    for spec in units:
        row = existing.get(spec.code)
        if row is None:
            row = Unit.model_validate(spec.table_values())
            session.add(row)
            created.add(spec.code)
        elif _assign(row, spec.table_values()):
            updated.add(spec.code)
        rows[spec.code] = row
    session.flush()

    for spec in units:  # the links need every row's id
        province = _province_code(spec, by_code)
        links = {
            "parent_id": rows[spec.parent].id if spec.parent else None,
            "successor_id": rows[spec.successor].id if spec.successor else None,
            "province_id": rows[province].id if province else None,
        }
        if _assign(rows[spec.code], links) and spec.code not in created:
            updated.add(spec.code)
    counts["units_created"] = len(created)
    counts["units_updated"] = len(updated)
    if updated:
        from models.hierarchy import units_changed

        units_changed(session)
    session.flush()
    return rows


def _unit_id(rows: dict[str, Unit], spec: SampleUnit) -> int:
    unit_id = rows[spec.code].id
    assert unit_id is not None
    return unit_id


def _upsert_councils(
    session: Session, units: Sequence[SampleUnit], rows: dict[str, Unit], counts: Counter[str]
) -> dict[int, Council]:
    """The councils of the units that have one, created or updated, by unit id."""
    unit_ids = [rows[s.code].id for s in units if s.council is not None]
    councils = {c.unit_id: c for c in session.exec(select(Council).where(col(Council.unit_id).in_(unit_ids)))}
    for spec in units:
        if spec.council is None:
            continue
        counts["councils"] += 1
        unit_id = _unit_id(rows, spec)
        values = spec.council.model_dump(exclude={"members"})
        council = councils.get(unit_id)
        if council is None:
            council = Council.model_validate(values, update={"unit_id": unit_id})
            session.add(council)
            counts["councils_created"] += 1
        elif _assign(council, values):
            counts["councils_updated"] += 1
        councils[unit_id] = council
    session.flush()
    return councils


def _upsert_members(
    session: Session,
    units: Sequence[SampleUnit],
    rows: dict[str, Unit],
    councils: dict[int, Council],
    counts: Counter[str],
) -> None:
    """The councils' members, matched by email within their council: new ones added, known ones updated."""
    council_ids = [c.id for c in councils.values()]
    members: dict[tuple[int, str], CouncilMember] = {
        (m.council_id, m.email.lower()): m
        for m in session.exec(select(CouncilMember).where(col(CouncilMember.council_id).in_(council_ids)))
    }
    new_members = []
    now = utcnow()
    for spec in units:
        if spec.council is None:
            continue
        council_id = councils[_unit_id(rows, spec)].id
        assert council_id is not None
        for member in spec.council.members:
            counts["members"] += 1
            row_m = members.get((council_id, member.email.lower()))
            if row_m is None:
                new_members.append({**member.model_dump(), "council_id": council_id, "created_at": now})
            elif _assign(row_m, {"name": member.name, "role": member.role}):
                counts["members_updated"] += 1
    if new_members:
        # One executemany: nothing needs the new members' ids, and a row-by-row flush costs ~0.3 s here.
        # On the connection: a Core executemany, not the ORM's bulk insert that `session.execute` would run.
        session.connection().execute(insert(CouncilMember), new_members)
        counts["members_created"] = len(new_members)
    session.flush()


def load_sample(*, session: Session, path: Path = DATA) -> dict[str, int]:
    """Load the sample hierarchy with councils and members; idempotent (upsert by code). The caller commits."""
    from models.hierarchy import Hierarchy

    Hierarchy.invalidate()  # names may change in place: the cached tree must be read again
    return upsert_units(session=session, units=_cached(path))


def ensure_central(*, session: Session, path: Path = DATA) -> dict[str, int]:
    """The central bodies (President, Prime Minister, MoHA) as code → id, created if missing.

    Rows already present are reused as they are (an operator may have corrected a head or an email).
    """
    central = _cached(path, CENTRAL_PREFIX)  # validating only these keeps a benchmark's start quick
    codes = [u.code for u in central]
    found = _ids_by_code(session=session, codes=codes)
    if len(found) < len(codes):
        upsert_units(session=session, units=central)
        found = _ids_by_code(session=session, codes=codes)
    return found


def _ids_by_code(*, session: Session, codes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for code, unit_id in session.exec(select(col(Unit.code), col(Unit.id)).where(col(Unit.code).in_(codes))):
        assert unit_id is not None  # read back from the table
        found[code] = unit_id
    return found
