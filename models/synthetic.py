"""A national-size synthetic hierarchy for benchmarks (đơn vị giả lập toàn quốc).

Two shapes, which may live in the same database as "before" and "after" 1/7/2025:
- "2022": 63 provinces, 705 districts, 10,599 communes, valid 1/1/2021–30/6/2025;
- "2025": 34 provinces, 3,321 communes (no district), valid from 1/7/2025.
Every unit gets a council of seven (chair = the unit's head, one standing member, five members).
Rows go in by bulk inserts, level by level, so the full 2022 shape takes a few seconds on SQLite.

Codes start with `syn.<shape>.` (never clashing with the sample), names are real place-name stems
plus a number that is unique in the shape ("xã Tân Phú 00421"), so `fold`/`slug` and look-ups by
name behave as on real data. The same seed always gives the same names.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any, Literal

from sqlalchemy import bindparam, func, insert, update
from sqlmodel import Session, col, select

from models.clock import utcnow
from models.hierarchy import units_changed
from models.sample import MOHA, ensure_central
from models.text import fold
from models.units import Council, CouncilMember, Level, MemberRole, Unit

Shape = Literal["2022", "2025"]

PREFIX = "syn."
COUNCIL = "Hội đồng Thi đua – Khen thưởng"
COUNCIL_SIZE = 7  # chair + 1 standing + 5 members


@dataclass(frozen=True)
class ShapeSpec:
    provinces: int
    districts: int
    communes: int
    valid_from: date
    valid_to: date | None


SHAPES: dict[Shape, ShapeSpec] = {
    # General Statistics Office counts for 2022; the district level ends with 30/6/2025.
    "2022": ShapeSpec(63, 705, 10_599, date(2021, 1, 1), date(2025, 6, 30)),
    # Resolution 202/2025/QH15 (34 provinces) and the 34 resolutions arranging 3,321 communes.
    "2025": ShapeSpec(34, 0, 3_321, date(2025, 7, 1), None),
}

# Real stems of Vietnamese place names: synthetic names read (and fold) like real ones.
STEMS = (
    "Tân Phú",
    "An Bình",
    "Phú Lộc",
    "Hòa Bình",
    "Thạch Thành",
    "Cẩm Thủy",
    "Vĩnh Lộc",
    "Đông Hưng",
    "Nghĩa Đàn",
    "Quảng Điền",
    "Hương Sơn",
    "Triệu Phong",
    "Gio Linh",
    "Đăk Hà",
    "Ba Tri",
    "Giồng Trôm",
    "Mỏ Cày",
    "Châu Thành",
    "Long Hồ",
    "Bình Minh",
    "Yên Định",
    "Thọ Xuân",
    "Ngọc Lặc",
    "Như Xuân",
    "Đức Phổ",
    "Sơn Tịnh",
    "Tư Nghĩa",
    "Kon Rẫy",
    "Sa Thầy",
    "Cam Lộ",
    "Hải Lăng",
    "Lệ Thủy",
    "Bố Trạch",
    "Phong Điền",
    "A Lưới",
    "Nam Đông",
    "Phú Vang",
    "Thuận An",
    "Kim Sơn",
    "Yên Mô",
    "Gia Viễn",
    "Tiên Lãng",
    "Thủy Nguyên",
    "Đồng Hỷ",
    "Phú Bình",
    "Lục Ngạn",
    "Hiệp Hòa",
    "Tam Dương",
    "Bắc Sơn",
    "Văn Quan",
    "Mường Khương",
    "Bảo Thắng",
    "Sìn Hồ",
    "Than Uyên",
    "Mộc Châu",
    "Quỳnh Nhai",
    "Đại Lộc",
    "Duy Xuyên",
    "Tuy Phước",
    "Hoài Nhơn",
    "Krông Pắc",
    "Ea Súp",
    "Đức Trọng",
    "Cát Tiên",
    "Tân Uyên",
    "Cần Giờ",
    "Củ Chi",
    "Bến Lức",
    "Cai Lậy",
    "Chợ Gạo",
    "Tam Nông",
    "Tịnh Biên",
    "Vĩnh Thạnh",
    "Phong Điền",
    "U Minh",
    "Năm Căn",
    "Đầm Dơi",
    "Hồng Dân",
    "Mỹ Xuyên",
    "Trà Cú",
)
SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Trịnh",
    "Đinh",
    "Mai",
    "Cao",
    "Hà",
)
MIDDLES = ("Văn", "Thị", "Đình", "Hữu", "Minh", "Quang", "Ngọc", "Thanh", "Xuân", "Đức", "Thu", "Công")
GIVEN = (
    "Hùng",
    "Lan",
    "Hương",
    "Dũng",
    "Tuấn",
    "Hà",
    "Thủy",
    "Sơn",
    "Hải",
    "Long",
    "Nam",
    "Bình",
    "Cường",
    "Phương",
    "Hạnh",
    "Thắng",
    "Trung",
    "Khánh",
    "Nga",
    "Thảo",
    "Hợp",
    "Yến",
    "Tâm",
    "Vinh",
)


def generate_national(
    *, session: Session, shape: Shape = "2022", seed: int = 0, scale: float = 1.0
) -> dict[str, int]:
    """Bulk-create a national hierarchy of one shape (with councils); the caller commits.

    `scale` shrinks the districts and communes (never below one per parent) for quick tests; the
    provinces stay 63 or 34. Generating a shape that is already there creates nothing and returns
    what exists. When both shapes are present, 2022 rows get successors in the 2025 shape.
    """
    spec = SHAPES[shape_of(shape)]  # callers without a type checker may pass any string
    prefix = f"{PREFIX}{shape}."
    if _count(session, prefix) == 0:
        created = _generate(session, shape, spec, prefix, random.Random(f"{seed}:{shape}"), scale)
    else:
        created = 0
    counts = _counts(session, prefix)
    counts["created"] = created
    counts["linked"] = link_shapes(session=session)
    return counts


def shape_of(name: str) -> Shape:
    """The shape called `name` ("2022" or "2025"); ValueError for any other name."""
    for shape in SHAPES:
        if shape == name:
            return shape
    raise ValueError(f"unknown shape {name!r}; expected one of {', '.join(SHAPES)}")


def _generate(
    session: Session, shape: str, spec: ShapeSpec, prefix: str, rng: random.Random, scale: float
) -> int:
    moha_id = ensure_central(session=session)[MOHA]
    n_prov = spec.provinces
    n_dist = max(n_prov, round(spec.districts * scale)) if spec.districts else 0
    n_comm = max(n_dist or n_prov, round(spec.communes * scale))
    row = _UnitRows(rng, f"syn{shape}.example.vn", {"valid_from": spec.valid_from, "valid_to": spec.valid_to})
    provinces, province_ids = _add_provinces(session, row, prefix, n_prov, moha_id)
    # Parents of communes: districts (2022) or the provinces themselves (2025).
    districts: list[dict[str, Any]] = []
    if n_dist:
        districts, parents = _add_districts(session, row, prefix, province_ids, n_dist)
    else:
        parents = [(code, province_ids[code], province_ids[code]) for code in sorted(province_ids)]
    communes = _add_communes(session, row, parents, n_comm)
    return _add_councils(session, prefix, [*provinces, *districts, *communes], row.heads, rng)


@dataclass
class _UnitRows:
    """Rows of one shape's synthetic units; remembers each unit's head and mail domain for its council."""

    rng: random.Random
    domain: str
    span: dict[str, Any]
    heads: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (head name, unit domain)

    def __call__(self, code: str, name: str, level: Level, label: str, **links: Any) -> dict[str, Any]:
        head = _person(self.rng)
        unit_domain = f"{label}.{self.domain}"
        self.heads[code] = (head, unit_domain)
        return {
            "code": code,
            "name": name,
            "name_key": fold(name),
            "level": level,
            **self.span,
            "email": f"vanphong@{unit_domain}",
            "head_name": head,
            "head_email": f"chutich@{unit_domain}",
            "parent_id": links.get("parent_id"),
            "province_id": links.get("province_id"),
            "successor_id": None,
        }


def _add_provinces(
    session: Session, row: _UnitRows, prefix: str, n_prov: int, moha_id: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The provinces under MOHA, each its own province; returns their rows and their ids by code."""
    rng = row.rng
    provinces = [
        row(
            f"{prefix}p{i:02d}",
            f"tỉnh {rng.choice(STEMS)} {i:02d}",
            Level.province,
            f"p{i:02d}",
            parent_id=moha_id,
        )
        for i in range(1, n_prov + 1)
    ]
    _bulk(session, Unit, provinces)
    session.execute(
        update(Unit)
        .where(col(Unit.code).startswith(prefix), col(Unit.level) == Level.province)
        .values(province_id=col(Unit.id))
        .execution_options(synchronize_session=False)
    )
    return provinces, _ids(session, prefix, Level.province)


