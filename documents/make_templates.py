"""Build the default DOCX templates (`documents/templates/*.docx`) with python-docx, reproducibly.

    python -m documents.make_templates [FOLDER]

The committed files are what officials open in Word; this script is how they were made, so a change of
layout is a reviewed change of code, and running it twice gives the same bytes. The presentation follows
Decree 30/2020/NĐ-CP, Appendix I (see templates/README.md for each rule and where it is applied).

The jinja2 tags (`{{ … }}`, `{%p … %}` for paragraphs, `{%tr … %}` for table rows) are docxtpl's; each
sits in one run of its own so Word never splits it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import _Cell
from docx.text.paragraph import Paragraph

FOLDER = Path(__file__).parent / "templates"
FONT = "Times New Roman"
# A4, margins (Decree 30/2020, Appendix I, I.1(c)): top 20–25 mm, bottom 20–25 mm, left 30–35 mm, right 15–20 mm
PAGE = {
    "width": Cm(21.0),
    "height": Cm(29.7),
    "top": Cm(2.0),
    "bottom": Cm(2.0),
    "left": Cm(3.0),
    "right": Cm(1.5),
}
TEXT_WIDTH = Cm(16.5)
LEFT_COL, RIGHT_COL = Cm(6.5), Cm(10.0)
BODY_PT = 14
FIXED_TIME = datetime(2026, 1, 1, tzinfo=UTC)

Center, Justify, Left = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.JUSTIFY, WD_ALIGN_PARAGRAPH.LEFT


def _fonts(rpr_owner) -> None:
    """Times New Roman for every script Word may choose (ascii, hAnsi, cs, eastAsia): no substitution."""
    rpr = rpr_owner.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), FONT)


def _new_document() -> DocxDocument:
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    _fonts(normal.element)
    fmt = normal.paragraph_format
    fmt.space_before, fmt.space_after, fmt.line_spacing = Pt(0), Pt(0), 1.0
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = PAGE["width"], PAGE["height"]
    section.top_margin, section.bottom_margin = PAGE["top"], PAGE["bottom"]
    section.left_margin, section.right_margin = PAGE["left"], PAGE["right"]
    section.header_distance = Cm(1.0)
    _page_numbers(section)
    props = doc.core_properties
    props.author = props.last_modified_by = "thidua"
    props.created = props.modified = FIXED_TIME.replace(tzinfo=None)
    props.revision = 1
    props.comments = (
        "Mẫu của thidua (Nghị định 30/2020/NĐ-CP); có thể sửa trong Word, giữ nguyên các thẻ trong ngoặc nhọn"
    )
    return doc


def _page_numbers(section) -> None:
    """Page numbers at the top centre from the second page on (Decree 30, Appendix I, II.11)."""
    section.different_first_page_header_footer = True
    paragraph = section.header.paragraphs[0]
    paragraph.alignment = Center
    run = paragraph.add_run()
    run.font.size = Pt(13)
    for kind, text in (("begin", None), (None, " PAGE "), ("end", None)):
        if kind:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run._r.append(fld)
        else:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)


def _para(
    container,
    text: str = "",
    *,
    size: int = BODY_PT,
    bold: bool = False,
    italic: bool = False,
    align=Center,
    indent: bool = False,
    before: int = 0,
    after: int = 0,
) -> Paragraph:
    paragraph = container.add_paragraph()
    paragraph.alignment = align
    fmt = paragraph.paragraph_format
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    if indent:
        fmt.first_line_indent = Cm(1.27)
    if text:
        _run(paragraph, text, size=size, bold=bold, italic=italic)
    return paragraph


def _run(paragraph: Paragraph, text: str, *, size: int = BODY_PT, bold: bool = False, italic: bool = False):
    run = paragraph.add_run(text)
    run.font.size, run.font.bold, run.font.italic, run.font.name = Pt(size), bold, italic, FONT
    _fonts(run._r)
    return run


def _tag(container, tag: str) -> None:
    """A docxtpl paragraph tag ({%p … %}) alone in its paragraph (docxtpl removes the paragraph)."""
    _para(container, tag, align=Left)


def _rule(cell: _Cell, width_cm: float, col_cm: float) -> None:
    """The short line under the issuing body and under the motto: a bottom border on an empty paragraph
    indented so the line is `width_cm` long and centred (Decree 30, Appendix I, II.1 and II.2)."""
    paragraph = _para(cell, size=6)
    side = Cm((col_cm - width_cm) / 2)
    paragraph.paragraph_format.left_indent = paragraph.paragraph_format.right_indent = side
    ppr = paragraph._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    border.append(bottom)
    ppr.append(border)


def _borderless(table) -> None:
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    tbl_pr.append(borders)


def _two_columns(doc, left=LEFT_COL, right=RIGHT_COL):
    table = doc.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    _borderless(table)
    for cell, width in zip(table.rows[0].cells, (left, right), strict=True):
        cell.width = width
        cell.paragraphs[0]._p.getparent().remove(cell.paragraphs[0]._p)
    return table.rows[0].cells


def letterhead(doc, symbol_hint: str) -> None:
    """Issuing body and national title side by side; number and symbol, place and date under them."""
    left, right = _two_columns(doc)
    _tag(left, "{%p if issuer_parent %}")
    _para(left, "{{ issuer_parent }}", size=13)
    _tag(left, "{%p endif %}")
    _para(left, "{{ issuer }}", size=13, bold=True)
    _tag(left, "{%p if issuer_2 %}")
    _para(left, "{{ issuer_2 }}", size=13, bold=True)
    _tag(left, "{%p endif %}")
    _rule(left, 2.2, 6.5)
    _para(left, "Số: {{ number }}", size=13, before=6)
    _para(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", size=12, bold=True)
    _para(right, "Độc lập - Tự do - Hạnh phúc", size=13, bold=True)
    _rule(right, 5.6, 10.0)
    _para(right, "{{ place_date }}", size=14, italic=True, before=6)
    del symbol_hint  # the symbol comes with the number (e.g. 05/QĐ-UBND); kept for the README's table


def title(doc) -> None:
    """Document kind in capitals, its summary line under it, a short line (Decree 30, Appendix I, II.5)."""
    _para(doc, "{{ title }}", bold=True, before=18)
    _para(doc, "{{ summary }}", bold=True)
    _tag(doc, "{%p if summary_2 %}")
    _para(doc, "{{ summary_2 }}", bold=True)
    _tag(doc, "{%p endif %}")
    _para(doc, "", size=6)


def bases(doc) -> None:
    """Legal bases, one paragraph each, italic ('Căn cứ …;')."""
    _tag(doc, "{%p for basis in bases %}")
    _para(doc, "{{ basis }}", italic=True, align=Justify, indent=True, before=6)
    _tag(doc, "{%p endfor %}")


def paragraphs(doc, name: str = "paragraphs") -> None:
    _tag(doc, f"{{%p for text in {name} %}}")
    _para(doc, "{{ text }}", align=Justify, indent=True, before=6)
    _tag(doc, "{%p endfor %}")


def articles(doc) -> None:
    """'Điều 1. …' with the article's head in bold."""
    _tag(doc, "{%p for article in articles %}")
    paragraph = _para(doc, align=Justify, indent=True, before=6)
    _run(paragraph, "{{ article.head }}", bold=True)
    _run(paragraph, " {{ article.text }}")
    _tag(doc, "{%p endfor %}")


