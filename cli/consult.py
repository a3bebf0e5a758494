"""`thidua consult request|answer|show` (lấy ý kiến hiệp y) before a province forwards a state-level award.

Mounted by cli/app.py: `app.add_typer(consult_app, name="consult")`. Requests and answers change a
dossier (an objection returns it), so they go through the `consultation-*` flows, like every change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.common import JsonOpt, console, date_option, iso_to_vn, text
from cli.common import emit_json as _emit_json
from cli.common import fail as _fail
from models.clock import today_vn

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

consult_app = typer.Typer(
    help="Lấy ý kiến hiệp y (thuế, bảo hiểm xã hội, môi trường…) trước khi trình khen thưởng cấp Nhà nước",
    no_args_is_help=True,
)
OnOpt = Annotated[str | None, typer.Option("--on", help="ngày dd/mm/yyyy (mặc định hôm nay)")]
TodayOpt = Annotated[str | None, typer.Option("--today", help="ngày dd/mm/yyyy (mặc định hôm nay)")]


def _run(state: State, json_out: bool) -> dict:
    from flows.refusal import is_refused

    if is_refused(state):
        if json_out:
            _emit_json(state.result())
        raise _fail(state.message or "không thực hiện được", 1)
    if not state.is_completed():
        raise _fail(state.message or "không thực hiện được")
    result = state.result()
    assert isinstance(result, dict)
    if json_out:
        _emit_json(result)
    return result


@consult_app.command("request")
def request_command(
    code: Annotated[str, typer.Argument(help="mã hồ sơ, ví dụ HS2026-000012")],
    on: OnOpt = None,
    actor: Annotated[str, typer.Option(help="người gửi")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Gửi văn bản lấy ý kiến hiệp y đến từng cơ quan theo hình thức khen thưởng (models/data/consultation.yaml)."""
    from supervisor.reach import Need, reach, run

    reach(Need.flow_run)
    from flows.consultation import consultation_request

    result = _run(
        run(consultation_request(code=code, on=date_option(on, "--on"), actor=actor, return_state=True)),
        json_out,
    )
    if not json_out:
        asked = ", ".join(result["asked"]) or "không có cơ quan mới"
        console.print(text("Hồ sơ {}: đã gửi văn bản lấy ý kiến hiệp y đến {}", result["code"], asked))


@consult_app.command("answer")
def answer_command(
    code: Annotated[str, typer.Argument(help="mã hồ sơ")],
    body: Annotated[str, typer.Option("--body", help="mã cơ quan, ví dụ thue, bhxh, moi-truong")],
    ok: Annotated[bool, typer.Option("--ok", help="cơ quan thống nhất")] = False,
    objection: Annotated[
        str | None, typer.Option("--objection", help="cơ quan không thống nhất: lý do")
    ] = None,
    on: OnOpt = None,
    actor: Annotated[str, typer.Option(help="người ghi nhận")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Ghi nhận ý kiến hiệp y của một cơ quan; không thống nhất thì hồ sơ được trả lại đơn vị đề nghị, nêu rõ lý do."""
    if ok == (objection is not None):
        raise _fail("cần đúng một trong hai: --ok hoặc --objection LÝ_DO", 2)
    from supervisor.reach import Need, reach, run

    reach(Need.flow_run)
    from flows.consultation import consultation_answer

    state = run(
        consultation_answer(
            code=code,
            body=body,
            objection=objection,
            on=date_option(on, "--on"),
            actor=actor,
            return_state=True,
        )
    )
    result = _run(state, json_out)
    if not json_out:
        if result["returned"]:
            console.print(
                text("Hồ sơ {}: {} không thống nhất; hồ sơ được trả lại đơn vị đề nghị", result["code"], body)
            )
        else:
            console.print(text("Hồ sơ {}: đã ghi nhận ý kiến thống nhất của «{}»", result["code"], body))


@consult_app.command("show")
def show_command(
    code: Annotated[str, typer.Argument(help="mã hồ sơ")], on: OnOpt = None, json_out: JsonOpt = False
) -> None:
    """Các cơ quan đã được lấy ý kiến hiệp y, trả lời của từng cơ quan, và hồ sơ còn phải chờ hay không."""
    from models import nominations as nm
    from models.consultation import consultation_view
    from models.db import session_scope

    with session_scope() as session:
        nomination = nm.by_code(session=session, code=code)
        if nomination is None:
            raise _fail(f"không tìm thấy hồ sơ «{code}»")
        data = consultation_view(
            session=session, nomination=nomination, today=date_option(on, "--on") or today_vn()
        )
    if json_out:
        _emit_json(data)
        return
    table = Table(
        "Cơ quan", "Ngày gửi", "Hạn trả lời", "Ý kiến", "Lý do", title=f"Ý kiến hiệp y — hồ sơ {data['code']}"
    )
    for r in data["requests"]:
        table.add_row(
            r["name"], iso_to_vn(r["requested_on"]), iso_to_vn(r["due_on"]), r["answer_label"], r["note"]
        )
    console.print(table)
    console.print(data["reason"] or "Không còn chờ ý kiến hiệp y nào.")


@consult_app.command("remind")
def remind_command(today: TodayOpt = None, json_out: JsonOpt = False) -> None:
    """Nhắc (một lần) các cơ quan chưa trả lời hiệp y khi sắp hết thời hạn."""
    from supervisor.reach import Need, reach, run

    reach(Need.flow_run)
    from flows.consultation import consultation_remind

    result = _run(run(consultation_remind(today=date_option(today, "--today"), return_state=True)), json_out)
    if not json_out:
        console.print(f"Đã gửi {result['letters']} thư nhắc trả lời hiệp y")