def _add_districts(
    session: Session, row: _UnitRows, prefix: str, province_ids: dict[str, int], n_dist: int
) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    """`n_dist` districts spread over the provinces; returns their rows and, for the communes, each one's
    (code, id, province id)."""
    rng = row.rng
    districts: list[dict[str, Any]] = []
    number = 0
    for p_code, n in zip(sorted(province_ids), _spread(n_dist, len(province_ids), rng), strict=True):
        for _ in range(n):
            number += 1
            name = f"huyện {rng.choice(STEMS)} {number:03d}"
            p_id = province_ids[p_code]
            districts.append(
                row(
                    f"{p_code}.d{number:03d}",
                    name,
                    Level.district,
                    f"d{number:03d}",
                    parent_id=p_id,
                    province_id=p_id,
                )
            )
    _bulk(session, Unit, districts)
    district_ids = _ids(session, prefix, Level.district)
    return districts, [(d["code"], district_ids[d["code"]], d["province_id"]) for d in districts]


def _add_communes(
    session: Session, row: _UnitRows, parents: list[tuple[str, int, int]], n_comm: int
) -> list[dict[str, Any]]:
    """`n_comm` communes spread over their parents (code, id, province id)."""
    rng = row.rng
    width = len(str(n_comm))
    communes = []
    number = 0
    for (parent_code, parent_id, province_id), n in zip(
        parents, _spread(n_comm, len(parents), rng), strict=True
    ):
        for _ in range(n):
            number += 1
            label = f"c{number:0{width}d}"
            name = f"xã {rng.choice(STEMS)} {number:0{width}d}"
            communes.append(
                row(
                    f"{parent_code}.{label}",
                    name,
                    Level.commune,
                    label,
                    parent_id=parent_id,
                    province_id=province_id,
                )
            )
    _bulk(session, Unit, communes)
    return communes


