"""The changeover (chuyển giao hồ sơ khi sắp xếp đơn vị hành chính): on the first day of a new shape of
the local government, every dossier still pending at a unit that ended goes to the unit that carries
it on, with a recorded step, and a form whose conferring power the law moved is mapped to the new
holder's form (Giấy khen of the district chairman → the commune chairman's Giấy khen from 1/7/2025).

Where it goes: the chain in force on the changeover day, from the proposing unit's successor up to the
(mapped) form's authority; the dossier lands at the first unit of that chain at or above the level it
had reached (a Bằng khen tỉnh pending at huyện Cẩm Thủy goes to tỉnh Thanh Hóa; a Giấy khen huyện
becomes a Giấy khen xã and goes to the new commune, now the authority). Its status and clocks (received,
due, paused) are kept. Re-running moves nothing: a moved dossier sits at a valid unit with a mapped form,
and each move's idempotency key is recorded.

The data (`data/changeover.yaml`) names each changeover's date, its legal basis and the form map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlalchemy import or_, select
from sqlmodel import Session, col

from models import yamlfile
from models.awards import catalogue
from models.clock import fmt_date
from models.hierarchy import Hierarchy, NoRoute, UnitRef
from models.nominations import PENDING, Act, Nomination, Status, transfer
from models.units import Unit

CHANGEOVER_FILE = Path(__file__).parent / "data" / "changeover.yaml"


class FormMove(BaseModel):
    """A form whose conferring power the law moved, and the text that moved it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: str
    basis: str


class ChangeoverSpec(BaseModel):
    """One structural change: its first day, why, and which forms map to which."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    starts: date
    name: str
    legal_basis: str
    transfer: str
    forms: dict[str, FormMove] = {}


@lru_cache(maxsize=2)
def changeover_specs(path: Path = CHANGEOVER_FILE) -> tuple[ChangeoverSpec, ...]:
    """The changeovers of the data file; a form map must name forms of the catalogue."""
    raw = yamlfile.safe_load(path.read_text(encoding="utf-8")) or {}
    specs = tuple(ChangeoverSpec.model_validate(entry) for entry in raw.get("changeovers") or [])
    forms = catalogue().forms
    for spec in specs:
        for old, move in spec.forms.items():
            if old not in forms or move.to not in forms:
                raise ValueError(f"{path.name}: {spec.starts}: unknown form {old!r} or {move.to!r}")
    return specs


def changeover_on(day: date) -> ChangeoverSpec:
    """The changeover of `day`; a day without one in the data still moves dossiers, with no form map."""
    for spec in changeover_specs():
        if spec.starts == day:
            return spec
    return ChangeoverSpec(
        starts=day,
        name="Sắp xếp đơn vị hành chính",
        legal_basis="",
        transfer="hồ sơ đang xét tại đơn vị đã kết thúc chuyển cho đơn vị kế tục, giữ nguyên thời hạn xét",
    )


class ChangeoverRefused(ValueError):
    """A changeover that cannot run (message for officials)."""


@dataclass(frozen=True, slots=True)
class Moved:
    """One dossier moved (or, in a dry run, that would be)."""

    code: str
    status: str
    from_unit: str
    to_unit: str
    to_unit_id: int
    from_form: str
    to_form: str

    def public(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__ if k != "to_unit_id"}


@dataclass
class ChangeoverResult:
    """What a changeover did: dossiers moved, those it could not move (with why), letters queued."""

    on: date
    moved: list[Moved] = field(default_factory=list)
    stuck: list[tuple[str, str]] = field(default_factory=list)
    letters: int = 0

    def public(self) -> dict:
        return {
            "on": self.on.isoformat(),
            "moved": [m.public() for m in self.moved],
            "stuck": [{"code": c, "reason": r} for c, r in self.stuck],
            "letters": self.letters,
        }


def destination(
    *, nomination: Nomination, hierarchy: Hierarchy, on: date, form_code: str
) -> tuple[UnitRef | None, str]:
    """Where a pending dossier belongs on `on` (None, with the reason, when nowhere)."""
    here = hierarchy.get(nomination.current_unit_id)
    if here.valid_on(on):
        return here, ""
    origin = hierarchy.get(nomination.origin_unit_id)
    start = origin if origin.valid_on(on) else hierarchy.successor_on(origin, on)
    if start is None:
        return None, f"{hierarchy.ended_text(origin, on)}: không xác định được nơi nhận hồ sơ"
    try:
        chain = hierarchy.chain(start.id, catalogue().forms[form_code].authority)
    except NoRoute as exc:
        return None, str(exc)
    return next((u for u in chain if u.level.rank >= here.level.rank), chain[-1]), ""


def pending_at_ended_units(*, session: Session, on: date, forms: set[str]) -> list[Nomination]:
    """Dossiers pending at a unit that ended before `on`, or proposed for a form the law moved."""
    return list(
        session.scalars(
            select(Nomination)
            .join(Unit, col(Unit.id) == col(Nomination.current_unit_id))
            .where(
                col(Nomination.status).in_(list(PENDING)),
                or_(col(Unit.valid_to) < on, col(Nomination.award_code).in_(sorted(forms))),
            )
            .order_by(col(Nomination.code))
        )
    )


def spec_in_force(day: date) -> ChangeoverSpec:
    """The latest changeover begun on or before `day` (its form map still applies to late dossiers)."""
    begun = [s for s in changeover_specs() if s.starts <= day]
    return max(begun, key=lambda s: s.starts) if begun else changeover_on(day)


def transfer_note(*, spec: ChangeoverSpec, here: UnitRef, target: UnitRef, on: date) -> str:
    """The step's note as officials read it (the dossier's page, the letters): unit names, not codes,
    in Vietnamese only. 'Chính quyền địa phương hai cấp (…): xã Cẩm Thành kết thúc hoạt động ngày
    30/06/2025. Chuyển hồ sơ cho xã Cẩm Thạch (hồ sơ đang xét … giữ nguyên thời hạn xét)'."""
    note = spec.name
    if here.valid_to is not None and here.valid_to < on:
        note += f": {here.name} kết thúc hoạt động ngày {fmt_date(here.valid_to)}"
    return f"{note}. Chuyển hồ sơ cho {target.name} ({spec.transfer})"


