"""The papers councils sign (issue 14): each kind rendered from the sample data and read back with
python-docx, the XLSX list taken in unchanged by the intake of the level above, one document per fact
(same hash, same ID on a re-run), the templates reproducible and overridable, and `thidua docs`."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from documents.content import Body, Campaign, DecisionInput, ListRow, Signer, render
from documents.render import DEFAULT_TEMPLATES, LEFTOVER_TAG, docx_text
from documents.text import day_in_words, document_number, place_and_date, unit_title
from models import documents as dm
from models import meetings as mt
from models.awards import NomineeKind
from models.nominations import Nomination, Status
from models.units import Level

UNIT = "thanh-hoa.cam-thach-2025"  # xã Cẩm Thạch (from 1/7/2025), parent: tỉnh Thanh Hóa
DAY = date(2026, 11, 24)
NTM = Campaign(
    name="Cả nước chung sức xây dựng nông thôn mới giai đoạn 2021–2025",
    legal_basis="Quyết định số 587/QĐ-TTg ngày 18/5/2022 của Thủ tướng Chính phủ",
)
NOMINEES = [
    ("Nguyễn Văn An", "cá nhân", "giay-khen-xa", "Hiến 300 m² đất & góp công làm đường <liên thôn>"),
    ("Thôn Đồng Tâm", "tập thể", "giay-khen-xa", "Hoàn thành tiêu chí thôn nông thôn mới kiểu mẫu"),
    ("Hộ ông Lê Văn Bình", "hộ gia đình", "giay-khen-xa", "Góp 50 triệu đồng xây nhà văn hóa"),
    ("Trần Thị Hoa", "cá nhân", "bang-khen-tinh", "Vận động nhân dân hiến 2 km đường"),
    ("Hợp tác xã Cẩm Tâm", "tập thể", "bang-khen-tinh", "Liên kết tiêu thụ nông sản cho 300 hộ"),
]


# --- Vietnamese text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "words"),
    [
        (date(2025, 10, 15), "ngày 15 tháng 10 năm 2025"),
        (date(2025, 2, 5), "ngày 05 tháng 02 năm 2025"),  # day < 10 and months 1, 2: a leading zero
        (date(2026, 1, 1), "ngày 01 tháng 01 năm 2026"),
        (date(2026, 3, 9), "ngày 09 tháng 3 năm 2026"),
    ],
)
def test_dates_are_written_in_words_as_decree_30_writes_them(day: date, words: str) -> None:
    assert day_in_words(day) == words


def test_place_date_number_and_unit_names_as_documents_write_them() -> None:
    assert place_and_date("Cẩm Thạch", date(2025, 10, 15)) == "Cẩm Thạch, ngày 15 tháng 10 năm 2025"
    assert document_number("5/QĐ-UBND") == "05/QĐ-UBND"
    assert document_number("123/QĐ-UBND") == "123/QĐ-UBND"
    assert unit_title("xã cẩm thạch") == "Xã Cẩm Thạch"
    assert unit_title("thành phố huế") == "Thành phố Huế"
    decomposed = "xa\u0303 Câ\u0309m Tha\u0323ch"  # NFD, as some keyboards type it
    assert unit_title(decomposed) == "Xã Cẩm Thạch"
    assert Body(name=decomposed, level=Level.commune).issuer_lines()["issuer_2"] == "XÃ CẨM THẠCH"


# --- the renderer from a plain typed input (what the decision step calls) ------------------------------


def _decision(rule_set: str, submitted_on: date, day: date, **extra) -> DecisionInput:
    rows = tuple(
        ListRow(
            code=f"HS{submitted_on.year}-{i:06d}",
            nominee=name,
            kind=NomineeKind.individual if kind == "cá nhân" else NomineeKind.collective,
            unit=UNIT,
            unit_name="xã Cẩm Thạch",
            award="bang-khen-tinh",
            achievement=achievement,
            submitted_on=submitted_on,
        )
        for i, (name, kind, _, achievement) in enumerate(NOMINEES[3:], start=1)
    )
    return DecisionInput(
        body=Body(name="tỉnh Thanh Hóa", level=Level.province),
        number="123/QĐ-UBND",
        day=day,
        signer=Signer(capacity=("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"), name="Đặng Tiến Hưng"),
        rule_sets=(rule_set,),
        campaign=NTM,
        council="Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa",
        minutes_day=day,
        minutes_number="7/BB-HĐTĐKT",
        awardees=rows,
        **extra,
    )


@pytest.mark.parametrize(
    ("rule_set", "submitted_on", "day", "cited", "not_cited"),
    [
        ("nd-98-2023", date(2024, 3, 2), date(2024, 10, 15), "Nghị định số 98/2023/NĐ-CP", "152/2025/NĐ-CP"),
        ("nd-152-2025", date(2026, 3, 2), date(2026, 10, 15), "Nghị định số 152/2025/NĐ-CP", "98/2023/NĐ-CP"),
    ],
)
def test_a_decision_cites_the_decree_of_its_dossiers_rule_set(
    rule_set: str, submitted_on: date, day: date, cited: str, not_cited: str
) -> None:
    text = docx_text(render("decision", _decision(rule_set, submitted_on, day), title="QĐ"))
    bases = [line for line in text.splitlines() if line.startswith(("Căn cứ", "Xét", "Theo đề nghị"))]
    assert any(cited in b for b in bases), bases
    assert not any(not_cited in b for b in bases)
    assert any("Luật Thi đua, khen thưởng số 06/2022/QH15" in b for b in bases)
    assert any("587/QĐ-TTg" in b for b in bases)  # the movement's plan
    assert any("Biên bản họp số 07/BB-HĐTĐKT" in b for b in bases)  # the council's minutes
    assert bases[-1].endswith(".") and all(b.endswith(";") for b in bases[:-1])
    assert "Số: 123/QĐ-UBND" in text
    assert f"Thanh Hóa, {day_in_words(day)}" in text
    assert "KT. CHỦ TỊCH\nPHÓ CHỦ TỊCH" in text
    assert "Điều 1. Tặng Bằng khen của Chủ tịch UBND tỉnh cho 1 tập thể và 1 cá nhân" in text
    assert not LEFTOVER_TAG.search(text)


def test_a_configured_cash_reward_is_its_own_article(monkeypatch: pytest.MonkeyPatch) -> None:
    from models.settings import reset_settings

    monkeypatch.setenv(
        "THIDUA_DOCUMENT_CASH_REWARDS", '{"bang-khen-tinh": {"individual": 1170000, "collective": 2340000}}'
    )
    reset_settings()
    try:
        text = docx_text(render("decision", _decision("nd-152-2025", date(2026, 3, 2), DAY), title="QĐ"))
    finally:
        monkeypatch.delenv("THIDUA_DOCUMENT_CASH_REWARDS")
        reset_settings()
    assert "Điều 2. Kèm theo Bằng khen của Chủ tịch UBND tỉnh là tiền thưởng" in text, text
    assert "tập thể: 2.340.000 đồng; cá nhân: 1.170.000 đồng" in text
    assert "Điều 3. Quyết định này có hiệu lực" in text and "- Như Điều 3;" in text


def test_the_same_input_renders_to_the_same_bytes() -> None:
    inp = _decision("nd-152-2025", date(2026, 3, 2), DAY)
    first, second = render("decision", inp, title="QĐ"), render("decision", inp, title="QĐ")
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


def test_the_default_templates_are_what_the_script_builds(tmp_path: Path) -> None:
    from documents.make_templates import build

    for path in build(tmp_path):
        assert path.read_bytes() == (DEFAULT_TEMPLATES / path.name).read_bytes(), path.name


def _own_decision_template(folder: Path, paragraph: str) -> None:
    """A province's own decision template in `folder`: the default one with `paragraph` added."""
    from docx import Document

    doc = Document(str(DEFAULT_TEMPLATES / "quyet-dinh-khen-thuong.docx"))
    doc.add_paragraph(paragraph)
    doc.save(str(folder / "quyet-dinh-khen-thuong.docx"))


