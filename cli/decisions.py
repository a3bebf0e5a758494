"""`thidua decision issue`: the registry (văn thư) records the head's decision, through the
`issue-decision` flow (on the running service, or on Prefect's temporary server: the one rule)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import award_name, console, date_option, emit_json, err_console, fail, text

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

decision_app = typer.Typer(help="Quyết định khen thưởng của người đứng đầu", no_args_is_help=True)


@decision_app.command("issue")
def decision_issue(
    unit: str,
    codes: Annotated[list[str] | None, typer.Argument(help="mã các hồ sơ (hoặc dùng --meeting)")] = None,
    number: Annotated[str, typer.Option("--number", help="số quyết định, ví dụ 123/QĐ-UBND")] = "",
    on: Annotated[str | None, typer.Option("--date", help="ngày ký quyết định dd/mm/yyyy")] = None,
    meeting: Annotated[
        int | None, typer.Option("--meeting", help="phiên họp: mọi hồ sơ Hội đồng đã đề nghị khen thưởng")
    ] = None,
    refuse: Annotated[
        bool, typer.Option("--refuse", help="không khen thưởng (ghi lý do bằng --reason)")
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="lý do không khen thưởng")] = "",
    auto_number: Annotated[
        bool, typer.Option("--auto-number", help="hệ thống cấp số tiếp theo của đơn vị trong năm")
    ] = False,
    signer: Annotated[
        str, typer.Option("--signer", help="người ký, ví dụ «KT. CHỦ TỊCH – PHÓ CHỦ TỊCH»")
    ] = "",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ghi quyết định khen thưởng (số, ngày ký) của người đứng đầu cho các hồ sơ Hội đồng đã đề nghị;
    --refuse: không khen thưởng. Ở trung ương (không họp Hội đồng): quyết định hoặc tờ trình cấp trên."""
    from supervisor.reach import Need, reach, run

    day = date_option(on, "--date")
    if day is None:
        raise fail("thiếu ngày ký quyết định (--date dd/mm/yyyy)", 2)
    reach(Need.flow_run)
    from flows.decisions import issue_decision
    from flows.refusal import is_refused

    state: State = run(
        issue_decision(  # type: ignore[call-overload]  # Prefect's overloads
            unit=unit,
            decision_date=day,
            number=number,
            meeting_id=meeting,
            codes=list(codes or []),
            refuse=refuse,
            reason=reason,
            auto_number=auto_number,
            signer=signer,
            actor="thidua decision issue",
            return_state=True,
        )
    )
    if is_refused(state):
        problems = state.result().problems
        if json_out:
            emit_json({"refused": True, "problems": problems})
        else:
            err_console.print(text("[bold red]Chưa ghi được quyết định, chưa áp dụng gì[/]:"))
            for p in problems:
                err_console.print(f"  • {p}")
        raise typer.Exit(1)
    if not state.is_completed():
        raise fail(f"không ghi được quyết định ({state.name}): {(state.message or '').splitlines()[0][:300]}")
    issued = state.result()
    if json_out:
        emit_json(issued.model_dump(mode="json"))
        return
    from models.clock import fmt_date
    from models.meetings import Outcome

    if issued.replayed:
        console.print(
            f"Quyết định số {issued.number} đã được ghi trước đây: không thay đổi gì, không gửi thư lại."
        )
    else:
        console.print(
            f"Đã ghi {issued.kind.label} số {issued.number} ngày {fmt_date(issued.decision_date)} "
            f"của {issued.unit_name}: {len(issued.outcomes)} hồ sơ; {issued.letters or 0} thư thông báo."
        )
    from models.db import session_scope
    from models.nominations import by_code

    with session_scope() as session:
        for code, outcome in issued.outcomes.items():
            n = by_code(session=session, code=code)
            form = award_name(n.awarded_code or n.award_code) if n else ""
            console.print(f"  {code}: {Outcome(outcome).label} — {form}")


@decision_app.command("return")
def decision_return(
    unit: str,
    code: Annotated[str, typer.Argument(help="mã hồ sơ")],
    reason: Annotated[str, typer.Option("--reason", help="nội dung cần bổ sung")] = "",
    on: Annotated[str | None, typer.Option("--date", help="ngày văn bản trả lại dd/mm/yyyy")] = None,
    actor: Annotated[str, typer.Option(help="người thực hiện")] = "",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Cơ quan trung ương (Bộ Nội vụ) trả lại hồ sơ chưa đầy đủ bằng văn bản; quá 5 ngày làm việc kể từ khi
    nhận hồ sơ thì việc trả lại được ghi là quá thời hạn."""
    from models.clock import fmt_date, today_vn
    from models.db import session_scope
    from models.decisions import return_incomplete
    from models.hierarchy import Hierarchy
    from models.nominations import TransitionError, steps_of
    from notifications.approval_letters import central_return_letters
    from notifications.outbox import enqueue_many

    day = date_option(on, "--date") or today_vn()
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        try:
            by = actor or "thidua decision return"
            n = return_incomplete(
                session=session, hierarchy=hierarchy, unit=unit, code=code, on=day, reason=reason, actor=by
            )
        except TransitionError as exc:
            raise fail(str(exc)) from exc
        assert n.id is not None
        step = steps_of(session=session, nomination_id=n.id)[-1]
        letters = central_return_letters(
            session=session, hierarchy=hierarchy, unit_id=n.current_unit_id, on=day, codes=[n.code]
        )
        enqueue_many(session=session, items=letters)
        late = step.missed_on
        result = {
            "code": n.code,
            "returned_on": day.isoformat(),
            "deadline": n.return_deadline.isoformat() if n.return_deadline else None,
            "late": late is not None,
            "time_limit": late.isoformat() if late else None,
            "letters": len(letters),
        }
    if json_out:
        emit_json(result)
        return
    console.print(
        f"Đã trả lại hồ sơ {code} ngày {fmt_date(day)} để bổ sung; {len(letters)} văn bản gửi đơn vị đề nghị."
    )
    if late is not None:
        err_console.print(
            text(
                "[yellow]{}[/]",
                f"Quá thời hạn trả lại hồ sơ chưa đầy đủ (hạn {fmt_date(late)}): đã ghi nhận.",
            )
        )


@decision_app.command("copies")
def decision_copies(
    on: Annotated[str | None, typer.Option("--date", help="ngày xét, dd/mm/yyyy (mặc định: hôm nay)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Các quyết định của Thủ tướng Chính phủ, Chủ tịch nước mà bản sao (thư thông báo cho đơn vị đề nghị)
    chưa được gửi trong 10 ngày làm việc kể từ ngày ký. Mã thoát 1 khi có quyết định quá hạn."""
    from rich.table import Table

    from models.clock import fmt_date, today_vn
    from models.db import session_scope
    from models.decisions import copies_late
    from models.hierarchy import Hierarchy

    day = date_option(on, "--date") or today_vn()
    with session_scope() as session:
        late = copies_late(session=session, hierarchy=Hierarchy.load(session), today=day)
    if json_out:
        emit_json([c.model_dump(mode="json") for c in late])
    elif not late:
        console.print(f"Đến ngày {fmt_date(day)}, mọi bản sao quyết định đã được gửi đúng thời hạn.")
    else:
        table = Table("Quyết định", "Ngày ký", "Của", "Hạn gửi bản sao", "Đơn vị đề nghị chưa nhận đúng hạn")
        for c in late:
            table.add_row(
                c.number, fmt_date(c.decision_date), c.unit_name, fmt_date(c.due_on), "\n".join(c.proposers)
            )
        console.print(table)
    if late:
        raise typer.Exit(1)
