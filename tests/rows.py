"""A valid row of the nominations sheet, for tests to vary one cell at a time."""

from __future__ import annotations


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