@contextmanager
def _templates_from(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """THIDUA_DOCUMENT_TEMPLATES set to `folder` inside the block, the settings read afresh on both sides."""
    from models.settings import reset_settings

    monkeypatch.setenv("THIDUA_DOCUMENT_TEMPLATES", str(folder))
    reset_settings()
    try:
        yield
    finally:
        monkeypatch.delenv("THIDUA_DOCUMENT_TEMPLATES")
        reset_settings()


def test_a_province_template_overrides_the_default_and_a_broken_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from documents.render import TemplateProblem

    own = tmp_path / "mau-tinh"
    own.mkdir()
    _own_decision_template(own, "Mẫu riêng của tỉnh Thanh Hóa")
    with _templates_from(own, monkeypatch):
        inp = _decision("nd-152-2025", date(2026, 3, 2), DAY)
        assert "Mẫu riêng của tỉnh Thanh Hóa" in docx_text(render("decision", inp, title="QĐ"))
        # the other kinds fall back to the defaults
        _own_decision_template(own, "{{ so_quyet_dinh_khong_co }}")
        with pytest.raises(TemplateProblem, match="quyet-dinh-khen-thuong.docx"):
            render("decision", inp, title="QĐ")


# --- from the sample data: a meeting's minutes, submission letter and list, decision ------------------


def _take_in(session, nominees=NOMINEES, unit: str = UNIT, on: str = "02/03/2026") -> list[str]:
    from models.intake import take_in

    rows = [
        (
            i + 2,
            {
                "nominee": name,
                "kind": kind,
                "unit": unit,
                "award": award,
                "campaign": "ntm-2021-2025",
                "achievement": achievement,
                "submitted_on": on,
            },
        )
        for i, (name, kind, award, achievement) in enumerate(nominees)
    ]
    result = take_in(session=session, rows=rows, source="test", received_on=DAY)
    session.commit()
    return [n["code"] for n in result.nominations]


def _applied(session, sample, key: str, minutes: dict, unit: str = UNIT) -> mt.Meeting:
    """A meeting of `unit`'s council opened and its minutes applied (not committed)."""
    meeting = mt.open_meeting(
        session=session, unit_id=sample.by_code[unit].id, key=key, hierarchy=sample, on=DAY
    )
    mt.apply_minutes(session=session, meeting=meeting, hierarchy=sample, minutes=minutes)
    return meeting


def _meeting(session, sample, codes: list[str]) -> mt.Meeting:
    decisions = [{"code": c, "decision": "approve", "votes_for": 6, "votes_against": 1} for c in codes[:-1]]
    decisions.append(
        {
            "code": codes[-1],
            "decision": "reject",
            "votes_for": 2,
            "votes_against": 5,
            "note": "Chưa đủ tiêu chuẩn",
        }
    )
    minutes = {"meeting_date": DAY, "members_present": 7, "secretary": "Trần Thị Thư", "decisions": decisions}
    meeting = _applied(session, sample, "minutes:test", minutes)
    session.commit()
    return meeting


def _province_meeting(session, sample, codes: list[str]) -> mt.Meeting:
    """The province's council approves what the commune forwarded (it recommends: the province's forms,
    for its head's decision)."""
    decisions = [{"code": c, "decision": "approve", "votes_for": 9} for c in codes]
    minutes = {"meeting_date": DAY, "members_present": 9, "decisions": decisions}
    return _applied(session, sample, "minutes:province", minutes, unit="thanh-hoa")


def _decide(
    session, sample, meeting: mt.Meeting, number: str, day: date = DAY, signer: str = ""
) -> dm.Document:
    """The head's decision step on what the meeting recommended (models/decisions.py, as the
    `issue-decision` flow records it), and its paper as the flow makes it (documents_for_decision)."""
    from documents.papers import documents_for_decision
    from models.decisions import DecisionRequest, issue_decision

    unit = sample.get(meeting.unit_id)
    issued = issue_decision(
        session=session,
        hierarchy=sample,
        request=DecisionRequest(
            unit=unit.code, number=number, decision_date=day, meeting_id=meeting.id, signer=signer
        ),
    )
    conferred = [c for c, o in issued.outcomes.items() if o == mt.Outcome.conferred]
    doc = documents_for_decision(
        session=session,
        hierarchy=sample,
        unit_id=unit.id,
        number=number,  # given, not automatic: the decision keeps it and its date
        day=day,
        codes=conferred,
        signer=signer,
        meeting_id=meeting.id,
    )
    session.commit()
    return doc


@pytest.fixture
def papers(session, sample):
    """The commune's meeting (minutes, and a submission with its list for what it forwards) and its
    head's decision on what the meeting recommended, numbered 41/QĐ-UBND."""
    from documents.papers import documents_for_meeting

    codes = _take_in(session)
    meeting = _meeting(session, sample, codes)
    docs = documents_for_meeting(session=session, meeting=meeting, hierarchy=sample)
    session.commit()
    return meeting, codes, [*docs, _decide(session, sample, meeting, "41/QĐ-UBND")]


def _by_kind(docs: list[dm.Document], kind: dm.DocumentKind) -> list[dm.Document]:
    return [d for d in docs if d.kind == kind]


def test_an_applied_meeting_has_its_minutes_a_submission_with_its_list_and_a_decision(papers) -> None:
    _, _, docs = papers
    kinds = sorted(d.kind.value for d in docs)
    assert kinds == ["decision", "minutes", "nominee-list", "submission"]
    for doc in docs:
        assert doc.sha256 == hashlib.sha256(doc.content).hexdigest() and doc.size == len(doc.content)
        if doc.media_type == dm.DOCX:
            assert not LEFTOVER_TAG.search(docx_text(doc.content)), doc.title


def test_the_minutes_record_attendance_quorum_and_each_tally(papers) -> None:
    _, codes, docs = papers
    (minutes,) = _by_kind(docs, dm.DocumentKind.minutes)
    text = docx_text(minutes.content)
    assert minutes.number == "1/BB-HĐTĐKT" and "Số: 01/BB-HĐTĐKT" in text
    assert "Cẩm Thạch, ngày 24 tháng 11 năm 2026" in text
    assert "HỘI ĐỒNG THI ĐUA – KHEN THƯỞNG" in text and "UBND XÃ CẨM THẠCH" in text
    assert "có mặt 7 thành viên" in text and "đủ điều kiện tiến hành phiên họp" in text
    assert "Trần Thị Thư" in text  # the secretary signs
    from docx import Document

    table = Document(io.BytesIO(minutes.content)).tables[-2]  # the results (the signatures come last)
    rows = [[c.text for c in r.cells] for r in table.rows[1:]]
    assert [r[1] for r in rows] == codes
    assert rows[-1][4:7] == ["2", "5", "0"] and rows[-1][7] == "Không thông qua: Chưa đủ tiêu chuẩn"
    # the council recommends; the head's decision (its own number) is not the minutes' to record
    assert rows[0][4:6] == ["6", "1"]
    assert rows[0][7] == "Thông qua, đề nghị Chủ tịch UBND xã Cẩm Thạch khen thưởng Giấy khen xã"
    assert not any("QĐ" in r[7] for r in rows)
    assert "bằng văn bản" not in text  # no written vote in these minutes
    assert rows[3][7] == "Thông qua, trình tỉnh Thanh Hóa"


def test_the_minutes_show_the_written_votes_of_absent_members(session, sample) -> None:
    """Absent members who voted in writing (lấy ý kiến bằng văn bản): their votes stand in the minutes
    beside the dossier, apart from the votes cast at the meeting."""
    from docx import Document

    from documents.papers import documents_for_meeting

    codes = _take_in(session, NOMINEES[:2])
    _, members = mt.council_of(session=session, unit_id=sample.by_code[UNIT].id)
    present = len(members) - 2
    decisions = [
        {"code": codes[0], "votes_for": present, "written_for": 1, "written_against": 1},
        {"code": codes[1], "votes_for": present},
    ]
    minutes = {"meeting_date": DAY, "members_present": present, "decisions": decisions}
    meeting = _applied(session, sample, "minutes:written", minutes)
    (minutes,) = documents_for_meeting(session=session, meeting=meeting, hierarchy=sample)
    session.commit()
    text = docx_text(minutes.content)
    assert f"có mặt {present} thành viên, vắng 2 thành viên (ý kiến bằng văn bản" in text
    rows = [[c.text for c in r.cells] for r in Document(io.BytesIO(minutes.content)).tables[-2].rows[1:]]
    assert rows[0][4] == str(present)  # the votes at the meeting, apart from the written ones
    assert rows[0][7].endswith(
        "; ý kiến bằng văn bản của thành viên vắng mặt: 1 đồng ý, 1 không đồng ý, 0 không biểu quyết"
    )
    assert "bằng văn bản" not in rows[1][7]


def test_the_submission_letter_lists_exactly_the_forwarded_dossiers_by_form_and_kind(papers, session) -> None:
    _, codes, docs = papers
    (letter,) = _by_kind(docs, dm.DocumentKind.submission)
    text = docx_text(letter.content)
    assert letter.number == "1/TTr-UBND" and "Số: 01/TTr-UBND" in text
    assert "Kính gửi: Chủ tịch Ủy ban nhân dân tỉnh Thanh Hóa" in text
    assert "Nghị định số 152/2025/NĐ-CP" in text
    assert "Căn cứ Biên bản họp số 01/BB-HĐTĐKT ngày 24 tháng 11 năm 2026" in text
    from docx import Document

    table = Document(io.BytesIO(letter.content)).tables[-1]
    names = [r.cells[1].text for r in table.rows[1:] if r.cells[0].text.isdigit()]
    forwarded = list(
        session.scalars(
            select(Nomination.code).where(Nomination.code.in_(codes), Nomination.status == Status.forwarded)
        )
    )
    assert len(forwarded) == 1  # the other bang-khen-tinh dossier was rejected
    assert names == ["Trần Thị Hoa"]
    groups = [r.cells[0].text for r in table.rows[1:] if not r.cells[0].text.isdigit()]
    assert groups == ["I. Bằng khen của Chủ tịch UBND tỉnh — Cá nhân (1)"]


def test_the_decision_lists_the_awardees_by_kind_with_its_number(papers) -> None:
    _, _, docs = papers
    (decision,) = _by_kind(docs, dm.DocumentKind.decision)
    text = docx_text(decision.content)
    assert decision.number == "41/QĐ-UBND" and "Số: 41/QĐ-UBND" in text
    assert decision.issued_on == DAY and "Cẩm Thạch, ngày 24 tháng 11 năm 2026" in text
    assert "CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ CẨM THẠCH" in text
    assert "Căn cứ Biên bản họp số 01/BB-HĐTĐKT" in text
    assert "(Kèm theo Quyết định số 41/QĐ-UBND ngày 24 tháng 11 năm 2026" in text
    from docx import Document

    table = Document(io.BytesIO(decision.content)).tables[-1]
    cells = [[c.text for c in r.cells] for r in table.rows[1:]]
    assert [c[0] for c in cells if not c[0].isdigit()] == [
        "I. Tập thể (1)",
        "II. Cá nhân (1)",
        "III. Hộ gia đình (1)",
    ]
    assert sorted(c[1] for c in cells if c[0].isdigit()) == sorted(
        n for n, _, a, _ in NOMINEES if a == "giay-khen-xa"
    )
    assert "Hiến 300 m² đất & góp công làm đường <liên thôn>" in [c[3] for c in cells]  # escaped, not XML


def test_rerunning_gives_the_same_documents_and_no_second_row(papers, session, sample) -> None:
    from documents.papers import documents_for_meeting

    meeting, _, docs = papers
    again = [
        *documents_for_meeting(session=session, meeting=meeting, hierarchy=sample),
        _decide(session, sample, meeting, "41/QĐ-UBND"),  # the same decision recorded again: a no-op
    ]
    session.commit()
    assert [(d.id, d.sha256) for d in again] == [(d.id, d.sha256) for d in docs]
    assert session.scalar(select(func.count()).select_from(dm.Document)) == len(docs)
    # and the bytes themselves are reproducible: rendered anew, the minutes hash the same
    session.execute(dm.DocumentNomination.__table__.delete())
    session.execute(dm.Document.__table__.delete())
    session.execute(dm.CodeCounter.__table__.delete().where(dm.CodeCounter.name.like("doc:%")))
    session.commit()
    fresh = [
        *documents_for_meeting(session=session, meeting=meeting, hierarchy=sample),
        _decide(session, sample, meeting, "41/QĐ-UBND"),
    ]
    assert sorted(d.sha256 for d in fresh) == sorted(d.sha256 for d in docs)


def test_the_xlsx_list_is_taken_in_unchanged_by_the_intake_above(papers, tmp_path: Path, monkeypatch) -> None:
    """The province takes the commune's list as it is: read with the intake's reader, screened, stored."""
    from sqlmodel import Session

    from models.campaigns import ensure_campaigns
    from models.db import create_all_for_tests, get_engine
    from models.hierarchy import Hierarchy
    from models.intake import COLUMNS, HEADERS_VI, take_in
    from models.sample import load_sample
    from models.sheets import read_rows

    _, _, docs = papers
    (sheet,) = _by_kind(docs, dm.DocumentKind.nominee_list)
    assert sheet.media_type == dm.XLSX and sheet.file_name.endswith(".xlsx")
    path = tmp_path / sheet.file_name
    path.write_bytes(sheet.content)
    rows = read_rows(path, columns=COLUMNS, labels=HEADERS_VI, required=("nominee", "kind", "unit", "award"))
    assert [r["nominee"] for _, r in rows] == ["Trần Thị Hoa"]
    # the level above keeps its own database: a fresh one with the same units
    other = f"sqlite:///{tmp_path / 'province.db'}"
    create_all_for_tests(other)
    with Session(get_engine(other), expire_on_commit=False) as province:
        load_sample(session=province)
        ensure_campaigns(session=province)
        province.commit()
        result = take_in(session=province, rows=rows, source=sheet.file_name, received_on=DAY)
        province.commit()
        stored = province.scalars(select(Nomination)).all()
        hierarchy = Hierarchy.load(province)
    assert result.nominations and len(stored) == 1
    assert stored[0].award_code == "bang-khen-tinh" and stored[0].submitted_on == date(2026, 3, 2)
    assert hierarchy.get(stored[0].origin_unit_id).code == UNIT


def test_the_decision_cites_the_submission_that_brought_the_dossiers(session, sample) -> None:
    """At the province, the decision on the commune's dossiers cites the commune's submission letter."""
    from documents.papers import documents_for_meeting

    codes = _take_in(session, [NOMINEES[3]])
    commune = _meeting(
        session, sample, [*codes, _take_in(session, [("Ai Đó", "cá nhân", "giay-khen-xa", "x")])[0]]
    )
    commune_docs = documents_for_meeting(session=session, meeting=commune, hierarchy=sample)
    (letter,) = _by_kind(commune_docs, dm.DocumentKind.submission)
    province = _province_meeting(session, sample, codes[:1])
    docs = documents_for_meeting(session=session, meeting=province, hierarchy=sample)
    session.commit()
    assert sorted(d.kind.value for d in docs) == ["minutes"]  # it recommends: no paper of its own besides
    decision = _decide(session, sample, province, "1234/QĐ-UBND")
    text = docx_text(decision.content)
    assert "Xét Tờ trình số 01/TTr-UBND ngày 24 tháng 11 năm 2026 của Ủy ban nhân dân xã Cẩm Thạch;" in text
    assert "Số: 1234/QĐ-UBND" in text and "Thanh Hóa, ngày 24 tháng 11 năm 2026" in text
    assert letter.number == "1/TTr-UBND"


def test_the_yearly_report_counts_what_the_area_filed(session, sample) -> None:
    from documents.papers import yearly_report

    codes = _take_in(session)
    _decide(session, sample, _meeting(session, sample, codes), "41/QĐ-UBND")  # the head confers 3
    doc = yearly_report(session=session, hierarchy=sample, unit_code=UNIT, year=2026, day=DAY)
    again = yearly_report(session=session, hierarchy=sample, unit_code=UNIT, year=2026, day=DAY)
    session.commit()
    assert again.id == doc.id
    text = docx_text(doc.content)
    assert "Số: 01/BC-UBND" in text and "Kính gửi: Văn phòng Điều phối nông thôn mới tỉnh Thanh Hóa" in text
    assert "Hồ sơ đề nghị khen thưởng trong năm\n5" in text
    assert re.search(r"Giấy khen của Chủ tịch UBND xã\n3\n3", text)
    assert not LEFTOVER_TAG.search(text)


# --- the command line ---------------------------------------------------------------------------------


def test_docs_ls_and_get_write_the_stored_bytes(papers, tmp_path: Path) -> None:
    from cli.app import app

    meeting, codes, docs = papers
    runner = CliRunner()
    listed = runner.invoke(app, ["docs", "ls", "--meeting", str(meeting.id), "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"number": "41/QĐ-UBND"' in listed.output
    by_code = runner.invoke(app, ["docs", "ls", codes[3], "--json"])
    assert '"kind": "submission"' in by_code.output and '"kind": "decision"' not in by_code.output
    by_unit = runner.invoke(app, ["docs", "ls", "--unit", "xã Cẩm Thạch"])
    assert by_unit.exit_code == 0 and "Biên bản" in by_unit.output
    (decision,) = _by_kind(docs, dm.DocumentKind.decision)
    out = tmp_path / "qd.docx"
    got = runner.invoke(app, ["docs", "get", str(decision.id), "-o", str(out)])
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == decision.content
    again = runner.invoke(app, ["docs", "get", str(decision.id), "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    wrong = runner.invoke(app, ["docs", "get", str(decision.id), "-o", str(tmp_path / "qd.xlsx")])
    assert wrong.exit_code == 2 and ".docx" in wrong.output


@pytest.mark.skipif(shutil.which("soffice") is not None, reason="LibreOffice is installed: the PDF test runs")
def test_a_pdf_without_libreoffice_is_refused_in_words(papers, tmp_path: Path) -> None:
    from cli.app import app

    _, _, docs = papers
    (decision,) = _by_kind(docs, dm.DocumentKind.decision)
    got = CliRunner().invoke(app, ["docs", "get", str(decision.id), "-o", str(tmp_path / "qd.pdf")])
    assert got.exit_code == 2 and "LibreOffice" in got.output
    assert not (tmp_path / "qd.pdf").exists()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed here")
def test_each_document_converts_to_pdf_with_its_number(papers, tmp_path: Path) -> None:  # pragma: no cover
    from cli.documents import to_pdf

    _, _, docs = papers
    for doc in docs:
        if doc.media_type == dm.DOCX:
            pdf = to_pdf(doc.content)
            assert pdf.startswith(b"%PDF")


# --- the flow: papers made after the meeting applies, listed in its artifact ----------------------------


def test_the_meeting_flow_makes_its_papers_and_lists_them_in_an_artifact(
    prefect_api, session, sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The meeting's flow makes its minutes (it recommends, so no decision of its own); the decision
    step's flow makes the head's quyết định; each lists its papers in an artifact, the meeting's listing
    every paper (its decision too) with the command and, the portal's address set, its download link;
    re-runs make nothing."""
    import asyncio

    from flows.council import council_meeting
    from flows.decisions import issue_decision
    from models.decisions import DecisionIssued
    from models.settings import reset_settings
    from models.text import slug
    from tests.fixtures_prefect import latest_artifact

    monkeypatch.setenv("THIDUA_PORTAL_URL", "https://thidua.thanhhoa.gov.vn/")
    reset_settings()

    codes = _take_in(session, NOMINEES[:2])
    minutes = mt.Minutes(
        meeting_date=DAY,
        members_present=7,
        decisions=[{"code": c, "decision": "approve", "votes_for": 7} for c in codes],
    )
    result = asyncio.run(council_meeting(unit=UNIT, minutes=minutes, on=DAY, deliver=False, dashboard=False))
    again = asyncio.run(council_meeting(unit=UNIT, minutes=minutes, on=DAY, deliver=False, dashboard=False))
    assert again.meeting_id == result.meeting_id  # the same minutes: the same meeting, found by key
    session.expire_all()
    (minutes_doc,) = dm.documents_of(session=session, meeting_id=result.meeting_id)
    assert minutes_doc.kind == dm.DocumentKind.minutes

    def decide() -> DecisionIssued:
        issued = asyncio.run(
            issue_decision(
                unit=UNIT, number="77/QĐ-UBND", decision_date=DAY, meeting_id=result.meeting_id, deliver=False
            )
        )
        assert isinstance(issued, DecisionIssued), issued
        return issued

    first, replayed = decide(), decide()
    assert sorted(first.outcomes) == sorted(codes) and replayed.replayed
    session.expire_all()
    docs = dm.documents_of(session=session, meeting_id=result.meeting_id)
    assert sorted(d.kind.value for d in docs) == ["decision", "minutes"]
    (decision,) = _by_kind(docs, dm.DocumentKind.decision)
    assert decision.number == "77/QĐ-UBND"

    def artifact(key: str) -> str:
        found = latest_artifact(key)
        assert found is not None, key
        return str(found.data)

    meeting_md = artifact(f"documents-meeting-{result.meeting_id}")
    decision_md = artifact(f"documents-decision-{slug(UNIT)}-{slug('77/QĐ-UBND')}"[:100])
    for doc, markdown in ((minutes_doc, meeting_md), (decision, meeting_md), (decision, decision_md)):
        assert f"`thidua docs get {doc.id} -o {doc.file_name}`" in markdown
        assert f"[{doc.file_name}](https://thidua.thanhhoa.gov.vn/documents/{doc.id})" in markdown
    assert "| 77/QĐ-UBND |" in meeting_md and "| Biên bản họp Hội đồng |" in meeting_md


def test_the_decision_step_paper_covers_its_codes_forms_and_signer(session, sample) -> None:
    """The head's decision step (its number, date, signer, codes) gets its paper: one form per article
    line, the list by form and kind, the meeting's minutes cited; the same number again: the same row."""
    from documents.papers import documents_for_meeting

    codes = _take_in(
        session,
        [
            ("Trần Thị Hoa", "cá nhân", "bang-khen-tinh", "Vận động nhân dân hiến 2 km đường"),
            ("Thôn Đồng Tâm", "tập thể", "co-thi-dua-tinh", "Dẫn đầu phong trào"),
        ],
    )
    commune = _meeting(
        session, sample, [*codes, _take_in(session, [("Ai Đó", "cá nhân", "giay-khen-xa", "x")])[0]]
    )
    province = _province_meeting(session, sample, codes)
    session.commit()
    documents_for_meeting(session=session, meeting=commune, hierarchy=sample)  # its submission letter

    def issue() -> dm.Document:  # the head's decision, six days after the meeting, signed by a deputy
        signer = "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH / Đặng Tiến Hưng"
        return _decide(session, sample, province, "1234/QĐ-UBND", date(2026, 11, 30), signer=signer)

    doc, again = issue(), issue()
    session.commit()
    assert again.id == doc.id and again.sha256 == doc.sha256
    assert doc.number == "1234/QĐ-UBND" and doc.meeting_id == province.id
    assert session.scalars(select(Nomination.status).where(Nomination.code.in_(codes))).all() == [
        Status.conferred,
        Status.conferred,
    ]
    text = docx_text(doc.content)
    assert "Về việc tặng Bằng khen của Chủ tịch UBND tỉnh và Cờ thi đua của UBND tỉnh" in text
    assert (
        "Tặng Bằng khen của Chủ tịch UBND tỉnh cho 1 cá nhân; Cờ thi đua của UBND tỉnh cho 1 tập thể" in text
    )
    assert "KT. CHỦ TỊCH\nPHÓ CHỦ TỊCH" in text and "Đặng Tiến Hưng" in text
    assert "Thanh Hóa, ngày 30 tháng 11 năm 2026" in text
    assert "Căn cứ Biên bản họp số 01/BB-HĐTĐKT ngày 24 tháng 11 năm 2026 của Hội đồng Thi đua" in text
    assert "Xét Tờ trình số 01/TTr-UBND ngày 24 tháng 11 năm 2026 của Ủy ban nhân dân xã Cẩm Thạch;" in text
    assert "I. Bằng khen của Chủ tịch UBND tỉnh — Cá nhân (1)" in text
    assert "II. Cờ thi đua của UBND tỉnh — Tập thể (1)" in text
    assert sorted(d.kind.value for d in dm.documents_of(session=session, code=codes[0])) == [
        "decision",  # the decision step's paper only: a meeting confers nothing
        "minutes",  # the commune's and the province's
        "minutes",
        "nominee-list",
        "submission",
    ]


def test_docs_make_a_decision_paper_and_a_yearly_report_from_the_command_line(papers) -> None:
    import json

    from cli.app import app

    _, codes, _ = papers
    runner = CliRunner()
    missing = runner.invoke(app, ["docs", "make", "--decision", "99/QĐ-UBND", "--code", codes[0]])
    assert missing.exit_code == 2 and "--unit" in missing.output
    made = runner.invoke(
        app,
        [
            "docs",
            "make",
            "--decision",
            "99/QĐ-UBND",
            "--unit",
            UNIT,
            "--code",
            codes[0],
            "--code",
            codes[1],
            "--on",
            "25/11/2026",
            "--signer",
            "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH / Lê Văn Phó",
            "--json",
        ],
    )
    assert made.exit_code == 0, made.output
    (paper,) = json.loads(made.stdout)
    assert paper["number"] == "99/QĐ-UBND" and paper["kind"] == "Quyết định khen thưởng"
    report = runner.invoke(
        app, ["docs", "make", "--report", UNIT, "--year", "2026", "--on", "30/11/2026", "--json"]
    )
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)[0]["number"] == "1/BC-UBND"


def test_the_decision_travels_as_an_attachment_unless_its_template_is_broken(
    papers, session, sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from documents.papers import decision_attachment

    _, codes, _ = papers
    args = {
        "session": session,
        "hierarchy": sample,
        "unit_id": sample.by_code[UNIT].id,
        "day": DAY,
        "codes": codes[:3],
    }
    attachment = decision_attachment(number="88/QĐ-UBND", **args)
    assert attachment is not None and attachment.filename.endswith(".docx")
    assert "Số: 88/QĐ-UBND" in docx_text(attachment.data)
    _own_decision_template(tmp_path, "{{ khong_co }}")
    with _templates_from(tmp_path, monkeypatch):
        assert decision_attachment(number="89/QĐ-UBND", **args) is None
    session.commit()  # the session is still usable: the failed paper was rolled back to its savepoint
    numbers = [d.number for d in dm.documents_of(session=session, unit_id=sample.by_code[UNIT].id)]
    assert "88/QĐ-UBND" in numbers and "89/QĐ-UBND" not in numbers


@pytest.mark.parametrize("name", sorted(p.name for p in DEFAULT_TEMPLATES.glob("*.docx")))
def test_each_template_has_the_page_and_fonts_of_decree_30(name: str) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document(str(DEFAULT_TEMPLATES / name))
    section = doc.sections[0]
    assert round(section.page_width.cm, 1) == 21.0 and round(section.page_height.cm, 1) == 29.7  # A4
    assert 2.0 <= round(section.top_margin.cm, 2) <= 2.5 and 2.0 <= round(section.bottom_margin.cm, 2) <= 2.5
    assert 3.0 <= round(section.left_margin.cm, 2) <= 3.5 and 1.5 <= round(section.right_margin.cm, 2) <= 2.0
    assert doc.styles["Normal"].font.name == "Times New Roman"
    assert Pt(13) <= doc.styles["Normal"].font.size <= Pt(14)
    runs = {
        r.text: r
        for t in doc.tables
        for row in t.rows
        for c in row.cells
        for p in c.paragraphs
        for r in p.runs
    }
    title = runs["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"]
    motto = runs["Độc lập - Tự do - Hạnh phúc"]
    assert title.bold and Pt(12) <= title.font.size <= Pt(13)
    assert motto.bold and Pt(13) <= motto.font.size <= Pt(14)
    assert runs["{{ place_date }}"].italic and "Số: {{ number }}" in runs
    assert section.different_first_page_header_footer  # page numbers from the second page


# --- the papers travel with the letters (issue 14: attachment, citations) -----------------------------


def test_the_proposers_letter_carries_the_decision_once_also_when_the_mail_is_retried(
    session, sample, db_url, smtp_server
) -> None:
    """The head's conferral is told to the proposer with the stored quyết định attached (its bytes, its
    file name), exactly once; the server refuses the first try (451) and the retry sends what the
    outbox stored; recording the same decision again queues nothing."""
    from datetime import timedelta

    from flows.decisions import issue_and_queue
    from models.clock import utcnow
    from models.decisions import DecisionRequest
    from notifications.outbox import OutboxMessage
    from tests.fixtures_smtp import busy_the_first_time
    from tests.notifications.conftest import deliver

    codes = _take_in(session)
    meeting = _meeting(session, sample, codes)  # recommends the commune's forms, forwards the province's
    request = DecisionRequest(unit=UNIT, number="42/QĐ-UBND", decision_date=DAY, meeting_id=meeting.id)
    issued, _, _ = issue_and_queue(request)
    replayed, _, _ = issue_and_queue(request)
    assert issued.letters == 1 and replayed.replayed and replayed.letters == 0
    session.expire_all()
    (decision,) = [
        d
        for d in dm.documents_of(session=session, meeting_id=meeting.id)
        if d.kind == dm.DocumentKind.decision
    ]
    assert decision.number == "42/QĐ-UBND" and decision.file_name.endswith(".docx")

    smtp_server.handler.data_reply = busy_the_first_time()
    first = deliver(db_url, smtp_server.settings())
    assert (first.sent, first.retried) == (0, 1) and smtp_server.captured == []
    second = deliver(db_url, smtp_server.settings(), now=utcnow() + timedelta(minutes=2))
    assert (second.sent, second.retried) == (1, 0)
    (letter,) = smtp_server.captured
    files = list(letter.message.iter_attachments())
    assert [f.get_filename() for f in files] == [decision.file_name]
    data = files[0].get_content()
    assert hashlib.sha256(data).hexdigest() == decision.sha256
    assert files[0].get_content_type() == dm.DOCX
    assert "Số: 42/QĐ-UBND" in docx_text(data)
    (row,) = session.scalars(select(OutboxMessage)).all()
    assert len(row.attachments) == 1 and row.attempts == 2


def test_a_refusal_goes_without_an_attachment(session, sample) -> None:
    """Only a conferral has a quyết định khen thưởng to attach: a refusal's letter carries none."""
    from flows.decisions import issue_and_queue
    from models.decisions import DecisionRequest
    from notifications.outbox import OutboxMessage

    codes = _take_in(session, NOMINEES[:1])
    decisions = [{"code": codes[0], "decision": "approve", "votes_for": 7}]
    _applied(
        session, sample, "minutes:one", {"meeting_date": DAY, "members_present": 7, "decisions": decisions}
    )
    session.commit()
    request = DecisionRequest(
        unit=UNIT,
        number="43/QĐ-UBND",
        decision_date=DAY,
        codes=codes,
        refuse=True,
        reason="Chưa đủ tiêu chuẩn",
    )
    issued, _, _ = issue_and_queue(request)
    assert issued.letters == 1
    session.expire_all()
    (row,) = session.scalars(select(OutboxMessage)).all()
    assert row.attachments == [] and "quyết định không khen thưởng" in row.text_body


def _forwarding_meeting(session, sample, key: str) -> tuple[int, str]:
    """A commune meeting applied as the flow applies it (apply_and_queue: one transaction with its
    letters): a Giấy khen recommended to the commune's head, a provincial Bằng khen forwarded."""
    from flows.council import Applied, apply_and_queue

    local, provincial = _take_in(session, [NOMINEES[0], NOMINEES[3]])
    meeting = mt.open_meeting(
        session=session, unit_id=sample.by_code[UNIT].id, key=key, hierarchy=sample, on=DAY
    )
    session.commit()
    decisions = [{"code": c, "decision": "approve", "votes_for": 7} for c in (local, provincial)]
    applied = apply_and_queue(
        mt.saved_id(meeting), {"meeting_date": DAY, "members_present": 7, "decisions": decisions}
    )
    assert isinstance(applied, Applied), applied
    return mt.saved_id(meeting), provincial


def test_the_letters_of_a_forwarding_cite_the_submissions_number_and_date(session, sample) -> None:
    """The meeting's tờ trình is numbered in the meeting's own transaction: the proposer's letter
    («Trình … khen thưởng») and the province council's receipt letter cite «Tờ trình số …/TTr-… ngày
    dd/mm/yyyy»; the papers flow finds the same documents afterwards."""
    from documents.papers import documents_for_meeting
    from flows.council import receive_from_meetings
    from notifications.outbox import OutboxMessage

    meeting_id, provincial = _forwarding_meeting(session, sample, "minutes:cite")
    session.expire_all()
    (letter,) = dm.documents_of(session=session, meeting_id=meeting_id)[1:2]
    assert letter.kind == dm.DocumentKind.submission and letter.number == "1/TTr-UBND"
    cited = "Tờ trình số 01/TTr-UBND ngày 24/11/2026"
    (told,) = session.scalars(select(OutboxMessage)).all()
    assert told.category == "outcome_forwarded" and provincial in told.subject
    assert f"khen thưởng tại {cited} đối với" in told.text_body and cited in told.html_body

    receipt, _ = receive_from_meetings([meeting_id], DAY)
    assert receipt.received == [provincial] and receipt.letters == 1
    session.expire_all()
    (digest,) = session.scalars(
        select(OutboxMessage).where(OutboxMessage.category == "council_new_items")
    ).all()
    assert f"- Theo: {cited} của UBND xã Cẩm Thạch" in digest.text_body
    assert f"Theo {cited} của UBND xã Cẩm Thạch" in digest.html_body
    again = documents_for_meeting(
        session=session, meeting=session.get(mt.Meeting, meeting_id), hierarchy=sample
    )
    assert [d.id for d in again] == [d.id for d in dm.documents_of(session=session, meeting_id=meeting_id)]


def test_a_broken_submission_template_leaves_the_meeting_applied_and_its_letters_uncited(
    session, sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docx import Document

    from models.nominations import Nomination
    from models.settings import reset_settings
    from notifications.outbox import OutboxMessage

    broken = Document(str(DEFAULT_TEMPLATES / "to-trinh-de-nghi-khen-thuong.docx"))
    broken.add_paragraph("{{ khong_co }}")
    broken.save(str(tmp_path / "to-trinh-de-nghi-khen-thuong.docx"))
    monkeypatch.setenv("THIDUA_DOCUMENT_TEMPLATES", str(tmp_path))
    reset_settings()
    meeting_id, provincial = _forwarding_meeting(session, sample, "minutes:broken")
    session.expire_all()
    assert (
        session.scalars(select(Nomination.status).where(Nomination.code == provincial)).one()
        == Status.forwarded
    )
    assert dm.documents_of(session=session, meeting_id=meeting_id) == []  # all or none: its savepoint
    (told,) = session.scalars(select(OutboxMessage)).all()
    assert "Tờ trình số" not in told.text_body and "đã thống nhất trình" in told.text_body


def test_filing_the_yearly_report_makes_its_paper_once(session, sample) -> None:
    """Recording a yearly report's filing (the command line and the portal both record it through
    file_report) makes the unit's báo cáo năm: a second filing the same day (an amendment) finds the same
    paper (same ID, same hash); a deadline that is not yearly makes none."""
    import json

    from cli.app import app
    from models.deadlines import YEARLY_REPORT
    from models.reports import file_report

    cam_lo = "quang-tri-2025.cam-lo-2025"  # the built-in 30/11 report binds Quảng Trị's communes in 2025
    first = file_report(
        session=session,
        unit=cam_lo,
        year=2025,
        deadline=YEARLY_REPORT,
        on=date(2025, 11, 20),
        today=date(2025, 11, 23),
    )
    session.commit()
    assert first.document_id is not None
    doc = session.get(dm.Document, first.document_id)
    assert doc is not None and doc.kind == dm.DocumentKind.yearly_report
    assert doc.unit_id == sample.by_code[cam_lo].id and doc.issued_on == date(2025, 11, 20)
    text = docx_text(doc.content)
    assert "Số: 01/BC-UBND" in text and "Cam Lộ, ngày 20 tháng 11 năm 2025" in text
    assert "Kính gửi: Văn phòng Điều phối nông thôn mới tỉnh Quảng Trị" in text
    assert not LEFTOVER_TAG.search(text)

    again = CliRunner().invoke(
        app, ["report", "submit", cam_lo, "--year", "2025", "--on", "20/11/2025", "--json"]
    )
    assert again.exit_code == 0, again.output
    filed = json.loads(again.stdout)
    assert filed["amendment"] and filed["document_id"] == doc.id
    session.expire_all()
    (only,) = dm.documents_of(session=session, unit_id=doc.unit_id)
    assert (only.id, only.sha256) == (doc.id, hashlib.sha256(only.content).hexdigest())


def test_a_failure_while_making_the_papers_leaves_the_meeting_applied(
    session, sample, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not only a broken template: whatever fails while the papers are made (a bug, a full disk) rolls back
    the papers alone, says so in the log, and the council's decisions stand."""
    import documents.papers as papers
    from models.nominations import Nomination

    def fails(**_: object) -> list:
        raise RuntimeError("ổ đĩa đầy")

    monkeypatch.setattr(papers, "documents_for_meeting", fails)
    with caplog.at_level("ERROR", logger="documents.papers"):
        meeting_id, provincial = _forwarding_meeting(session, sample, "minutes:papers-fail")
    session.expire_all()
    assert (
        session.scalars(select(Nomination.status).where(Nomination.code == provincial)).one()
        == Status.forwarded
    )
    assert dm.documents_of(session=session, meeting_id=meeting_id) == []
    assert "thidua docs make" in caplog.text and "ổ đĩa đầy" in caplog.text


# --- trial defects 6: what a paper prints for officials ------------------------------------------------


def test_the_minutes_name_people_without_login_and_cite_only_the_legal_basis(session, sample) -> None:
    """Confirmed in the portal, a step's actor is «Nguyễn Thị Thư (tk.camthach); xác nhận: Lê Văn Chủ
    (ct.camthach)»: the paper names the secretary by her name only (the step keeps what it stored), and
    the quorum sentence cites the council's regulation, not the data's remarks for operators. Two
    meetings of a unit on one day have papers of different file names."""
    from documents.papers import documents_for_meeting
    from models.nominations import NominationStep

    actor = "Nguyễn Thị Thư (tk.camthach); xác nhận: Lê Văn Chủ (ct.camthach)"
    files = []
    for key, name in (("minutes:one", "Lê Thị Một"), ("minutes:two", "Lê Thị Hai")):
        (code,) = _take_in(session, [(name, "cá nhân", "giay-khen-xa", "x")])
        decisions = [{"code": code, "decision": "approve", "votes_for": 7}]
        meeting = mt.open_meeting(
            session=session, unit_id=sample.by_code[UNIT].id, key=key, hierarchy=sample, on=DAY
        )
        minutes = {"meeting_date": DAY, "members_present": 7, "decisions": decisions}
        mt.apply_minutes(session=session, meeting=meeting, hierarchy=sample, minutes=minutes, actor=actor)
        (doc,) = documents_for_meeting(session=session, meeting=meeting, hierarchy=sample)
        session.commit()
        files.append(doc.file_name)
        text = docx_text(doc.content)
        assert "Thư ký: Nguyễn Thị Thư." in text and "Nguyễn Thị Thư" in text.split("THƯ KÝ")[-1]
        assert "tk.camthach" not in text and "ct.camthach" not in text and "xác nhận:" not in text
        assert "điều kiện tiến hành phiên họp theo Quy chế hoạt động của Hội đồng." in text
        assert "cấu hình" not in text and "tương tự" not in text and "configurable" not in text
    assert session.scalars(select(NominationStep.actor).where(NominationStep.actor == actor)).first() == actor
    assert files[0] != files[1] and all(f.startswith("bien-ban-xa-cam-thach-20261124-so-") for f in files)


@pytest.mark.parametrize(
    ("typed", "capacity", "name"),
    [
        ("", ("CHỦ TỊCH",), "Đỗ Minh Tuấn"),
        ("CHỦ TỊCH – Lê Văn Hải", ("CHỦ TỊCH",), "Lê Văn Hải"),
        ("KT. CHỦ TỊCH – PHÓ CHỦ TỊCH – Lê Văn Hải", ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"), "Lê Văn Hải"),
        ("KT. CHỦ TỊCH / PHÓ CHỦ TỊCH / Lê Văn Hải", ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"), "Lê Văn Hải"),
        ("Phó Chủ tịch Lê Văn Hải", ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"), "Lê Văn Hải"),
        ("KT. CHỦ TỊCH – PHÓ CHỦ TỊCH", ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"), ""),  # never the head's name
        ("CHỦ TỊCH / CHỦ TỊCH – Lê Văn Hải", ("CHỦ TỊCH",), "Lê Văn Hải"),
        ("Lê Văn Hải", ("CHỦ TỊCH",), "Lê Văn Hải"),
    ],
)
def test_a_signer_typed_with_its_capacity_is_read_as_capacity_and_name(typed, capacity, name) -> None:
    from documents.papers import parse_signer
    from models.hierarchy import UnitRef

    unit = UnitRef(
        id=1,
        code="t",
        name="tỉnh Thanh Hóa",
        level=Level.province,
        parent_id=None,
        province_id=None,
        successor_id=None,
        valid_from=date(1900, 1, 1),
        valid_to=None,
        name_key="t",
        head_name="Đỗ Minh Tuấn",
    )
    signer = parse_signer(typed, unit)
    assert (signer.capacity, signer.name) == (capacity, name)


def test_the_decision_prints_the_capacity_once_when_the_signer_is_typed_with_it(session, sample) -> None:
    """The decision form's placeholder reads like «KT. CHỦ TỊCH – PHÓ CHỦ TỊCH»; typed «CHỦ TỊCH – Lê
    Văn Hải» the paper printed «CHỦ TỊCH» then «CHỦ TỊCH – Lê Văn Hải»."""
    codes = _take_in(session, [("Trần Văn Ký", "cá nhân", "giay-khen-xa", "x")])
    meeting = _applied(
        session,
        sample,
        "minutes:signer",
        {
            "meeting_date": DAY,
            "members_present": 7,
            "decisions": [{"code": codes[0], "decision": "approve", "votes_for": 7}],
        },
    )
    session.commit()
    doc = _decide(session, sample, meeting, "52/QĐ-UBND", signer="CHỦ TỊCH – Lê Văn Hải")
    text = docx_text(doc.content)
    assert "CHỦ TỊCH – Lê Văn Hải" not in text and text.count("Lê Văn Hải") == 1
    tail = text.split("Lưu: VT.")[-1]
    assert tail.count("CHỦ TỊCH") == 1 and "Lê Văn Hải" in tail
    assert doc.file_name == "quyet-dinh-xa-cam-thach-20261124-so-52-qd-ubnd.docx"
