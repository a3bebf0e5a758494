"""`thidua docs ls|get|make`: the papers councils sign (tờ trình, biên bản, quyết định, danh sách, báo cáo).

Mounted by cli/app.py: `app.add_typer(docs_app, name="docs")`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import JsonOpt, console, date_option, emit_json, fail, info
from models.clock import fmt_date, today_vn

docs_app = typer.Typer(
    help="Văn bản: tờ trình, biên bản, quyết định, danh sách, báo cáo năm", no_args_is_help=True
)

PDF_TIMEOUT_S = 120


def _row(doc) -> dict:
    return {
        "id": doc.id,
        "kind": doc.kind.value,
        "kind_label": doc.kind.label,
        "number": doc.number,
        "issued_on": doc.issued_on.isoformat(),
        "title": doc.title,
        "file_name": doc.file_name,
        "meeting_id": doc.meeting_id,
        "size": doc.size,
        "sha256": doc.sha256,
    }


@docs_app.command("ls")
def ls(
    code: Annotated[
        str | None, typer.Argument(help="mã hồ sơ, ví dụ HS2026-000001: văn bản có hồ sơ đó")
    ] = None,
    meeting: Annotated[int | None, typer.Option("--meeting", help="văn bản của phiên họp số N")] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="văn bản do đơn vị này ban hành (mã hoặc tên)")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Liệt kê văn bản theo hồ sơ, phiên họp hoặc đơn vị ban hành."""
    from models.db import session_scope
    from models.documents import documents_of
    from models.hierarchy import Hierarchy, UnitNotFound

    if code is None and meeting is None and unit is None:
        raise fail("cần một trong: MÃ HỒ SƠ, --meeting N hoặc --unit ĐƠN_VỊ", 2)
    with session_scope() as session:
        unit_id = None
        if unit is not None:
            try:
                unit_id = Hierarchy.load(session).resolve(unit).id
            except (UnitNotFound, LookupError) as exc:
                raise fail(str(exc), 2) from exc
        docs = documents_of(session=session, meeting_id=meeting, unit_id=unit_id, code=code)
        rows = [_row(d) for d in docs]
    if json_out:
        emit_json(rows)
        return
    if not rows:
        info("không có văn bản nào")
        return
    table = Table("ID", "Loại", "Số, ký hiệu", "Ngày", "Tên văn bản", "Tệp", title=f"{len(rows)} văn bản")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind_label"],
            r["number"],
            fmt_date(date.fromisoformat(r["issued_on"])),
            r["title"],
            r["file_name"],
        )
    console.print(table)


