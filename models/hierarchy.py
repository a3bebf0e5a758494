"""The unit tree in memory: find a unit by code or name on a date, route a dossier up the chain, and
address the units that owe reports.

A national tree is ~15,000 rows; loading it once per batch (≈ 0.1 s) makes every look-up and every
chain a dictionary walk instead of a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import overload

from sqlalchemy import func, select
from sqlmodel import Session, col

from models.clock import fmt_date
from models.text import fold, nfc
from models.units import FOLDED_LEVEL_WORDS, Dated, Level, Unit, strip_level_word

CENTRAL = frozenset({Level.moha, Level.prime_minister, Level.president})
UNITS_REVISION = "units-revision"  # a code_counter row: bumped by each edit of units in place


class UnitNotFound(LookupError):
    """No unit by that code or name (on that date)."""


class UnitEnded(UnitNotFound):
    """The unit exists but not on that date (ended by a structural change, or not yet formed); the
    message names the unit that carries it on, when there is one."""

    def __init__(self, message: str, unit: UnitRef, successor: UnitRef | None):
        super().__init__(message)
        self.unit = unit
        self.successor = successor


class AmbiguousUnit(LookupError):
    """A name that matches several units; the message lists them."""


class NoRoute(ValueError):
    """The award form's authority does not lie above the unit (e.g. no district after 1/7/2025)."""


# Who signs for a central body: never "Thủ trưởng Chủ tịch nước".
CENTRAL_HEADS = {
    Level.moha: "Bộ trưởng Bộ Nội vụ",
    Level.prime_minister: "Thủ tướng Chính phủ",
    Level.president: "Chủ tịch nước",
}


@dataclass(frozen=True, slots=True)
class UnitRef(Dated):
    """A unit as routing and reminders see it: its place in the tree and the addresses letters go to."""

    id: int
    code: str
    name: str
    level: Level
    parent_id: int | None
    province_id: int | None
    successor_id: int | None
    valid_from: date
    valid_to: date | None
    name_key: str
    email: str | None = None
    head_name: str | None = None
    head_email: str | None = None
    ntm_office_email: str | None = None

    def public(self) -> dict:
        return {"code": self.code, "name": self.name, "level": self.level.value}

    @property
    def office_name(self) -> str:
        """'Văn phòng UBND xã Cẩm Thạch' (a central body is its own office)."""
        return self.name if self.level in CENTRAL else f"Văn phòng UBND {self.name}"

    @property
    def head_title(self) -> str:
        """'Chủ tịch UBND xã Cẩm Thạch' (for a central body: the head of it)."""
        return CENTRAL_HEADS.get(self.level, f"Chủ tịch UBND {self.name}")


