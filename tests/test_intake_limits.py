"""No file takes the service down (issue 11): the file reader refuses, with a Vietnamese message naming
the file and the row, anything that is not a regular file, too large, too long, an XLSX that would
inflate past its limits, or a file any parser chokes on; intake fields are bounded by the columns they
are stored in; two `nominate` of the same file at once store it once; templates never overwrite."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from models.intake import COLUMNS, HEADERS_VI, BatchRefused, read_nomination_file, take_in
from models.nominations import IntakeBatch, Nomination
from models.settings import reset_settings
from models.sheets import FileRefused, number_vi, write_template
from tests.rows import intake_row

ROOT = Path(__file__).resolve().parents[1]
RECEIVED = date(2026, 11, 23)
HEADER = ",".join(HEADERS_VI[c] for c in COLUMNS)
GOOD_LINE = "Nguyễn Văn An,cá nhân,cam thach,bang-khen-tinh,ntm-2021-2025,Hiến đất làm đường,02/03/2026"


@contextlib.contextmanager
def _setting(monkeypatch, name: str, value: str) -> Iterator[None]:
    """The app's settings with environment variable `name` set to `value`, restored afterwards."""
    monkeypatch.setenv(name, value)
    reset_settings()
    try:
        yield
    finally:
        monkeypatch.delenv(name)
        reset_settings()


def _read(path: Path) -> list[tuple[int, dict]]:
    return read_nomination_file(path)


