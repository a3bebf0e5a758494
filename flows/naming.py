"""Flow run names and tags that read well in the UI.

Names: `meeting-cam-thuy-2026-11-28` (the council's unit, the meeting's day), `intake-quang-tri-2026-11-22`
(the batch's province, the day it came in). Tags: `tinh:<province>` and `cap:<level>` (`tinh:thanh-hoa`,
`cap:commune`), so the runs list filters by province and level.

Prefect calls a flow's `flow_run_name` function once at the start of every run, however the run was
started (the UI's "Run" button, a deployment, an event trigger, the CLI, a subflow, a resume after a
suspension), with the run's parameters at hand. The unit look-up that names the run also tags it: the
name functions below add the tags to the run through the API, merged with the deployment's own. Both
are best effort: a name or a tag never fails a run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import col

from models.clock import VN, parse_date, today_vn
from models.db import session_scope
from models.text import fold, slug
from models.units import FOLDED_LEVEL_WORDS, Level, Unit, strip_level_word

logger = logging.getLogger(__name__)

PROVINCE_TAG = "tinh:"
LEVEL_TAG = "cap:"
MAX_UNITS_LOOKED_UP = 50  # an intake batch of 10,000 rows names its run from a sample of its units


def unit_slug(name: str) -> str:
    """'huyện Cẩm Thủy' → 'cam-thuy'."""
    return slug(strip_level_word(fold(name), FOLDED_LEVEL_WORDS))


@dataclass(frozen=True)
class Place:
    """A unit as a run's name and tags need it."""

    slug: str
    level: Level
    province_slug: str | None


def tags_of(places: Iterable[Place]) -> list[str]:
    """`tinh:<province>` for every province, then `cap:<level>` for every level, lowest first."""
    places = list(places)
    provinces = sorted({p.province_slug for p in places if p.province_slug})
    levels = sorted({p.level for p in places}, key=lambda level: level.rank)
    return [f"{PROVINCE_TAG}{s}" for s in provinces] + [f"{LEVEL_TAG}{level.value}" for level in levels]


def find_place(ref: str, on: date | None = None) -> Place | None:
    """The unit named by code or name (valid on `on` when several match), or None."""
    ref = (ref or "").strip()
    if not ref:
        return None
    key = fold(ref)
    keys = {key} | {f"{word} {key}" for word in FOLDED_LEVEL_WORDS}
    with session_scope() as session:
        units = list(
            session.scalars(select(Unit).where(or_(col(Unit.code) == ref, col(Unit.name_key).in_(keys))))
        )
        if not units:
            return None
        exact = [u for u in units if u.code == ref]
        dated = [u for u in units if on is None or u.valid_on(on)]
        unit = (exact or dated or units)[0]
        province: Unit | None = unit
        if unit.level != Level.province:
            province = session.get(Unit, unit.province_id) if unit.province_id else None
        return Place(unit_slug(unit.name), unit.level, unit_slug(province.name) if province else None)


def _safe_place(ref: str, on: date | None = None) -> Place | None:
    try:
        return find_place(ref, on)
    except Exception:
        logger.warning("could not look up unit %r for the run's name", ref, exc_info=True)
        return None


def _as_date(value: Any) -> date | None:
    """A date from a parameter: a date, an ISO string (from the API) or dd/mm/yyyy (from a file)."""
    if isinstance(value, datetime):
        return value.astimezone(VN).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            try:
                return parse_date(value)
            except ValueError:
                return None
    return None


def _param(name: str, default: Any = None) -> Any:
    from prefect.runtime import flow_run

    return (flow_run.parameters or {}).get(name, default)


def _run_day() -> date:
    """The day the run was scheduled for (Asia/Ho_Chi_Minh): the same after a resume on another day."""
    from prefect.runtime import flow_run

    return _as_date(flow_run.scheduled_start_time) or today_vn()


_PENDING: set[asyncio.Task] = set()  # tagging requests in flight (the loop keeps only weak references)


