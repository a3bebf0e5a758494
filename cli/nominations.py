"""Nominations from the command line: `thidua nominate`, `status`, `inbox`, `units`, `resubmit`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.common import JsonOpt, award_name, console, date_option, err_console, find_unit, iso_to_vn, text
from cli.common import emit_json as _emit_json
from cli.common import fail as _fail
from models.clock import today_vn

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

    from models.intake import IntakeRefused, IntakeResult, TakenIn


def nominate(
    file: Annotated[Path | None, typer.Argument(help="tệp CSV, XLSX hoặc JSON")] = None,
    template: Annotated[
        Path | None, typer.Option("--template", help="ghi tệp XLSX mẫu trống vào đường dẫn này")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="với --template: ghi đè tệp đã có")] = False,
    received: Annotated[str | None, typer.Option(help="ngày tiếp nhận dd/mm/yyyy (mặc định hôm nay)")] = None,
    actor: Annotated[str, typer.Option(help="người nộp")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Nộp hồ sơ đề nghị khen thưởng từ tệp; tệp có dòng lỗi bị từ chối toàn bộ, liệt kê mọi lỗi theo dòng."""
    from models.sheets import FileRefused

    if template is not None:
        from models.intake import write_nomination_template

        try:
            write_nomination_template(template, overwrite=force)
        except FileRefused as exc:
            raise _fail(f"{exc}{'' if force else ' (thêm --force để ghi đè)'}", 2) from None
        console.print(f"Đã ghi tệp mẫu {template}")
        return
    if file is None:
        raise _fail("cần chỉ ra tệp hồ sơ (hoặc --template TỆP để lấy tệp mẫu)", 2)
    from models.intake import IntakeRefused, read_nomination_file

    try:
        rows = read_nomination_file(file)
    except FileRefused as exc:
        raise _fail(str(exc), 2) from None
    result = run_intake(rows=rows, source=file.name, actor=actor, received_on=date_option(received))
    if isinstance(result, IntakeRefused):
        if json_out:
            _emit_json(result.model_dump(mode="json"))
        else:
            err_console.print(
                text(
                    "[bold red]Tệp {} bị từ chối[/] — {} lỗi, không lưu dòng nào:",
                    file.name,
                    len(result.errors),
                )
            )
            for e in result.errors:
                err_console.print(f"  • {e}")
        raise typer.Exit(1)
    if json_out:
        _emit_json(result.nominations)
        return
    if result.replayed:
        console.print("Tệp này đã được tiếp nhận trước đây; không lưu lại lần nữa.", style="yellow")
    units = _unit_names(result.nominations)
    title = f"Đã tiếp nhận {len(result.nominations)} hồ sơ"
    table = Table("Mã hồ sơ", "Đối tượng", "Đơn vị", "Hình thức", "Hạn xét", title=title)
    for n in result.nominations[:200]:
        table.add_row(
            n["code"],
            n["nominee"],
            n.get("unit") or units.get(n.get("unit_id", 0), ""),
            award_name(n["award"]),
            iso_to_vn(n.get("due_on")),
        )
    console.print(table)
    if len(result.nominations) > 200:
        console.print(f"… và {len(result.nominations) - 200} hồ sơ khác")
    for n in result.nominations:
        for warning in n.get("warnings", []):
            console.print(text("[yellow]Lưu ý:[/] hồ sơ {} «{}»: {}", n["code"], n["nominee"], warning))


def run_intake(
    *, rows: list[tuple[int, dict]], source: str, actor: str, received_on: date | None
) -> IntakeResult | IntakeRefused:
    """Through the `intake` flow: on the running service, or on Prefect's temporary server when it is not
    running (the one rule, supervisor/reach.py); the flow queues the councils' letters either way."""
    from supervisor.reach import Need, reach

    reach(Need.flow_run)
    from flows.intake import intake, intake_parameters
    from flows.refusal import is_refused
    from models.intake import IntakeRefused, IntakeResult
    from supervisor.reach import run

    parameters = intake_parameters(rows=rows, source=source)
    state: State = run(
        intake(**parameters, source=source, actor=actor, received_on=received_on, return_state=True)
    )
    if is_refused(state):
        return IntakeRefused.model_validate(state.result())
    if not state.is_completed():
        raise _fail(state.message or "tiếp nhận không thành công")
    return IntakeResult.model_validate(state.result())


def _unit_names(nominations: list[TakenIn]) -> dict[int, str]:
    """Unit names for a replayed batch, whose rows carry only the unit's id."""
    wanted = {n["unit_id"] for n in nominations if not n.get("unit") and n.get("unit_id")}
    if not wanted:
        return {}
    from models.db import session_scope
    from models.hierarchy import Hierarchy

    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
    return {i: hierarchy.get(i).name for i in wanted}


