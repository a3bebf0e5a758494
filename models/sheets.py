"""Reading and writing the files officials exchange: CSV, XLSX and JSON, with Vietnamese headers.

Every reader returns `(row_number, {column: value})` pairs, numbered as the official sees them in
a spreadsheet (the header is row 1), or raises `FileRefused`, which names the file (and the row, where
one row is at fault) and says in Vietnamese what is wrong.

Files come from outside, so they are read here and only here, defensively (limits in settings,
`THIDUA_FILE_*` and `THIDUA_XLSX_*`):
- only a regular file: a directory, a FIFO or a device is refused from `stat` before it is opened, and
  the open itself never blocks;
- at most `file_max_bytes` are read, and at most `file_max_rows` data rows are kept;
- an XLSX archive is inspected before openpyxl opens it: the number of members, each member's inflated
  size and their total, and the compression ratio (a 1 MB file that inflates to 1 GiB is refused in
  milliseconds). zipfile never inflates a member past the size its directory declares, so the declared
  sizes bound the work; openpyxl parses the XML with defusedxml (installed: no entity expansion);
- every error of a parser (csv, zipfile, openpyxl and its XML parser, json, the text decoder) becomes
  the same `FileRefused`, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Required, TypedDict, Unpack

from models.text import fold, nfc

if TYPE_CHECKING:
    from openpyxl import Workbook

# Members this small may compress as well as they like: only a large inflated member is a danger.
RATIO_CHECKED_FROM_BYTES = 1 << 20
# Columns read from a worksheet: the templates have 8; a sheet claiming 16,384 would make each row that wide.
XLSX_MAX_COLUMNS = 64
_NONBLOCK = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_CENTRAL_DIRECTORY = b"PK\x01\x02"


class FileRefused(ValueError):
    """The file cannot be read as a table of the expected columns (the message is for officials)."""

    def __init__(self, reason: str, *, row: int | None = None, file: str | None = None):
        self.reason, self.row, self.file = reason, row, file
        super().__init__(reason)

    def __str__(self) -> str:
        where = ([f"tệp «{self.file}»"] if self.file else []) + ([f"dòng {self.row}"] if self.row else [])
        return ", ".join(where) + ": " + self.reason if where else self.reason


@dataclass(frozen=True)
class Limits:
    """What one file may cost before it is refused (settings THIDUA_FILE_* and THIDUA_XLSX_*)."""

    max_rows: int
    max_bytes: int
    xlsx_max_entries: int
    xlsx_max_unpacked_bytes: int
    xlsx_max_ratio: int

    @classmethod
    def from_settings(cls) -> Limits:
        from models.settings import get_settings

        s = get_settings()
        # the archive's limits have the same names in settings
        xlsx = s.model_dump(include={"xlsx_max_entries", "xlsx_max_unpacked_bytes", "xlsx_max_ratio"})
        return cls(max_rows=s.file_max_rows, max_bytes=s.file_max_bytes, **xlsx)


def number_vi(value: int) -> str:
    """20000 → '20.000' (Vietnamese thousands separator)."""
    return f"{value:,}".replace(",", ".")


def _size(nbytes: int) -> str:
    return (
        f"{number_vi(nbytes)} byte" if nbytes < 1 << 20 else f"{nbytes / (1 << 20):.1f} MB".replace(".", ",")
    )


def _shown(text: object, limit: int = 60) -> str:
    """A value from the file quoted in a message: never the whole of a long one."""
    raw = str(text)
    return raw if len(raw) <= limit else raw[:limit] + "…"


def too_many_rows(limit: int) -> str:
    return (
        f"có hơn {number_vi(limit)} dòng dữ liệu; mỗi tệp tối đa {number_vi(limit)} dòng "
        "(THIDUA_FILE_MAX_ROWS), hãy chia thành nhiều tệp"
    )


# --- the file itself ---------------------------------------------------------------------------------


def _check_regular(info: os.stat_result, max_bytes: int) -> None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise FileRefused("đây là một thư mục, không phải tệp")
    if stat.S_ISFIFO(mode):
        raise FileRefused("đây là một ống dẫn (FIFO), không phải tệp thông thường")
    if not stat.S_ISREG(mode):
        raise FileRefused("không phải tệp thông thường (thiết bị hoặc socket)")
    if info.st_size > max_bytes:
        raise FileRefused(
            f"dung lượng {_size(info.st_size)} vượt quá giới hạn {_size(max_bytes)} (THIDUA_FILE_MAX_BYTES)"
        )


def read_bytes(path: Path, *, max_bytes: int) -> bytes:
    """The content of a regular file of at most `max_bytes`; anything else is refused before it is read."""
    try:
        _check_regular(os.stat(path), max_bytes)
        # Non-blocking: had the path become a FIFO since the stat, the open would otherwise wait forever.
        fd = os.open(path, os.O_RDONLY | _NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            _check_regular(info, max_bytes)
            data = handle.read(info.st_size + 1)  # not max_bytes: read() would allocate all of it first
    except FileNotFoundError:
        raise FileRefused("không tìm thấy tệp") from None
    except PermissionError:
        raise FileRefused("không có quyền đọc tệp") from None
    except OSError as exc:
        raise FileRefused(f"không đọc được tệp ({exc.strerror or type(exc).__name__})") from None
    if len(data) > info.st_size:
        raise FileRefused("tệp đang được ghi dở; hãy thử lại khi đã lưu xong")
    return data


# --- tables ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    """The table a file must hold: its column names, their Vietnamese labels, the required ones, and
    other usual headers of a column (`synonyms`)."""

    names: Sequence[str]
    labels: dict[str, str]
    required: Sequence[str]
    synonyms: Mapping[str, Sequence[str]]

    def header_map(self) -> dict[str, str]:
        """Folded header text → column name; the English column name, the Vietnamese label and any of the
        column's synonyms work."""
        out = {}
        for col in self.names:
            out[fold(col)] = col
            out[fold(col.replace("_", " "))] = col
            for other in self.synonyms.get(col, ()):
                out[fold(other)] = col
            if col in self.labels:
                out[fold(self.labels[col])] = col
        return out

    def map_headers(self, raw_headers: list) -> list[str | None]:
        """The column each header names (None for a blank one), or FileRefused listing what is wrong."""
        mapping, labels = self.header_map(), self.labels
        names = [mapping.get(fold(str(h if h is not None else ""))) for h in raw_headers]
        unknown = [
            str(h) for h, n in zip(raw_headers, names, strict=True) if n is None and str(h or "").strip()
        ]
        missing = [c for c in self.required if c not in names]
        problems = []
        if unknown:
            shown = ", ".join(f"«{_shown(h)}»" for h in unknown[:10])
            more = f" và {number_vi(len(unknown) - 10)} cột khác" if len(unknown) > 10 else ""
            problems.append(f"cột không nhận ra: {shown}{more}")
        if missing:
            problems.append("thiếu cột: " + ", ".join(f"«{labels.get(c, c)}» ({c})" for c in missing))
        if problems:
            wanted = ", ".join(f"{c} («{labels.get(c, c)}»)" for c in self.names)
            problems.append("các cột cần có: " + wanted)
            raise FileRefused("; ".join(problems))
        return names


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return nfc(value)
    return value


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table(
    rows: Iterator[Sequence], columns: _Columns, limits: Limits, first_row: int = 1
) -> list[tuple[int, dict]]:
    """Header row, then records; blank rows skipped; at most `limits.max_rows` records."""
    header = next(rows, None)
    if header is None:
        raise FileRefused("tệp trống, không có dòng tiêu đề")
    try:
        names = columns.map_headers(list(header))
    except FileRefused as exc:
        exc.row = first_row or None  # the header row of a sheet; a JSON file has none
        raise
    width = len(names)
    out: list[tuple[int, dict]] = []
    # Blank rows are skipped but still read: a sheet claiming a row 1,048,576 must not spin for ever.
    last_row = first_row + 2 * limits.max_rows
    for number, values in enumerate(rows, start=first_row + 1):
        if number > last_row:
            raise FileRefused(
                f"có hơn {number_vi(last_row)} dòng (kể cả dòng trống); " + too_many_rows(limits.max_rows)
            )
        values = tuple(values[:width])
        if all(_blank(v) for v in values):
            continue
        if len(out) == limits.max_rows:
            raise FileRefused(too_many_rows(limits.max_rows))
        out.append((number, {n: _cell(v) for n, v in zip(names, values, strict=False) if n is not None}))
    return out


