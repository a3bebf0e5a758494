"""Issue 13, items 8 and 10: each dossier carries its review type (đợt xét) and the details that tell
two nominees of one name apart (birth year, position, workplace); a same-name dossier from another unit
in the campaign is accepted with a warning that names the earlier dossier and its unit, the same unit
stays a refusal; files without the new columns still read."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from models.awards import ReviewType
from models.intake import BatchRefused, read_nomination_file, take_in
from models.nominations import Nomination
from notifications.outbox import OutboxMessage

RECEIVED = date(2026, 11, 23)
CAM_THACH = "thanh-hoa.cam-thach-2025"
CAM_TU = "thanh-hoa.cam-tu-2025"


def _row(**over) -> dict:
    base = {
        "nominee": "Nguyễn Văn An",
        "kind": "cá nhân",
        "unit": CAM_THACH,
        "award": "bang-khen-tinh",
        "campaign": "ntm-2021-2025",
        "achievement": "Hiến 200 m² đất làm đường",
        "submitted_on": "02/03/2026",
    }
    return {**base, **over}


def _take(session, sample, rows: list[dict]):
    result = take_in(
        session=session, hierarchy=sample, received_on=RECEIVED, rows=list(enumerate(rows, start=2))
    )
    session.commit()
    return result


def _errors(session, sample, rows: list[dict]) -> list[str]:
    with pytest.raises(BatchRefused) as info:
        take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=list(enumerate(rows, start=2)))
    session.rollback()
    return [str(e) for e in info.value.errors]


def _stored(session, code: str) -> Nomination:
    session.expire_all()
    return session.scalars(select(Nomination).where(Nomination.code == code)).one()


# --- review type and Law Art. 44(2) ------------------------------------------------------------------


def test_review_type_is_stored_and_shown(session, sample) -> None:
    result = _take(session, sample, [_row(review_type="Sơ kết"), _row(nominee="Lê Thị Hoa", review_type="")])
    first, second = (_stored(session, n["code"]) for n in result.nominations)
    assert first.review_type == ReviewType.mid_term and second.review_type is None
    assert result.nominations[0]["review_type"] == "so-ket"
    from models.queries import nomination_status

    data = nomination_status(session=session, code=first.code)
    assert data["review_type"] == "so-ket" and data["review_type_label"] == "sơ kết"


LABOUR_ORDER_2023_MID_TERM = _row(
    nominee="Bà Phạm Thị Mai",
    unit="thanh-hoa.cam-thuy.cam-thanh",
    award="huan-chuong-ld-3",
    submitted_on="15/09/2023",
    review_type="sơ kết",
)


def test_labour_order_for_a_farmer_at_the_2023_mid_term_review_is_accepted(session, sample) -> None:
    # Law Art. 44(2)(a): "được bình xét khi sơ kết, tổng kết phong trào thi đua … có thời gian thực hiện từ
    # 05 năm trở lên" — the 2021–2025 movement is 5 years long, and a sơ kết may propose the award
    result = _take(session, sample, [LABOUR_ORDER_2023_MID_TERM])
    assert _stored(session, result.nominations[0]["code"]).review_type == ReviewType.mid_term


def test_labour_order_at_the_final_review_is_accepted(session, sample) -> None:
    result = _take(
        session,
        sample,
        [
            {
                **LABOUR_ORDER_2023_MID_TERM,
                "unit": CAM_THACH,
                "submitted_on": "10/12/2025",
                "review_type": "Tổng kết",
            }
        ],
    )
    assert _stored(session, result.nominations[0]["code"]).review_type == ReviewType.final


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        (
            {"review_type": ""},
            "chưa ghi đợt xét (thường xuyên, chuyên đề, sơ kết hoặc tổng kết); «Huân chương Lao động hạng Ba» chỉ xét khi sơ kết hoặc tổng kết",
        ),
        ({"review_type": "thường xuyên"}, "hồ sơ thường xuyên không đủ điều kiện"),
        (
            {"review_type": "tổng kết"},
            "diễn ra từ năm 2025; hồ sơ ngày 15/09/2023 không thể là hồ sơ tổng kết",
        ),
    ],
    ids=["missing", "regular", "final-too-early"],
)
def test_labour_order_review_type_errors(session, sample, over, expected) -> None:
    errors = _errors(session, sample, [{**LABOUR_ORDER_2023_MID_TERM, **over}])
    assert any(expected in e for e in errors), errors


# --- nominee details ---------------------------------------------------------------------------------


def test_nominee_details_round_trip_from_a_file_with_other_headers(session, sample, tmp_path) -> None:
    path = tmp_path / "danh-sach.csv"
    path.write_text(
        "Họ và tên,Loại đối tượng,Đơn vị đề nghị,Hình thức khen thưởng,Ngày hồ sơ,Đợt xét,Sinh năm,"
        "Chức vụ,Đơn vị công tác\n"
        f"Trần Thị Bình,cá nhân,{CAM_THACH},bang-khen-tinh,02/03/2026,tổng kết,1968,Trưởng thôn,"
        '"thôn Tiến Thành, xã Cẩm Thạch"\n',
        encoding="utf-8",
    )
    result = _take(session, sample, [r for _, r in read_nomination_file(path)])
    code = result.nominations[0]["code"]
    stored = _stored(session, code)
    assert (stored.nominee_birth_year, stored.nominee_position, stored.nominee_workplace) == (
        1968,
        "Trưởng thôn",
        "thôn Tiến Thành, xã Cẩm Thạch",
    )
    from cli.app import app

    runner = CliRunner()
    data = json.loads(runner.invoke(app, ["status", code, "--json"]).stdout)
    assert (data["birth_year"], data["position"], data["workplace"]) == (
        1968,
        "Trưởng thôn",
        "thôn Tiến Thành, xã Cẩm Thạch",
    )
    shown = runner.invoke(app, ["status", code]).stdout
    assert "sinh năm 1968; Trưởng thôn; thôn Tiến Thành, xã Cẩm Thạch" in shown
    assert "Đợt xét khen thưởng: tổng kết" in shown
    box = json.loads(runner.invoke(app, ["inbox", CAM_THACH, "--json"]).stdout)
    assert box[0]["nominee_details"] == "sinh năm 1968; Trưởng thôn; thôn Tiến Thành, xã Cẩm Thạch"


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"birth_year": "68"}, "cột «Năm sinh»: năm sinh phải là năm gồm 4 chữ số"),
        ({"birth_year": "2031"}, "năm sinh 2031 không hợp lệ"),
        (
            {"birth_year": "1970", "kind": "tập thể", "nominee": "Thôn Tiến Thành"},
            "năm sinh chỉ ghi cho cá nhân",
        ),
        ({"review_type": "giữa kỳ"}, "cột «Đợt xét khen thưởng»: phải là một trong: thường xuyên"),
        ({"position": "x" * 301}, "cột «Chức vụ»: dài 301 ký tự, vượt quá giới hạn 300"),
    ],
    ids=["year-digits", "year-future", "year-collective", "review-word", "position-long"],
)
def test_bad_details_are_refused_by_row_and_column(session, sample, over, expected) -> None:
    errors = _errors(session, sample, [_row(**over)])
    assert any(e.startswith("dòng 2") and expected in e for e in errors), errors


def test_a_file_in_the_old_format_is_still_accepted(session, sample, tmp_path) -> None:
    path = tmp_path / "cu.csv"
    path.write_text(
        "nominee,kind,unit,award,campaign,achievement,submitted_on\n"
        f"Nguyễn Văn An,cá nhân,{CAM_THACH},bang-khen-tinh,ntm-2021-2025,x,02/03/2026\n",
        encoding="utf-8",
    )
    rows = read_nomination_file(path)
    assert set(rows[0][1]) == {"nominee", "kind", "unit", "award", "campaign", "achievement", "submitted_on"}
    stored = _stored(session, _take(session, sample, [r for _, r in rows]).nominations[0]["code"])
    assert stored.review_type is None and stored.nominee_birth_year is None and stored.nominee_position == ""


def test_the_template_carries_the_new_columns_and_reads_back(session, sample, tmp_path) -> None:
    from openpyxl import load_workbook

    from cli.app import app

    path = tmp_path / "mau.xlsx"
    assert CliRunner().invoke(app, ["nominate", "--template", str(path)]).exit_code == 0
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    assert headers[-4:] == ["Đợt xét khen thưởng", "Năm sinh", "Chức vụ", "Nơi công tác"]
    guide = " ".join(str(r[0].value) for r in wb["Hướng dẫn"].iter_rows())
    assert "Huân chương Lao động hạng Ba" in guide and "mẫu cũ" in guide
    ws.append(
        [
            "Trần Văn Cường",
            "cá nhân",
            CAM_THACH,
            "giay-khen-xa",
            "ntm-2021-2025",
            "x",
            date(2026, 3, 2),
            "chuyên đề",
            1975,
            "Nông dân",
            "thôn 3",
        ]
    )
    wb.save(path)
    stored = _stored(
        session, _take(session, sample, [r for _, r in read_nomination_file(path)]).nominations[0]["code"]
    )
    assert (stored.review_type, stored.nominee_birth_year, stored.nominee_position) == (
        ReviewType.thematic,
        1975,
        "Nông dân",
    )


# --- the same name -----------------------------------------------------------------------------------


def test_same_name_from_the_same_unit_stays_a_refusal(session, sample) -> None:
    first = _take(session, sample, [_row(birth_year="1970")]).nominations[0]["code"]
    errors = _errors(
        session, sample, [_row(nominee="nguyen van an", award="giay-khen-xa", birth_year="1980")]
    )
    assert errors == [
        f"dòng 2, cột «Tên đối tượng»: «Nguyễn Văn An» đã có hồ sơ {first} (đã nộp) trong phong trào này"
    ]


def test_same_name_from_another_unit_is_accepted_with_a_warning_in_the_letter(session, sample) -> None:
    from flows.intake import intake_batch

    first = _take(session, sample, [_row(birth_year="1970", position="Trưởng thôn")]).nominations[0]["code"]
    rows = [(2, _row(unit=CAM_TU, nominee="NGUYỄN VĂN AN", birth_year="1985", award="giay-khen-xa"))]
    result = intake_batch(session=session, rows=rows, received_on=RECEIVED)
    session.commit()
    taken = result.nominations[0]
    expected = (
        f"trùng tên với hồ sơ {first} của xã Cẩm Thạch (Nguyễn Văn An, sinh năm 1970; Trưởng thôn) "
        "trong cùng phong trào"
    )
    assert taken["warnings"][0].startswith(expected), taken["warnings"]
    assert taken["namesakes"] == [
        {"code": first, "nominee": "Nguyễn Văn An", "unit": "xã Cẩm Thạch", "unit_code": CAM_THACH}
    ]
    letter = session.scalars(
        select(OutboxMessage).where(OutboxMessage.key.like("council-notice:intake-%"))
    ).all()  # type: ignore[attr-defined]
    second_letter = [m for m in letter if taken["code"] in m.text_body]
    assert len(second_letter) == 1
    assert "sinh năm 1985" in second_letter[0].text_body
    assert f"Lưu ý: {expected}" in second_letter[0].text_body
    assert expected in second_letter[0].html_body
    # the earlier dossier is not the one warned about, and the status of the later one shows it
    from models.queries import nomination_status

    assert nomination_status(session=session, code=first)["warnings"] == []
    assert nomination_status(session=session, code=taken["code"])["warnings"][0].startswith(expected)


def test_same_name_from_another_unit_warned_in_the_cli_and_its_json(session, sample, tmp_path) -> None:
    from cli.app import app

    first = _take(session, sample, [_row()]).nominations[0]["code"]
    runner = CliRunner()
    path = tmp_path / "hs.json"
    path.write_text(
        json.dumps([_row(unit=CAM_TU, award="giay-khen-xa")], ensure_ascii=False), encoding="utf-8"
    )
    out = runner.invoke(app, ["nominate", str(path), "--json", "--received", "23/11/2026"])
    assert out.exit_code == 0, out.output
    taken = json.loads(out.stdout)[0]
    assert taken["warnings"] and f"hồ sơ {first} của xã Cẩm Thạch" in taken["warnings"][0]
    path2 = tmp_path / "hs2.json"
    path2.write_text(
        json.dumps([_row(unit="thanh-hoa.tay-do-2025", award="giay-khen-xa")], ensure_ascii=False),
        encoding="utf-8",
    )
    shown = runner.invoke(app, ["nominate", str(path2), "--received", "23/11/2026"])
    assert shown.exit_code == 0, shown.output
    flat = " ".join(shown.stdout.split())
    assert "Lưu ý: hồ sơ" in flat and f"trùng tên với hồ sơ {first} của xã Cẩm Thạch" in flat
    assert f"trùng tên với hồ sơ {taken['code']} của" in flat  # every earlier namesake is named
