"""Read-only views councils and scripts ask for: a dossier's path, a council's inbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from models.awards import catalogue
from models.hierarchy import Hierarchy, NoRoute
from models.namesakes import namesakes, nominee_details
from models.nominations import AGENDA, FINAL, Nomination, NominationStep, Nominee, Status, by_code, steps_of


class NominationNotFound(LookupError):
    pass


def nomination_status(*, session: Session, code: str, hierarchy: Hierarchy | None = None) -> dict:
    """The dossier, its path so far and the planned rest of its chain."""
    nomination = by_code(session=session, code=code)
    if nomination is None:
        raise NominationNotFound(f"không tìm thấy hồ sơ «{code}»")
    hierarchy = hierarchy or Hierarchy.load(session)
    nominee = session.get(Nominee, nomination.nominee_id)
    form = catalogue().forms[nomination.award_code]
    try:
        chain = hierarchy.chain(nomination.origin_unit_id, form.authority)
    except NoRoute:
        chain = hierarchy.ancestors(nomination.origin_unit_id)
    current = hierarchy.get(nomination.current_unit_id)
    position = next((i for i, u in enumerate(chain) if u.id == current.id), None)
    assert nomination.id is not None  # read from the table
    steps = steps_of(session=session, nomination_id=nomination.id)
    return {
        "code": nomination.code,
        "nominee": nominee.name if nominee else None,
        "kind": nominee.kind if nominee else None,
        "award": nomination.award_code,
        "award_name": form.name,
        "awarded": nomination.awarded_code,
        "status": nomination.status.value,
        "status_label": nomination.status.label,
        "current_unit": current.public(),
        "origin_unit": hierarchy.get(nomination.origin_unit_id).public(),
        "submitted_on": nomination.submitted_on.isoformat(),
        "review_type": nomination.review_type.value if nomination.review_type else None,
        "review_type_label": nomination.review_type.label if nomination.review_type else None,
        "birth_year": nomination.nominee_birth_year,
        "position": nomination.nominee_position,
        "workplace": nomination.nominee_workplace,
        "nominee_details": nominee_details(
            birth_year=nomination.nominee_birth_year,
            position=nomination.nominee_position,
            workplace=nomination.nominee_workplace,
        ),
        "warnings": [
            n.warning()
            for n in namesakes(session=session, nomination_ids=[nomination.id]).get(nomination.id, [])
        ],
        "rule_set": nomination.rule_set,
        "due_on": nomination.due_on.isoformat() if nomination.due_on else None,
        "return_deadline": nomination.return_deadline.isoformat() if nomination.return_deadline else None,
        "decision_number": nomination.decision_number,
        "decision_date": nomination.decision_date.isoformat() if nomination.decision_date else None,
        "chain": [
            {**u.public(), "state": _chain_state(i, position, nomination.status)} for i, u in enumerate(chain)
        ],
        "steps": [_step_public(s, hierarchy) for s in steps],
    }


def _chain_state(index: int, position: int | None, status: Status) -> str:
    if position is None:
        return "unknown"
    if index < position:
        return "passed"
    if index == position:
        return "done" if status in FINAL else "here"
    return "ahead" if status not in FINAL else "not-reached"


def votes_public(step: NominationStep) -> dict | None:
    """A step's tally (members present and written votes of absent members), None for a step without a vote."""
    if step.votes_for is None:
        return None
    return {
        "for": step.votes_for,
        "against": step.votes_against,
        "abstain": step.votes_abstain,
        "present": step.members_present,
        "written_for": step.written_for,
        "written_against": step.written_against,
        "written_abstain": step.written_abstain,
        "members": step.members_total,
    }


def votes_text(votes: dict | None, *, present: bool = True) -> str:
    """A tally as officials write it: «5/1/0 + 1/0/0 bằng văn bản (dự họp 6)» (for / against / abstain of
    the members present, then absent members' written votes when there are any, then how many were
    present unless `present` is False); "" for a step without a vote."""
    if not votes:
        return ""
    text = f"{votes['for']}/{votes['against']}/{votes['abstain']}"
    written = [votes.get(k) or 0 for k in ("written_for", "written_against", "written_abstain")]
    if any(written):
        text += f" + {written[0]}/{written[1]}/{written[2]} bằng văn bản"
    if present and votes.get("present") is not None:
        text += f" (dự họp {votes['present']})"
    return text


def _step_public(step: NominationStep, hierarchy: Hierarchy) -> dict:
    unit = hierarchy.by_id.get(step.unit_id) if step.unit_id else None
    to_unit = hierarchy.by_id.get(step.to_unit_id) if step.to_unit_id else None
    return {
        "action": step.action.value,
        "from_status": step.from_status.value if step.from_status else None,
        "to_status": step.to_status.value,
        "unit": unit.public() if unit else None,
        "to_unit": to_unit.public() if to_unit else None,
        "actor": step.actor,
        "votes": votes_public(step),
        "note": step.note,
        "decision_number": step.decision_number,
        "decision_date": step.decision_date.isoformat() if step.decision_date else None,
        "award": step.award_code,
        "deadline": step.deadline.isoformat() if step.deadline else None,
        "on_date": step.on_date.isoformat() if step.on_date else None,
        "at": step.created_at.isoformat() if step.created_at else None,
    }


def inbox(
    *, session: Session, unit_id: int, hierarchy: Hierarchy, statuses: Iterable[Status] = AGENDA
) -> list[dict]:
    """What waits for a council: its agenda, oldest due first."""
    stmt = (
        select(
            col(Nomination.code),
            col(Nominee.name),
            col(Nominee.kind),
            col(Nomination.award_code),
            col(Nomination.origin_unit_id),
            col(Nomination.status),
            col(Nomination.received_on),
            col(Nomination.due_on),
            col(Nomination.submitted_on),
            col(Nomination.achievement),
            col(Nomination.nominee_birth_year),
            col(Nomination.nominee_position),
            col(Nomination.nominee_workplace),
        )
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(
            col(Nomination.current_unit_id) == unit_id,
            col(Nomination.status).in_([s.value for s in statuses]),
        )
        .order_by(col(Nomination.due_on), col(Nomination.id))
    )
    forms = catalogue().forms
    out = []
    for (
        code,
        name,
        kind,
        award,
        origin,
        status,
        received,
        due,
        submitted,
        achievement,
        born,
        position,
        workplace,
    ) in session.execute(stmt):
        out.append(
            {
                "code": code,
                "nominee": name,
                "kind": kind,
                "award": award,
                "award_name": forms[award].name,
                "origin_unit": hierarchy.get(origin).name,
                "status": status,
                "received_on": _iso(received),
                "due_on": _iso(due),
                "submitted_on": _iso(submitted),
                "achievement": achievement,
                "birth_year": born,
                "position": position,
                "workplace": workplace,
                "nominee_details": nominee_details(birth_year=born, position=position, workplace=workplace),
            }
        )
    return out


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
