"""The approval chain as Prefect flows, against the session-wide Prefect test server and a real SMTP
server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from flows.refusal import is_refused
from models.awards import ReviewType, catalogue
from models.meetings import Minutes
from models.nominations import Nomination, NominationStep, Status
from models.units import Council, CouncilMember
from tests.rows import review_type_for

RECEIVED = date(2026, 11, 23)
# The Labour Order 3rd class is proposed only at the final review (tổng kết) of a movement (Law 2022
# Art. 44(2)), and the final review of the 2021–2025 movement is not before 2025: a 2022 dossier of it is
# refused at intake (tests/test_dossier_details.py), so the 2022 chain climbs with every other form.
FORMS_2022 = sorted(
    f for f, form in catalogue().forms.items() if ReviewType.final not in (form.review_types or ())
)
FORMS_2026 = sorted(set(catalogue().forms) - {"giay-khen-huyen"})


def _rows(unit: str, on: str, forms: list[str]) -> list[dict]:
    return [
        {
            "row": i + 2,
            "nominee": f"{'Tập thể thôn' if 'co-thi-dua' in f else 'Nguyễn Văn'} {f}",
            "kind": "tập thể" if "co-thi-dua" in f else "cá nhân",
            "unit": unit,
            "award": f,
            "campaign": "ntm-2021-2025",
            "achievement": "Đóng góp xây dựng nông thôn mới",
            "submitted_on": on,
            "review_type": review_type_for(f),
        }
        for i, f in enumerate(forms)
    ]


def _members(session, unit_id: int) -> int:
    council = session.scalars(select(Council).where(Council.unit_id == unit_id)).one()
    return session.execute(
        select(func.count()).select_from(CouncilMember).where(CouncilMember.council_id == council.id)
    ).scalar_one()


def _approve_all(session, unit_id: int, codes: list[str], day: date) -> Minutes:
    members = _members(session, unit_id)
    return Minutes(
        meeting_date=day,
        members_present=members,
        decisions=[{"code": c, "decision": "approve", "votes_for": members} for c in codes],
    )


def _pending(session) -> dict[int, list[str]]:
    session.expire_all()
    out: dict[int, list[str]] = {}
    for n in session.scalars(select(Nomination).where(Nomination.status.in_(["submitted", "under_review"]))):
        out.setdefault(n.current_unit_id, []).append(n.code)
    return out


def _rejecting(approve: Minutes, code: str) -> Minutes:
    """The same council's minutes rejecting `code` (a rival of `approve`)."""
    return Minutes(
        meeting_date=approve.meeting_date,
        members_present=approve.members_present,
        decisions=[{"code": code, "decision": "reject", "note": "Thành tích chưa tiêu biểu"}],
    )


def _two_meetings_of_one_council(session, sample) -> tuple[int, list[str], int, int]:
    """One dossier waiting at xã Cẩm Thạch and two meetings of its council open beside each other (minutes
    passed in): the unit's id, the dossiers' codes, and the meetings' ids."""
    from flows.intake import intake
    from models import meetings as mt

    asyncio.run(intake(rows=_rows("cam thach", "02/03/2026", ["bang-khen-tinh"]), received_on=RECEIVED))
    ((unit_id, codes),) = _pending(session).items()
    first, second = (
        mt.open_meeting(session=session, unit_id=unit_id, key=f"minutes:{k}", hierarchy=sample, on=RECEIVED)
        for k in ("first", "second")
    )
    session.commit()
    return unit_id, codes, mt.saved_id(first), mt.saved_id(second)


def _run_chain(session, sample, day: date = RECEIVED) -> tuple[list, list]:
    """Hold a meeting at every local unit with work, then the heads' decisions on what was recommended and
    the central bodies' decisions or submissions (no council vote there), until nothing is pending;
    returns the meetings' results and the decisions."""
    from flows.council import council_meeting, receive_forwarded
    from models.hierarchy import CENTRAL
    from tests.deciding import consult_all, run_decisions

    results, decisions = [], []
    for _ in range(8):
        pending = {u: c for u, c in _pending(session).items() if sample.get(u).level not in CENTRAL}
        issued = run_decisions(session, sample, day)  # what the previous round recommended or sent up
        decisions += issued
        if not pending and not issued:
            break
        consult_all(session, sample, day)  # hiệp y before the province forwards a state-level award
        for unit_id, codes in sorted(pending.items()):
            unit = sample.get(unit_id)
            result = asyncio.run(
                council_meeting(unit=unit.code, minutes=_approve_all(session, unit_id, codes, day), on=day)
            )
            results.append(result)
            asyncio.run(receive_forwarded(meeting_id=result.meeting_id, on=day))
    return results, decisions


