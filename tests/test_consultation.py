"""Consultation (hiệp y) before a province forwards a state-level award: a request letter to each body the
form needs (data), answers recorded, the dossier held until all have answered or the time limit passes,
an objection returns the dossier to its proposer with the reason."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from flows.consultation import record_answer, request_consultation
from models import consultation as hy
from models import nominations as nm
from models.intake import take_in
from notifications.outbox import OutboxMessage

RECEIVED = date(2026, 11, 23)
AT_PROVINCE = date(2026, 11, 25)


def _at_province(session, sample, award: str = "bang-khen-ttg") -> nm.Nomination:
    """A 2026 dossier from xã Cẩm Thạch, forwarded to and received at tỉnh Thanh Hóa."""
    row = {
        "nominee": "Ông Lê Văn Hùng",
        "kind": "cá nhân",
        "unit": "thanh-hoa.cam-thach-2025",
        "award": award,
        "submitted_on": "02/03/2026",
        "birth_year": "1962",
        "position": "Nông dân",
    }
    code = take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=[(2, row)]).nominations[0][
        "code"
    ]
    n = nm.by_code(session=session, code=code)
    assert n is not None
    nm.forward(session=session, nomination=n, hierarchy=sample, act=nm.Act("hội đồng xã", RECEIVED))
    nm.receive(session=session, nomination=n, hierarchy=sample, act=nm.Act("tỉnh", AT_PROVINCE))
    session.commit()
    return n


def _letters(session, prefix: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.key.startswith(prefix))))  # type: ignore[attr-defined]


def test_each_body_the_form_needs_gets_one_request_letter(session, sample) -> None:
    n = _at_province(session, sample)
    first = request_consultation(session=session, code=n.code, on=AT_PROVINCE)
    session.commit()
    assert first.asked == list(hy.rules().forms["bang-khen-ttg"]) == ["thue", "bhxh"] and first.letters == 2
    letters = {m.to_email: m for m in _letters(session, "consultation-request:")}
    assert set(letters) == {"thue@example.gov.vn", "bhxh@example.gov.vn"}
    body = letters["thue@example.gov.vn"].text_body
    assert "đề nghị Thuế tỉnh cho ý kiến hiệp y" in body and n.code in body
    assert "Ông Lê Văn Hùng (sinh năm 1962; Nông dân)" in body and "trước ngày 09/12/2026" in body
    again = request_consultation(session=session, code=n.code, on=AT_PROVINCE)
    session.commit()
    assert again.asked == [] and again.letters == 0 and len(_letters(session, "consultation-request:")) == 2


def test_the_dossier_is_held_until_all_answer_or_the_limit_passes(session, sample) -> None:
    n = _at_province(session, sample)
    request_consultation(session=session, code=n.code, on=AT_PROVINCE)
    assert n.id is not None
    held = hy.held(session=session, nomination_ids=[n.id], today=AT_PROVINCE)
    assert held[n.id] == (
        "đang chờ ý kiến hiệp y của Thuế tỉnh (hạn 09/12/2026), Bảo hiểm xã hội tỉnh (hạn 09/12/2026)"
    )
    record_answer(session=session, code=n.code, body="thue", objection=None, on=date(2026, 11, 30))
    assert hy.held(session=session, nomination_ids=[n.id], today=date(2026, 12, 9))[n.id].endswith(
        "Bảo hiểm xã hội tỉnh (hạn 09/12/2026)"
    )
    assert hy.held(session=session, nomination_ids=[n.id], today=date(2026, 12, 10)) == {}  # limit passed
    record_answer(session=session, code=n.code, body="bhxh", objection=None, on=date(2026, 12, 1))
    assert hy.held(session=session, nomination_ids=[n.id], today=AT_PROVINCE) == {}
    assert n.status == nm.Status.under_review


def test_an_objection_returns_the_dossier_with_the_reason(session, sample) -> None:
    n = _at_province(session, sample)
    request_consultation(session=session, code=n.code, on=AT_PROVINCE)
    tax_debt = "Còn nợ thuế sử dụng đất năm 2025"
    result = record_answer(
        session=session, code=n.code, body="thue", objection=tax_debt, on=date(2026, 12, 1)
    )
    session.commit()
    assert result.returned and result.letters == 1
    session.refresh(n)
    assert n.status == nm.Status.returned
    assert n.id is not None
    step = nm.steps_of(session=session, nomination_id=n.id)[-1]
    assert step.action == nm.Action.return_ and "Còn nợ thuế sử dụng đất năm 2025" in step.note
    assert step.note.startswith("Thuế tỉnh không thống nhất đề nghị khen thưởng (ý kiến hiệp y)")
    (letter,) = _letters(session, "consultation-objection:")
    assert "Còn nợ thuế sử dụng đất năm 2025" in letter.text_body and "Thuế tỉnh" in letter.text_body
    # the same answer again changes nothing; a different one is refused
    again = record_answer(session=session, code=n.code, body="thue", objection=tax_debt, on=date(2026, 12, 1))
    assert again.letters == 0
    with pytest.raises(ValueError, match="đã trả lời «không thống nhất» ngày 01/12/2026"):
        record_answer(session=session, code=n.code, body="thue", objection=None, on=date(2026, 12, 2))


@pytest.mark.parametrize(
    ("award", "forward", "expected"),
    [
        ("bang-khen-tinh", True, "không cần lấy ý kiến hiệp y"),  # the province confers it itself
        ("bang-khen-ttg", False, "không cần lấy ý kiến hiệp y"),  # still at the commune
    ],
    ids=["province-form", "below-province"],
)
def test_consultation_only_where_the_data_asks_for_it(session, sample, award, forward, expected) -> None:
    if forward:
        n = _at_province(session, sample, award=award)
    else:
        row = {
            "nominee": "Bà Hoa",
            "kind": "cá nhân",
            "unit": "thanh-hoa.cam-thach-2025",
            "award": award,
            "submitted_on": "02/03/2026",
        }
        code = take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=[(2, row)]).nominations[
            0
        ]["code"]
        n = nm.by_code(session=session, code=code)  # type: ignore[assignment]
    with pytest.raises(ValueError, match=expected):
        request_consultation(session=session, code=n.code, on=AT_PROVINCE)


def test_unknown_body_and_missing_reason_are_refused(session, sample) -> None:
    n = _at_province(session, sample)
    request_consultation(session=session, code=n.code, on=AT_PROVINCE)
    with pytest.raises(ValueError, match="chưa lấy ý kiến «cong-an» \\(đã hỏi: thue, bhxh\\)"):
        record_answer(session=session, code=n.code, body="cong-an", objection=None, on=AT_PROVINCE)
    with pytest.raises(ValueError, match="phải ghi rõ lý do"):
        record_answer(session=session, code=n.code, body="thue", objection="  ", on=AT_PROVINCE)


def test_cli_consult_request_answer_and_show(session, sample) -> None:
    from cli.app import app

    n = _at_province(session, sample)
    runner = CliRunner()
    out = runner.invoke(app, ["consult", "request", n.code, "--on", "25/11/2026", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["asked"] == ["thue", "bhxh"]
    out = runner.invoke(app, ["consult", "answer", n.code, "--body", "thue", "--ok", "--on", "30/11/2026"])
    assert out.exit_code == 0 and "đã ghi nhận ý kiến thống nhất" in out.stdout, out.output
    assert runner.invoke(app, ["consult", "answer", n.code, "--body", "bhxh"]).exit_code == 2
    shown = json.loads(runner.invoke(app, ["consult", "show", n.code, "--on", "01/12/2026", "--json"]).stdout)
    assert shown["held"] and [r["answer"] for r in shown["requests"]] == ["agree", None]
    out = runner.invoke(
        app, ["consult", "answer", n.code, "--body", "bhxh", "--objection", "Chưa đóng BHXH cho 3 lao động"]
    )
    assert out.exit_code == 0 and "hồ sơ được trả lại" in out.stdout, out.output
    session.expire_all()
    assert nm.by_code(session=session, code=n.code).status == nm.Status.returned  # type: ignore[union-attr]
    refused = runner.invoke(app, ["consult", "answer", n.code, "--body", "khong-co", "--ok"])
    assert refused.exit_code == 1 and "chưa lấy ý kiến «khong-co»" in refused.output


def test_a_body_that_has_not_answered_is_reminded_once_before_its_limit(session, sample) -> None:
    from flows.consultation import remind_bodies

    n = _at_province(session, sample)
    request_consultation(session=session, code=n.code, on=AT_PROVINCE)  # limit 09/12/2026
    assert remind_bodies(session=session, today=date(2026, 12, 1)).letters == 0  # not yet near
    record_answer(session=session, code=n.code, body="thue", objection=None, on=date(2026, 12, 2))
    first = remind_bodies(session=session, today=date(2026, 12, 4))
    assert first.reminded == [f"{n.code}:bhxh"]
    (letter,) = _letters(session, "consultation-reminder:")
    assert letter.to_email == "bhxh@example.gov.vn" and letter.subject.startswith(
        "[Thi đua – Khen thưởng] Nhắc lại:"
    )
    assert "chưa nhận được ý kiến hiệp y của Bảo hiểm xã hội tỉnh" in letter.text_body
    assert remind_bodies(session=session, today=date(2026, 12, 7)).letters == 0  # once


# --- the consultation holds forwarding (issue 13) -----------------------------------------------------


def _province_minutes(session, sample, n: nm.Nomination, day: date, decision: dict | None = None) -> list:
    """The problems the province council's minutes approving (and so forwarding) the dossier would have."""
    import uuid

    from models import meetings as mt

    meeting = mt.open_meeting(
        session=session,
        unit_id=sample.by_code["thanh-hoa"].id,
        key=f"minutes:{uuid.uuid4()}",
        hierarchy=sample,
        on=day,
    )
    minutes = {
        "meeting_date": day,
        "members_present": 9,
        "decisions": [{"code": n.code, "decision": "approve", **(decision or {})}],
    }
    problems = mt.check_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=sample)
    session.rollback()
    return problems