def _grid(doc, headers: list[tuple[str, float]]):
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for cell, (text, width) in zip(table.rows[0].cells, headers, strict=True):
        cell.width = Cm(width)
        cell.paragraphs[0].alignment = Center
        _run(cell.paragraphs[0], text, size=12, bold=True)
    return table


def _row(table, cells: list[str], *, bold: bool = False, align=Left) -> None:
    row = table.add_row()
    for cell, text in zip(row.cells, cells, strict=True):
        cell.paragraphs[0].alignment = align
        if text:
            _run(cell.paragraphs[0], text, size=12, bold=bold)


def _tr(table, tag: str) -> None:
    """A docxtpl row tag ({%tr … %}) in a row of its own (docxtpl removes the row)."""
    row = table.add_row()
    _run(row.cells[0].paragraphs[0], tag, size=12)


def nominee_list(doc, note: str) -> None:
    """The attached list (danh sách), grouped (e.g. by form and nominee kind), on a page of its own."""
    _tag(doc, "{%p if groups %}")
    _para(doc).add_run().add_break(WD_BREAK.PAGE)
    _para(doc, "DANH SÁCH", bold=True)
    _para(doc, "{{ list_title }}", bold=True)
    _para(doc, note, italic=True, after=6)
    table = _grid(doc, [("STT", 1.2), ("Tên đối tượng", 4.6), ("Đơn vị", 3.8), ("Tóm tắt thành tích", 6.9)])
    _tr(table, "{%tr for group in groups %}")
    _row(table, ["{{ group.label }}", "", "", ""], bold=True)
    _tr(table, "{%tr for row in group.rows %}")
    _row(table, ["{{ row.no }}", "{{ row.name }}", "{{ row.unit }}", "{{ row.achievement }}"])
    _tr(table, "{%tr endfor %}")
    _tr(table, "{%tr endfor %}")
    _para(doc, "{{ list_total }}", italic=True, align=Left, before=6)
    _tag(doc, "{%p endif %}")


