"""Prefect events that trace a dossier from commune to conferral in the UI's event feed.

Every event name and resource id thidua emits is written here, once: operators filter the feed by
them and `prefect.yaml` starts `receive-forwarded` on COUNCIL_DECIDED.
"""

from __future__ import annotations

from collections.abc import Iterable

from prefect.events import emit_event

from models.awards import catalogue

# one event per dossier
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
DEADLINES_REMINDED = "thidua.deadlines.reminded"

# resource ids: prefix + the thing's code or key
NOMINATION = "thidua.nomination."
UNIT = "thidua.unit."
AWARD = "thidua.award."
BATCH = "thidua.batch."
MEETING = "thidua.meeting."
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


def emit_nomination_events(event: str, items: Iterable[dict]) -> int:
    """One event per dossier; each item has code, nominee, award, unit_code, unit (name) and a payload."""
    count = 0
    for item in items:
        emit_event(
            event=event,
            resource=nomination_resource(item["code"], item.get("nominee")),
            related=[unit_related(item["unit_code"], item["unit"]), award_related(item["award"])],
            payload=item.get("payload") or {},
        )
        count += 1
    return count


def emit_batch_event(
    event: str, *, resource_id: str, name: str, payload: dict, related: Iterable[dict[str, str]] = ()
) -> None:
    emit_event(
        event=event,
        resource={"prefect.resource.id": resource_id, "prefect.resource.name": name},
        related=list(related),
        payload=payload,
    )