def tag_current_run(tags: Iterable[str]) -> list[str]:
    """Add `tags` to the running flow run (kept: the tags it has); returns the run's tags.

    In an async run the request goes out on the engine's own client without blocking its event loop
    (the name function cannot await); in a sync run it is a short synchronous PATCH.
    """
    from prefect.client.orchestration import PrefectClient, get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return []
    run_id = context.flow_run.id
    current = list(context.flow_run.tags or [])
    merged = current + [t for t in dict.fromkeys(tags) if t not in current]
    if merged == current:
        return current
    context.flow_run.tags = merged
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is not None and isinstance(context.client, PrefectClient):
            task = loop.create_task(context.client.update_flow_run(run_id, tags=merged))
            _PENDING.add(task)
            task.add_done_callback(_tagged)
        else:
            with get_client(sync_client=True) as client:
                client.update_flow_run(run_id, tags=merged)
    except Exception:
        logger.warning("could not tag flow run %s with %s", run_id, merged, exc_info=True)
    return merged


def _tagged(task: asyncio.Task) -> None:
    _PENDING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("could not tag a flow run: %s", task.exception())


def meeting_run_name() -> str:
    """`meeting-<unit>-<meeting day>`; tags the run with the council's province and level."""
    unit_ref = str(_param("unit", "") or "")
    minutes = _param("minutes") or {}
    if not isinstance(minutes, dict):  # passed in as a Minutes object, not JSON
        minutes = getattr(minutes, "__dict__", {})
    day = _as_date(minutes.get("meeting_date")) or _as_date(_param("on")) or _run_day()
    place = _safe_place(unit_ref, day)
    if place is not None:
        tag_current_run(tags_of([place]))
    return f"meeting-{place.slug if place else slug(unit_ref) or 'council'}-{day.isoformat()}"


def intake_run_name() -> str:
    """`intake-<province of the first row>-<day received>`; tags every province and level in the batch."""
    rows = [r for r in (_param("rows") or _staged_rows(_param("rows_ref"))) if isinstance(r, dict)]
    day = _as_date(_param("received_on")) or _run_day()
    seen: dict[tuple[str, date | None], Place | None] = {}
    for row in rows:
        ref = (str(row.get("unit") or "").strip(), _as_date(row.get("submitted_on")))
        if ref[0] and ref not in seen:
            seen[ref] = _safe_place(*ref)
            if len(seen) >= MAX_UNITS_LOOKED_UP:
                break
    places = [p for p in seen.values() if p is not None]
    if places:
        tag_current_run(tags_of(places))
        where = places[0].province_slug or places[0].slug
    else:
        where = slug(next(iter(seen), ("", None))[0]) or "batch"
    return f"intake-{where}-{day.isoformat()}"


def _staged_rows(key: Any) -> list:
    """The rows of a large batch, staged in the app database (flows/intake.py), for its name and tags."""
    if not key:
        return []
    from models.intake import staged_rows

    try:
        with session_scope() as session:
            return list(staged_rows(session=session, key=str(key)))
    except Exception:
        logger.warning("could not read staged rows %r for the run's name", key, exc_info=True)
        return []


def receive_run_name() -> str:
    """`receive-forwarded-meeting-12-<day>`, or `…-meetings-12-15-<day>` for a batch of meetings."""
    raw = [*(_param("meeting_ids") or []), _param("meeting_id")]
    ids = sorted({int(i) for i in raw if isinstance(i, int) or (isinstance(i, str) and i.isdigit())})
    which = f"meeting-{ids[0]}" if len(ids) == 1 else f"meetings-{ids[0]}-{ids[-1]}" if ids else "meeting-x"
    return f"receive-forwarded-{which}-{_run_day().isoformat()}"


def decision_run_name() -> str:
    """`decision-<unit>-<decision day>`; tags the run with the unit's province and level."""
    unit_ref = str(_param("unit", "") or "")
    day = _as_date(_param("decision_date")) or _run_day()
    place = _safe_place(unit_ref, day)
    if place is not None:
        tag_current_run(tags_of([place]))
    return f"decision-{place.slug if place else slug(unit_ref) or 'unit'}-{day.isoformat()}"


def dashboard_run_name() -> str:
    return f"dashboard-{_run_day().isoformat()}"
