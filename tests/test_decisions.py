"""The law as councils apply it (issue 13, items 1–4 and 12): the council recommends and the head
decides in a numbered decision; written votes of absent members; the quorum; lower forms only within
the nominee's kinds; central bodies decide without a council vote; letters in the administrative
register. The domain functions on a real SQLite database, then the flow and the CLI on the session's
Prefect test server with a real SMTP sink."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from models import meetings as mt
from models import nominations as nm
from models.awards import VoteRule, catalogue
from models.calendar import add_working_days
from models.decisions import AwardDecision, DecisionRefused, DecisionRequest, issue_decision
from models.nominations import Act, Nomination, NominationStep, Status
from models.units import Council, CouncilMember
from notifications.approval_letters import council_digest, decision_letters, outcome_letters
from notifications.render import TEMPLATES, render
from tests.rows import review_type_for

COMMUNE = "thanh-hoa.cam-thach-2025"  # xã Cẩm Thạch: 7 council members
PROVINCE = "thanh-hoa"  # 9 council members
MEETING_DAY = date(2026, 11, 24)
SIGNED = date(2026, 11, 30)


def _take_in(session, awards: list[str], *, kinds: list[str] | None = None, unit: str = COMMUNE) -> list[str]:
    from models.intake import take_in

    kinds = kinds or ["tập thể" if a.startswith("co-") else "cá nhân" for a in awards]
    rows = [
        (
            i + 2,
            {
                "nominee": f"{'Thôn' if k == 'tập thể' else 'Nguyễn Văn'} {a} {i}",
                "kind": k,
                "unit": unit,
                "award": a,
                "campaign": "ntm-2021-2025",
                "achievement": "Đóng góp xây dựng nông thôn mới",
                "submitted_on": "02/03/2026",
                "review_type": review_type_for(a),
            },
        )
        for i, (a, k) in enumerate(zip(awards, kinds, strict=True))
    ]
    result = take_in(session=session, rows=rows, source="test", received_on=MEETING_DAY)
    session.commit()
    return [n["code"] for n in result.nominations]


def _meeting(session, sample, unit: str = COMMUNE) -> mt.Meeting:
    meeting = mt.open_meeting(
        session=session,
        unit_id=sample.by_code[unit].id,
        key=f"minutes:{uuid.uuid4()}",
        hierarchy=sample,
        on=MEETING_DAY,
    )
    session.commit()
    return meeting


def _apply(session, sample, decisions: list[dict], *, present: int = 7, unit: str = COMMUNE) -> mt.Meeting:
    meeting = _meeting(session, sample, unit)
    minutes = {"meeting_date": MEETING_DAY, "members_present": present, "decisions": decisions}
    mt.apply_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=sample)
    session.commit()
    return meeting


def _to(session, sample, code: str, level: str) -> Nomination:
    """Walk a dossier up to `level` (forward and receive, as the councils below would)."""
    n = nm.by_code(session=session, code=code)
    assert n is not None
    while sample.get(n.current_unit_id).level.value != level:
        nm.forward(session=session, nomination=n, hierarchy=sample, act=Act("hđ", MEETING_DAY))
        nm.receive(session=session, nomination=n, hierarchy=sample, act=Act("vp", MEETING_DAY))
    session.commit()
    return n


def _issue(session, sample, **fields) -> object:
    request = DecisionRequest(**{"unit": COMMUNE, "decision_date": SIGNED, **fields})
    issued = issue_decision(session=session, hierarchy=sample, request=request)
    session.commit()
    return issued


def _steps(session, code: str) -> list[NominationStep]:
    n = nm.by_code(session=session, code=code)
    assert n is not None
    return nm.steps_of(session=session, nomination_id=n.id)


# --- item 1: the council recommends, the head decides ------------------------------------------------


def test_the_councils_approval_is_a_recommendation_and_the_head_decides_with_its_own_number_and_date(
    session, sample
) -> None:
    (code,) = _take_in(session, ["giay-khen-xa"])
    meeting = _apply(session, sample, [{"code": code, "decision": "approve"}])
    n = nm.by_code(session=session, code=code)
    assert n is not None
    assert n.status == Status.recommended and n.decision_number is None and n.decision_date is None
    # the head's step has its time limit (internal target, data)
    days = catalogue().rule_set(n.rule_set).decision_days[sample.get(n.current_unit_id).level]
    assert n.due_on == add_working_days(MEETING_DAY, days)
    # nothing told yet: the proposer hears of it with the decision
    outcome = mt.outcome_of(session=session, meeting=meeting)
    assert outcome.outcomes == {code: mt.Outcome.recommended}
    assert outcome_letters(session=session, hierarchy=sample, meeting=meeting, outcome=outcome) == []
    issued = _issue(session, sample, number="123/QĐ-UBND", meeting_id=meeting.id)
    session.refresh(n)
    assert n.status == Status.conferred
    assert (n.decision_number, n.decision_date) == ("123/QĐ-UBND", SIGNED)  # not the meeting's date
    assert [s.action.value for s in _steps(session, code)] == ["submit", "recommend", "confer"]
    (letter,) = decision_letters(session=session, hierarchy=sample, decision_id=issued.decision_id)
    text = render(template=letter.template, context=letter.context, recipient_name=letter.to_name).text
    assert "Quyết định số 123/QĐ-UBND ngày 30/11/2026 tặng Giấy khen của Chủ tịch UBND xã" in text
    assert "Chủ tịch UBND xã Cẩm Thạch đã ký" in text
    assert "đã được khen thưởng" not in text and "Đối tượng đề nghị" not in text
    assert f"Kính gửi: {letter.to_name}\n" in text  # no comma after the recipient


def test_the_same_number_twice_confers_once_and_another_use_of_it_is_refused(session, sample) -> None:
    first, second = _take_in(session, ["giay-khen-xa", "giay-khen-xa"])
    meeting = _apply(session, sample, [{"code": first}, {"code": second}])
    issued = _issue(session, sample, number="7/QĐ-UBND", codes=[first])
    again = _issue(session, sample, number="7/QĐ-UBND", codes=[first])
    assert again.replayed and again.decision_id == issued.decision_id
    assert [s.action.value for s in _steps(session, first)].count("confer") == 1
    with pytest.raises(DecisionRefused, match="số 7/QĐ-UBND của xã Cẩm Thạch đã dùng"):
        _issue(session, sample, number="7/QĐ-UBND", codes=[second])
    assert nm.by_code(session=session, code=second).status == Status.recommended
    assert meeting.id is not None


def test_a_decision_by_the_wrong_unit_or_before_the_council_is_refused(session, sample) -> None:
    recommended, waiting = _take_in(session, ["giay-khen-xa", "giay-khen-xa"])
    _apply(session, sample, [{"code": recommended}])
    with pytest.raises(DecisionRefused) as wrong:
        _issue(session, sample, unit=PROVINCE, number="5/QĐ-UBND", codes=[recommended])
    assert "đang ở xã Cẩm Thạch, không thuộc thẩm quyền quyết định của Chủ tịch UBND tỉnh Thanh Hóa" in str(
        wrong.value
    )
    session.rollback()
    with pytest.raises(DecisionRefused, match="chưa xét"):
        _issue(session, sample, number="6/QĐ-UBND", codes=[waiting])
    session.rollback()
    with pytest.raises(DecisionRefused, match="trước ngày Hội đồng đề nghị"):
        _issue(session, sample, number="6/QĐ-UBND", codes=[recommended], decision_date=date(2026, 11, 20))
    session.rollback()
    assert session.scalars(select(AwardDecision)).all() == []
    assert nm.by_code(session=session, code=recommended).status == Status.recommended


def test_the_head_may_refuse_with_reasons(session, sample) -> None:
    (code,) = _take_in(session, ["giay-khen-xa"])
    meeting = _apply(session, sample, [{"code": code}])
    with pytest.raises(ValueError, match="phải ghi rõ lý do"):
        DecisionRequest(
            unit=COMMUNE, number="9/QĐ-UBND", decision_date=SIGNED, meeting_id=meeting.id, refuse=True
        )
    issued = _issue(
        session,
        sample,
        number="9/TB-UBND",
        meeting_id=meeting.id,
        refuse=True,
        reason="Đang có đơn khiếu nại",
    )
    n = nm.by_code(session=session, code=code)
    assert n.status == Status.rejected and n.awarded_code is None
    assert _steps(session, code)[-1].action == nm.Action.refuse
    (letter,) = decision_letters(session=session, hierarchy=sample, decision_id=issued.decision_id)
    text = render(template=letter.template, context=letter.context, recipient_name=letter.to_name).text
    assert "Chủ tịch UBND xã Cẩm Thạch quyết định không khen thưởng" in text
    assert "Đang có đơn khiếu nại" in text and "không thống nhất" not in text


def test_automatic_numbering_takes_the_units_next_number_in_its_series(session, sample) -> None:
    a, b = _take_in(session, ["giay-khen-xa", "giay-khen-xa"])
    _apply(session, sample, [{"code": a}, {"code": b}])
    first = _issue(session, sample, auto_number=True, codes=[a])
    second = _issue(session, sample, auto_number=True, codes=[b])
    assert (first.number, second.number) == ("1/QĐ-UBND", "2/QĐ-UBND")


def test_central_bodies_decide_without_a_council_vote(session, sample) -> None:
    (code,) = _take_in(session, ["huan-chuong-ld-3"])
    n = _to(session, sample, code, "central/moha")
    with pytest.raises(mt.CentralBodiesDoNotVote, match="không qua biểu quyết của Hội đồng"):
        _meeting(session, sample, "central.bo-noi-vu")
    session.rollback()
    # the Ministry submits to the Prime Minister (tờ trình); the Prime Minister to the President
    moha = _issue(session, sample, unit="central.bo-noi-vu", number="45/TTr-BNV", codes=[code])
    assert moha.outcomes == {code: mt.Outcome.forwarded} and moha.kind == "submit"
    (letter,) = decision_letters(session=session, hierarchy=sample, decision_id=moha.decision_id)
    text = render(template=letter.template, context=letter.context, recipient_name=letter.to_name).text
    assert "trình Thủ tướng Chính phủ khen thưởng tại Tờ trình số 45/TTr-BNV ngày 30/11/2026" in text
    pm_unit = sample.by_code["central.thu-tuong"].id  # the receipt letter there cites the submission
    receipt = council_digest(session=session, hierarchy=sample, unit_id=pm_unit, codes=[code], ref="t")
    assert receipt is not None
    text = render(template=receipt.template, context=receipt.context, recipient_name=receipt.to_name).text
    assert "- Theo: Tờ trình số 45/TTr-BNV ngày 30/11/2026 của Bộ Nội vụ" in text
    pm = _issue(session, sample, unit="central.thu-tuong", number="12/TTr-TTg", codes=[code])
    assert pm.received == [code]  # taken in by the decision itself: no meeting opens at the centre
    (letter,) = decision_letters(session=session, hierarchy=sample, decision_id=pm.decision_id)
    text = render(template=letter.template, context=letter.context, recipient_name=letter.to_name).text
    assert "Thủ tướng Chính phủ đã trình Chủ tịch nước khen thưởng" in text and "Thủ trưởng" not in text
    president = _issue(session, sample, unit="central.chu-tich-nuoc", number="88/QĐ-CTN", codes=[code])
    session.refresh(n)
    assert president.outcomes == {code: mt.Outcome.conferred} and n.decision_number == "88/QĐ-CTN"
    assert sample.by_code["central.chu-tich-nuoc"].head_title == "Chủ tịch nước"


# --- items 2 and 3: written votes of absent members, the quorum ---------------------------------------


def _flag_at_the_province(session, sample) -> str:
    (code,) = _take_in(session, ["co-thi-dua-tinh"])
    _to(session, sample, code, "province")
    return code


@pytest.mark.parametrize(
    ("present", "votes_for", "written_for", "passes"),
    [
        (6, 6, 3, True),  # 6 present + 3 written of 9: ≥ 80 % of all members (Decree 98/2023 Art. 30(7))
        (6, 6, 1, False),  # 7 of 9 = 77.8 %
        (6, 6, 0, False),  # written votes not recorded: 6 of 9
        (9, 7, 0, False),  # 7 of 9 present is not 80 %
        (9, 8, 0, True),
    ],
    ids=["6+3-of-9", "6+1-of-9", "6+0-of-9", "7-of-9-present", "8-of-9-present"],
)
def test_written_votes_count_toward_all_members_for_an_emulation_flag(
    session, sample, present, votes_for, written_for, passes
) -> None:
    code = _flag_at_the_province(session, sample)
    meeting = _meeting(session, sample, PROVINCE)
    minutes = {
        "meeting_date": MEETING_DAY,
        "members_present": present,
        "decisions": [{"code": code, "votes_for": votes_for, "written_for": written_for}],
    }
    problems = mt.check_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=sample)
    assert (problems == []) == passes, problems
    if passes:
        mt.apply_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=sample)
        step = _steps(session, code)[-1]
        assert (step.action, step.votes_for, step.written_for, step.members_present, step.members_total) == (
            nm.Action.recommend,
            votes_for,
            written_for,
            present,
            9,
        )
        from models.queries import nomination_status

        shown = nomination_status(session=session, code=code)["steps"][-1]["votes"]
        assert (shown["present"], shown["written_for"], shown["members"]) == (present, written_for, 9)


def test_written_votes_cannot_exceed_the_absent_members(session, sample) -> None:
    code = _flag_at_the_province(session, sample)
    meeting = _meeting(session, sample, PROVINCE)
    minutes = {
        "meeting_date": MEETING_DAY,
        "members_present": 7,
        "decisions": [{"code": code, "votes_for": 7, "written_for": 3}],
    }
    problems = mt.check_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=sample)
    assert any("phiếu bằng văn bản (3) vượt số thành viên vắng mặt (2)" in p for p in problems), problems


@pytest.mark.parametrize(
    ("rule", "votes_for", "written_for", "present", "members", "passes"),
    [
        (VoteRule(ratio=0.8, of="members"), 6, 3, 6, 9, True),
        (VoteRule(ratio=0.8, of="members"), 6, 0, 6, 9, False),
        # of those present: only the votes cast at the meeting count
        (VoteRule(ratio=0.5, of="present", strictly_more=True), 3, 3, 6, 9, False),
        (VoteRule(ratio=0.5, of="present", strictly_more=True), 4, 0, 6, 9, True),
    ],
)
def test_vote_rules_of_all_members_or_of_those_present(
    rule, votes_for, written_for, present, members, passes
):
    assert (
        rule.passes(votes_for=votes_for, written_for=written_for, present=present, members=members) is passes
    )


@pytest.mark.parametrize(("present", "quorate"), [(1, False), (4, False), (5, True), (7, True)])
def test_a_meeting_without_its_quorum_decides_nothing(session, sample, present, quorate) -> None:
    (code,) = _take_in(session, ["giay-khen-xa"])
    meeting = _meeting(session, sample)
    minutes = {"meeting_date": MEETING_DAY, "members_present": present, "decisions": [{"code": code}]}
    problems = mt.check_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=sample)
    quorum = [p for p in problems if "chưa đủ số thành viên dự họp" in p]
    assert bool(quorum) is not quorate, problems
    if not quorate:
        assert f"{present}/7 thành viên" in quorum[0] and "2/3" in quorum[0] and "(5 người)" in quorum[0]
        with pytest.raises(mt.MinutesRefused):
            mt.apply_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=sample)
        session.rollback()
        assert nm.by_code(session=session, code=code).status == Status.submitted


# --- item 4: a lower form within the catalogue and the nominee's kinds --------------------------------


@pytest.mark.parametrize(
    ("kind", "lower", "refused_because"),
    [
        ("cá nhân", "co-thi-dua-tinh", "không tặng cho cá nhân"),
        ("cá nhân", "bang-khen-tinh", None),
        ("tập thể", "co-thi-dua-tinh", None),
        ("cá nhân", "giay-khen-xa", "cấp xã quyết định"),
    ],
)
def test_a_lower_form_only_for_the_nominees_kind(session, sample, kind, lower, refused_because) -> None:
    (code,) = _take_in(session, ["bang-khen-ttg"], kinds=[kind])
    _to(session, sample, code, "province")
    meeting = _meeting(session, sample, PROVINCE)
    minutes = {
        "meeting_date": MEETING_DAY,
        "members_present": 9,
        "decisions": [{"code": code, "decision": "award-lower", "lower_award": lower}],
    }
    problems = mt.check_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=sample)
    if refused_because is None:
        assert problems == []
    else:
        assert any(refused_because in p for p in problems), problems


# --- the flow and the CLI ----------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:
    from cli.app import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_thidua_decision_issue_confers_a_meetings_recommendations_and_then_tells_the_proposer(
    prefect_api, session, sample, smtp_env
) -> None:
    from notifications.outbox import OutboxMessage

    a, b = _take_in(session, ["giay-khen-xa", "giay-khen-xa"])
    meeting = _apply(session, sample, [{"code": a}, {"code": b}])
    assert session.scalars(select(OutboxMessage)).all() == []  # a recommendation tells nobody yet
    args = ("decision", "issue", COMMUNE, "--number", "123/QĐ-UBND", "--date", "30/11/2026")
    code, out = _cli(*args, "--meeting", str(meeting.id), "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["outcomes"] == {a: "conferred", b: "conferred"} and result["letters"] == 1
    session.expire_all()
    (letter,) = session.scalars(select(OutboxMessage)).all()
    assert letter.category == "outcome_digest" and letter.status == "sent"
    code, out = _cli(*args, "--meeting", str(meeting.id), "--json")
    assert code == 0 and json.loads(out)["replayed"] is True, out
    session.expire_all()
    assert len(session.scalars(select(OutboxMessage)).all()) == 1
    code, out = _cli(
        "decision", "issue", PROVINCE, "--number", "1/QĐ-UBND", "--date", "30/11/2026", a, "--json"
    )
    assert code == 1 and "đang ở xã Cẩm Thạch" in json.loads(out)["problems"][0], out


def test_members_written_votes_are_columns_of_the_minutes_file_and_fields_of_the_form() -> None:
    from cli.meetings import MINUTES_COLUMNS
    from flows.inputs import AgendaDecision, MeetingDecisions

    assert {"written_for", "written_against", "written_abstain"} <= set(MINUTES_COLUMNS)
    assert {"written_for", "written_against", "written_abstain"} <= set(AgendaDecision.model_fields)
    assert "decision_series" not in MeetingDecisions.model_fields  # the meeting numbers no decision


def test_council_sizes_used_here(session, sample) -> None:
    """The figures these tests rest on: 7 members at Cẩm Thạch, 9 at Thanh Hóa."""
    for unit, size in ((COMMUNE, 7), (PROVINCE, 9)):
        council = session.scalars(select(Council).where(Council.unit_id == sample.by_code[unit].id)).one()
        members = session.scalars(select(CouncilMember).where(CouncilMember.council_id == council.id)).all()
        assert len(members) == size


def test_the_heads_step_has_its_time_limit_and_is_reminded_like_a_review(session, sample) -> None:
    from models.reminders import open_reviews

    (code,) = _take_in(session, ["giay-khen-xa"])
    _apply(session, sample, [{"code": code}])
    (review,) = [r for r in open_reviews(session=session, directory=sample) if r.code == code]
    assert review.due_on == add_working_days(MEETING_DAY, 5)  # decision_days: internal target (data)
    assert review.office is not None  # the standing office prepares the decision for the head


def test_a_conferral_without_the_councils_recommendation_is_refused(session, sample) -> None:
    (code,) = _take_in(session, ["giay-khen-xa"])
    n = nm.by_code(session=session, code=code)
    with pytest.raises(nm.TransitionError, match="chưa đề nghị khen thưởng"):
        nm.confer(
            session=session,
            nomination=n,
            hierarchy=sample,
            act=Act("x", SIGNED),
            decision_number="1/QĐ-UBND",
            decision_date=SIGNED,
        )


# --- item 12: the letters' wording -----------------------------------------------------------------------

# What the issue's review found in the letters, and what official texts write instead (docs/legal-sources.md §9).
NOT_IN_LETTERS = (
    "đã được khen thưởng",  # a dossier is not commended: the decision awards a person or a collective
    "hạn chót",  # "thời hạn"
    "Hôm nay là hạn chót",
    "Thời hạn thẩm định được tính lại",  # the clock resumes, it does not restart
    "«",
    "»",
    "vui lòng",
    "Vui lòng",
    "Đối tượng đề nghị",
    "Đề nghị đồng chí",
    "Đề nghị cấp trên",
    "Thủ trưởng",
)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_no_letter_uses_the_wording_the_review_found_wrong(template: str) -> None:
    from tests.notifications.conftest import sample_context

    letter = render(
        template=template, context=sample_context(template), recipient_name="Văn phòng UBND xã Cẩm Thành"
    )
    for part in (letter.subject, letter.text, letter.html):
        found = [phrase for phrase in NOT_IN_LETTERS if phrase in part]
        assert not found, (template, found)
    assert letter.text.startswith("Kính gửi: Văn phòng UBND xã Cẩm Thành\n")


def test_a_minutes_file_records_written_votes_apart_and_6_present_plus_3_written_pass_a_flag(
    prefect_api, session, sample, smtp_env, tmp_path
) -> None:
    code = _flag_at_the_province(session, sample)
    minutes = tmp_path / "bien-ban.csv"
    header = (
        "Mã hồ sơ,Quyết định,Đồng ý,Không đồng ý,Không biểu quyết,Văn bản: đồng ý,Văn bản: không đồng ý\n"
    )
    args = ("meeting", "decide", PROVINCE, "--date", "24/11/2026", "--present", "6", "--file", str(minutes))
    minutes.write_text(header + f"{code},thông qua,6,0,0,0,0\n", encoding="utf-8")
    refused, out = _cli(*args, "--json")
    assert refused == 1 and "chưa đạt" in json.loads(out)["problems"][0], out
    minutes.write_text(header + f"{code},thông qua,6,0,0,3,0\n", encoding="utf-8")
    applied, out = _cli(*args, "--json")
    assert applied == 0 and json.loads(out)["counts"] == {"recommended": 1}, out
    session.expire_all()
    step = _steps(session, code)[-1]
    assert (step.votes_for, step.members_present, step.written_for, step.members_total) == (6, 6, 3, 9)


def test_the_inbox_shows_what_waits_for_the_heads_decision(session, sample) -> None:
    waiting, recommended = _take_in(session, ["giay-khen-xa", "giay-khen-xa"])
    _apply(session, sample, [{"code": recommended}])
    code, out = _cli("inbox", COMMUNE, "--json")
    assert code == 0, out
    assert {i["code"]: i["status"] for i in json.loads(out)} == {
        waiting: "submitted",
        recommended: "recommended",
    }


def test_the_heads_step_is_reminded_in_its_own_words(session, sample) -> None:
    """The decision step's reminder speaks of the time limit to issue the award decision, not of the
    council's review (hạn thẩm định)."""
    from flows.deadlines import reminder_day
    from notifications.outbox import OutboxMessage

    (code,) = _take_in(session, ["giay-khen-xa"])
    _apply(session, sample, [{"code": code}])
    due = add_working_days(MEETING_DAY, 5)
    reminder_day(session=session, day=due, since=MEETING_DAY)
    session.commit()
    (digest,) = [m for m in session.scalars(select(OutboxMessage)) if code in m.text_body]
    body = digest.text_body
    assert f"Hồ sơ sắp đến thời hạn ban hành quyết định khen thưởng (1):\n  - Hồ sơ {code} –" in body
    assert "thẩm định" not in body
    reminder_day(session=session, day=add_working_days(due, 1), since=due)
    session.commit()
    overdue = [m for m in session.scalars(select(OutboxMessage)) if code in m.text_body and m.id != digest.id]
    assert overdue and all(
        "Hồ sơ quá thời hạn ban hành quyết định khen thưởng (1):" in m.text_body for m in overdue
    )


@pytest.mark.parametrize(
    ("votes", "present", "text"),
    [
        (None, True, ""),
        ({"for": 5, "against": 1, "abstain": 0, "present": 6}, True, "5/1/0 (dự họp 6)"),
        (
            {"for": 6, "against": 0, "abstain": 0, "present": 6, "written_for": 3, "written_against": 0},
            True,
            "6/0/0 + 3/0/0 bằng văn bản (dự họp 6)",
        ),
        (
            {"for": 6, "against": 0, "abstain": 0, "present": 6, "written_abstain": 1},
            False,
            "6/0/0 + 0/0/1 bằng văn bản",
        ),
    ],
)
def test_the_portal_and_the_cli_write_a_tally_the_same_way(votes, present, text) -> None:
    from models.queries import votes_text

    assert votes_text(votes, present=present) == text
