"""The changeover of 1/7/2025 (two-tier local government): dossiers pending at a unit that ended go to its
successor with a recorded step and a letter, Giấy khen huyện becomes the commune chairman's Giấy khen
(Decree 129/2025), clocks are kept and a second run changes nothing; an ended unit neither meets,
forwards nor confers, and a refusal names its successor. Then a simulated June–August 2025."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from models import meetings as mt
from models import nominations as nm
from models.changeover import changeover, changeover_specs
from models.hierarchy import UnitEnded
from models.intake import BatchRefused, take_in
from models.nominations import Act, Action, Nomination, NominationStep, Status, TransitionError, Votes
from notifications.outbox import OutboxMessage

JUNE = date(2025, 6, 20)
CHANGEOVER = date(2025, 7, 1)
CAM_THANH = "thanh-hoa.cam-thuy.cam-thanh"  # xã Cẩm Thành, until 30/6/2025
CAM_THACH = "thanh-hoa.cam-thach-2025"  # xã Cẩm Thạch, its successor from 1/7/2025
CAM_THUY = "thanh-hoa.cam-thuy"  # huyện Cẩm Thủy, abolished from 1/7/2025


def _submit(session, hierarchy, *, award: str, name: str, on: str = "20/06/2025", received: date = JUNE):
    result = take_in(
        session=session,
        hierarchy=hierarchy,
        received_on=received,
        rows=[
            (2, {"nominee": name, "kind": "cá nhân", "unit": CAM_THANH, "award": award, "submitted_on": on})
        ],
    )
    session.commit()
    n = nm.by_code(session=session, code=result.nominations[0]["code"])
    assert n is not None
    return n


def _up_one(session, hierarchy, n: Nomination, on: date) -> None:
    nm.forward(session=session, nomination=n, hierarchy=hierarchy, act=Act("hđ", on), votes=Votes(7, 0, 0, 7))
    nm.receive(session=session, nomination=n, hierarchy=hierarchy, act=Act("vp", on))
    session.commit()


def _decide(session, hierarchy, n: Nomination, on: date, number: str) -> None:
    """The deciding level since issue 13: its council recommends, then its head decides."""
    _recommend(session, hierarchy, n, on)
    _confer(session, hierarchy, n, Act("ct", on, key=f"confer:{n.code}"), number)


def _confer(session, sample, n: Nomination, act: Act, number: str) -> None:
    """The head's decision numbered `number`, dated the day of the act."""
    nm.confer(
        session=session, nomination=n, hierarchy=sample, act=act, decision_number=number, decision_date=act.on
    )


def _recommend(session, hierarchy, n: Nomination, on: date) -> None:
    nm.recommend(
        session=session, nomination=n, hierarchy=hierarchy, act=Act("hđ", on), votes=Votes(7, 0, 0, 7)
    )


def _steps(session, n: Nomination) -> list[NominationStep]:
    return nm.steps_of(session=session, nomination_id=n.id)


def _for_officials(note: str) -> None:
    """A step note officials read (trial defect 8): unit names, no unit codes, no English remark."""
    assert "thanh-hoa" not in note and "cam-th" not in note, note
    assert "configurable" not in note and "thực tiễn" not in note, note
    assert "Chuyển hồ sơ cho" in note