def status(code: str, json_out: JsonOpt = False) -> None:
    """Đường đi của một hồ sơ: các bước đã qua và các cấp còn lại."""
    from models.db import session_scope
    from models.queries import NominationNotFound, nomination_status, votes_text

    with session_scope() as session:
        try:
            data = nomination_status(session=session, code=code)
        except NominationNotFound as exc:
            raise _fail(str(exc)) from exc
    if json_out:
        _emit_json(data)
        return
    from models.nominations import Action

    console.print(text("[bold]{}[/] — {} — {}", data["code"], data["nominee"], data["award_name"]))
    due = f", hạn xét {iso_to_vn(data['due_on'])}" if data["due_on"] else ""
    console.print(
        text("Trạng thái: [bold]{}[/] tại {}{}", data["status_label"], data["current_unit"]["name"], due)
    )
    if data.get("nominee_details"):
        console.print(text("Đối tượng: {}", data["nominee_details"]))
    if data.get("review_type"):
        console.print(text("Đợt xét khen thưởng: {}", data["review_type_label"]))
    for warning in data.get("warnings", []):
        console.print(text("[yellow]Lưu ý:[/] {}", warning))
    if data.get("awarded") and data["awarded"] != data["award"]:
        console.print(f"Hình thức được khen: {award_name(data['awarded'])}")
    marks = {"passed": "✓", "here": "▶", "done": "■", "ahead": "·", "not-reached": "×", "unknown": "?"}
    console.print("Chuỗi xét: " + " → ".join(f"{marks[u['state']]} {u['name']}" for u in data["chain"]))
    table = Table("Ngày", "Đơn vị", "Hành động", "Biểu quyết", "Ghi chú / Quyết định", title="Các bước")
    for s in data["steps"]:
        votes = s["votes"]
        action = Action(s["action"]).label
        if s["to_unit"] and s["action"] == Action.forward:
            action += f" → {s['to_unit']['name']}"
        if s.get("award") and s["award"] != data["award"]:
            action += f" ({award_name(s['award'])})"
        table.add_row(
            iso_to_vn(s["on_date"]),
            (s["unit"] or {}).get("name", ""),
            action,
            votes_text(votes, present=False),
            " ".join(x for x in (s["decision_number"] or "", s["note"]) if x),
        )
    console.print(table)


def inbox(
    unit: str,
    on: Annotated[str | None, typer.Option(help="ngày dd/mm/yyyy để xác định đơn vị")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Hồ sơ đang chờ Hội đồng của đơn vị xét, hoặc chờ quyết định của người đứng đầu, kèm thời hạn."""
    from models.db import session_scope
    from models.nominations import AWAITING, Status
    from models.queries import inbox as inbox_of

    target, hierarchy = find_unit(unit, date_option(on) or today_vn())
    with session_scope() as session:
        items = inbox_of(session=session, unit_id=target.id, hierarchy=hierarchy, statuses=AWAITING)
    if json_out:
        _emit_json(items)
        return
    title = f"Hồ sơ chờ xét tại {hierarchy.describe(target)} ({len(items)})"
    table = Table("Mã hồ sơ", "Đối tượng", "Hình thức", "Đơn vị đề nghị", "Trạng thái", "Hạn", title=title)
    for n in items:
        table.add_row(
            n["code"],
            n["nominee"],
            n["award_name"],
            n["origin_unit"],
            Status(n["status"]).label,
            iso_to_vn(n["due_on"]),
        )
    console.print(table)


def units(
    name: str,
    on: Annotated[str | None, typer.Option(help="ngày dd/mm/yyyy")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Tìm đơn vị theo mã hoặc tên (không cần dấu)."""
    found, hierarchy = find_unit(name, date_option(on))
    chain = [u.public() for u in hierarchy.ancestors(found.id)]
    if json_out:
        _emit_json(
            {
                **found.public(),
                "valid_from": found.valid_from.isoformat(),
                "valid_to": found.valid_to.isoformat() if found.valid_to else None,
                "ancestors": chain,
            }
        )
    else:
        console.print(text("{} [dim]({})[/]", hierarchy.describe(found), found.code))
        console.print(" → ".join(u["name"] for u in chain))


def resubmit_command(
    codes: list[str],
    on: Annotated[str | None, typer.Option(help="ngày nộp lại dd/mm/yyyy")] = None,
    actor: Annotated[str, typer.Option(help="người nộp lại")] = "",
) -> None:
    """Nộp lại hồ sơ đã bổ sung cho Hội đồng đã trả lại (thời hạn xét tiếp tục tính)."""
    from supervisor.reach import Need, reach, run

    reach(Need.flow_run)
    from flows.intake import ResubmitResult, resubmit

    state: State = run(resubmit(codes=codes, on=date_option(on, "--on"), actor=actor, return_state=True))
    if not state.is_completed():
        raise _fail(state.message or "không nộp lại được")
    result = ResubmitResult.model_validate(state.result())
    console.print(f"Đã nộp lại: {', '.join(result.resubmitted)}")