def recipients_and_signature(doc) -> None:
    """Recipients (Nơi nhận, left, 12/11 pt) beside the signer's capacity and name (right, 14 pt bold)."""
    left, right = _two_columns(doc, Cm(8.0), Cm(8.5))
    paragraph = _para(left, "Nơi nhận:", size=12, bold=True, italic=True, align=Left, before=12)
    del paragraph
    _tag(left, "{%p for item in recipients %}")
    _para(left, "{{ item }}", size=11, align=Left)
    _tag(left, "{%p endfor %}")
    _para(right, "", before=12)
    _tag(right, "{%p for line in signer_lines %}")
    _para(right, "{{ line }}", bold=True)
    _tag(right, "{%p endfor %}")
    for _ in range(4):
        _para(right)
    _para(right, "{{ signer_name }}", bold=True)


def two_signatures(doc) -> None:
    """Minutes: the secretary (left) and the chair (right) sign."""
    left, right = _two_columns(doc, Cm(8.0), Cm(8.5))
    for cell, role, name in ((left, "THƯ KÝ", "secretary"), (right, "CHỦ TỊCH HỘI ĐỒNG", "chair")):
        _para(cell, role, bold=True, before=12)
        for _ in range(4):
            _para(cell)
        _para(cell, "{{ " + name + " }}", bold=True)


def _headed(symbol_hint: str) -> DocxDocument:
    """A new paper with its letterhead and title."""
    doc = _new_document()
    letterhead(doc, symbol_hint)
    title(doc)
    return doc


def _signed_with_list(doc, paper: str) -> None:
    """The recipients and the signature, then the nominee list attached to the paper ('Kèm theo Tờ trình …')."""
    recipients_and_signature(doc)
    nominee_list(
        doc, f"(Kèm theo {paper} số {{{{ number }}}} {{{{ date_words }}}} của {{{{ signer_body }}}})"
    )


def _section(doc, heading: str, headers: list[tuple[str, float]], loop: str, cells: list[str]) -> None:
    """A numbered section: its heading, then a table of `headers` with one row of `cells` per item of `loop`
    (docxtpl's '{%tr for <loop> %}')."""
    _para(doc, heading, bold=True, align=Left, before=6, after=6)
    table = _grid(doc, headers)
    _tr(table, f"{{%tr for {loop} %}}")
    _row(table, cells)
    _tr(table, "{%tr endfor %}")


