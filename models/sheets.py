"""Reading and writing the files officials exchange: CSV, XLSX and JSON, with Vietnamese headers.

Every reader returns `(row_number, {column: value})` pairs, numbered as the official sees them in
a spreadsheet (the header is row 1), or raises `FileRefused` saying what is wrong with the file.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from models.text import fold, nfc


class FileRefused(ValueError):
    """The file cannot be read as a table of the expected columns."""


def _header_map(columns: Sequence[str], labels: dict[str, str]) -> dict[str, str]:
    """Folded header text → column name; both the English column name and the Vietnamese label work."""
    out = {}
    for col in columns:
        out[fold(col)] = col
        out[fold(col.replace("_", " "))] = col
        if col in labels:
            out[fold(labels[col])] = col
    return out


def _map_headers(raw_headers: list, columns: Sequence[str], labels: dict[str, str],
                 required: Sequence[str]) -> list[str | None]:
    mapping = _header_map(columns, labels)
    names = [mapping.get(fold(str(h or ""))) for h in raw_headers]
    unknown = [str(h) for h, n in zip(raw_headers, names, strict=True) if n is None and str(h or "").strip()]
    missing = [c for c in required if c not in names]
    problems = []
    if unknown:
        problems.append("cột không nhận ra: " + ", ".join(f"«{h}»" for h in unknown))
    if missing:
        problems.append("thiếu cột: " + ", ".join(f"«{labels.get(c, c)}» ({c})" for c in missing))
    if problems:
        problems.append("các cột cần có: " + ", ".join(f"{c} («{labels.get(c, c)}»)" for c in columns))
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


def read_rows(path: Path, *, columns: Sequence[str], labels: dict[str, str],
              required: Sequence[str]) -> list[tuple[int, dict]]:
    """Read a CSV, XLSX or JSON file of rows."""
    if not path.exists():
        raise FileRefused(f"không tìm thấy tệp {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, columns, labels, required)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, columns, labels, required)
    if suffix == ".json":
        return _read_json(path, columns, labels, required)
    raise FileRefused(f"tệp «{path.name}» không phải CSV, XLSX hoặc JSON")


def _rows_from_table(table: list[list], columns, labels, required, first_row: int = 1) -> list[tuple[int, dict]]:
    if not table:
        raise FileRefused("tệp trống, không có dòng tiêu đề")
    names = _map_headers(table[0], columns, labels, required)
    out = []
    for offset, values in enumerate(table[1:], start=first_row + 1):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        record = {n: _cell(v) for n, v in zip(names, values, strict=False) if n is not None}
        out.append((offset, record))
    return out


def _read_csv(path: Path, columns, labels, required) -> list[tuple[int, dict]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"tệp CSV không phải mã UTF-8 (byte lỗi ở vị trí {exc.start}); hãy lưu lại với mã hóa UTF-8"
        ) from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    table = list(csv.reader(io.StringIO(text), dialect))
    return _rows_from_table(table, columns, labels, required)


def _read_xlsx(path: Path, columns, labels, required) -> list[tuple[int, dict]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileRefused(f"tệp «{path.name}» không phải tệp Excel (.xlsx) hợp lệ") from exc
    try:
        sheet = workbook.worksheets[0]
        table = [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    return _rows_from_table(table, columns, labels, required)


def _read_json(path: Path, columns, labels, required) -> list[tuple[int, dict]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise FileRefused("tệp JSON không phải mã UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise FileRefused(f"tệp JSON sai cú pháp ở dòng {exc.lineno}, cột {exc.colno}: {exc.msg}") from exc
    if isinstance(data, dict):
        data = data.get("rows", data.get("nominations"))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise FileRefused("tệp JSON phải là một danh sách các đối tượng (mỗi đối tượng một dòng)")
    if not data:
        return []
    headers = sorted({k for r in data for k in r}, key=lambda k: (k not in columns, k))
    table = [headers] + [[r.get(h) for h in headers] for r in data]
    rows = _rows_from_table(table, columns, labels, required)
    return [(n - 1, r) for n, r in rows]  # JSON rows count from 1


def write_template(path: Path, *, columns: Sequence[str], labels: dict[str, str], title: str,
                   example: dict | None = None, notes: Sequence[str] = ()) -> Path:
    """An empty XLSX with Vietnamese headers (and the column names in a note row) for officials to fill."""
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
    if notes:
        guide = wb.create_sheet("Hướng dẫn")
        for line in notes:
            guide.append([line])
    wb.save(path)
    return path


def to_json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
