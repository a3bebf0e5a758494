"""`thidua report submit|status` (báo cáo định kỳ) and `thidua remind` (nhắc hạn).

Mounted by cli/app.py: `app.add_typer(report_app, name="report")` and
`app.command("remind")(remind_command)`. Recording a filing is reference data (a plain command);
reminders go through the `deadline-reminders` flow, like every notice.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.common import JsonOpt, console, date_option, text
from cli.common import emit_json as _emit_json
from cli.common import fail as _fail
from models.clock import fmt_date, fmt_datetime, today_vn

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

report_app = typer.Typer(
    help="Báo cáo định kỳ của phong trào: ghi nhận đơn vị đã nộp, theo dõi ai chưa nộp", no_args_is_help=True
)

DeadlineOpt = Annotated[
    str | None,
    typer.Option("--deadline", help="mã hạn báo cáo (models/data/deadlines.yaml); mặc định: báo cáo năm"),
]


def _lateness(filed_on: date, due: date) -> str:
    late = (filed_on - due).days
    return "đúng hạn" if late <= 0 else f"muộn {late} ngày"


@report_app.command("submit")
def submit(
    unit: Annotated[
        str, typer.Argument(help="mã hoặc tên đơn vị, ví dụ «thanh-hoa.cam-thach-2025» hoặc «xã Cẩm Thạch»")
    ],
    year: Annotated[int, typer.Option("--year", help="năm báo cáo, ví dụ 2026")],
    file: Annotated[Path | None, typer.Option("--file", help="tệp báo cáo đã nộp (chỉ ghi tên tệp)")] = None,
    by: Annotated[str, typer.Option("--by", help="người nộp")] = "",
    on: Annotated[str | None, typer.Option("--on", help="ngày nộp dd/mm/yyyy (mặc định hôm nay)")] = None,
    deadline: DeadlineOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ghi nhận một đơn vị đã nộp báo cáo; nộp lần nữa trong cùng năm được ghi là bản bổ sung."""
    from models.db import session_scope
    from models.deadlines import YEARLY_REPORT
    from models.reports import ReportRefused, file_report

    deadline = deadline or YEARLY_REPORT
    day = date_option(on, "--on")
    if file is not None and not file.is_file():
        raise _fail(f"không tìm thấy tệp «{file}»", 2)
    name = file.name if file else ""
    try:
        with session_scope() as session:
            filing = file_report(
                session=session, unit=unit, year=year, deadline=deadline, filed_by=by, file_name=name, on=day
            )
            report = filing.report
    except ReportRefused as exc:
        raise _fail(str(exc)) from exc
    ob = filing.obligation
    data = {
        "unit_code": filing.unit.code,
        "unit_name": filing.unit.name,
        "deadline": deadline,
        "year": year,
        "due_on": ob.due_on.isoformat(),
        "filed_on": report.filed_on.isoformat(),
        "filed_at": report.filed_at.isoformat(),
        "filed_by": report.filed_by,
        "file_name": report.file_name,
        "amendment": filing.amendment,
        "sequence": report.sequence,
        "amendment_of": report.amendment_of,
        "submit_to": ob.submit_to,
        "document_id": filing.document_id,
    }
    if json_out:
        _emit_json(data)
        return
    what = f"bản bổ sung lần {report.sequence}" if filing.amendment else "báo cáo"
    console.print(
        text(
            "Đã ghi nhận {} của [bold]{}[/] ({}) gửi {}: nộp ngày {}, hạn {} — {}{}",
            what,
            filing.unit.name,
            filing.unit.code,
            ob.submit_to,
            fmt_date(report.filed_on),
            fmt_date(ob.due_on),
            _lateness(report.filed_on, ob.due_on),
            f"; tệp {report.file_name}" if report.file_name else "",
        )
    )
    if filing.amendment:
        console.print(
            "Đơn vị đã nộp báo cáo năm này trước đó; lần nộp này là bản bổ sung, không phải báo cáo mới.",
            style="yellow",
        )