@pytest.mark.parametrize(
    ("unit", "on", "forms", "levels"),
    [
        (
            "thanh-hoa.cam-thuy.cam-thanh",
            "15/06/2022",
            FORMS_2022,
            [
                "commune",
                "district",
                "province",
                "central/moha",
                "central/prime_minister",
                "central/president",
            ],
        ),
        (
            "cam thach",
            "02/03/2026",
            FORMS_2026,
            ["commune", "province", "central/moha", "central/prime_minister", "central/president"],
        ),
    ],
    ids=["2022-with-district", "2026-two-tier"],
)
def test_every_award_form_climbs_to_its_authority(
    prefect_api, session, sample, smtp_env, unit, on, forms, levels
):
    from flows.intake import intake

    # the 2022 chain sits in 2022: huyện Cẩm Thủy and xã Cẩm Thành no longer meet after 30/6/2025
    day = date(2022, 11, 23) if on.endswith("2022") else RECEIVED
    intake_result = asyncio.run(intake(rows=_rows(unit, on, forms), source="test", received_on=day))
    assert len(intake_result["nominations"]) == len(forms)
    meetings, decisions = _run_chain(session, sample, day)
    session.expire_all()
    for n in session.scalars(select(Nomination)):
        form = catalogue().forms[n.award_code]
        assert n.status == Status.conferred, (n.code, n.status)
        assert sample.get(n.current_unit_id).level == form.authority
        steps = session.scalars(
            select(NominationStep).where(NominationStep.nomination_id == n.id).order_by(NominationStep.id)
        ).all()
        path = [sample.get(s.unit_id).level.value for s in steps if s.action.value in ("forward", "confer")]
        assert path == levels[: levels.index(form.authority.value) + 1], n.award_code
        # the head's decision: its own number in the unit's series, its own date (issue 13)
        council = session.scalars(select(Council).where(Council.unit_id == n.current_unit_id)).one()
        assert n.decision_number and n.decision_number.endswith("/" + council.decision_series)
        assert steps[-1].action.value == "confer" and steps[-2].action.value in ("recommend", "receive")
    # every council was told of its new items once, every proposer of every decision once
    ids = smtp_env.message_ids()
    assert ids and max(ids.values()) == 1
    # one letter to the one proposing commune per meeting that sent dossiers up and per decision; a
    # recommendation tells nobody until the head decides
    from notifications.outbox import OutboxMessage

    outcome_letters = session.scalars(
        select(OutboxMessage).where(OutboxMessage.category.like("outcome_%"))
    ).all()
    told_by_meetings = sum(1 for m in meetings if "forwarded" in m.counts)
    assert len(outcome_letters) == told_by_meetings + len(decisions)
    assert len(meetings) == len([lv for lv in levels if not lv.startswith("central/")])
    assert all(m.status == "sent" for m in outcome_letters)
    digests = [m for m in outcome_letters if m.category == "outcome_digest"]
    assert digests and all("Kết quả" in m.subject for m in digests)


def test_refused_minutes_change_nothing(prefect_api, session, sample, smtp_env):
    from flows.council import council_meeting
    from flows.intake import intake

    asyncio.run(
        intake(
            rows=_rows("cam thach", "02/03/2026", ["giay-khen-xa", "co-thi-dua-tinh"]), received_on=RECEIVED
        )
    )
    codes = _pending(session)
    ((unit_id, items),) = codes.items()
    members = _members(session, unit_id)
    bad = Minutes(
        meeting_date=RECEIVED,
        members_present=members + 3,
        decisions=[
            {"code": items[0], "decision": "reject", "votes_for": 1},
            {"code": "HS2026-999999", "decision": "approve"},
            {"code": items[1], "decision": "award-lower", "lower_award": "bang-khen-xyz"},
        ],
    )
    state = asyncio.run(
        council_meeting(unit=sample.get(unit_id).code, minutes=bad, on=RECEIVED, return_state=True)
    )
    assert is_refused(state)  # issue 11: a refusal is a Completed state named Refused, not Failed
    problems = state.message
    for expected in ("lớn hơn số thành viên", "phải ghi rõ lý do", "HS2026-999999", "bang-khen-xyz"):
        assert expected in problems
    session.expire_all()
    assert {n.status for n in session.scalars(select(Nomination))} == {Status.submitted}
    assert session.execute(select(func.count()).select_from(NominationStep)).scalar_one() == 2