def _count(session, model=Nomination) -> int:
    session.expire_all()
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _xlsx(sheet_xml: bytes | None = None, member: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The nomination template as bytes, with one member replaced (a damaged or hostile sheet)."""
    from openpyxl import Workbook

    template = io.BytesIO()

    wb = Workbook()
    wb.active.append([HEADERS_VI[c] for c in COLUMNS])
    wb.active.append(GOOD_LINE.split(","))
    wb.save(template)
    if sheet_xml is None:
        return template.getvalue()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(template.getvalue())) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, sheet_xml if info.filename == member else src.read(info.filename))
    return out.getvalue()


# --- what is not a regular file ------------------------------------------------------------------


def test_a_directory_is_refused_at_once(tmp_path) -> None:
    folder = tmp_path / "ho-so.csv"
    folder.mkdir()
    with pytest.raises(FileRefused, match="thư mục") as info:
        _read(folder)
    assert "«ho-so.csv»" in str(info.value)


def test_a_fifo_is_refused_at_once_and_never_hangs(tmp_path) -> None:
    fifo = tmp_path / "ho-so.csv"
    os.mkfifo(fifo)
    outcome: list[BaseException | object] = []
    reader = threading.Thread(target=lambda: outcome.append(_catch(lambda: _read(fifo))), daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # blocked in open(): let it go (a writer unblocks it), then fail
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        reader.join(5)
        pytest.fail("reading a FIFO blocked")
    assert isinstance(outcome[0], FileRefused) and "FIFO" in str(outcome[0]), outcome


def _catch(call):
    try:
        return call()
    except BaseException as exc:
        return exc


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path, monkeypatch) -> None:
    path = tmp_path / "lon.csv"
    path.write_text(HEADER + "\n" + (GOOD_LINE + "\n") * 200, encoding="utf-8")
    with _setting(monkeypatch, "THIDUA_FILE_MAX_BYTES", "4096"):
        with pytest.raises(FileRefused, match="vượt quá giới hạn 4.096 byte"):
            _read(path)


# --- rows --------------------------------------------------------------------------------------------


def test_a_file_of_more_than_20000_rows_is_refused(tmp_path) -> None:
    path = tmp_path / "qua-nhieu.csv"
    path.write_text(HEADER + "\n" + (GOOD_LINE + "\n") * 20_001, encoding="utf-8")
    with pytest.raises(FileRefused, match="hơn 20.000 dòng dữ liệu") as info:
        _read(path)
    assert "«qua-nhieu.csv»" in str(info.value)
    path.write_text(HEADER + "\n" + (GOOD_LINE + "\n") * 20_000, encoding="utf-8")
    assert len(_read(path)) == 20_000


@pytest.mark.parametrize("suffix", [".csv", ".json", ".xlsx"])
def test_the_row_cap_is_a_setting_and_holds_for_every_format(tmp_path, monkeypatch, suffix) -> None:
    from openpyxl import Workbook

    rows = [intake_row(nominee=f"Người {i}") for i in range(11)]
    path = tmp_path / f"hs{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    elif suffix == ".csv":
        path.write_text(
            HEADER + "\n" + "".join(",".join(r[c] for c in COLUMNS) + "\n" for r in rows), encoding="utf-8"
        )
    else:
        wb = Workbook()
        wb.active.append(list(COLUMNS))
        for r in rows:
            wb.active.append([r[c] for c in COLUMNS])
        wb.save(path)
    with _setting(monkeypatch, "THIDUA_FILE_MAX_ROWS", "10"):
        with pytest.raises(FileRefused, match="hơn 10 dòng dữ liệu"):
            _read(path)


def test_a_batch_over_the_row_cap_is_refused_before_it_is_screened(session, sample) -> None:
    rows = list(enumerate([intake_row(nominee=f"Người {i}") for i in range(6)], start=2))
    with pytest.raises(BatchRefused) as info:
        take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=rows, max_rows=5)
    assert [str(e) for e in info.value.errors] == [
        "có hơn 5 dòng dữ liệu; mỗi tệp tối đa 5 dòng (THIDUA_FILE_MAX_ROWS), hãy chia thành nhiều tệp"
    ]
    assert _count(session) == 0


# --- parsers ------------------------------------------------------------------------------------------


def test_a_csv_field_over_the_csv_limit_is_refused_with_its_row(tmp_path) -> None:
    path = tmp_path / "dai.csv"
    long_line = GOOD_LINE.replace("Hiến đất làm đường", "x" * 200_000)
    path.write_text(HEADER + "\n" + GOOD_LINE + "\n" + long_line + "\n", encoding="utf-8")
    with pytest.raises(FileRefused) as info:
        _read(path)
    assert str(info.value) == "tệp «dai.csv», dòng 3: tệp CSV sai định dạng: có ô dài quá 131.072 ký tự"


@pytest.mark.parametrize(
    ("sheet", "member"),
    [
        (
            b"<worksheet xmlns='http://schemas.openxmlformats.org/spreadsheetml/2006/main'><sheetData><row r='1'>",
            "xl/worksheets/sheet1.xml",
        ),
        (
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
            b"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><worksheet xmlns='http://schemas.openxmlformats.org/"
            b"spreadsheetml/2006/main'><sheetData><row r='1'><c r='A1' t='inlineStr'><is><t>&c;</t></is></c></row>"
            b"</sheetData></worksheet>",
            "xl/worksheets/sheet1.xml",
        ),
        (b"not xml at all", "xl/workbook.xml"),
        (b"<Types/>", "[Content_Types].xml"),
    ],
    ids=["truncated-sheet", "entity-expansion", "broken-workbook", "empty-content-types"],
)
def test_a_damaged_or_hostile_xlsx_is_refused_with_a_message(tmp_path, sheet, member) -> None:
    path = tmp_path / "hong.xlsx"
    path.write_bytes(_xlsx(sheet, member))
    with pytest.raises(FileRefused) as info:
        _read(path)
    assert str(info.value).startswith("tệp «hong.xlsx»")
    assert "Excel" in str(info.value)


def test_defusedxml_guards_openpyxl() -> None:
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[" * 100_000, "lồng nhau quá sâu"),
        (b'[{"nominee": ' + b"9" * 5000 + b"}]", "số quá lớn"),
        (b"\xef\xbb\xbf" + json.dumps([intake_row()], ensure_ascii=False).encode(), None),  # a BOM is fine
        (b'[{"nominee": "A"}]\n' + b"\xff", "không phải mã UTF-8"),
    ],
    ids=["deep", "huge-int", "bom", "not-utf8"],
)
def test_json_parser_errors_are_refusals(tmp_path, content, expected) -> None:
    path = tmp_path / "hs.json"
    path.write_bytes(content)
    if expected is None:
        assert _read(path)[0][0] == 1
        return
    with pytest.raises(FileRefused, match=expected):
        _read(path)


ZIP_BOMB_CHILD = r"""
import io, resource, sys, time, tracemalloc, zipfile
from pathlib import Path
from models.intake import COLUMNS, HEADERS_VI
from models.sheets import FileRefused, read_rows

path = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF)
tracemalloc.start()
started = time.perf_counter()
try:
    read_rows(path, columns=COLUMNS, labels=HEADERS_VI, required=COLUMNS[:4])
    outcome = "read"
