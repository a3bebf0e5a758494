"""Authorization as data: ONE table, route name × role → rule, checked by one dependency on every route
(`portal.web.guard`).

A route names the object it acts on (`scope`): nothing but the user (`user`), a unit (`unit`, from the
`unit` query or form field, the user's own by default), a dossier (`dossier`: every unit it belongs to —
where it was proposed, where it is, where it stepped; `dossier-origin`: its proposing unit only) or a
meeting (`meeting`: its council's unit) or a document (`document`: the unit that issued it and, for a
submission, the unit it was sent to). The role's rule must hold for one of the object's units:

- `own-unit`: the user's unit itself;
- `own-unit-or-below`: the user's unit or a unit under it (a district or province reads its communes);
- `province`: any unit of the user's province;
- `any`: everywhere.

A role without an entry for the route gets 403; an object outside the rule gets 404, as if it did not
exist: a URL with another council's dossier or meeting never answers its data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from models.accounts import Role
from models.hierarchy import Hierarchy, UnitRef
from models.units import Level


class Rule(StrEnum):
    own_unit = "own-unit"
    own_unit_or_below = "own-unit-or-below"
    province = "province"
    any = "any"


class Scope(StrEnum):
    user = "user"
    unit = "unit"
    dossier = "dossier"
    dossier_origin = "dossier-origin"
    meeting = "meeting"
    document = "document"


@dataclass(frozen=True)
class Route:
    scope: Scope
    rules: dict[Role, Rule] = field(default_factory=dict)
    method: str = "GET"


S, C, R, OP, AD = Role.secretary, Role.chair, Role.registry, Role.operator, Role.admin
BELOW, OWN, PROVINCE, ANY = Rule.own_unit_or_below, Rule.own_unit, Rule.province, Rule.any
# what every council member reads: their unit and the units under it; operators their province
READ = {S: BELOW, C: BELOW, R: BELOW, OP: PROVINCE, AD: ANY}
EVERYONE = {S: ANY, C: ANY, R: ANY, OP: ANY, AD: ANY}

ROUTES: dict[str, Route] = {
    "home": Route(Scope.user, EVERYONE),
    "password_form": Route(Scope.user, EVERYONE),
    "password": Route(Scope.user, EVERYONE, "POST"),
    "logout": Route(Scope.user, EVERYONE, "POST"),
    "inbox": Route(Scope.unit, READ),
    "dossier": Route(Scope.dossier, READ),
    "resubmit": Route(Scope.dossier_origin, {S: OWN}, "POST"),
    "nominate_form": Route(Scope.unit, {S: OWN}),
    "nominate": Route(Scope.unit, {S: OWN}, "POST"),
    "nominate_template": Route(Scope.user, {S: ANY, OP: ANY, AD: ANY}),
    "meetings": Route(Scope.unit, READ),
    "meeting_open": Route(Scope.unit, {S: OWN}, "POST"),
    "meeting": Route(Scope.meeting, READ),
    "minutes_save": Route(Scope.meeting, {S: OWN}, "POST"),
    "minutes_upload": Route(Scope.meeting, {S: OWN}, "POST"),  # the minutes sheet into the grid
    "minutes_confirm": Route(Scope.meeting, {C: OWN}, "POST"),
    "meeting_cancel": Route(Scope.meeting, {OP: PROVINCE, AD: ANY}, "POST"),
    "decisions": Route(Scope.unit, READ),  # what waits for the head's decision
    "decision_issue": Route(Scope.unit, {R: OWN}, "POST"),  # the registry records it
    "document": Route(Scope.document, READ),  # a paper's download
    "letters": Route(Scope.unit, READ),
    "reports": Route(Scope.unit, READ),
    "report_file": Route(Scope.unit, {S: OWN}, "POST"),
    "report_status": Route(Scope.user, {OP: ANY, AD: ANY}),
    "summary": Route(Scope.user, EVERYONE),  # the user's province (everything for an admin)
}


def province_of(hierarchy: Hierarchy, unit: UnitRef) -> UnitRef | None:
    if unit.level == Level.province:
        return unit
    return hierarchy.province_of(unit.id)


def holds(rule: Rule, *, user_unit: UnitRef, target: UnitRef, hierarchy: Hierarchy) -> bool:
    """Whether `rule` lets a user of `user_unit` reach an object of `target`."""
    if rule == Rule.any:
        return True
    if rule == Rule.own_unit:
        return target.id == user_unit.id
    if rule == Rule.own_unit_or_below:
        return any(u.id == user_unit.id for u in hierarchy.ancestors(target.id))
    province = province_of(hierarchy, user_unit)
    return province is not None and any(u.id == province.id for u in hierarchy.ancestors(target.id))


def decide(
    route: str, role: Role, *, user_unit: UnitRef, targets: Iterable[UnitRef], hierarchy: Hierarchy
) -> int:
    """200 when allowed, 403 when the role has no business on the route, 404 when the object is not theirs."""
    rule = ROUTES[route].rules.get(role)
    if rule is None:
        return 403
    if any(holds(rule, user_unit=user_unit, target=t, hierarchy=hierarchy) for t in targets):
        return 200
    return 404