class Hierarchy:
    """A snapshot of every unit, indexed by id, code, folded name and level."""

    def __init__(self, units: list[UnitRef]):
        self.by_id = {u.id: u for u in units}
        self.by_code = {u.code: u for u in units}
        self.by_name: dict[str, list[UnitRef]] = {}
        for u in units:
            self.by_name.setdefault(u.name_key, []).append(u)
            # "cam thanh" finds "xã Cẩm Thành": index the name without its level word too
            bare = strip_level_word(u.name_key, FOLDED_LEVEL_WORDS)
            if bare != u.name_key:
                self.by_name.setdefault(bare, []).append(u)
        self.by_level: dict[Level, list[UnitRef]] = {}
        for u in sorted(units, key=lambda u: u.code):
            self.by_level.setdefault(u.level, []).append(u)

    @classmethod
    def load(cls, session: Session) -> Hierarchy:
        """The tree as the database holds it; reused while the unit table is unchanged.

        Units are reference data that change rarely: by adding rows (a structural change ends a row and
        starts a new one; no unit is ever deleted), which the highest id shows; an edit in place (a
        sample reload renaming a unit or changing its e-mail) bumps the units' revision
        (`units_changed`). The two tell whether a cached tree is still the database's, in any process:
        a long-running one, or a run forked from a warm process that loaded it earlier. Both are one
        index lookup. (The row count was a third: on PostgreSQL a full scan of the 11,370 units at every
        load, 167 million rows read in a 2,000-nomination surge, most of the database's CPU.)"""
        from models.nominations import CodeCounter  # it imports this module

        revision = (
            select(col(CodeCounter.value)).where(col(CodeCounter.name) == UNITS_REVISION).scalar_subquery()
        )
        stamp = (
            str(session.get_bind().engine.url),
            *session.execute(select(func.max(col(Unit.id)), revision)).one(),
        )
        cached = _CACHE.get(stamp[0])
        if cached is not None and cached[0] == stamp:
            return cached[1]
        tree = cls._read(session)
        _CACHE[stamp[0]] = (stamp, tree)
        return tree

    @staticmethod
    def invalidate() -> None:
        _CACHE.clear()

    @classmethod
    def _read(cls, session: Session) -> Hierarchy:
        columns = (
            Unit.id,
            Unit.code,
            Unit.name,
            Unit.level,
            Unit.parent_id,
            Unit.province_id,
            Unit.successor_id,
            Unit.valid_from,
            Unit.valid_to,
            Unit.name_key,
            Unit.email,
            Unit.head_name,
            Unit.head_email,
            Unit.ntm_office_email,
        )
        rows = session.execute(select(*(col(c) for c in columns))).all()
        return cls([UnitRef(r[0], r[1], r[2], Level(r[3]), *r[4:]) for r in rows])

    def __len__(self) -> int:
        return len(self.by_id)

    @overload
    def get(self, unit_id: int) -> UnitRef: ...
    @overload
    def get(self, unit_id: None) -> None: ...
    @overload
    def get(self, unit_id: int | None) -> UnitRef | None: ...

    def get(self, unit_id: int | None) -> UnitRef | None:
        """The unit with that id; None for no id (a unit without a parent, a row without a province)."""
        return self.by_id[unit_id] if unit_id is not None else None

    def resolve(self, ref: str, on: date | None = None) -> UnitRef:
        """Find a unit by code or by name (without regard to case or diacritics), valid on `on`."""
        text = (ref or "").strip()
        if text in self.by_code:
            found = self.by_code[text]
            if on is not None:
                self.require_valid(found, on)
            return found
        key = fold(text)
        candidates = (
            self.by_name.get(key) or self.by_name.get(strip_level_word(key, FOLDED_LEVEL_WORDS)) or []
        )
        if on is not None:
            dated = [u for u in candidates if u.valid_on(on)]
            if not dated and len(candidates) == 1:
                self.require_valid(candidates[0], on)
            if not dated and candidates:
                names = ", ".join(self.ended_text(u, on) for u in candidates)
                raise UnitNotFound(f"đơn vị «{text}» không tồn tại vào ngày {fmt_date(on)}: {names}")
            candidates = dated
        if not candidates:
            raise UnitNotFound(f"không tìm thấy đơn vị «{text}»")
        if len(candidates) > 1:
            # "Cẩm Thành" typed with its diacritics is not "Cam Thành": let the exact spelling decide.
            exact = [
                u
                for u in candidates
                if _exact_key(text) in (_exact_key(u.name), _exact_key(u.name, bare=True))
            ]
            if len(exact) == 1:
                return exact[0]
            names = "; ".join(f"{self.describe(u)} [mã {u.code}]" for u in candidates)
            raise AmbiguousUnit(f"tên «{text}» trùng với nhiều đơn vị, hãy ghi mã đơn vị: {names}")
        return candidates[0]

    def describe(self, unit: UnitRef) -> str:
        """'xã Cẩm Thành, huyện Cẩm Thủy, tỉnh Thanh Hóa'."""
        parts = [unit.name]
        parent = self.by_id.get(unit.parent_id) if unit.parent_id else None
        while parent is not None and parent.level in (Level.district, Level.province):
            parts.append(parent.name)
            parent = self.by_id.get(parent.parent_id) if parent.parent_id else None
        return ", ".join(parts)

    def ancestors(self, unit_id: int) -> list[UnitRef]:
        """The unit and every unit above it, lowest first."""
        out = []
        current: UnitRef | None = self.by_id[unit_id]
        while current is not None:
            out.append(current)
            current = self.by_id.get(current.parent_id) if current.parent_id else None
        return out

    def chain(self, start_id: int, authority: Level) -> list[UnitRef]:
        """The units a dossier climbs from `start_id` up to and including the conferring level."""
        path = []
        for unit in self.ancestors(start_id):
            path.append(unit)
            if unit.level == authority:
                return path
            if unit.level.rank > authority.rank:
                break
        start = self.by_id[start_id]
        raise NoRoute(
            f"{authority.label} không có trong chuỗi đơn vị phía trên {start.name} "
            f"(hiệu lực {start.span}) nên không thể xét hình thức này"
        )

    def next_unit(self, unit_id: int, authority: Level) -> UnitRef | None:
        """The level a dossier goes to after `unit_id`; None when `unit_id` confers it."""
        unit = self.by_id[unit_id]
        if unit.level == authority:
            return None
        chain = self.chain(unit_id, authority)
        return chain[1]

    def province_of(self, unit_id: int) -> UnitRef | None:
        unit = self.by_id[unit_id]
        return self.by_id.get(unit.province_id) if unit.province_id else None

    def ended_text(self, unit: UnitRef, day: date) -> str:
        """'xã Cẩm Thành (thanh-hoa.cam-thuy.cam-thanh) chỉ tồn tại đến 30/06/2025; đơn vị kế tục
        từ 01/07/2025: xã Cẩm Thạch (thanh-hoa.cam-thach-2025)' — for a unit not valid on `day`."""
        if unit.valid_to is not None and unit.valid_to < day:
            text = f"{unit.name} ({unit.code}) chỉ tồn tại đến {fmt_date(unit.valid_to)}"
            successor = self.successor_on(unit, day)
            if successor is not None:
                since = max(successor.valid_from, unit.valid_to + timedelta(days=1))  # a province: since 1900
                text += f"; đơn vị kế tục từ {fmt_date(since)}: {successor.name} ({successor.code})"
            else:
                text += "; không có đơn vị kế tục trong hệ thống"
            return text
        return f"{unit.name} ({unit.code}) chỉ có từ {fmt_date(unit.valid_from)}"

    def require_valid(self, unit: UnitRef, day: date) -> UnitRef:
        """`unit` if it exists on `day`; otherwise `UnitEnded`, naming its successor."""
        if unit.valid_on(day):
            return unit
        successor = (
            self.successor_on(unit, day) if unit.valid_to is not None and unit.valid_to < day else None
        )
        raise UnitEnded(f"ngày {fmt_date(day)}: {self.ended_text(unit, day)}", unit, successor)

    def successor_on(self, unit: UnitRef, day: date) -> UnitRef | None:
        """The unit that carries on `unit` on `day` (following successors; None if none)."""
        current: UnitRef | None = unit
        for _ in range(10):  # successor chains are short (Huế: two steps); never loop on bad data
            if current is None or current.valid_on(day):
                return current
            current = self.by_id.get(current.successor_id) if current.successor_id else None
        return None


_CACHE: dict[str, tuple[tuple, Hierarchy]] = {}


def _exact_key(name: str, bare: bool = False) -> str:
    key = nfc(name).casefold()
    return strip_level_word(key) if bare else key


def units_changed(session: Session) -> None:
    """Record that units were edited in place, so that every process's cached tree is read again. The
    revision is a random number, not the next one: after a bump rolled back (or a restored backup) the
    next one would otherwise name another state of the table by the same number."""
    import secrets

    from models.db import insert_for
    from models.nominations import CodeCounter  # it imports this module

    revision = secrets.randbits(31)  # the column is a 32-bit integer
    session.execute(  # one statement, race-free: the row is made on first use
        insert_for(session)(CodeCounter)
        .values(name=UNITS_REVISION, value=revision)
        .on_conflict_do_update(index_elements=["name"], set_={"value": revision})
    )