def _guarded(
    rows: Iterable[Sequence], errors: tuple[type[BaseException], ...], problem: Callable[[BaseException], str]
) -> Iterator[Sequence]:
    """Rows from a parser; its errors become a FileRefused naming the row it was reading."""
    source = iter(rows)
    row = 0
    while True:
        try:
            values = next(source)
        except StopIteration:
            return
        except errors as exc:
            raise FileRefused(problem(exc), row=row + 1) from None
        row += 1
        yield values


# --- readers -----------------------------------------------------------------------------------------


def read_rows(
    path: Path,
    *,
    columns: Sequence[str],
    labels: dict[str, str],
    required: Sequence[str],
    limits: Limits | None = None,
    synonyms: Mapping[str, Sequence[str]] | None = None,
) -> list[tuple[int, dict]]:
    """Read a CSV, XLSX or JSON file of rows, or refuse it (FileRefused names the file, and the row).
    A column's header may be its name, its label, or one of its `synonyms`."""
    limits = limits or Limits.from_settings()
    path = Path(path)
    try:
        data = read_bytes(path, max_bytes=limits.max_bytes)
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            raise FileRefused("không phải CSV, XLSX hoặc JSON")
        return reader(data, _Columns(columns, labels, required, synonyms or {}), limits)
    except FileRefused as exc:
        exc.file = exc.file or path.name
        raise