def test_a_meeting_may_not_forward_a_state_level_award_before_the_bodies_answer(session, sample) -> None:
    n = _at_province(session, sample)
    (problem,) = _province_minutes(session, sample, n, AT_PROVINCE)
    assert (
        problem.startswith(
            f"hồ sơ {n.code}: chưa lấy ý kiến hiệp y của Thuế tỉnh, Bảo hiểm xã hội tỉnh, chưa trình cấp trên"
        )
        and problem.code == n.code
    )
    assert f"thidua consult request {n.code}" in problem
    request_consultation(session=session, code=n.code, on=AT_PROVINCE)
    record_answer(session=session, code=n.code, body="thue", objection=None, on=date(2026, 11, 30))
    session.commit()
    (problem,) = _province_minutes(session, sample, n, date(2026, 12, 1))
    assert problem == (
        f"hồ sơ {n.code}: đang chờ ý kiến hiệp y của Bảo hiểm xã hội tỉnh (hạn 09/12/2026); chưa trình cấp "
        "trên được trước khi các cơ quan trả lời hoặc hết thời hạn trả lời"
    )
    # a lower form the province confers itself needs no consultation
    assert (
        _province_minutes(
            session,
            sample,
            n,
            date(2026, 12, 1),
            {"decision": "award-lower", "lower_award": "bang-khen-tinh"},
        )
        == []
    )
    # the limit passed: the dossier goes on without that answer; or every body answered
    assert _province_minutes(session, sample, n, date(2026, 12, 10)) == []
    record_answer(session=session, code=n.code, body="bhxh", objection=None, on=date(2026, 12, 1))
    session.commit()
    assert _province_minutes(session, sample, n, date(2026, 12, 1)) == []