def test_the_changeover_moves_pending_dossiers_to_the_successor(session, sample) -> None:
    at_commune = _submit(session, sample, award="giay-khen-huyen", name="Lê Văn Một")
    at_district = _submit(session, sample, award="giay-khen-huyen", name="Lê Văn Hai")
    to_province = _submit(session, sample, award="bang-khen-tinh", name="Lê Văn Ba")
    recommended = _submit(session, sample, award="giay-khen-huyen", name="Lê Văn Tư")
    for n in (at_district, to_province, recommended):
        _up_one(session, sample, n, date(2025, 6, 25))
    assert {sample.get(n.current_unit_id).code for n in (at_district, to_province)} == {CAM_THUY}
    # the district council recommended in June; its chairman had not decided by 30/6/2025
    _recommend(session, sample, recommended, date(2025, 6, 27))
    session.commit()
    assert recommended.status == Status.recommended and recommended.due_on is not None
    everyone = (at_commune, at_district, to_province, recommended)
    clocks = {n.code: (n.received_on, n.due_on) for n in everyone}

    result = changeover(session=session, on=CHANGEOVER, actor="Văn phòng UBND tỉnh")
    session.commit()

    where = {m.code: (m.to_unit, m.to_form) for m in result.moved}
    assert where == {
        at_commune.code: (CAM_THACH, "giay-khen-xa"),  # the commune chairman now confers it
        at_district.code: (CAM_THACH, "giay-khen-xa"),
        to_province.code: ("thanh-hoa", "bang-khen-tinh"),  # past the commune already: to the province
        recommended.code: (CAM_THACH, "giay-khen-xa"),  # recommended: its head's decision moves too
    }
    for n in everyone:
        session.refresh(n)
        assert (n.received_on, n.due_on) == clocks[n.code]  # the clocks are kept
        last = _steps(session, n)[-1]
        assert last.action == Action.transfer and last.on_date == CHANGEOVER
        assert sample.get(last.unit_id).code in (CAM_THANH, CAM_THUY) and last.to_unit_id == n.current_unit_id
        assert "đơn vị kế tục" in last.note and "30/06/2025" in last.note
        _for_officials(last.note)
    assert at_commune.status == Status.submitted and at_district.status == Status.under_review
    assert recommended.status == Status.recommended and recommended.awarded_code == "giay-khen-xa"
    assert "Nghị định số 129/2025/NĐ-CP" in _steps(session, at_commune)[-1].note
    # one letter to each receiving council's standing office
    letters = session.scalars(
        select(OutboxMessage).where(OutboxMessage.key.like("council-notice:changeover-%"))
    ).all()
    assert result.letters == 2 and len(letters) == 2
    assert {m.to_email for m in letters} == {
        mt.council_of(session=session, unit_id=sample.by_code[c].id)[0].office_email
        for c in (CAM_THACH, "thanh-hoa")
    }

    # idempotent: a second run moves nothing, writes no step, queues no letter
    steps = session.scalars(select(NominationStep)).all()
    again = changeover(session=session, on=CHANGEOVER)
    session.commit()
    assert again.moved == [] and again.letters == 0
    assert len(session.scalars(select(NominationStep)).all()) == len(steps)

    # the moved Giấy khen is decided where the power now lies: the commune's council recommends, its
    # chairman decides; the one recommended before the changeover needs only the chairman's decision
    n = at_district
    _decide(session, sample, n, date(2025, 7, 20), "12/QĐ-UBND")
    assert n.status == Status.conferred and n.awarded_code == "giay-khen-xa"
    _confer(session, sample, recommended, Act("ct", date(2025, 7, 20)), "13/QĐ-UBND")
    assert recommended.status == Status.conferred and recommended.awarded_code == "giay-khen-xa"
    assert sample.get(recommended.current_unit_id).code == CAM_THACH


def test_the_form_map_cites_its_basis() -> None:
    (spec,) = [s for s in changeover_specs() if s.starts == CHANGEOVER]
    assert spec.forms["giay-khen-huyen"].to == "giay-khen-xa"
    assert (
        "129/2025/NĐ-CP" in spec.forms["giay-khen-huyen"].basis
        and "Điều 80" in spec.forms["giay-khen-huyen"].basis
    )
    assert "202/2025/QH15" in spec.legal_basis and "đơn vị kế tục" in spec.transfer


def test_a_dossier_of_june_is_not_forwarded_to_the_abolished_district(session, sample) -> None:
    """Issue 13 item 5: Giấy khen huyện dated 20/6/2025, forwarded on 15/7/2025 to huyện Cẩm Thủy."""
    n = _submit(session, sample, award="giay-khen-huyen", name="Trần Thị Bốn", received=date(2025, 7, 15))
    # received after xã Cẩm Thành ended: placed at once at xã Cẩm Thạch, its successor, the form mapped
    assert (
        sample.get(n.current_unit_id).code == CAM_THACH and n.origin_unit_id == sample.by_code[CAM_THANH].id
    )
    assert n.award_code == "giay-khen-xa" and n.status == Status.submitted
    submit, moved = _steps(session, n)
    assert (submit.action, moved.action) == (Action.submit, Action.transfer)
    assert "xã Cẩm Thành kết thúc hoạt động ngày 30/06/2025" in moved.note
    assert "Chuyển hồ sơ cho xã Cẩm Thạch" in moved.note and moved.on_date == date(2025, 7, 15)
    _for_officials(moved.note)
    # the successor's council decides it: never forwarded to huyện Cẩm Thủy
    with pytest.raises(TransitionError):
        nm.forward(session=session, nomination=n, hierarchy=sample, act=Act("hđ", date(2025, 7, 16)))
    session.rollback()
    # at the district since June: neither forwarded on nor conferred there after 30/6/2025
    there = _submit(session, sample, award="giay-khen-huyen", name="Trần Thị Năm")
    _up_one(session, sample, there, date(2025, 6, 25))
    with pytest.raises(TransitionError, match="huyện Cẩm Thủy .*chỉ tồn tại đến 30/06/2025"):
        _confer(session, sample, there, Act("hđ", date(2025, 7, 20)), "5/QĐ-UBND")
    session.rollback()
    assert [s.action for s in _steps(session, there)] == [Action.submit, Action.forward, Action.receive]


