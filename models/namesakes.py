"""Namesakes (trùng tên): dossiers of one campaign whose nominees have the same name and kind (compared
without case or diacritics) but belong to different units.

Two people may share a name, so such a dossier is accepted; the council must be able to tell them
apart, so each later dossier carries a warning that names the earlier one and its unit, beside the
details (birth year, position, workplace) that tell them apart. The same name from the *same* unit is
the same nominee, and "one achievement, one award" refuses it at intake (models/intake.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from models.nominations import BLOCKS_NEW, Nomination, Nominee
from models.units import Unit


def nominee_details(*, birth_year: int | None, position: str | None, workplace: str | None) -> str:
    """'sinh năm 1970; Trưởng thôn; thôn Tiến Thành' — what a list carries to tell people apart."""
    parts = [f"sinh năm {birth_year}" if birth_year else "", position or "", workplace or ""]
    return "; ".join(p for p in parts if p)


@dataclass(frozen=True)
class Namesake:
    """An earlier dossier whose nominee has the same name, from another unit."""

    code: str
    nominee: str
    unit_code: str
    unit_name: str
    details: str

    def warning(self) -> str:
        """The warning, in words an official reads (CLI, JSON, the council's letter)."""
        who = f"{self.nominee}, {self.details}" if self.details else self.nominee
        return (
            f"trùng tên với hồ sơ {self.code} của {self.unit_name} ({who}) trong cùng phong trào; "
            "đề nghị đối chiếu năm sinh, chức vụ, nơi công tác để bảo đảm không phải một người "
            "được đề nghị hai lần"
        )

    def public(self) -> dict:
        unit = {"unit": self.unit_name, "unit_code": self.unit_code}
        return {"code": self.code, "nominee": self.nominee, **unit}


def _chunks(items: list[int], size: int = 500) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def namesakes(*, session: Session, nomination_ids: list[int]) -> dict[int, list[Namesake]]:
    """For each dossier (by id), the earlier pending or conferred dossiers of its campaign whose nominee has
    its name and kind and belongs to another unit, oldest first; dossiers without any are left out."""
    found: dict[int, list[Namesake]] = {}
    for chunk in _chunks(sorted(set(nomination_ids))):
        # Two look-ups matched here rather than one self-join: SQLite's planner took the self-join through
        # the campaign index, a scan of the whole campaign per dossier (an intake of 5,000 rows: minutes).
        later = session.execute(
            select(
                col(Nomination.id),
                col(Nomination.campaign_id),
                col(Nominee.name_key),
                col(Nominee.kind),
                col(Nominee.unit_id),
            )
            .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
            .where(col(Nomination.id).in_(chunk))
        ).all()
        if not later:
            continue
        # the namesakes' nominees by the name index, then their dossiers by (campaign, nominee)
        nominees = {
            n.id: n
            for n in session.scalars(
                select(Nominee).where(col(Nominee.name_key).in_(sorted({r[2] for r in later})))
            )
        }
        by_name: dict[tuple, list[Any]] = {}
        for row in session.execute(
            select(
                col(Nomination.id),
                col(Nomination.campaign_id),
                col(Nomination.nominee_id),
                col(Nomination.code),
                col(Unit.code),
                col(Unit.name),
                col(Nomination.nominee_birth_year),
                col(Nomination.nominee_position),
                col(Nomination.nominee_workplace),
            )
            .join(Unit, col(Unit.id) == col(Nomination.origin_unit_id))
            .where(
                col(Nomination.campaign_id).in_(sorted({r[1] for r in later})),
                col(Nomination.nominee_id).in_(sorted(nominees)),
                col(Nomination.status).in_([s.value for s in BLOCKS_NEW]),
            )
            .order_by(col(Nomination.id))
        ):
            nominee = nominees[row[2]]
            by_name.setdefault((row[1], nominee.name_key, nominee.kind), []).append((row, nominee))
        for later_id, campaign_id, name_key, kind, unit_id in later:
            for row, nominee in by_name.get((campaign_id, name_key, kind), ()):
                nid, _, _, code, unit_code, unit_name, born, position, workplace = row
                if nid < later_id and nominee.unit_id != unit_id:
                    details = nominee_details(birth_year=born, position=position, workplace=workplace)
                    found.setdefault(later_id, []).append(
                        Namesake(code, nominee.name, unit_code, unit_name, details)
                    )
    return found


def warnings_by_code(*, session: Session, codes: list[str]) -> dict[str, list[str]]:
    """The namesake warnings of dossiers given by code (for letters and views that hold codes)."""
    ids = dict(
        session.execute(
            select(col(Nomination.id), col(Nomination.code)).where(col(Nomination.code).in_(codes))
        )
        .tuples()
        .all()
    )
    return {
        ids[i]: [n.warning() for n in found]
        for i, found in namesakes(session=session, nomination_ids=list(ids)).items()
    }