def test_a_returned_and_resubmitted_dossier_is_consulted_again(session, sample) -> None:
    n = _at_province(session, sample)
    request_consultation(session=session, code=n.code, on=AT_PROVINCE)
    record_answer(session=session, code=n.code, body="bhxh", objection=None, on=date(2026, 11, 26))
    record_answer(session=session, code=n.code, body="thue", objection="Còn nợ thuế", on=date(2026, 11, 27))
    nm.resubmit(session=session, nomination=n, act=nm.Act("xã Cẩm Thạch", date(2026, 12, 2)))
    session.commit()
    (problem,) = _province_minutes(session, sample, n, date(2026, 12, 2))
    assert "chưa lấy ý kiến hiệp y của Thuế tỉnh, Bảo hiểm xã hội tỉnh (hồ sơ đã bị trả lại" in problem
    again = request_consultation(session=session, code=n.code, on=date(2026, 12, 2))
    session.commit()
    assert again.asked == ["thue", "bhxh"] and again.letters == 2
    assert len(_letters(session, "consultation-request:")) == 4
    assert n.id is not None
    assert hy.held(session=session, nomination_ids=[n.id], today=date(2026, 12, 2))[n.id].startswith(
        "đang chờ ý kiến hiệp y của Thuế tỉnh (hạn 16/12/2026)"
    )
    # the same body may object again in the new round: a new step and a new letter
    second = record_answer(
        session=session, code=n.code, body="thue", objection="Vẫn còn nợ thuế", on=date(2026, 12, 3)
    )
    session.commit()
    assert second.returned and second.letters == 1
    assert len(_letters(session, "consultation-objection:")) == 2
    assert len(hy.requests_of(session=session, nomination_id=n.id, every_round=True)) == 4