def test_a_meeting_rerun_after_it_applied_changes_nothing_and_sends_nothing_twice(
    prefect_api, session, sample, smtp_env
):
    from flows.council import council_meeting
    from flows.intake import intake

    asyncio.run(
        intake(
            rows=_rows("cam thach", "02/03/2026", ["giay-khen-xa", "bang-khen-tinh"]), received_on=RECEIVED
        )
    )
    ((unit_id, codes),) = _pending(session).items()
    minutes = _approve_all(session, unit_id, codes, RECEIVED)
    first = asyncio.run(council_meeting(unit=sample.get(unit_id).code, minutes=minutes, on=RECEIVED))
    steps = session.execute(select(func.count()).select_from(NominationStep)).scalar_one()
    sent = len(smtp_env.captured)
    again = asyncio.run(council_meeting(unit=sample.get(unit_id).code, minutes=minutes, on=RECEIVED))
    assert again.meeting_id == first.meeting_id and again.counts == first.counts
    assert again.letters == 0
    assert session.execute(select(func.count()).select_from(NominationStep)).scalar_one() == steps
    assert len(smtp_env.captured) == sent


def test_two_meetings_racing_on_one_nomination_exactly_one_wins(prefect_api, session, sample, smtp_env):
    from flows.council import council_meeting
    from flows.intake import intake

    asyncio.run(intake(rows=_rows("cam thach", "02/03/2026", ["bang-khen-tinh"]), received_on=RECEIVED))
    ((unit_id, codes),) = _pending(session).items()
    code = sample.get(unit_id).code
    approve = _approve_all(session, unit_id, codes, RECEIVED)
    reject = _rejecting(approve, codes[0])

    async def race():
        return await asyncio.gather(
            council_meeting(unit=code, minutes=approve, on=RECEIVED, return_state=True, deliver=False),
            council_meeting(unit=code, minutes=reject, on=RECEIVED, return_state=True, deliver=False),
        )

    states = asyncio.run(race())
    assert sorted(is_refused(s) for s in states) == [
        False,
        True,
    ]  # issue 11: the loser is refused, not failed
    assert all(s.is_completed() for s in states)
    loser = next(s for s in states if is_refused(s))
    # the loser either lost the compare-and-set, or opened after the winner and found the dossier
    # gone from its council (an empty agenda, or the dossier already at the level above)
    assert codes[0] in loser.message
    assert any(why in loser.message for why in ("xử lý", "không thuộc", "không có trong chương trình họp"))
    session.expire_all()
    n = session.scalars(select(Nomination)).one()
    assert n.status in (Status.forwarded, Status.rejected)
    decided = session.scalars(
        select(NominationStep).where(NominationStep.action.in_(["forward", "reject"]))
    ).all()
    assert len(decided) == 1


def test_a_second_meeting_of_a_council_waits_for_the_first_to_apply_then_finds_its_dossiers_decided(
    prefect_api, session, sample
):
    """One meeting of a council applies at a time, held by the council's row in the app database (not a
    Prefect lease, which a client that gave up on a slow answer could leave taken for good): the second
    waits while the first is inside its transaction, then is refused on the dossier the first decided."""
    import threading
    import time

    from sqlmodel import Session

    from flows.council import apply_and_queue
    from models import meetings as mt
    from models.db import get_engine

    unit_id, codes, first, second = _two_meetings_of_one_council(session, sample)
    approve = _approve_all(session, unit_id, codes, RECEIVED)
    reject = _rejecting(approve, codes[0])
    outcome: list = []
    with Session(get_engine()) as holder:
        meeting = mt.meeting_to_apply(holder, first)
        assert meeting is not None
        mt.apply_minutes(session=holder, meeting=meeting, minutes=approve, hierarchy=sample)
        waiting = threading.Thread(
            target=lambda: outcome.append(apply_and_queue(second, reject, "")), daemon=True
        )
        waiting.start()
        time.sleep(2)
        assert waiting.is_alive() and not outcome  # held at the council's row, nothing checked yet
        holder.commit()
    waiting.join(60)
    assert not waiting.is_alive()
    (problems,) = outcome
    assert isinstance(problems, list) and any(codes[0] in str(p) for p in problems), problems
    session.expire_all()
    assert session.scalars(select(Nomination)).one().status == Status.forwarded