def _decode(data: bytes, kind: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"tệp {kind} không phải mã UTF-8 (byte lỗi ở vị trí {exc.start}); hãy lưu lại với mã hóa UTF-8",
            row=data.count(b"\n", 0, exc.start) + 1,
        ) from None


_CSV_PROBLEMS = {
    "field larger than field limit": f"có ô dài quá {number_vi(csv.field_size_limit())} ký tự",
    "line contains nul": "có ký tự NUL (tệp nhị phân, không phải CSV)",
    "unexpected end of data": "thiếu dấu ngoặc kép đóng",
    "expected after": "sau dấu ngoặc kép đóng phải là dấu phân cách",
    "new-line character seen in unquoted field": "có ký tự xuống dòng lẻ (CR) ngoài dấu ngoặc kép",
}


def _csv_problem(exc: BaseException) -> str:
    text = str(exc).lower()
    found = next((vi for en, vi in _CSV_PROBLEMS.items() if en in text), None)
    return "tệp CSV sai định dạng: " + (found or "không đọc được dòng này")


def _read_csv(data: bytes, columns: _Columns, limits: Limits) -> list[tuple[int, dict]]:
    text = _decode(data, "CSV")
    try:
        dialect: type[csv.Dialect] = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = _guarded(csv.reader(io.StringIO(text), dialect), (csv.Error,), _csv_problem)
    return _table(rows, columns, limits)