def _write(path: Path, data: bytes, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise fail(f"đã có tệp «{path}»; dùng --force để ghi đè", 2) from None
    except OSError as exc:
        raise fail(f"không ghi được tệp «{path}» ({exc.strerror})", 2) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def to_pdf(docx: bytes) -> bytes:
    """The DOCX converted by LibreOffice (`soffice --headless --convert-to pdf`), where it is installed."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise fail("chưa cài LibreOffice (soffice) trên máy này: chỉ xuất được DOCX", 2)
    with tempfile.TemporaryDirectory(prefix="thidua-pdf-") as tmp:
        source = Path(tmp) / "van-ban.docx"
        source.write_bytes(docx)
        done = subprocess.run(
            [
                soffice,
                "--headless",
                f"-env:UserInstallation=file://{tmp}/profile",
                "--convert-to",
                "pdf",
                "--outdir",
                tmp,
                str(source),
            ],
            capture_output=True,
            timeout=PDF_TIMEOUT_S,
            check=False,
        )
        target = source.with_suffix(".pdf")
        if done.returncode != 0 or not target.is_file():
            raise fail(
                f"LibreOffice không chuyển được sang PDF: {done.stderr.decode(errors='replace')[:300]}"
            )
        return target.read_bytes()


@docs_app.command("get")
def get(
    doc_id: Annotated[int, typer.Argument(help="ID văn bản (xem `thidua docs ls`)")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="tệp ghi ra (.docx, .xlsx; .pdf nếu có LibreOffice)")
    ],
    force: Annotated[bool, typer.Option("--force", help="ghi đè tệp đã có")] = False,
) -> None:
    """Lấy một văn bản ra tệp (DOCX hoặc XLSX như đã lưu; PDF nếu máy có LibreOffice)."""
    from models.db import session_scope
    from models.documents import DOCX, Document

    with session_scope() as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            raise fail(f"không có văn bản #{doc_id}", 2)
        content, media_type, stored_name = doc.content, doc.media_type, doc.file_name
    wanted = output.suffix.lower()
    if wanted == ".pdf":
        if media_type != DOCX:
            raise fail(f"văn bản #{doc_id} là {Path(stored_name).suffix}, không chuyển sang PDF được", 2)
        content = to_pdf(content)
    elif wanted != Path(stored_name).suffix.lower():
        raise fail(f"văn bản #{doc_id} là tệp {Path(stored_name).suffix}: hãy đặt tên tệp ra với đuôi đó", 2)
    _write(output, content, force)
    info(f"đã ghi {output} ({len(content):,} byte)".replace(",", "."))


@docs_app.command("make")
def make(
    meeting: Annotated[
        int | None, typer.Option("--meeting", help="tạo (nếu chưa có) văn bản của phiên họp N")
    ] = None,
    report: Annotated[
        str | None, typer.Option("--report", help="báo cáo năm của đơn vị này (mã hoặc tên)")
    ] = None,
    decision: Annotated[
        str | None,
        typer.Option("--decision", help="quyết định khen thưởng số này (ví dụ 123/QĐ-UBND) của --unit"),
    ] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="đơn vị ra quyết định (với --decision)")] = None,
    codes: Annotated[
        list[str] | None, typer.Option("--code", help="mã hồ sơ trong quyết định (lặp lại)")
    ] = None,
    signer: Annotated[
        str, typer.Option("--signer", help="người ký, ví dụ «KT. CHỦ TỊCH / PHÓ CHỦ TỊCH / Nguyễn Văn A»")
    ] = "",
    year: Annotated[int | None, typer.Option("--year", help="năm của báo cáo (mặc định năm nay)")] = None,
    on: Annotated[str | None, typer.Option("--on", help="ngày văn bản dd/mm/yyyy (mặc định hôm nay)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Tạo văn bản còn thiếu: của một phiên họp đã áp dụng, một quyết định khen thưởng, hoặc báo cáo năm."""
    from documents.papers import yearly_report
    from documents.render import TemplateProblem
    from flows.paperwork import Paper, make_decision_paper, make_meeting_papers
    from models.db import session_scope
    from models.hierarchy import Hierarchy, UnitNotFound

    if sum(x is not None for x in (meeting, report, decision)) != 1:
        raise fail(
            "cần đúng một trong: --meeting N, --decision SỐ (với --unit, --code) hoặc --report ĐƠN_VỊ", 2
        )
    if decision is not None and (unit is None or not codes):
        raise fail("--decision cần --unit (đơn vị ra quyết định) và ít nhất một --code", 2)
    day = date_option(on, "--on") or today_vn()
    try:
        if meeting is not None:
            papers = make_meeting_papers(meeting)
        elif decision is not None:
            papers = [make_decision_paper(str(unit), decision, day, list(codes or []), signer, None)]
        else:
            with session_scope() as session:
                doc = yearly_report(
                    session=session,
                    hierarchy=Hierarchy.load(session),
                    unit_code=str(report),
                    year=year or day.year,
                    day=day,
                )
                papers = [Paper.of(doc)]
    except (TemplateProblem, LookupError, UnitNotFound) as exc:
        raise fail(str(exc), 2) from exc
    if json_out:
        emit_json([p.model_dump() for p in papers])
        return
    if not papers:
        info("phiên họp chưa áp dụng hoặc không có hồ sơ nào: không có văn bản")
    for p in papers:
        console.print(f"#{p.id}  {p.kind}  {p.number}  {p.title}")