def test_a_meeting_of_an_abolished_unit_is_refused(session, sample) -> None:
    n = _submit(session, sample, award="giay-khen-huyen", name="Phạm Văn Sáu")
    _up_one(session, sample, n, date(2025, 6, 25))
    with pytest.raises(mt.MeetingRefused) as refused:
        mt.open_meeting(
            session=session,
            unit_id=sample.by_code[CAM_THUY].id,
            key="m-cam-thuy",
            hierarchy=sample,
            on=date(2025, 7, 15),
        )
    assert "huyện Cẩm Thủy (thanh-hoa.cam-thuy) chỉ tồn tại đến 30/06/2025" in str(refused.value)
    assert "tỉnh Thanh Hóa" in str(refused.value)  # its successor
    session.rollback()
    # the same council sat in June
    meeting = mt.open_meeting(
        session=session,
        unit_id=sample.by_code[CAM_THUY].id,
        key="m-june",
        hierarchy=sample,
        on=date(2025, 6, 27),
    )
    assert meeting.id is not None
    # looking the unit up by its code for a date after it ended names the successor
    with pytest.raises(UnitEnded) as ended:
        sample.resolve(CAM_THUY, on=date(2025, 7, 15))
    assert ended.value.successor is not None and ended.value.successor.code == "thanh-hoa"


@pytest.mark.parametrize("unit", [CAM_THANH, "xã Cẩm Thành"])
def test_a_refusal_of_an_ended_unit_names_its_successor(session, sample, unit) -> None:
    """Issue 13 item 9: a 2026 dossier from a commune that ended on 30/6/2025."""
    with pytest.raises(BatchRefused) as refused:
        take_in(
            session=session,
            hierarchy=sample,
            received_on=date(2026, 3, 2),
            rows=[
                (
                    2,
                    {
                        "nominee": "Đỗ Văn Bảy",
                        "kind": "cá nhân",
                        "unit": unit,
                        "award": "giay-khen-xa",
                        "submitted_on": "02/03/2026",
                    },
                )
            ],
        )
    result = refused.value
    (error,) = [e for e in result.errors if e.column == "unit"]
    assert "30/06/2025" in error.message and "xã Cẩm Thạch (thanh-hoa.cam-thach-2025)" in error.message


