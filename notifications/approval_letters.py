"""What the approval chain tells people (thư thông báo), as outbox letters: a digest of new items to
a receiving council, and each meeting's decisions to the proposers. Plain functions: they build `MailItem`s with idempotency
keys; the caller queues them in the same transaction as the change they report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from documents.text import document_number
from models import documents as dm
from models.awards import catalogue
from models.clock import fmt_date
from models.decisions import AwardDecision, DecisionKind, decision_of
from models.hierarchy import CENTRAL, Hierarchy, UnitRef
from models.meetings import Meeting, MeetingResult, Outcome
from models.namesakes import nominee_details, warnings_by_code
from models.nominations import Action, Nomination, NominationStep, Nominee
from models.units import Council, Unit
from notifications.outbox import MailItem
from notifications.render import (
    Attachment,
    CouncilNewItems,
    NominationLine,
    OutcomeConferred,
    OutcomeDigest,
    OutcomeForwarded,
    OutcomeLine,
    OutcomeRejected,
    OutcomeReturned,
)


def _council(session: Session, unit_id: int) -> Council | None:
    return session.scalars(select(Council).where(col(Council.unit_id) == unit_id)).first()


def standing_office(council: Council) -> str:
    return f"Thường trực {council.name}"


def council_digest(
    *, session: Session, hierarchy: Hierarchy, unit_id: int, codes: list[str], ref: str
) -> MailItem | None:
    """One letter to the receiving council's standing office listing the items of one batch."""
    council = _council(session, unit_id)
    if council is None or not codes:
        return None
    forms = catalogue().forms
    dossier = (Nomination.code, Nomination.award_code, Nomination.origin_unit_id, Nomination.due_on)
    person = (
        Nominee.name,
        Nomination.nominee_birth_year,
        Nomination.nominee_position,
        Nomination.nominee_workplace,
    )
    rows = session.execute(
        select(*(col(c) for c in (*dossier, *person)))
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(col(Nomination.code).in_(codes))
        .order_by(col(Nomination.due_on), col(Nomination.code))
    ).all()
    warnings = warnings_by_code(session=session, codes=codes)
    cited = _submissions_to(session, hierarchy, unit_id, codes)
    lines = [
        NominationLine(
            code=c,
            nominee=name,
            award_form=forms[a].name,
            proposing_unit=hierarchy.get(origin).name,
            due_date=due or date.today(),
            details=nominee_details(birth_year=born, position=position, workplace=workplace),
            warnings=warnings.get(c, []),
            submission=cited.get(c, ""),
        )
        for c, a, origin, due, name, born, position, workplace in rows
    ]
    unit = hierarchy.get(unit_id)
    return MailItem(
        key=f"council-notice:{ref}:{unit.code}",
        to_email=council.office_email,
        to_name=standing_office(council),
        template="council_new_items",
        context=CouncilNewItems(
            signed_by="Hệ thống theo dõi thi đua, khen thưởng", council_name=council.name, agenda_items=lines
        ),
    )


def submission_ref(number: str, day: date) -> str:
    """'Tờ trình số 05/TTr-UBND ngày 24/11/2026', as the letters of the level above cite it."""
    return f"Tờ trình số {document_number(number)} ngày {fmt_date(day)}"


def _submissions_to(session: Session, hierarchy: Hierarchy, unit_id: int, codes: list[str]) -> dict[str, str]:
    """The tờ trình that brought each dossier to `unit_id`, with its issuer: a council's letter (documents/)
    or a central body's submission recorded by the decision step."""
    found = {
        code: (doc.number, doc.issued_on, doc.unit_id)
        for code, doc in dm.submissions_by_code(session=session, codes=codes, to_unit_id=unit_id).items()
    }
    steps = session.execute(
        select(
            col(Nomination.code),
            col(NominationStep.decision_number),
            col(NominationStep.decision_date),
            col(NominationStep.unit_id),
        )
        .join(Nomination, col(Nomination.id) == col(NominationStep.nomination_id))
        .where(
            col(Nomination.code).in_([c for c in codes if c not in found]),
            col(NominationStep.action) == Action.forward,
            col(NominationStep.to_unit_id) == unit_id,
            col(NominationStep.decision_number).is_not(None),
        )
        .order_by(col(NominationStep.id).desc())
    ).all()
    for code, number, day, from_unit in steps:
        if number and day and from_unit is not None:
            found.setdefault(code, (number, day, from_unit))
    out = {}
    for code, (number, day, from_unit) in found.items():
        issuer = hierarchy.get(from_unit)
        by = issuer.name if issuer.level in CENTRAL else f"UBND {issuer.name}"
        out[code] = f"{submission_ref(number, day)} của {by}"
    return out


def council_digests(
    *, session: Session, hierarchy: Hierarchy, by_unit: dict[int, list[str]], ref: str
) -> list[MailItem]:
    items = [
        council_digest(session=session, hierarchy=hierarchy, unit_id=u, codes=c, ref=ref)
        for u, c in by_unit.items()
    ]
    return [i for i in items if i is not None]


