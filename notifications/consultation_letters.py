"""What consultation (hiệp y) tells people, as outbox letters: a request to each body asked, and the
dossier returned to its proposer when a body objects. Plain functions building `MailItem`s; the caller
queues them in the same transaction as the change they report."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from models import consultation as hy
from models.hierarchy import Hierarchy
from models.namesakes import nominee_details
from models.nominations import Nomination
from notifications.approval_letters import standing_office
from notifications.outbox import MailItem
from notifications.render import ConsultationRequestLetter, OutcomeReturned


def request_letters(
    *,
    session: Session,
    hierarchy: Hierarchy,
    nomination: Nomination,
    requests: list[hy.ConsultationRequest],
    reminder: bool = False,
) -> list[MailItem]:
    """One letter to each body newly asked about the dossier (or, `reminder`, reminded once of it), signed
    by the consulting council's office."""
    if not requests:
        return []
    council = hy.council_of_unit(session=session, unit_id=nomination.current_unit_id)
    unit = hierarchy.get(nomination.current_unit_id)
    council_name = council.name if council else f"Hội đồng Thi đua – Khen thưởng {unit.name}"
    nominee = hy.nominee_name(session=session, nomination=nomination)
    details = nominee_details(
        birth_year=nomination.nominee_birth_year,
        position=nomination.nominee_position,
        workplace=nomination.nominee_workplace,
    )
    letters = []
    for req in requests:
        body = hy.rules().bodies[req.body]
        letters.append(
            MailItem(
                key=f"consultation-{'reminder' if reminder else 'request'}:{nomination.code}:{req.body}"
                f"{hy.round_suffix(req)}",
                to_email=body.email,
                to_name=body.name,
                template="consultation_request",
                context=ConsultationRequestLetter(
                    signed_by=standing_office(council) if council else council_name,
                    council_name=council_name,
                    body_name=body.name,
                    code=nomination.code,
                    nominee=nominee,
                    details=details,
                    award_form=nomination.form.name,
                    proposing_unit=hierarchy.get(nomination.origin_unit_id).name,
                    due_date=req.due_on,
                    legal_basis=hy.rules().legal_basis,
                    reminder=reminder,
                ),
            )
        )
    return letters


def objection_letter(
    *,
    session: Session,
    hierarchy: Hierarchy,
    nomination: Nomination,
    body: str,
    reason: str,
    on: date,
    round_suffix: str = "",
) -> MailItem | None:
    """The dossier returned to its proposer because a consulted body objected, with the reason
    (`round_suffix`: the consultation round's, models.consultation.round_suffix)."""
    origin = hierarchy.get(nomination.origin_unit_id)
    if not origin.email:
        return None
    council = hy.council_of_unit(session=session, unit_id=nomination.current_unit_id)
    unit = hierarchy.get(nomination.current_unit_id)
    council_name = council.name if council else f"Hội đồng Thi đua – Khen thưởng {unit.name}"
    return MailItem(
        key=f"consultation-objection:{nomination.code}:{body}{round_suffix}",
        to_email=origin.email,
        to_name=f"Ủy ban nhân dân {origin.name}",
        template="outcome_returned",
        context=OutcomeReturned(
            signed_by=standing_office(council) if council else council_name,
            council_name=council_name,
            code=nomination.code,
            nominee=hy.nominee_name(session=session, nomination=nomination),
            award_form=nomination.form.name,
            decided_on=on,
            to_complete=[hy.objection_note(body=body, reason=reason)],
            complete_by=nomination.return_deadline or on,
        ),
    )