@dataclass(frozen=True, slots=True)
class Handover:
    """What every dossier of one run is handed over under (chuyển giao hồ sơ): the day, the changeover
    whose form map applies, who acts, the prefix of each move's idempotency key (the dossier's code
    completes it), and whether the run only says what it would move."""

    on: date
    spec: ChangeoverSpec
    actor: str
    key: str
    dry_run: bool = False


def move_to_successor(
    *, session: Session, hierarchy: Hierarchy, nomination: Nomination, run: Handover
) -> Moved | str:
    """Move one dossier to where it belongs on `run.on` (its unit ended), mapping a form the law moved;
    one `transfer` step (no commit). Returns what moved, or why it could not."""
    forms = catalogue().forms
    n, on, spec = nomination, run.on, run.spec
    move = spec.forms.get(n.award_code)
    form_code = move.to if move else n.award_code
    target, why = destination(nomination=n, hierarchy=hierarchy, on=on, form_code=form_code)
    if target is None:
        return why
    here = hierarchy.get(n.current_unit_id)
    moved = Moved(n.code, n.status.value, here.code, target.code, target.id, n.award_code, form_code)
    if run.dry_run:
        return moved
    note = transfer_note(spec=spec, here=here, target=target, on=on)
    if move:
        note += (
            f". Hình thức «{forms[n.award_code].name}» chuyển thành «{forms[form_code].name}» ({move.basis})"
        )
    transfer(
        session=session,
        nomination=n,
        act=Act(actor=run.actor, on=on, unit_id=here.id, key=f"{run.key}:{n.code}", note=note[:4000]),
        to_unit_id=target.id,
        award_code=form_code,
        awarded_code=_mapped(spec, n.awarded_code) if n.status == Status.recommended else None,
    )
    return moved


def changeover(
    *, session: Session, on: date, actor: str = "", dry_run: bool = False, hierarchy: Hierarchy | None = None
) -> ChangeoverResult:
    """Move every dossier pending at a unit that ended on the day before `on` (or earlier) to its
    successor, mapping the forms the law moved; one `transfer` step each (no commit)."""
    hierarchy = hierarchy or Hierarchy.load(session)
    spec = changeover_on(on)
    result = ChangeoverResult(on=on)
    key = f"changeover:{on.isoformat()}"
    run = Handover(on=on, spec=spec, actor=actor or "thidua changeover", key=key, dry_run=dry_run)
    for n in pending_at_ended_units(session=session, on=on, forms=set(spec.forms)):
        moved = move_to_successor(session=session, hierarchy=hierarchy, nomination=n, run=run)
        if isinstance(moved, str):
            result.stuck.append((n.code, moved))
        else:
            result.moved.append(moved)
    if not dry_run and result.moved:
        result.letters = _letters(session=session, hierarchy=hierarchy, result=result)
    return result


def _mapped(spec: ChangeoverSpec, code: str | None) -> str | None:
    """A recommended form, mapped as the law moved its power (None: nothing recommended)."""
    if code is None:
        return None
    move = spec.forms.get(code)
    return move.to if move else code


def _letters(*, session: Session, hierarchy: Hierarchy, result: ChangeoverResult) -> int:
    """One letter per receiving council listing the dossiers it received (same transaction)."""
    from notifications.approval_letters import council_digests
    from notifications.outbox import enqueue_many

    by_unit: dict[int, list[str]] = {}
    for m in result.moved:
        by_unit.setdefault(m.to_unit_id, []).append(m.code)
    items = council_digests(
        session=session, hierarchy=hierarchy, by_unit=by_unit, ref=f"changeover-{result.on.isoformat()}"
    )
    return len(enqueue_many(session=session, items=items).created)


def changeover_summary(result: ChangeoverResult) -> str:
    """One line for officials."""
    return (
        f"Ngày {fmt_date(result.on)}: đã chuyển {len(result.moved)} hồ sơ cho đơn vị kế tục; "
        f"{len(result.stuck)} hồ sơ không chuyển được; {result.letters} thư thông báo"
    )