def _add_councils(
    session: Session,
    prefix: str,
    units: list[dict[str, Any]],
    heads: dict[str, tuple[str, str]],
    rng: random.Random,
) -> int:
    """A council for each unit, with its members; returns how many units the shape has."""
    unit_ids = _by_code(
        session.exec(select(col(Unit.code), col(Unit.id)).where(col(Unit.code).startswith(prefix)))
    )
    councils = [
        {
            "unit_id": unit_ids[u["code"]],
            "name": f"{COUNCIL} {u['name']}",
            "office_email": f"tdkt@{heads[u['code']][1]}",
            "decision_series": "QĐ-UBND",
        }
        for u in units
    ]
    _bulk(session, Council, councils)
    council_of = _by_code(
        session.exec(
            select(col(Unit.code), col(Council.id))
            .join(Council, col(Council.unit_id) == col(Unit.id))
            .where(col(Unit.code).startswith(prefix))
        )
    )
    _bulk(session, CouncilMember, list(_members(council_of, heads, rng, utcnow())))
    return len(unit_ids)


def _members(
    council_of: dict[str, int], heads: dict[str, tuple[str, str]], rng: random.Random, now: Any
) -> Iterable[dict[str, Any]]:
    for code, council_id in council_of.items():
        head, unit_domain = heads[code]
        yield {
            "council_id": council_id,
            "name": head,
            "email": f"chutich@{unit_domain}",
            "role": MemberRole.chair,
            "created_at": now,
        }
        names = rng.choices(_PEOPLE, k=COUNCIL_SIZE - 1)
        for k, name in enumerate(names, start=2):
            yield {
                "council_id": council_id,
                "name": name,
                "email": f"uv{k}@{unit_domain}",
                "role": MemberRole.standing if k == 2 else MemberRole.member,
                "created_at": now,
            }