def outcome_letters(
    *, session: Session, hierarchy: Hierarchy, meeting: Meeting, outcome: MeetingResult
) -> list[MailItem]:
    """A meeting's results, told to each unit that proposed dossiers (its office): one letter per proposer
    per meeting — the detailed letter when it had one dossier, a table of results when several. A
    recommendation is not told here: the proposer hears of it with the head's decision."""
    council = session.get(Council, meeting.council_id)
    if council is None:
        raise LookupError(f"phiên họp #{meeting.id}: không tìm thấy Hội đồng")
    told = {c: o for c, o in outcome.outcomes.items() if o != Outcome.recommended}
    forwarded = [c for c, o in told.items() if o == Outcome.forwarded]
    letters = dm.submissions_by_code(session=session, codes=forwarded, meeting_id=meeting.id)
    return _letters(
        session,
        hierarchy,
        Told(
            outcomes=told,
            key=f"meeting:{meeting.id}",
            ref=str(meeting.id),
            council=council,
            signed_by=standing_office(council),
            decided_on=meeting.meeting_date or meeting.opened_on,
            submissions={c: (d.number, d.issued_on) for c, d in letters.items()},
        ),
    )


def decision_letters(*, session: Session, hierarchy: Hierarchy, decision_id: int) -> list[MailItem]:
    """The head's decision, told to each proposer of the dossiers it covers (the awardees' letters go
    out only now, never at the council's recommendation)."""
    decision = decision_of(session=session, decision_id=decision_id)
    unit, council = _unit_and_council(session, hierarchy, decision.unit_id)
    return _letters(
        session,
        hierarchy,
        Told(
            outcomes={i["code"]: Outcome(i["outcome"]) for i in decision.items},
            key=f"decision:{decision.id}",
            ref=f"decision-{decision.id}",
            council=council,
            signed_by=unit.office_name,
            decided_on=decision.decision_date,
            decided_by=unit.head_title,
            document=(decision.number, decision.decision_date),
            attachments=_decision_file(session, hierarchy, decision),
        ),
    )


def _unit_and_council(session: Session, hierarchy: Hierarchy, unit_id: int) -> tuple[UnitRef, Council]:
    unit = hierarchy.get(unit_id)
    council = _council(session, unit_id)
    if council is None:
        raise LookupError(f"{unit.name}: không tìm thấy Hội đồng Thi đua – Khen thưởng")
    return unit, council


def central_return_letters(
    *, session: Session, hierarchy: Hierarchy, unit_id: int, on: date, codes: list[str]
) -> list[MailItem]:
    """A central body's written return of incomplete dossiers (models.decisions.return_incomplete), told to
    each proposer with what to complete and by when; its steps are keyed `central-return:<unit>:<day>:<code>`."""
    from models.decisions import central_return_key

    unit, council = _unit_and_council(session, hierarchy, unit_id)
    return _letters(
        session,
        hierarchy,
        Told(
            outcomes=dict.fromkeys(codes, Outcome.returned),
            key=central_return_key(unit_id, on),
            ref=f"central-return-{unit_id}-{on.isoformat()}",
            council=council,
            signed_by=unit.office_name,
            decided_on=on,
        ),
    )


def _decision_file(session: Session, hierarchy: Hierarchy, decision: AwardDecision) -> tuple[Attachment, ...]:
    """A conferral's quyết định (the stored DOCX, made now if missing) for its letters; none for a refusal
    or a submission, nor when the province's template cannot render (the letters go without it)."""
    from documents.papers import decision_attachment

    if decision.kind != DecisionKind.confer:
        return ()
    conferred = [i["code"] for i in decision.items if i["outcome"] == Outcome.conferred.value]
    attachment = decision_attachment(
        session=session,
        hierarchy=hierarchy,
        unit_id=decision.unit_id,
        number=decision.number,
        day=decision.decision_date,
        codes=conferred,
        signer=decision.signer,
        meeting_id=decision.meeting_id,
    )
    return (attachment,) if attachment is not None else ()


@dataclass
class Told:
    """What one meeting or one decision tells the proposers: the outcome of each dossier, the key of
    its steps (`<key>:<code>`), who signs the letters and, for a decision, who decided and its number."""

    outcomes: Mapping[str, Outcome]
    key: str
    ref: str
    council: Council
    signed_by: str
    decided_on: date
    decided_by: str = ""
    document: tuple[str, date] | None = None
    attachments: tuple[Attachment, ...] = ()
    submissions: Mapping[str, tuple[str, date]] = field(default_factory=dict)

    def submission(self, code: str) -> tuple[str, date] | None:
        """The tờ trình that carries a forwarded dossier: the decision's own document (a central body's
        submission) or the meeting's letter to the level above."""
        return self.document or self.submissions.get(code)