except FileRefused as exc:
    outcome = "refused: " + str(exc)
except BaseException as exc:
    outcome = "error: " + type(exc).__name__
elapsed = time.perf_counter() - started
peak = tracemalloc.get_traced_memory()[1]
after = resource.getrusage(resource.RUSAGE_SELF)
print(f"{elapsed:.3f} {after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime:.3f} {peak} "
      f"{(after.ru_maxrss - before.ru_maxrss) * 1024}")
print(outcome)
"""


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """A valid-looking XLSX of about 1 MB whose one cell inflates to 1 GiB.

    Built in a second, not by deflating a gigabyte: after a full flush a deflate block depends on its
    input only, so one compressed megabyte of "A" repeated 1,024 times is the gigabyte's stream."""
    path = tmp_path_factory.mktemp("bomb") / "bom.xlsx"
    prefix = (
        b"<worksheet xmlns='http://schemas.openxmlformats.org/spreadsheetml/2006/main'><sheetData>"
        b"<row r='1'><c r='A1' t='inlineStr'><is><t>"
    )
    suffix = b"</t></is></c></row></sheetData></worksheet>"
    chunk, times = b"A" * (1 << 20), 1024
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    stream = head + block * times + deflate.compress(suffix) + deflate.flush()
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", date_time=(2026, 11, 23, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size, info.compress_size = len(prefix) + times * len(chunk) + len(suffix), len(stream)
    info.CRC = zlib.crc32(suffix, crc)
    template = zipfile.ZipFile(io.BytesIO(_xlsx()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for member in template.infolist():
            if member.filename != info.filename:
                out.writestr(member.filename, template.read(member.filename))
        info.header_offset = out.fp.tell()  # the member written as zipfile writes one: header, then data
        out.fp.write(info.FileHeader())
        out.fp.write(stream)
        out.filelist.append(info)
        out.NameToInfo[info.filename] = info
        out.start_dir = out.fp.tell()
    return path


def test_an_xlsx_zip_bomb_is_refused_within_2_s_and_100_mb(zip_bomb: Path) -> None:
    assert zip_bomb.stat().st_size < 1.5 * (1 << 20)
    assert zipfile.ZipFile(zip_bomb).getinfo("xl/worksheets/sheet1.xml").file_size > 1 << 30

    def limit_memory() -> None:  # on today's code the reader inflates the gigabyte: fail, don't swap
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    done = subprocess.run(
        [sys.executable, "-c", ZIP_BOMB_CHILD, str(zip_bomb)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
    )
    assert done.returncode == 0, done.stderr
    figures, outcome = done.stdout.strip().splitlines()[-2:]
    elapsed, cpu, peak, rss_growth = (float(x) for x in figures.split())
    print(
        f"zip bomb: {elapsed:.3f} s wall, {cpu:.3f} s CPU, tracemalloc peak {peak / 2**20:.1f} MB, "
        f"max RSS grew {rss_growth / 2**20:.1f} MB; {outcome}"
    )
    assert outcome.startswith("refused: tệp «bom.xlsx»: tệp Excel"), outcome
    assert elapsed < 2 and cpu < 2
    assert peak < 100 * 2**20 and rss_growth < 100 * 2**20


def test_an_xlsx_member_compressed_beyond_any_spreadsheet_is_refused(tmp_path) -> None:
    # 20 MB of one letter: under the size limits, but no worksheet compresses 1,000 times
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sheet = (
        f"<worksheet xmlns='{ns}'><sheetData><row r='1'><c r='A1' t='inlineStr'><is><t>".encode()
        + b"A" * (20 << 20)
        + b"</t></is></c></row></sheetData></worksheet>"
    )
    path = tmp_path / "nen.xlsx"
    path.write_bytes(_xlsx(sheet))
    with pytest.raises(FileRefused, match="nén bất thường.*nở gấp"):
        _read(path)


def test_an_xlsx_with_too_many_members_is_refused(tmp_path) -> None:
    path = tmp_path / "nhieu.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(600):
            z.writestr(f"x/{i}.xml", b"")
    with pytest.raises(FileRefused, match="hơn 500 thành phần"):
        _read(path)


def test_a_sheet_claiming_a_million_rows_or_columns_costs_nothing(tmp_path) -> None:
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    cells = "".join(
        f"<c r='{chr(65 + i)}1' t='inlineStr'><is><t>{HEADERS_VI[c]}</t></is></c>"
        for i, c in enumerate(COLUMNS)
    )
    sheet = (
        f"<worksheet xmlns='{ns}'><dimension ref='A1:XFD1048576'/><sheetData><row r='1'>{cells}</row>"
        f"<row r='1048576'><c r='XFD1048576' t='inlineStr'><is><t>x</t></is></c></row>"
        f"</sheetData></worksheet>"
    ).encode()
    path = tmp_path / "rong.xlsx"
    path.write_bytes(_xlsx(sheet))
    with pytest.raises(FileRefused, match="kể cả dòng trống"):
        _read(path)


# --- fields against their columns (SQLite and PostgreSQL) ---------------------------------------------


@pytest.mark.parametrize(
    ("column", "length", "limit"),
    [
        ("achievement", 130_000, 4000),
        ("achievement", 4001, 4000),
        ("nominee", 301, 300),
        ("unit", 201, 200),
        ("award", 41, 40),
        ("campaign", 61, 60),
    ],
)
def test_an_over_long_field_is_refused_with_a_message(session, sample, column, length, limit) -> None:
    rows = [(2, intake_row(nominee="Trần Văn Bình")), (3, intake_row(**{column: "ư" * length}))]
    with pytest.raises(BatchRefused) as info:
        take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=rows)
    session.rollback()
    expected = (
        f"dòng 3, cột «{HEADERS_VI[column]}»: dài {number_vi(length)} ký tự, vượt quá giới hạn "
        f"{number_vi(limit)} ký tự"
    )
    assert expected in [str(e) for e in info.value.errors]
    assert _count(session) == 0


def test_fields_as_long_as_their_columns_are_stored(session, sample) -> None:
    name = "Nguyễn " + "ư" * 293
    take_in(
        session=session,
        hierarchy=sample,
        received_on=RECEIVED,
        rows=[(2, intake_row(nominee=name, achievement="ữ" * 4000))],
    )
    session.commit()
    stored = session.scalars(select(Nomination)).one()
    assert len(stored.achievement) == 4000


def test_limits_come_from_the_columns() -> None:
    from models.intake import NominationRow
    from models.nominations import Nominee

    schema = NominationRow.model_json_schema()["properties"]
    assert schema["achievement"]["maxLength"] == Nomination.__table__.c.achievement.type.length
    assert schema["nominee"]["maxLength"] == Nominee.__table__.c.name.type.length


def test_a_received_date_in_the_future_is_refused(session, sample) -> None:
    from models.clock import latest_date, today_vn

    ahead = today_vn() + timedelta(days=3)
    with pytest.raises(BatchRefused) as info:
        take_in(session=session, hierarchy=sample, received_on=ahead, rows=[(2, intake_row())])
    assert any(f"ngày tiếp nhận {ahead:%d/%m/%Y} chưa đến" in str(e) for e in info.value.errors)
    assert latest_date(date(2028, 2, 28)) == date(2028, 2, 29)
    assert latest_date(date(2028, 2, 29)) == date(2028, 3, 1)


# --- the same file twice at once -----------------------------------------------------------------------


def test_two_nominate_of_the_same_file_at_once_store_it_once(prefect_api, db_url, session, sample) -> None:
    # prefect_api: the three threads of this one process share the session's Prefect server (two real
    # `nominate` are two processes, each with its own temporary server; threads would race to start one)
    from cli.nominations import run_intake
    from tests.threads import at_once

    rows = list(
        enumerate([intake_row(nominee=f"Người thứ {i}", award="giay-khen-xa") for i in range(300)], start=2)
    )
    results, errors = at_once(
        lambda: run_intake(rows=rows, source="hs.csv", actor="", received_on=RECEIVED), threads=3, timeout=120
    )
    assert not errors, errors
    assert sorted(r.replayed for r in results) == [False, True, True]
    codes = {tuple(n["code"] for n in r.nominations) for r in results}
    assert len(codes) == 1 and len(next(iter(codes))) == 300
    assert _count(session) == 300 and _count(session, IntakeBatch) == 1


def test_the_cli_says_already_received_for_the_same_file(session, sample, tmp_path) -> None:
    from cli.app import app

    path = tmp_path / "hs.json"
    path.write_text(json.dumps([intake_row()], ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["nominate", str(path), "--received", "23/11/2026"]).exit_code == 0
    again = runner.invoke(app, ["nominate", str(path), "--received", "23/11/2026"])
    assert again.exit_code == 0 and "đã được tiếp nhận" in again.stdout


# --- templates ------------------------------------------------------------------------------------------


def test_nominate_template_never_overwrites_without_force(tmp_path) -> None:
    from cli.app import app

    path = tmp_path / "mau.xlsx"
    path.write_bytes(b"my precious work")
    runner = CliRunner()
    refused = runner.invoke(app, ["nominate", "--template", str(path)])
    assert refused.exit_code == 2 and "đã có" in refused.stderr and "--force" in refused.stderr
    assert path.read_bytes() == b"my precious work"
    forced = runner.invoke(app, ["nominate", "--template", str(path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert zipfile.is_zipfile(path)
    fresh = tmp_path / "moi.xlsx"
    assert runner.invoke(app, ["nominate", "--template", str(fresh)]).exit_code == 0
    assert _read(fresh) == []


def test_meeting_template_never_overwrites_without_force(session, sample, tmp_path) -> None:
    from cli.app import app

    path = tmp_path / "bien-ban.xlsx"
    path.write_bytes(b"minutes typed by hand")
    runner = CliRunner()
    refused = runner.invoke(app, ["meeting", "decide", "cam thach", "--template", "--file", str(path)])
    assert refused.exit_code == 2 and "đã có" in refused.stderr
    assert path.read_bytes() == b"minutes typed by hand"
    take_in(session=session, hierarchy=sample, received_on=RECEIVED, rows=[(2, intake_row())])
    session.commit()
    forced = runner.invoke(
        app, ["meeting", "decide", "cam thach", "--template", "--file", str(path), "--force"]
    )
    assert forced.exit_code == 0, forced.output
    from openpyxl import load_workbook

    sheet = load_workbook(path).worksheets[0]
    assert [c.value for c in sheet[2]][:2] == ["HS2026-000001", "thông qua"]


def test_a_template_is_never_written_into_a_fifo(tmp_path) -> None:
    fifo = tmp_path / "mau.xlsx"
    os.mkfifo(fifo)
    with pytest.raises(FileRefused):
        write_template(fifo, columns=COLUMNS, labels=HEADERS_VI, title="x", overwrite=True)


def test_csv_reader_still_reads_what_it_read(tmp_path) -> None:
    # semicolon-separated, quoted fields with new lines, blank rows skipped, rows numbered as in a sheet
    path = tmp_path / "hs.csv"
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";")
    writer.writerow([HEADERS_VI[c] for c in COLUMNS])
    writer.writerow(GOOD_LINE.split(","))
    writer.writerow([])
    writer.writerow(GOOD_LINE.replace("Hiến đất làm đường", "hai\ndòng").split(","))
    path.write_text(buf.getvalue(), encoding="utf-8")
    rows = _read(path)
    assert [n for n, _ in rows] == [2, 4] and rows[1][1]["achievement"] == "hai dòng"