def link_shapes(*, session: Session) -> int:
    """Point each 2022 synthetic unit without a successor at a 2025 one (deterministically); count set.

    Province i of 63 goes to province ⌊i·34/63⌋ of 34; a district to its province's successor; the
    communes of all 2022 provinces that go to one 2025 province are spread evenly over its communes.
    """
    old_prefix, new_prefix = f"{PREFIX}2022.", f"{PREFIX}2025."
    if not _count(session, old_prefix) or not _count(session, new_prefix):
        return 0
    old = [
        (_known(unit_id), level, province_id, successor_id)
        for unit_id, level, province_id, successor_id in session.exec(
            select(col(Unit.id), col(Unit.level), col(Unit.province_id), col(Unit.successor_id))
            .where(col(Unit.code).startswith(old_prefix))
            .order_by(col(Unit.code))
        )
    ]
    new = [
        (_known(unit_id), level, province_id)
        for unit_id, level, province_id in session.exec(
            select(col(Unit.id), col(Unit.level), col(Unit.province_id))
            .where(col(Unit.code).startswith(new_prefix))
            .order_by(col(Unit.code))
        )
    ]
    old_provinces = [unit_id for unit_id, level, _, _ in old if level == Level.province]
    new_provinces = [unit_id for unit_id, level, _ in new if level == Level.province]
    province_successor = {
        pid: new_provinces[i * len(new_provinces) // len(old_provinces)]
        for i, pid in enumerate(old_provinces)
    }
    new_communes: dict[int, list[int]] = {}
    for unit_id, level, province_id in new:
        if level == Level.commune:
            new_communes.setdefault(_known(province_id), []).append(unit_id)
    old_communes: dict[int, list[int]] = {}
    for unit_id, level, province_id, _ in old:
        if level == Level.commune:
            old_communes.setdefault(province_successor[_known(province_id)], []).append(unit_id)
    successor = dict(province_successor)
    for unit_id, level, province_id, _ in old:
        if level == Level.district:
            successor[unit_id] = province_successor[_known(province_id)]
    for new_province, olds in old_communes.items():
        targets = new_communes[new_province]
        for k, old_id in enumerate(olds):
            successor[old_id] = targets[k * len(targets) // len(olds)]
    pending = [
        {"b_id": unit_id, "b_successor": successor[unit_id]}
        for unit_id, _, _, successor_id in old
        if successor_id is None
    ]
    if pending:
        # On the connection, not the session: one executemany, no ORM bulk-update bookkeeping.
        statement = (
            update(Unit)
            .where(col(Unit.id) == bindparam("b_id"))
            .values(successor_id=bindparam("b_successor"))
        )
        session.connection().execute(statement, pending)
        units_changed(session)
    return len(pending)


def _bulk(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows with no ORM bookkeeping: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    table = model.__table__
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    # psycopg's executemany still sends one INSERT per row; COPY streams them all (~20x faster).
    columns = list(rows[0])
    names = ", ".join(connection.dialect.identifier_preparer.quote(c) for c in columns)
    from psycopg import Connection as PsycopgConnection

    raw = connection.connection.dbapi_connection
    if not isinstance(raw, PsycopgConnection):  # COPY FROM STDIN is psycopg 3's, the driver the app pins
        raise TypeError(f"bulk COPY needs psycopg 3, not {type(raw).__name__}")
    with raw.cursor() as cursor:
        with cursor.copy(
            f"COPY {connection.dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
        ) as copy:
            copy.write("".join("\t".join(_copy_text(row[c]) for c in columns) + "\n" for row in rows))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One field in COPY's text format (writing text ourselves is ~4x faster than write_row)."""
    if value is None:
        return "\\N"
    if isinstance(value, Enum):
        return value.name  # SQLAlchemy stores an Enum column by member name (Level.moha → 'moha')
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


_PEOPLE = tuple(f"{s} {m} {g}" for s in SURNAMES for m in MIDDLES for g in GIVEN)


def _person(rng: random.Random) -> str:
    return rng.choice(_PEOPLE)


def _spread(total: int, buckets: int, rng: random.Random) -> list[int]:
    """`total` items over `buckets`, as even as possible, the remainder to random buckets."""
    base, extra = divmod(total, buckets)
    counts = [base] * buckets
    for i in rng.sample(range(buckets), extra):
        counts[i] += 1
    return counts


def _known(value: int | None) -> int:
    """An id (or a link) that is always set on rows read back from the database."""
    assert value is not None
    return value


def _by_code(rows: Iterable[tuple[str, int | None]]) -> dict[str, int]:
    return {code: _known(row_id) for code, row_id in rows}


def _ids(session: Session, prefix: str, level: Level) -> dict[str, int]:
    return _by_code(
        session.exec(
            select(col(Unit.code), col(Unit.id)).where(
                col(Unit.code).startswith(prefix), col(Unit.level) == level
            )
        )
    )


def _count(session: Session, prefix: str) -> int:
    return session.exec(select(func.count()).select_from(Unit).where(col(Unit.code).startswith(prefix))).one()


def _counts(session: Session, prefix: str) -> dict[str, int]:
    by_level = dict(
        session.exec(
            select(col(Unit.level), func.count())
            .where(col(Unit.code).startswith(prefix))
            .group_by(col(Unit.level))
        ).all()
    )
    councils = session.exec(
        select(func.count())
        .select_from(Council)
        .join(Unit, col(Unit.id) == col(Council.unit_id))
        .where(col(Unit.code).startswith(prefix))
    ).one()
    members = session.exec(
        select(func.count())
        .select_from(CouncilMember)
        .join(Council, col(Council.id) == col(CouncilMember.council_id))
        .join(Unit, col(Unit.id) == col(Council.unit_id))
        .where(col(Unit.code).startswith(prefix))
    ).one()
    return {
        "provinces": by_level.get(Level.province, 0),
        "districts": by_level.get(Level.district, 0),
        "communes": by_level.get(Level.commune, 0),
        "units": sum(by_level.values()),
        "councils": councils,
        "members": members,
    }
