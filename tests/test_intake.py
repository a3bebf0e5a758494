"""Intake screening and files: each rule refuses with a Vietnamese message naming the row; a file with
any bad row is refused whole and nothing of it is stored."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from models.intake import COLUMNS, HEADERS_VI, BatchRefused, take_in
from models.nominations import Nomination, Nominee
from models.sheets import FileRefused, read_rows
from tests.rows import intake_row

RECEIVED = date(2026, 11, 23)


def _count(session) -> int:
    return session.execute(select(func.count()).select_from(Nomination)).scalar_one()


def _refused(session, sample, rows) -> list[str]:
    with pytest.raises(BatchRefused) as info:
        take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=list(enumerate(rows, start=2)))
    session.rollback()
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (intake_row(kind="cá nhân", award="co-thi-dua-tinh"), "chỉ dành cho tập thể"),
        (intake_row(kind="hộ gia đình", award="huan-chuong-ld-3"), "chỉ dành cho cá nhân, tập thể"),
        (intake_row(award="giay-khen-huyen"), "không còn áp dụng sau 30/06/2025"),
        (intake_row(unit="xã Không Tồn Tại"), "không tìm thấy đơn vị"),
        (intake_row(award="bang-khen-bo"), "không có trong danh mục"),
        (intake_row(campaign="ntm-1999"), "phong trào «ntm-1999» không có"),
        (intake_row(submitted_on="01/01/2020"), "nằm ngoài thời gian xét khen thưởng"),
        (intake_row(submitted_on="01/01/2027"), "chưa đến"),
        (intake_row(submitted_on="2026-13-45"), "không hợp lệ"),
        (intake_row(kind="đoàn thể"), "phải là một trong"),
        (intake_row(nominee=""), "không được để trống"),
        (intake_row(nominee="Nguyễn\r\nBcc: x@y.z"), "ký tự điều khiển"),
        (intake_row(award="huan-chuong-ld-3", review_type="chuyên đề"), "hồ sơ chuyên đề không đủ điều kiện"),
        (
            intake_row(award="huan-chuong-ld-3"),
            "chưa ghi đợt xét (thường xuyên, chuyên đề, sơ kết hoặc tổng kết)",
        ),
        (intake_row(review_type="cuối kỳ"), "phải là một trong: thường xuyên, chuyên đề, sơ kết, tổng kết"),
        (
            intake_row(review_type="tổng kết", submitted_on="15/06/2022", unit="Cẩm Thành"),
            "không thể là hồ sơ tổng kết",
        ),
    ],
    ids=[
        "kind",
        "kind-ttg",
        "form-gone",
        "unit",
        "form",
        "campaign",
        "outside",
        "future",
        "date",
        "kind-word",
        "empty",
        "control",
        "labour-order-mid-term",
        "labour-order-no-review",
        "review-word",
        "final-review-too-early",
    ],
)
def test_each_screening_rule(session, sample, row, expected) -> None:
    errors = _refused(session, sample, [row])
    assert any(expected in e and e.startswith("dòng 2") for e in errors), errors
    assert _count(session) == 0


def test_same_nominee_without_case_or_diacritics_is_refused(session, sample) -> None:
    take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=[(2, intake_row())])
    session.commit()
    errors = _refused(session, sample, [intake_row(nominee="NGUYEN VAN  AN", award="giay-khen-xa")])
    assert "đã có hồ sơ HS2026-000001" in errors[0]
    errors = _refused(
        session,
        sample,
        [intake_row(nominee="Lê Thị Hoa"), intake_row(nominee="le thi hoa", award="giay-khen-xa")],
    )
    assert "trùng với dòng 2" in errors[0]
    assert _count(session) == 1


def test_frozen_nominee_is_held(session, sample) -> None:
    take_in(
        session=session,
        hierarchy=sample,
        received_on=RECEIVED,
        rows=[(2, intake_row(nominee="Phạm Văn Cường"))],
    )
    nominee = session.scalars(select(Nominee)).one()
    nominee.frozen, nominee.frozen_reason = True, "đang bị thanh tra"
    session.execute(Nomination.__table__.update().values(status="rejected"))
    session.commit()
    errors = _refused(session, sample, [intake_row(nominee="Phạm Văn Cường", achievement="đợt 2")])
    assert "tạm dừng xét" in errors[0] and "thanh tra" in errors[0]


def test_one_bad_row_refuses_the_whole_file_and_every_error_is_listed(session, sample) -> None:
    rows = [intake_row(nominee=f"Người {i}") for i in range(5)] + [
        intake_row(unit="??"),
        intake_row(kind="xyz", nominee="B"),
    ]
    errors = _refused(session, sample, rows)
    assert [e.split(",")[0] for e in errors] == ["dòng 7", "dòng 8"]
    assert _count(session) == 0


def test_the_same_file_twice_is_stored_once(session, sample) -> None:
    rows = [
        (2, intake_row()),
        (3, intake_row(nominee="Thôn Tiến Thành", kind="tập thể", award="co-thi-dua-tinh")),
    ]
    first = take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=rows)
    session.commit()
    again = take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=rows)
    assert again.replayed and [n["code"] for n in again.nominations] == [n["code"] for n in first.nominations]
    assert _count(session) == 2


# --- files ---------------------------------------------------------------------------------------


def _read(path: Path) -> list[tuple[int, dict]]:
    return read_rows(path, columns=COLUMNS, labels=HEADERS_VI, required=COLUMNS[:4] + ("submitted_on",))


def test_csv_with_vietnamese_headers_and_bom(tmp_path) -> None:
    path = tmp_path / "hs.csv"
    header = ",".join(HEADERS_VI[c] for c in COLUMNS)
    path.write_text(
        "\ufeff" + header + "\nNguyễn Văn An,cá nhân,cam thach,bang-khen-tinh,ntm-2021-2025,x,02/03/2026\n",
        encoding="utf-8",
    )
    rows = _read(path)
    assert rows == [
        (
            2,
            {
                "nominee": "Nguyễn Văn An",
                "kind": "cá nhân",
                "unit": "cam thach",
                "award": "bang-khen-tinh",
                "campaign": "ntm-2021-2025",
                "achievement": "x",
                "submitted_on": "02/03/2026",
            },
        )
    ]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("wrong.csv", b"ten,loai\nA,B\n", "cột không nhận ra"),
        (
            "latin1.csv",
            "nominee,kind,unit,award,submitted_on\nNguy\xean,ca nhan,x,y,01/01/2026\n".encode("latin-1"),
            "không phải mã UTF-8",
        ),
        ("fake.xlsx", b"this is not a spreadsheet", "không phải tệp Excel"),
        ("broken.json", b'[{"nominee": "A",', "sai cú pháp"),
        ("obj.json", b'{"a": 1}', "danh sách"),
        ("empty.csv", b"", "tệp trống"),
        ("notes.txt", b"hello", "không phải CSV, XLSX hoặc JSON"),
    ],
)
def test_malformed_files_are_refused_with_a_reason(tmp_path, name, content, expected) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FileRefused, match=expected):
        _read(path)


def test_xlsx_template_round_trip(tmp_path) -> None:
    from openpyxl import load_workbook

    from models.sheets import write_template

    path = write_template(tmp_path / "mau.xlsx", columns=COLUMNS, labels=HEADERS_VI, title="Hồ sơ")
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    ws.append(
        ["Trần Thị Bình", "cá nhân", "cam thach", "giay-khen-xa", "ntm-2021-2025", "x", date(2026, 3, 2)]
    )
    wb.save(path)
    rows = _read(path)
    assert rows[0][0] == 2 and rows[0][1]["submitted_on"] == date(2026, 3, 2)
    assert [c.value for c in ws[1]] == [HEADERS_VI[c] for c in COLUMNS]


def test_cli_nominate_refuses_a_bad_file_and_stores_nothing(session, sample, tmp_path) -> None:
    from cli.app import app

    path = tmp_path / "hs.json"
    path.write_text(
        json.dumps([intake_row(), intake_row(nominee="X", unit="nowhere")], ensure_ascii=False),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["nominate", str(path), "--json", "--received", "23/11/2026"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["refused"] and body["errors"][0]["row"] == 2 and "nowhere" in body["errors"][0]["message"]
    session.expire_all()
    assert _count(session) == 0


def test_cli_nominate_status_and_inbox_json(session, sample, tmp_path) -> None:
    from cli.app import app

    path = tmp_path / "hs.json"
    path.write_text(
        json.dumps(
            [intake_row(award="bang-khen-ttg", submitted_on="15/06/2022", unit="Cẩm Thành")],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    runner = CliRunner()
    out = runner.invoke(app, ["nominate", str(path), "--json", "--received", "23/11/2026"])
    assert out.exit_code == 0, out.output
    nominated = json.loads(out.stdout)
    assert {"code", "unit", "award", "status"} <= set(nominated[0]) and nominated[0]["status"] == "submitted"
    code = nominated[0]["code"]
    st = json.loads(runner.invoke(app, ["status", code, "--json"]).stdout)
    assert st["code"] == code and st["status"] == "submitted"
    assert [u["level"] for u in st["chain"]] == [
        "commune",
        "district",
        "province",
        "central/moha",
        "central/prime_minister",
    ]
    # received in 2026, after xã Cẩm Thành ended (30/6/2025): placed at once at its successor (issue 13)
    assert [s["action"] for s in st["steps"]] == ["submit", "transfer"]
    assert st["current_unit"]["code"] == "thanh-hoa.cam-thach-2025"
    box = json.loads(runner.invoke(app, ["inbox", "cam thach", "--json"]).stdout)
    assert [b["code"] for b in box] == [code] and box[0]["due_on"] == "2026-12-08"


def test_the_years_first_batches_at_once_get_disjoint_codes(db_url: str) -> None:
    # Two workers taking in the year's first files at the same moment: neither may fail on creating the
    # year's counter, and no code may be given twice.
    import time

    from sqlmodel import Session

    from models.db import get_engine
    from models.intake import allocate_codes
    from tests.threads import at_once

    def take() -> list[str]:
        with Session(get_engine(db_url)) as s:
            codes = allocate_codes(session=s, year=2031, count=50)
            time.sleep(0.5)  # hold the transaction open while the others try
            s.commit()
        return codes

    got, errors = at_once(take, threads=4, timeout=60)
    assert not errors, errors
    codes = sorted(c for block in got for c in block)
    assert codes == [f"HS2031-{n:06d}" for n in range(1, 201)]


# --- trial defect 5: the award form's name, the template's columns and its guide ------------------------


def test_the_award_form_is_taken_by_its_vietnamese_name_without_case_or_diacritics(session, sample) -> None:
    """The portal shows «Giấy khen của Chủ tịch UBND xã»; a file with that name (or typed without marks or
    capitals) is the same dossier as one with the code giay-khen-xa; an unknown name lists the forms."""
    rows = [
        intake_row(nominee="Lê Thị Một", award="Giấy khen của Chủ tịch UBND xã"),
        intake_row(nominee="Lê Thị Hai", award="giay khen cua chu tich ubnd xa"),
        intake_row(nominee="Lê Thị Ba", award="BẰNG KHEN CỦA CHỦ TỊCH UBND TỈNH"),
        intake_row(nominee="Lê Thị Bốn", award="giay-khen-xa"),
    ]
    result = take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=list(enumerate(rows, 2)))
    session.commit()
    assert [n["award"] for n in result.nominations] == [
        "giay-khen-xa",
        "giay-khen-xa",
        "bang-khen-tinh",
        "giay-khen-xa",
    ]
    (error,) = _refused(session, sample, [intake_row(nominee="Lê Thị Năm", award="Giấy khen của Bộ")])
    assert "«Giấy khen của Bộ» không có trong danh mục" in error
    assert "Giấy khen của Chủ tịch UBND xã (giay-khen-xa)" in error


def test_the_template_has_every_column_its_guide_describes_and_a_unit_that_exists(
    session, sample, tmp_path
) -> None:
    """`thidua nominate --template` and the portal's «mau-ho-so.xlsx» (both write_nomination_template): the
    optional columns (Đợt xét, Năm sinh, Chức vụ, Nơi công tác) are in the sheet as the guide says, the
    guide's example unit exists today, and a row filled in as the guide says is taken in."""
    from openpyxl import load_workbook

    from models.clock import today_vn
    from models.intake import EXAMPLE_UNIT, FILE_COLUMNS, read_nomination_file, write_nomination_template

    path = write_nomination_template(tmp_path / "mau.xlsx")
    wb = load_workbook(path)
    ws, guide = wb.worksheets
    headers = [c.value for c in ws[1]]
    assert headers == [HEADERS_VI[c] for c in FILE_COLUMNS]
    assert {"Đợt xét khen thưởng", "Năm sinh", "Chức vụ", "Nơi công tác"} <= set(headers)
    lines = [r[0].value for r in guide.iter_rows()]
    for column in FILE_COLUMNS:  # every column of the sheet is explained, and only those
        assert any(f"({column})" in line for line in lines), column
    assert not any("Cẩm Thành" in line or "cam-thanh" in line for line in lines)
    name, code = EXAMPLE_UNIT
    assert f"«{name}» hoặc «{code}»" in "\n".join(lines)
    for ref in (name, code):
        assert sample.resolve(ref, on=today_vn()).code == code
    assert any("Giấy khen của Chủ tịch UBND xã (giay-khen-xa)" in line for line in lines)

    ws.append(
        [
            "Trần Thị Bình",
            "cá nhân",
            name,
            "Giấy khen của Chủ tịch UBND xã",
            "ntm-2021-2025",
            "x",
            "02/03/2026",
            "thường xuyên",
            1970,
            "Trưởng thôn",
            f"thôn Tiến Thành, {name}",
        ]
    )
    wb.save(path)
    rows = read_nomination_file(path)
    result = take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=rows)
    (taken,) = result.nominations
    assert taken["award"] == "giay-khen-xa" and taken["birth_year"] == 1970
    assert taken["position"] == "Trưởng thôn"