def test_a_meeting_that_waits_too_long_for_its_council_is_refused_with_nothing_applied(
    prefect_api, session, sample, monkeypatch
):
    """The wait is bounded (PostgreSQL: COUNCIL_WAIT_S for the council's row; SQLite: the busy timeout
    of every write): past it the meeting is refused in words, and the first meeting applies untouched."""
    from sqlalchemy import create_engine
    from sqlmodel import Session

    from models import meetings as mt
    from models.db import get_engine

    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        monkeypatch.setattr(mt, "COUNCIL_WAIT_S", 1)
        late_engine, waited = get_engine(), "đã chờ 1 phút"
    else:  # a connection that waits 1 s for the write lock instead of models/db.py's 30 s
        late_engine, waited = create_engine(bind.url, connect_args={"timeout": 1}), "đã chờ 30 giây"
    unit_id, codes, first, second = _two_meetings_of_one_council(session, sample)
    with Session(get_engine()) as holder, Session(late_engine) as late:
        meeting = mt.meeting_to_apply(holder, first)
        assert meeting is not None
        mt.apply_minutes(
            session=holder,
            meeting=meeting,
            minutes=_approve_all(session, unit_id, codes, RECEIVED),
            hierarchy=sample,
        )
        with pytest.raises(mt.CouncilBusy, match=waited):
            mt.meeting_to_apply(late, second)
        late.rollback()
        holder.commit()
    session.expire_all()
    assert session.scalars(select(Nomination)).one().status == Status.forwarded
    assert session.get(mt.Meeting, second).status == mt.MeetingStatus.open


def test_minutes_too_large_for_a_parameter_go_by_reference_and_apply_once(
    prefect_api, session, sample, smtp_env, monkeypatch
):
    # A national council's minutes (10,000 decisions ≈ 1.4 MB) exceed Prefect's 512 KiB for parameters;
    # here the threshold is lowered so two decisions already travel through the app database.
    import flows.council as council
    from flows.intake import intake
    from models.meetings import Meeting
    from models.staging import StagedPayload

    monkeypatch.setattr(council, "INLINE_MINUTES_BYTES", 10)
    asyncio.run(
        intake(
            rows=_rows("cam thach", "02/03/2026", ["giay-khen-xa", "bang-khen-tinh"]), received_on=RECEIVED
        )
    )
    ((unit_id, codes),) = _pending(session).items()
    unit = sample.get(unit_id).code
    minutes = _approve_all(session, unit_id, codes, RECEIVED)
    parameters = council.minutes_parameters(unit=unit, minutes=minutes)
    assert set(parameters) == {"minutes_ref"}
    assert council.minutes_parameters(unit=unit, minutes=minutes) == parameters  # stored once, same key
    first = asyncio.run(council.council_meeting(unit=unit, **parameters, on=RECEIVED))
    assert first.counts == {"recommended": 1, "forwarded": 1}
    again = asyncio.run(council.council_meeting(unit=unit, **parameters, on=RECEIVED))
    assert again.meeting_id == first.meeting_id and again.letters == 0
    session.expire_all()
    assert session.get(Meeting, first.meeting_id).key == parameters["minutes_ref"]
    assert session.execute(select(func.count()).select_from(StagedPayload)).scalar_one() == 1
    state = asyncio.run(
        council.council_meeting(unit=unit, minutes_ref="minutes:unknown", on=RECEIVED, return_state=True)
    )
    assert state.is_failed() and "không tìm thấy biên bản" in str(state.message)
