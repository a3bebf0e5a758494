"""Render a template (DOCX, docxtpl) or the list (XLSX) to bytes that are the same for the same data.

The hash of a document is its identity on a re-run, so the bytes must not carry the moment they were
made: every zip member gets the same timestamp, the core properties carry the document's own date, and
templates render in a sandboxed, autoescaping jinja2 environment (a name with "&" or "<" stays text; a
province's own template cannot reach Python).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from models.settings import get_settings

DEFAULT_TEMPLATES = Path(__file__).parent / "templates"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
LEFTOVER_TAG = re.compile(r"\{\{|\}\}|\{%|%\}")


class TemplateProblem(ValueError):
    """A template that cannot be used (missing, or a tag Word or an edit broke); message for officials."""


def templates_folder() -> Path:
    """The province's own templates (THIDUA_DOCUMENT_TEMPLATES) or the defaults shipped with thidua."""
    return get_settings().document_templates or DEFAULT_TEMPLATES


def template_path(name: str, folder: Path | None = None) -> Path:
    """A template from the province's folder, falling back to the default one of the same name."""
    for base in (folder or templates_folder(), DEFAULT_TEMPLATES):
        path = base / name
        if path.is_file():
            return path
    raise TemplateProblem(f"không tìm thấy mẫu văn bản «{name}» (thư mục {folder or templates_folder()})")


def fixed_zip_times(data: bytes) -> bytes:
    """The same archive with every member's time set to 1980-01-01 in place (the bytes compressed once
    are kept): python-docx stamps each member with the moment it saved."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        offsets = [info.header_offset for info in archive.infolist()]
        start = archive.start_dir  # type: ignore[attr-defined]
    for offset in offsets:  # local file header: signature, version, flags, method, time, date
        if out[offset : offset + 4] != b"PK\x03\x04":
            return stable_zip(data)
        out[offset + 10 : offset + 14] = _DOS_1980
    position = start
    while out[position : position + 4] == b"PK\x01\x02":  # central directory entries
        out[position + 12 : position + 16] = _DOS_1980
        name, extra, comment = struct.unpack("<HHH", out[position + 28 : position + 34])
        position += 46 + name + extra + comment
    return bytes(out)


_DOS_1980 = struct.pack("<HH", 0, (1980 - 1980) << 9 | 1 << 5 | 1)


def stable_zip(data: bytes) -> bytes:
    """The same archive with every member's timestamp and attributes fixed (reproducible bytes)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


class _CompiledOnce(SandboxedEnvironment):
    """Compiles each template source once: docxtpl hands the same XML of a template to `from_string` on
    every render, and compiling it is most of a render's cost."""

    def __init__(self) -> None:
        # StrictUndefined: a tag naming a field the data lacks is an error, never a silently empty line
        super().__init__(autoescape=True, undefined=StrictUndefined)
        self._compiled: dict[str, Any] = {}

    def from_string(self, source, globals=None, template_class=None):  # type: ignore[no-untyped-def, override]
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        if source not in self._compiled:
            if len(self._compiled) > 64:
                self._compiled.clear()
            self._compiled[source] = super().from_string(source)
        return self._compiled[source]


_TEMPLATE_CLASS = lru_cache(maxsize=1)(lambda: _template_class())


@lru_cache(maxsize=1)
def _environment() -> _CompiledOnce:
    return _CompiledOnce()


# docxtpl's clean-up of a template's XML (tags split across runs joined) is the same for the same XML
_PATCHED: dict[str, str] = {}


def _template_class() -> type:
    from docxtpl import DocxTemplate

    class Template(DocxTemplate):
        def patch_xml(self, src_xml: str) -> str:
            if src_xml not in _PATCHED:
                if len(_PATCHED) > 64:
                    _PATCHED.clear()
                _PATCHED[src_xml] = super().patch_xml(src_xml)
            return _PATCHED[src_xml]

    return Template


@lru_cache(maxsize=32)
def _template_bytes(path: Path, mtime_ns: int) -> bytes:
    del mtime_ns  # part of the cache key: an edited template is read again
    return path.read_bytes()


def compile_templates() -> list[str]:
    """Read and compile each DOCX template once, as its first render would, its data aside (the warm
    process does this for the runs it forks: supervisor/warm_caches.py); the templates' names."""
    from jinja2 import TemplateError

    names = sorted({p.name for base in (templates_folder(), DEFAULT_TEMPLATES) for p in base.glob("*.docx")})
    for name in names:
        path = template_path(name)
        template = _TEMPLATE_CLASS()(io.BytesIO(_template_bytes(path, path.stat().st_mtime_ns)))
        try:
            template.render({}, jinja_env=_environment(), autoescape=True)
        except TemplateError:
            pass  # compiled, then stopped at its first field: there is no data
    return names


def render_docx(
    name: str, context: Mapping[str, Any], *, day: date, title: str, folder: Path | None = None
) -> bytes:
    """Render the DOCX template `name` with `context`; the same context gives the same bytes."""
    from jinja2 import TemplateError

    path = template_path(name, folder)
    template = _TEMPLATE_CLASS()(io.BytesIO(_template_bytes(path, path.stat().st_mtime_ns)))
    try:
        template.render(dict(context), jinja_env=_environment(), autoescape=True)
    except TemplateError as exc:
        raise TemplateProblem(f"mẫu văn bản «{path}» có thẻ lỗi: {exc}") from None
    assert template.docx is not None
    props = template.docx.core_properties
    moment = datetime(day.year, day.month, day.day)
    props.created = props.modified = moment
    props.last_printed = moment
    props.title = title
    props.author = props.last_modified_by = "thidua"
    props.revision = 1
    buffer = io.BytesIO()
    template.save(buffer)
    return fixed_zip_times(buffer.getvalue())


def docx_text(data: bytes) -> str:
    """Every paragraph of a DOCX (body, tables, headers), one per line: what a reader sees."""
    from docx import Document

    doc = Document(io.BytesIO(data))
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        lines += [cell.text for row in table.rows for cell in row.cells]
    for section in doc.sections:
        lines += [p.text for p in section.header.paragraphs]
    return "\n".join(lines)


def plain_text(context: Mapping[str, Any]) -> str:
    """The same data as plain text, no template (the benchmark's floor)."""
    lines: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            for item in value:
                walk(item)
        elif value not in (None, ""):
            lines.append(str(value))

    walk(context)
    return "\n".join(lines)


def xlsx_bytes(
    *, columns: Sequence[str], labels: Mapping[str, str], rows: Sequence[Sequence[Any]], title: str, day: date
) -> bytes:
    """An XLSX of one sheet: the Vietnamese headers (the column names in a comment), then `rows`."""
    from models.sheets import workbook

    wb = workbook(columns=columns, labels=dict(labels), title=title, rows=rows)
    moment = datetime(day.year, day.month, day.day)
    wb.properties.created = wb.properties.modified = moment
    wb.properties.creator = wb.properties.lastModifiedBy = "thidua"
    wb.properties.title = title
    buffer = io.BytesIO()
    wb.save(buffer)
    return _fixed_xlsx_times(stable_zip(buffer.getvalue()), moment)


def _fixed_xlsx_times(data: bytes, moment: datetime) -> bytes:
    """openpyxl writes the save time as `modified`, whatever the properties say: put the document's day back."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    pattern = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = pattern.sub(rb"\g<1>" + stamp + rb"\g<2>", body)
            target.writestr(info, body)
    return out.getvalue()