def test_a_central_submission_is_held_where_the_data_makes_the_body_consult(
    session, sample, monkeypatch, tmp_path
) -> None:
    """Ministries consult too where the data says so (consulting_levels): the Ministry of Home Affairs'
    submission to the Prime Minister waits for the bodies."""
    from models.decisions import DecisionRefused, DecisionRequest, issue_decision

    data = hy.DATA.read_text(encoding="utf-8").replace(
        "consulting_levels: [province]", "consulting_levels: [province, central/moha]"
    )
    (tmp_path / "consultation.yaml").write_text(data, encoding="utf-8")
    monkeypatch.setattr(hy, "rules", lambda: hy.load_rules(tmp_path / "consultation.yaml"))
    n = _at_province(session, sample)
    request_consultation(session=session, code=n.code, on=AT_PROVINCE)
    for body in ("thue", "bhxh"):
        record_answer(session=session, code=n.code, body=body, objection=None, on=AT_PROVINCE)
    nm.forward(session=session, nomination=n, hierarchy=sample, act=nm.Act("tỉnh", AT_PROVINCE))
    nm.receive(session=session, nomination=n, hierarchy=sample, act=nm.Act("Bộ Nội vụ", AT_PROVINCE))
    session.commit()
    request = DecisionRequest(
        unit="central.bo-noi-vu", number="45/TTr-BNV", decision_date=date(2026, 11, 30), codes=[n.code]
    )
    with pytest.raises(DecisionRefused, match="chưa lấy ý kiến hiệp y của Thuế tỉnh, Bảo hiểm xã hội tỉnh"):
        # the province's consultation is the province's: the Ministry asks for itself
        issue_decision(session=session, hierarchy=sample, request=request)
    session.rollback()
    request_consultation(session=session, code=n.code, on=date(2026, 11, 30))
    for body in ("thue", "bhxh"):
        record_answer(session=session, code=n.code, body=body, objection=None, on=date(2026, 11, 30))
    issued = issue_decision(session=session, hierarchy=sample, request=request)
    assert issued.kind == "submit"
