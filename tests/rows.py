"""A valid row of the nominations sheet, for tests to vary one cell at a time."""

from __future__ import annotations

from models.awards import ReviewType, catalogue


def intake_row(**over: object) -> dict:
    base = {
        "nominee": "Nguyễn Văn An",
        "kind": "cá nhân",
        "unit": "cam thach",
        "award": "bang-khen-tinh",
        "campaign": "ntm-2021-2025",
        "achievement": "Hiến 200 m² đất làm đường",
        "submitted_on": "02/03/2026",
    }
    return {**base, **over}


def review_type_for(award: str) -> str:
    """The review (đợt xét) a dossier of `award` must name: the final review (tổng kết) where the form's
    rule asks for one (Labour Order 3rd class, Law 2022 Art. 44(2)), else none (the column may stay blank)."""
    wanted = catalogue().forms[award].review_types
    if not wanted:
        return ""
    return (
        ReviewType.final if ReviewType.final in wanted else sorted(wanted, key=lambda r: r.value)[0]
    ).label
