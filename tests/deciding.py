"""Test helper: the head's decision on what councils recommended (the law's step after a meeting).

A conferral needs the head's decision since issue 13: tests that walked a dossier to its conferral with
meetings alone call these after each meeting instead of rewriting their walk."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from models.awards import catalogue
from models.decisions import DecisionIssued, DecisionRequest, issue_decision
from models.hierarchy import CENTRAL, Hierarchy
from models.nominations import AGENDA, Nomination, Status


def decide_recommended(session: Session, hierarchy: Hierarchy, day: date) -> list[DecisionIssued]:
    """Every unit's head confers what its council recommended (numbers given by the system); commits."""
    by_unit = recommended_by_unit(session)
    issued = [
        issue_decision(
            session=session,
            hierarchy=hierarchy,
            request=DecisionRequest(
                unit=hierarchy.get(unit_id).code, codes=codes, decision_date=day, auto_number=True
            ),
        )
        for unit_id, codes in sorted(by_unit.items())
    ]
    session.commit()
    return issued


def recommended_by_unit(session: Session) -> dict[int, list[str]]:
    """The codes each unit's council recommended, waiting for its head's decision."""
    by_unit: dict[int, list[str]] = {}
    for code, unit_id in session.execute(
        select(col(Nomination.code), col(Nomination.current_unit_id)).where(
            col(Nomination.status) == Status.recommended
        )
    ).all():
        by_unit.setdefault(unit_id, []).append(code)
    return by_unit


def decisions_due(session: Session, hierarchy: Hierarchy) -> list[tuple[int, list[str]]]:
    """(unit id, codes) of each decision to issue now: the heads' on what was recommended, then the
    central bodies' decisions or submissions."""
    calls = sorted(recommended_by_unit(session).items())
    calls += [(u, group) for u, groups in central_groups(session, hierarchy).items() for group in groups]
    return calls


def central_groups(session: Session, hierarchy: Hierarchy) -> dict[int, list[list[str]]]:
    """What waits at each central body (on its agenda or submitted to it), split into the dossiers it
    decides and those it submits to the level above (two documents)."""
    rows = session.execute(
        select(col(Nomination.code), col(Nomination.current_unit_id), col(Nomination.award_code)).where(
            col(Nomination.status).in_([s.value for s in AGENDA | {Status.forwarded}])
        )
    ).all()
    forms = catalogue().forms
    out: dict[int, list[list[str]]] = {}
    for unit_id in sorted({u for _, u, _ in rows}):
        level = hierarchy.get(unit_id).level
        if level not in CENTRAL:
            continue
        here = [c for c, u, a in rows if u == unit_id and forms[a].authority == level]
        above = [c for c, u, a in rows if u == unit_id and forms[a].authority != level]
        out[unit_id] = [g for g in (here, above) if g]
    return out


def run_decisions(session: Session, hierarchy: Hierarchy, day: date) -> list[DecisionIssued]:
    """Through the `issue-decision` flow: the heads' decisions on what was recommended, and the central
    bodies' decisions or submissions on what waits there (the Prefect test server must be up)."""
    from flows.decisions import issue_decision as flow

    session.expire_all()
    results = []
    for unit_id, codes in decisions_due(session, hierarchy):
        result = asyncio.run(
            flow(unit=hierarchy.get(unit_id).code, codes=codes, decision_date=day, auto_number=True)
        )
        assert isinstance(result, DecisionIssued), result
        results.append(result)
    session.expire_all()
    return results


def consult_all(session: Session, hierarchy: Hierarchy, day: date) -> list[str]:
    """Every dossier waiting at a consulting level for a state-level award: ask the bodies its form needs
    and record that each agreed (hiệp y), so its council may forward it; commits; returns the codes."""
    from flows.consultation import record_answer, request_consultation
    from models.consultation import bodies_to_consult

    done = []
    for n in session.scalars(select(Nomination).where(col(Nomination.status).in_(list(AGENDA)))).all():
        if not bodies_to_consult(nomination=n, hierarchy=hierarchy):
            continue
        asked = request_consultation(session=session, code=n.code, on=day).asked
        for body in asked:
            record_answer(session=session, code=n.code, body=body, objection=None, on=day)
        done.append(n.code)
    session.commit()
    return done
