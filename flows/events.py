"""Prefect events that trace a dossier from commune to conferral in the UI's event feed.

Every event name and resource id thidua emits is written here, once: operators filter the feed by
them and `prefect.yaml` starts `receive-forwarded` on COUNCIL_DECIDED (and refreshes the dashboard
once a burst of them is over).

A dossier's events are batched: one event per step, unit and award form in a batch or meeting, naming
each dossier as a related resource (role `nomination`, id `thidua.nomination.<code>`) and carrying
each one's details in `payload["nominations"][code]`. The UI's event feed filters by any resource of an
event, related ones included, so filtering by `thidua.nomination.HS2026-000005` still lists that
dossier's whole trail — at 1/75th of the events (each event costs the server a row and the resources
Prefect attaches from the run: flow run, flow, deployment, tags).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prefect.events import emit_event

from models.awards import catalogue

# one event per step, unit and award form of a batch or meeting, naming its dossiers (related, role "nomination")
NOMINATION_SUBMITTED = "thidua.nomination.submitted"
NOMINATION_RECEIVED = "thidua.nomination.received"  # its review opened at the next level
NOMINATION_RECOMMENDED = "thidua.nomination.recommended"  # the council recommends; the head decides
NOMINATION_CONFERRED = "thidua.nomination.conferred"  # the head's decision
NOMINATION_FORWARDED = "thidua.nomination.forwarded"
NOMINATION_REJECTED = "thidua.nomination.rejected"
NOMINATION_RETURNED = "thidua.nomination.returned"
# a meeting's or a decision's outcome for a dossier → its event
OUTCOME_EVENTS = {
    "recommended": NOMINATION_RECOMMENDED,
    "conferred": NOMINATION_CONFERRED,
    "forwarded": NOMINATION_FORWARDED,
    "rejected": NOMINATION_REJECTED,
    "returned": NOMINATION_RETURNED,
}
# one event per batch
INTAKE_RECEIVED = "thidua.intake.received"
COUNCIL_DECIDED = "thidua.council.decided"  # the trigger of `receive-forwarded` (prefect.yaml)
# a label on COUNCIL_DECIDED's resource, the same on every one: the dashboard's debounce counts them as
# one stream (prefect.yaml `for_each`)
BURST = {"thidua.burst": "council.decided"}
DEADLINES_REMINDED = "thidua.deadlines.reminded"

# resource ids: prefix + the thing's code or key
NOMINATION = "thidua.nomination."
UNIT = "thidua.unit."
AWARD = "thidua.award."
BATCH = "thidua.batch."
RECEIPT = "thidua.receipt."
MEETING = "thidua.meeting."
DECISION = "thidua.decision."  # a head's decision (quyết định khen thưởng), by its row id
REMINDER_DAY = "thidua.reminders."


def nomination_resource(code: str, nominee: str | None = None) -> dict[str, str]:
    res = {"prefect.resource.id": f"{NOMINATION}{code}"}
    if nominee:
        res["prefect.resource.name"] = f"{code} — {nominee}"
    return res


def unit_related(code: str, name: str, role: str = "unit") -> dict[str, str]:
    return {
        "prefect.resource.id": f"{UNIT}{code}",
        "prefect.resource.role": role,
        "prefect.resource.name": name,
    }


def award_related(award: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"{AWARD}{award}",
        "prefect.resource.role": "award-form",
        "prefect.resource.name": catalogue().forms[award].name,
    }


# Prefect refuses an event with more than 100 related resources (PREFECT_EVENTS_MAXIMUM_RELATED_RESOURCES)
# and trims what it attaches from the run context (flow run, flow, deployment, work pool, one per tag)
# to fit: 75 dossiers + unit + award form leave room for those.
NOMINATIONS_PER_EVENT = 75
NOMINATION_ROLE = "nomination"


def nomination_related(code: str, nominee: str | None = None) -> dict[str, str]:
    return {**nomination_resource(code, nominee), "prefect.resource.role": NOMINATION_ROLE}


def emit_nomination_events(
    event: str, items: Iterable[dict], *, resource_id: str, name: str, payload: dict | None = None
) -> int:
    """The events of a step taken by dossiers of one batch or meeting: one per unit and award form (and
    per NOMINATIONS_PER_EVENT dossiers), the batch or meeting as resource, each dossier a related
    resource. Each item has code, nominee, award, unit_code, unit (name) and its payload. Returns the
    number of events."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for item in items:
        groups.setdefault((item["unit_code"], item["award"]), []).append(item)
    count = 0
    for (unit_code, award), group in groups.items():
        for start in range(0, len(group), NOMINATIONS_PER_EVENT):
            chunk = group[start : start + NOMINATIONS_PER_EVENT]
            emit_event(
                event=event,
                resource={"prefect.resource.id": resource_id, "prefect.resource.name": name},
                related=[
                    unit_related(unit_code, chunk[0]["unit"]),
                    award_related(award),
                    *(nomination_related(i["code"], i.get("nominee")) for i in chunk),
                ],
                payload={
                    **(payload or {}),
                    "count": len(chunk),
                    "nominations": {i["code"]: i.get("payload") or {} for i in chunk},
                },
            )
            count += 1
    return count


def emit_batch_event(
    event: str,
    *,
    resource_id: str,
    name: str,
    payload: dict,
    related: Iterable[dict[str, str]] = (),
    labels: Mapping[str, str] | None = None,
) -> None:
    emit_event(
        event=event,
        resource={"prefect.resource.id": resource_id, "prefect.resource.name": name, **(labels or {})},
        related=list(related),
        payload=payload,
    )


def dossiers_named(event: object) -> list[str]:
    """The codes of the dossiers an event names (its related resources of role `nomination`)."""
    return [
        r.id.removeprefix(NOMINATION)
        for r in getattr(event, "related", [])
        if r.role == NOMINATION_ROLE and r.id.startswith(NOMINATION)
    ]
