"""`thidua deadlines load|list` (thời hạn của kế hoạch) and `thidua changeover` (chuyển hồ sơ cho đơn vị
kế tục khi sắp xếp đơn vị hành chính).

Mounted by cli/app.py: `app.add_typer(deadlines_app, name="deadlines")` and
`app.command("changeover")(changeover_command)`. Both are reference-data changes in one transaction (plain
commands, no flow): the changeover's letters are queued in the outbox with the moves and go out with the
next delivery.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import JsonOpt, console, date_option, text
from cli.common import emit_json as _emit_json
from cli.common import fail as _fail
from models.clock import fmt_date, today_vn

deadlines_app = typer.Typer(
    help="Thời hạn của kế hoạch từng tỉnh: nạp từ tệp (có căn cứ pháp lý), xem danh sách",
    no_args_is_help=True,
)


@deadlines_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="tệp YAML: «deadlines:» như models/data/deadlines.yaml")],
    json_out: JsonOpt = False,
) -> None:
    """Nạp (thêm hoặc thay theo mã) các thời hạn của một tỉnh từ tệp; mỗi hạn phải có căn cứ pháp lý."""
    from models.db import session_scope
    from models.deadlines import DeadlineFileRefused, deadline_summary, load_deadline_file
    from models.hierarchy import Hierarchy
    from models.units import Level

    try:
        with session_scope() as session:
            provinces = {u.code for u in Hierarchy.load(session).by_level.get(Level.province, [])}
            rows = load_deadline_file(session=session, path=file, province_codes=provinces)
            data = [deadline_summary(r, today_vn()) for r in rows]
    except DeadlineFileRefused as exc:
        raise _fail(f"chưa nạp gì từ «{file}»:\n{exc}") from exc
    if json_out:
        _emit_json(data)
        return
    for d in data:
        status = "đã xác nhận" if d["confirmed"] else "CHƯA XÁC NHẬN — hiển thị nhưng không gửi nhắc"
        console.print(text("Đã nạp [bold]{}[/]: {} — {} ({})", d["code"], d["name"], d["when"], status))


@deadlines_app.command("list")
def list_command(json_out: JsonOpt = False) -> None:
    """Mọi thời hạn (có sẵn và do tỉnh nạp): đơn vị phải nộp, tỉnh áp dụng, căn cứ, đã xác nhận chưa."""
    from models.db import session_scope
    from models.deadlines import all_deadlines, deadline_summary

    with session_scope() as session:
        data = [deadline_summary(r, today_vn()) for r in all_deadlines(session=session)]
    if json_out:
        _emit_json(data)
        return
    table = Table("Mã", "Thời hạn", "Tỉnh áp dụng", "Xác nhận", "Căn cứ", title="Thời hạn của kế hoạch")
    for d in data:
        table.add_row(
            d["code"],
            d["when"],
            ", ".join(d["provinces"]) or "mọi tỉnh",
            "có" if d["confirmed"] else "chưa (không gửi nhắc)",
            d["legal_basis"],
        )
    console.print(table)


def changeover_command(
    on: Annotated[
        str, typer.Option("--date", help="ngày đầu tiên của đơn vị mới, dd/mm/yyyy (ví dụ 01/07/2025)")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="chỉ liệt kê, không chuyển")] = False,
    actor: Annotated[str, typer.Option(help="người thực hiện")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Chuyển hồ sơ đang xét tại đơn vị đã kết thúc cho đơn vị kế tục (chạy lại không thay đổi gì)."""
    from models.changeover import changeover, changeover_summary
    from models.db import session_scope

    day = date_option(on, "--date")
    assert day is not None
    with session_scope() as session:
        result = changeover(session=session, on=day, actor=actor, dry_run=dry_run)
    if json_out:
        _emit_json(result.public())
        return
    table = Table("Hồ sơ", "Từ", "Đến", "Hình thức", title=f"Chuyển giao hồ sơ ngày {fmt_date(day)}")
    for m in result.moved:
        form = m.from_form if m.from_form == m.to_form else f"{m.from_form} → {m.to_form}"
        table.add_row(m.code, m.from_unit, m.to_unit, form)
    if result.moved:
        console.print(table)
    for code, why in result.stuck:
        console.print(text("[yellow]{}[/]: {}", code, why))
    console.print(("(thử) " if dry_run else "") + changeover_summary(result))