def decision() -> DocxDocument:
    """Quyết định khen thưởng, with the list of awardees as its appendix."""
    doc = _headed("QĐ-UBND")
    _para(doc, "{{ author }}", bold=True, before=6)
    bases(doc)
    _para(doc, "QUYẾT ĐỊNH:", bold=True, before=12)
    articles(doc)
    _signed_with_list(doc, "Quyết định")
    return doc


def submission() -> DocxDocument:
    """Tờ trình đề nghị khen thưởng, with the list of nominees attached."""
    doc = _headed("TTr-UBND")
    _para(doc, "Kính gửi: {{ addressee }}", before=6, after=6)
    bases(doc)
    paragraphs(doc)
    _signed_with_list(doc, "Tờ trình")
    return doc


def minutes() -> DocxDocument:
    """Biên bản họp Hội đồng: who sat, the quorum, each dossier's tally and result."""
    doc = _headed("BB-HĐTĐKT")
    paragraphs(doc, "opening")
    members = [("STT", 1.2), ("Họ và tên", 7.0), ("Chức danh trong Hội đồng", 8.3)]
    member = ["{{ m.no }}", "{{ m.name }}", "{{ m.role }}"]
    _section(doc, "I. THÀNH VIÊN HỘI ĐỒNG", members, "m in members", member)
    paragraphs(doc, "attendance")
    results = [
        ("STT", 1.0),
        ("Mã hồ sơ", 2.4),
        ("Đối tượng", 3.4),
        ("Hình thức", 2.7),
        ("Đồng ý", 1.3),
        ("Không đồng ý", 1.4),
        ("Không biểu quyết", 1.5),
        ("Kết quả", 2.8),
    ]
    fields = ["no", "code", "nominee", "award", "votes_for", "votes_against", "votes_abstain", "result"]
    result = [f"{{{{ r.{f} }}}}" for f in fields]
    _section(doc, "II. KẾT QUẢ BIỂU QUYẾT", results, "r in results", result)
    paragraphs(doc, "closing")
    two_signatures(doc)
    return doc


def yearly_report() -> DocxDocument:
    """Báo cáo năm: what the unit filed and the movement's figures for its area."""
    doc = _headed("BC-UBND")
    _para(doc, "Kính gửi: {{ addressee }}", before=6, after=6)
    paragraphs(doc)
    figures = [("Nội dung", 11.5), ("Số lượng", 5.0)]
    figure = ["{{ f.label }}", "{{ f.value }}"]
    _section(doc, "I. SỐ LIỆU HỒ SƠ ĐỀ NGHỊ KHEN THƯỞNG", figures, "f in figures", figure)
    forms = [("Hình thức khen thưởng", 8.5), ("Đề nghị", 4.0), ("Được khen thưởng", 4.0)]
    form = ["{{ f.name }}", "{{ f.proposed }}", "{{ f.conferred }}"]
    _section(doc, "II. KẾT QUẢ THEO HÌNH THỨC KHEN THƯỞNG", forms, "f in forms", form)
    paragraphs(doc, "closing")
    recipients_and_signature(doc)
    return doc


BUILDERS = {
    "quyet-dinh-khen-thuong.docx": decision,
    "to-trinh-de-nghi-khen-thuong.docx": submission,
    "bien-ban-hop-hoi-dong.docx": minutes,
    "bao-cao-nam.docx": yearly_report,
}


def build(folder: Path = FOLDER) -> list[Path]:
    """Write every default template into `folder` (same bytes on every run)."""
    import io

    from documents.render import stable_zip

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, builder in BUILDERS.items():
        buffer = io.BytesIO()
        builder().save(buffer)
        path = folder / name
        path.write_bytes(stable_zip(buffer.getvalue()))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER):
        print(path)
