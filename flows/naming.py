"""Flow run names that read well in the UI: `meeting-cam-thuy-2026-11-28`, `intake-quang-tri-2026-11-22`."""

from __future__ import annotations

from sqlalchemy import or_, select

from models.clock import today_vn
from models.db import session_scope
from models.text import fold, slug
from models.units import Unit

_LEVEL_WORDS = ("thanh-pho-", "thi-xa-", "thi-tran-", "phuong-", "huyen-", "tinh-", "quan-", "xa-")


def unit_slug(name: str) -> str:
    """'huyện Cẩm Thủy' → 'cam-thuy'."""
    text = slug(name)
    for word in _LEVEL_WORDS:
        if text.startswith(word):
            return text[len(word):]
    return text


def _lookup(ref: str) -> tuple[Unit | None, Unit | None]:
    """The unit named by code or name, and its province (best effort: naming never fails a run)."""
    try:
        with session_scope() as session:
            unit = session.scalars(select(Unit).where(or_(Unit.code == ref, Unit.name_key == fold(ref)))
                                   .order_by(Unit.valid_to.desc().nullsfirst())).first()
            province = session.get(Unit, unit.province_id) if unit is not None and unit.province_id else None
            return unit, province
    except Exception:  # noqa: BLE001 - a name is cosmetic
        return None, None


def _param(name: str, default=None):  # noqa: ANN001, ANN202
    from prefect.runtime import flow_run

    return (flow_run.parameters or {}).get(name, default)


def meeting_run_name() -> str:
    unit_ref = str(_param("unit", "") or "")
    unit, _ = _lookup(unit_ref)
    minutes = _param("minutes") or {}
    day = (minutes.get("meeting_date") if isinstance(minutes, dict) else None) or today_vn().isoformat()
    return f"meeting-{unit_slug(unit.name) if unit else slug(unit_ref) or 'council'}-{day}"


def intake_run_name() -> str:
    rows = _param("rows") or []
    ref = str(rows[0].get("unit", "")) if rows and isinstance(rows[0], dict) else ""
    unit, province = _lookup(ref)
    place = province or unit
    return f"intake-{unit_slug(place.name) if place else slug(ref) or 'batch'}-{today_vn().isoformat()}"


def receive_run_name() -> str:
    return f"receive-forwarded-meeting-{_param('meeting_id', 'x')}-{today_vn().isoformat()}"