def test_the_changeover_command(session, sample) -> None:
    from cli.app import app

    n = _submit(session, sample, award="giay-khen-huyen", name="Vũ Thị Tám")
    runner = CliRunner()
    dry = runner.invoke(app, ["changeover", "--date", "01/07/2025", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert '"to_form": "giay-khen-xa"' in dry.output
    session.refresh(n)
    assert sample.get(n.current_unit_id).code == CAM_THANH  # a dry run moves nothing
    done = runner.invoke(app, ["changeover", "--date", "01/07/2025"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "đã chuyển 1 hồ sơ cho đơn vị kế tục" in done.output
    session.refresh(n)
    assert sample.get(n.current_unit_id).code == CAM_THACH and n.award_code == "giay-khen-xa"
    again = runner.invoke(app, ["changeover", "--date", "01/07/2025"], env={"COLUMNS": "200"})
    assert "đã chuyển 0 hồ sơ" in again.output
    bad = runner.invoke(app, ["changeover", "--date", "31/06/2025"])
    assert bad.exit_code == 2


# ---------------------------------------------------------------- June–August 2025, day by day


def test_a_simulated_june_to_august_2025(session, sample) -> None:
    """Dossiers arrive through June and July (some dated in June, received after 1/7); every working day the
    councils that exist that day act on what they hold, the changeover runs every day from 1/7 (it is
    idempotent: late arrivals at an ended unit are moved the next morning), and the review reminders run.
    Nothing is ever forwarded to, decided by or reminded at a unit on a day it does not exist, and
    everything ends conferred where the law in force puts the power."""
    from flows.deadlines import reminder_day

    arrivals = {
        date(2025, 6, 2): [("giay-khen-huyen", "Mai Văn A"), ("bang-khen-tinh", "Mai Văn B")],
        date(2025, 6, 16): [("giay-khen-huyen", "Mai Văn C"), ("giay-khen-xa", "Mai Văn D")],
        date(2025, 6, 27): [("bang-khen-tinh", "Mai Văn E"), ("giay-khen-huyen", "Mai Văn G")],
        date(2025, 7, 15): [("giay-khen-huyen", "Mai Văn H")],  # dated 20/6/2025, received after the reform
    }
    codes: list[str] = []
    day = date(2025, 6, 1)
    while day <= date(2025, 8, 31):
        for award, name in arrivals.get(day, []):
            dated = min(day, JUNE).strftime("%d/%m/%Y")
            codes.append(_submit(session, sample, award=award, name=name, on=dated, received=day).code)
        if day >= CHANGEOVER:
            changeover(session=session, on=CHANGEOVER, actor="hằng ngày")
            session.commit()
        if day.weekday() < 5:  # the heads decide, on a working day after, what their councils recommended
            for code in codes:
                n = nm.by_code(session=session, code=code)
                assert n is not None
                if n.status == Status.recommended and sample.get(n.current_unit_id).valid_on(day):
                    _confer(session, sample, n, Act("ct", day), f"{len(codes)}/QĐ-UBND")
            session.commit()
        if day.weekday() < 5 and day.day % 7 == 3:  # the councils sit now and then
            for code in codes:
                n = nm.by_code(session=session, code=code)
                assert n is not None
                here = sample.get(n.current_unit_id)
                if n.status not in nm.AGENDA or not here.valid_on(day):
                    continue
                if here.level == n.form.authority:
                    _recommend(session, sample, n, day)
                else:
                    _up_one(session, sample, n, day)
            session.commit()
        reminder_day(session=session, day=day, since=day)
        session.commit()
        day += timedelta(days=1)

    nominations = [nm.by_code(session=session, code=c) for c in codes]
    assert all(n is not None and n.status == Status.conferred for n in nominations), [
        (n.code, n.status, sample.get(n.current_unit_id).code) for n in nominations if n
    ]
    by_name = {
        session.get(nm.Nominee, n.nominee_id).name: (n.awarded_code, sample.get(n.current_unit_id).code)
        for n in nominations
        if n
    }
    assert by_name == {
        "Mai Văn A": ("giay-khen-huyen", CAM_THUY),  # decided in June by the district chairman
        "Mai Văn B": ("bang-khen-tinh", "thanh-hoa"),
        "Mai Văn C": ("giay-khen-huyen", CAM_THUY),
        "Mai Văn D": ("giay-khen-xa", CAM_THANH),
        "Mai Văn E": ("bang-khen-tinh", "thanh-hoa"),  # crossed over at the commune: Cẩm Thạch → the province
        "Mai Văn G": ("giay-khen-xa", CAM_THACH),  # pending on 30/6: the commune chairman's Giấy khen
        "Mai Văn H": ("giay-khen-xa", CAM_THACH),  # arrived on 15/7, dated 20/6
    }
    steps = session.scalars(select(NominationStep)).all()
    for s in steps:
        if s.action in (Action.forward, Action.receive, Action.recommend, Action.confer):
            assert sample.get(s.unit_id).valid_on(s.on_date), (s.action, s.unit_id, s.on_date)
        # (a dossier dated in June and received on 15/7 is taken in at its proposing unit, Cẩm Thành, as dated;
        # the changeover moves it the same day)
        if s.to_unit_id is not None and s.action != Action.submit:
            assert sample.get(s.to_unit_id).valid_on(s.on_date), (s.action, s.to_unit_id, s.on_date)
    # every dossier pending on 30/6 at a unit that ended crossed over with exactly one transfer step
    transfers = [s for s in steps if s.action == Action.transfer]
    assert len({s.nomination_id for s in transfers}) == len(transfers) > 0
    from models.reminders import ReminderNotice

    for r in session.scalars(select(ReminderNotice)).all():
        assert sample.get(r.unit_id).valid_on(r.sent_on), (r.key, r.sent_on)


@pytest.mark.parametrize("unit", [CAM_THUY, "huyện Cẩm Thủy"])
def test_the_meeting_flow_of_an_abolished_unit_is_refused(prefect_api, session, sample, unit) -> None:
    """The council-meeting run of huyện Cẩm Thủy on 15/7/2025 ends Refused, naming the successor; no meeting."""
    from flows.council import council_meeting
    from flows.refusal import is_refused

    n = _submit(session, sample, award="giay-khen-huyen", name="Hồ Văn Chín")
    _up_one(session, sample, n, date(2025, 6, 25))
    day = date(2025, 7, 15)
    minutes = mt.Minutes(meeting_date=day, members_present=7, decisions=[{"code": n.code, "votes_for": 7}])
    state = asyncio.run(
        council_meeting(unit=unit, minutes=minutes, on=day, deliver=False, dashboard=False, return_state=True)
    )
    assert is_refused(state), state
    assert "chỉ tồn tại đến 30/06/2025" in state.message and "tỉnh Thanh Hóa" in state.message
    assert session.scalars(select(mt.Meeting)).all() == []
    session.refresh(n)
    assert n.status == Status.under_review and n.decision_number is None


def test_a_decision_of_an_ended_unit_is_refused_naming_its_successor(session, sample) -> None:
    """Issue 13: a decision by a unit not valid on its date — huyện Cẩm Thủy's head on 15/7/2025 —
    is refused and names the successor; the same head decided in June."""
    from models.decisions import DecisionRefused, DecisionRequest, issue_decision

    n = _submit(session, sample, award="giay-khen-huyen", name="Lê Thị Tám")
    _up_one(session, sample, n, date(2025, 6, 23))
    nm.recommend(
        session=session,
        nomination=n,
        hierarchy=sample,
        act=Act("hđ", date(2025, 6, 24)),
        votes=Votes(7, 0, 0, 7),
    )
    session.commit()
    july = DecisionRequest(unit=CAM_THUY, number="9/QĐ-UBND", decision_date=date(2025, 7, 15), codes=[n.code])
    with pytest.raises(DecisionRefused) as refused:
        issue_decision(session=session, hierarchy=sample, request=july)
    (problem,) = refused.value.problems
    assert problem.startswith(
        "không ghi được quyết định ngày 15/07/2025: huyện Cẩm Thủy (thanh-hoa.cam-thuy)"
    )
    assert "chỉ tồn tại đến 30/06/2025; đơn vị kế tục từ 01/07/2025: tỉnh Thanh Hóa (thanh-hoa)" in problem
    session.rollback()
    assert n.status == Status.recommended
    june = DecisionRequest(unit=CAM_THUY, number="8/QĐ-UBND", decision_date=date(2025, 6, 27), codes=[n.code])
    assert issue_decision(session=session, hierarchy=sample, request=june).outcomes == {n.code: "conferred"}


def test_a_late_dossier_of_an_ended_unit_without_successor_is_refused_and_nothing_is_stored(
    session, sample
) -> None:
    """A June 2025 dossier received after its commune ended, when the records name no successor: the batch
    is refused on that row (not an internal error), and no part of it is stored."""
    from sqlmodel import select

    from models.text import fold
    from models.units import Level, Unit

    district = sample.by_code[CAM_THUY]
    session.add(
        Unit(
            code="thanh-hoa.cam-thuy.xa-cu",
            name="xã Cẩm Cũ",
            name_key=fold("xã Cẩm Cũ"),
            level=Level.commune,
            valid_to=date(2025, 6, 30),
            parent_id=district.id,
            province_id=sample.by_code["thanh-hoa"].id,
        )
    )
    session.commit()
    row = {"nominee": "Lò Văn Chín", "kind": "cá nhân", "award": "giay-khen-xa", "submitted_on": "20/06/2025"}
    with pytest.raises(BatchRefused) as refused:
        take_in(
            session=session,
            received_on=date(2025, 7, 15),
            rows=[
                (2, {**row, "nominee": "Hà Thị Mười", "unit": CAM_THANH}),
                (3, {**row, "unit": "thanh-hoa.cam-thuy.xa-cu"}),
            ],
        )
    session.rollback()
    (error,) = refused.value.errors
    assert (error.row, error.column) == (3, "unit")
    assert "30/06/2025" in error.message and "không xác định được nơi nhận hồ sơ" in error.message
    stored = session.scalars(select(Nomination.code)).all()
    assert stored == []  # the good row 2 was not kept either: a batch is taken whole or not at all