def _inspect_archive(data: bytes, limits: Limits) -> None:
    """Refuse an XLSX whose archive would cost too much to open, from its directory alone."""
    # Counting directory signatures first: zipfile builds an object per member, so a 30 MB file of
    # empty members would cost hundreds of MB before any count could be checked.
    if data.count(_CENTRAL_DIRECTORY) > limits.xlsx_max_entries:
        raise FileRefused(
            f"tệp Excel có hơn {number_vi(limits.xlsx_max_entries)} thành phần; không phải bảng "
            "tính thông thường (THIDUA_XLSX_MAX_ENTRIES)"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except Exception:
        raise FileRefused("không phải tệp Excel (.xlsx) hợp lệ") from None
    total = 0
    for member in members:
        total += member.file_size
        if total > limits.xlsx_max_unpacked_bytes:
            raise FileRefused(
                f"tệp Excel giải nén ra hơn {_size(limits.xlsx_max_unpacked_bytes)} "
                f"(thành phần «{_shown(member.filename)}»); không đọc tệp này "
                "(THIDUA_XLSX_MAX_UNPACKED_BYTES)"
            )
        if member.file_size > RATIO_CHECKED_FROM_BYTES and member.file_size > limits.xlsx_max_ratio * max(
            member.compress_size, 1
        ):
            ratio = member.file_size // max(member.compress_size, 1)
            raise FileRefused(
                f"tệp Excel nén bất thường: thành phần «{_shown(member.filename)}» nở gấp "
                f"{number_vi(ratio)} lần (giới hạn {limits.xlsx_max_ratio}); có thể là tệp độc hại, "
                "không đọc (THIDUA_XLSX_MAX_RATIO)"
            )


def _xlsx_problem(exc: BaseException) -> str:
    return f"tệp Excel hỏng, không đọc được ({type(exc).__name__})"


def _read_xlsx(data: bytes, columns: _Columns, limits: Limits) -> list[tuple[int, dict]]:
    _inspect_archive(data, limits)
    from openpyxl import load_workbook

    # openpyxl raises whatever its parsers raise on a damaged file (KeyError, ParseError, defusedxml's
    # errors, ValueError, TypeError…): each is the same refusal for the official.
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise FileRefused("không phải tệp Excel (.xlsx) hợp lệ") from None
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise FileRefused("tệp Excel không có trang tính nào")
        sheet = sheets[0]
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # the size a sheet claims is not trusted: rows are read as they come
        rows = _guarded(
            sheet.iter_rows(values_only=True, max_col=XLSX_MAX_COLUMNS), (Exception,), _xlsx_problem
        )
        return _table(rows, columns, limits)
    except FileRefused:
        raise
    except Exception as exc:
        raise FileRefused(_xlsx_problem(exc)) from None
    finally:
        workbook.close()


def _read_json(data: bytes, columns: _Columns, limits: Limits) -> list[tuple[int, dict]]:
    text = _decode(data, "JSON")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRefused(f"tệp JSON sai cú pháp ở dòng {exc.lineno}, cột {exc.colno} ({exc.msg})") from None
    except RecursionError:
        raise FileRefused("tệp JSON lồng nhau quá sâu") from None
    except ValueError:  # e.g. an integer of more than 4,300 digits
        raise FileRefused("tệp JSON có giá trị không đọc được (số quá lớn)") from None
    if isinstance(parsed, dict):
        parsed = parsed.get("rows", parsed.get("nominations"))
    if not isinstance(parsed, list) or not all(isinstance(r, dict) for r in parsed):
        raise FileRefused("tệp JSON phải là một danh sách các đối tượng (mỗi đối tượng một dòng)")
    if not parsed:
        return []
    if len(parsed) > limits.max_rows:
        raise FileRefused(too_many_rows(limits.max_rows))
    headers = sorted({k for r in parsed for k in r}, key=lambda k: (k not in columns.names, k))
    table = [headers] + [[r.get(h) for h in headers] for r in parsed]
    return _table(iter(table), columns, limits, first_row=0)  # JSON rows count from 1


_READERS: dict[str, Callable[[bytes, _Columns, Limits], list[tuple[int, dict]]]] = {
    ".csv": _read_csv,
    ".xlsx": _read_xlsx,
    ".xlsm": _read_xlsx,
    ".json": _read_json,
}


# --- templates ---------------------------------------------------------------------------------------


def workbook(
    *,
    columns: Sequence[str],
    labels: dict[str, str],
    title: str,
    example: dict | None = None,
    notes: Sequence[str] = (),
    rows: Iterable[Sequence] = (),
) -> Workbook:
    """A workbook with Vietnamese headers (the column names in a comment) and any `rows` filled in."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append([labels.get(c, c) for c in columns])
    for i, col in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=True)
        cell.comment = Comment(f"Tên cột: {col}", "thidua")
        ws.column_dimensions[cell.column_letter].width = max(16, len(labels.get(col, col)) + 4)
    if example:
        ws.append([example.get(c, "") for c in columns])
    for row in rows:
        ws.append(list(row))
    if notes:
        guide = wb.create_sheet("Hướng dẫn")
        for line in notes:
            guide.append([line])
    return wb


class Template(TypedDict, total=False):
    """What a template holds: the arguments of `workbook`."""

    columns: Required[Sequence[str]]
    labels: Required[dict[str, str]]
    title: Required[str]
    example: dict | None
    notes: Sequence[str]
    rows: Iterable[Sequence]


def write_template(path: Path, *, overwrite: bool = False, **template: Unpack[Template]) -> Path:
    """An XLSX with Vietnamese headers (the column names in a comment) for officials to fill, and any
    `rows` already filled in (`workbook`). An existing file is never replaced unless `overwrite`
    (FileRefused)."""
    wb = workbook(**template)
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL) | _NONBLOCK
    try:
        fd = os.open(path, flags, 0o644)  # O_EXCL: the check and the creation are one step
    except FileExistsError:
        raise FileRefused("đã có tệp hoặc thư mục này; không ghi đè", file=path.name) from None
    except OSError as exc:
        raise FileRefused(
            f"không ghi được tệp ({exc.strerror or type(exc).__name__})", file=path.name
        ) from None
    with os.fdopen(fd, "wb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise FileRefused("không phải tệp thông thường; không ghi", file=path.name)
        wb.save(handle)
    return path


def to_json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