@report_app.command("status")
def status(
    year: Annotated[int, typer.Option("--year", help="năm báo cáo, ví dụ 2026")],
    province: Annotated[str | None, typer.Option("--province", help="chỉ một tỉnh (mã hoặc tên)")] = None,
    deadline: DeadlineOpt = None,
    today: Annotated[
        str | None, typer.Option("--today", help="xét quá hạn theo ngày dd/mm/yyyy (mặc định hôm nay)")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Đơn vị nào đã nộp, đơn vị nào chưa nộp báo cáo của một năm (và ai đã quá hạn)."""
    day = date_option(today, "--today") or today_vn()
    from models.db import session_scope
    from models.deadlines import YEARLY_REPORT
    from models.reports import ReportRefused, filing_status

    deadline = deadline or YEARLY_REPORT

    try:
        with session_scope() as session:
            spec, rows = filing_status(session=session, year=year, deadline=deadline, province=province)
    except ReportRefused as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        _emit_json([r.public() for r in rows])
        return
    due = spec.due_date(year)
    assert due is not None
    filed = sum(r.filed for r in rows)
    title = f"«{spec.short_title(year)}» — hạn {fmt_date(due)}: {filed}/{len(rows)} đơn vị đã nộp"
    table = Table(
        "Tỉnh", "Mã đơn vị", "Đơn vị", "Ngày nộp", "Ghi nhận lúc", "Bổ sung", "Tình trạng", title=title
    )
    for r in rows:
        table.add_row(
            r.province,
            r.obligation.unit_code,
            r.obligation.unit_name,
            fmt_date(r.filed_on),
            fmt_datetime(r.filed_at),
            str(r.amendments or ""),
            _filing_state(r.filed_on, due, day),
        )
    console.print(table)
    if not rows:
        console.print(
            "Không có đơn vị nào phải nộp báo cáo này" + (f" ở {province}" if province else "") + "."
        )


def _filing_state(filed_on: date | None, due: date, today: date) -> Text:
    """«đã nộp, đúng hạn», «đã nộp, muộn 3 ngày», «chưa nộp» or, after the due date, «quá hạn 2 ngày, chưa nộp»."""
    if filed_on:
        return Text(f"đã nộp, {_lateness(filed_on, due)}", style="green")
    late = (today - due).days
    if late > 0:
        return Text(f"quá hạn {late} ngày, chưa nộp", style="bold red")
    return Text("chưa nộp", style="red")


def remind_command(
    today: Annotated[
        str | None, typer.Option("--today", help="chạy cho ngày dd/mm/yyyy (mặc định hôm nay)")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="bù các việc đến hạn từ ngày dd/mm/yyyy (mặc định 7 ngày trước --today)"
        ),
    ] = None,
    deliver: Annotated[
        bool, typer.Option("--deliver/--no-deliver", help="gửi thư ngay sau khi xếp hàng")
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Nhắc hạn (flow deadline-reminders): báo cáo năm, hạn xét hồ sơ; mỗi người nhận một thư tổng hợp mỗi ngày,
    không gửi lại việc đã nhắc."""
    day = date_option(today, "--today")
    start = date_option(since, "--since")
    if day is not None and start is not None and start > day:
        raise _fail(f"--since {fmt_date(start)} ở sau --today {fmt_date(day)}", 2)
    from supervisor.reach import Need, reach, run

    reach(Need.flow_run)
    from flows.deadlines import ReminderDay, dashboard_rows, deadline_reminders

    state: State = run(deadline_reminders(today=day, since=start, deliver=deliver, return_state=True))
    if not state.is_completed():
        raise _fail(state.message or "nhắc hạn không thành công")
    result = ReminderDay.model_validate(state.result())
    if json_out:
        _emit_json(result.summary())
        return
    table = Table("Mục", "Chi tiết", "Số lượng", title=f"Nhắc hạn ngày {fmt_date(result.day)}")
    for row in dashboard_rows(result):
        table.add_row(*row.values())
    console.print(table)
    if result.delivery is not None:
        d = result.delivery
        console.print(f"Gửi thư: {d.sent} đã gửi, {d.retried} thử lại sau, {d.failed} lỗi.")