def _letters(session: Session, hierarchy: Hierarchy, told: Told) -> list[MailItem]:
    codes = list(told.outcomes)
    if not codes:
        return []
    rows = session.execute(
        select(Nomination, col(Nominee.name))
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(col(Nomination.code).in_(codes))
        .order_by(col(Nomination.id))
    ).all()
    notes: dict[str | None, str] = dict(
        session.execute(
            select(col(NominationStep.idempotency_key), col(NominationStep.note)).where(
                col(NominationStep.idempotency_key).in_([f"{told.key}:{c}" for c in codes])
            )
        )
        .tuples()
        .all()
    )
    by_origin: dict[int, list[tuple[Nomination, str]]] = defaultdict(list)
    for n, nominee in rows:
        by_origin[n.origin_unit_id].append((n, nominee))
    origins = {u.id: u for u in session.scalars(select(Unit).where(col(Unit.id).in_(list(by_origin))))}
    letters = []
    for origin_id, items in by_origin.items():
        origin = origins[origin_id]
        if not origin.email:
            continue
        if len(items) == 1:
            n, nominee = items[0]
            template, ctx = _single_outcome(
                session, hierarchy, told, n, nominee, notes.get(f"{told.key}:{n.code}") or ""
            )
            key = f"outcome:{told.ref}:{n.code}"
        else:
            template, key = "outcome_digest", f"outcome:{told.ref}:{origin.code}"
            ctx = OutcomeDigest(
                signed_by=told.signed_by,
                council_name=told.council.name,
                decided_on=told.decided_on,
                decided_by=told.decided_by,
                outcomes=[
                    _outcome_line(
                        session, hierarchy, told, n, nominee, notes.get(f"{told.key}:{n.code}") or ""
                    )
                    for n, nominee in items
                ],
            )
        letters.append(
            MailItem(
                key=key,
                to_email=origin.email,
                to_name=f"Ủy ban nhân dân {origin.name}",
                template=template,
                context=ctx,
                attachments=told.attachments,
            )
        )
    return letters


def _forwarded_to(session: Session, hierarchy: Hierarchy, n: Nomination) -> str:
    target = hierarchy.get(n.current_unit_id)
    return target.head_title


def _outcome_line(session, hierarchy, told: Told, n, nominee, note) -> OutcomeLine:
    forms = catalogue().forms
    kind = told.outcomes[n.code]
    if kind == Outcome.conferred:
        result = f"Tặng {forms[n.awarded_code or n.award_code].name}, Quyết định số {n.decision_number}"
        detail = note
    elif kind == Outcome.forwarded:
        result = f"Trình {_forwarded_to(session, hierarchy, n)} khen thưởng"
        if submission := told.submission(n.code):
            result += f" ({submission_ref(*submission)})"
        detail = ""
    elif kind == Outcome.rejected:
        result, detail = "Không khen thưởng", note
    else:
        due = n.return_deadline.strftime("%d/%m/%Y") if n.return_deadline else ""
        result, detail = f"Trả lại để bổ sung (thời hạn nộp lại {due})", note
    return OutcomeLine(
        code=n.code, nominee=nominee, award_form=forms[n.award_code].name, result=result, detail=detail
    )


def _single_outcome(session, hierarchy, told: Told, n, nominee, note):
    forms = catalogue().forms
    base = {
        "signed_by": told.signed_by,
        "council_name": told.council.name,
        "code": n.code,
        "nominee": nominee,
        "award_form": forms[n.award_code].name,
        "decided_on": told.decided_on,
        "decided_by": told.decided_by,
    }
    kind = told.outcomes[n.code]
    if kind == Outcome.conferred:
        return "outcome_conferred", OutcomeConferred(
            **base,
            decision_number=n.decision_number or "",
            decision_date=n.decision_date or told.decided_on,
            conferred_form=forms[n.awarded_code].name
            if n.awarded_code and n.awarded_code != n.award_code
            else None,
        )
    if kind == Outcome.forwarded:
        return "outcome_forwarded", OutcomeForwarded(
            **base,
            forwarded_to=_forwarded_to(session, hierarchy, n),
            submission_number=document_number(submission[0])
            if (submission := told.submission(n.code))
            else None,
            submission_date=submission[1] if submission else None,
        )
    if kind == Outcome.rejected:
        at_authority = hierarchy.get(n.current_unit_id).level == forms[n.award_code].authority
        return "outcome_rejected", OutcomeRejected(
            **base,
            reasons=_lines(note),
            decision_number=told.document[0] if told.document else None,
            at_authority=at_authority,
        )
    return "outcome_returned", OutcomeReturned(
        **base, to_complete=_lines(note), complete_by=n.return_deadline or told.decided_on
    )


def _lines(note: str) -> list[str]:
    parts = [p.strip(" -•\t") for p in note.replace(";", "\n").splitlines()]
    return [p for p in parts if p] or ["(không ghi)"]


def group_by_unit(pairs: list[tuple[str, int]]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for code, unit_id in pairs:
        out[unit_id].append(code)
    return dict(out)
