"""`thidua meeting open|decide|show`, `thidua resubmit` and `thidua demo`: the approval chain from the
command line, through the running service's flows."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flows.cli_common import award_name, console, err_console, text
from flows.cli_common import emit_json as _emit_json
from flows.cli_common import fail as _fail
from models.clock import fmt_date, parse_date, today_vn

meeting_app = typer.Typer(help="Phiên họp Hội đồng Thi đua – Khen thưởng", no_args_is_help=True)

MINUTES_COLUMNS = ("code", "decision", "lower_award", "votes_for", "votes_against", "votes_abstain", "note",
                   "deadline")
MINUTES_HEADERS = {
    "code": "Mã hồ sơ", "decision": "Quyết định", "lower_award": "Hình thức thấp hơn",
    "votes_for": "Đồng ý", "votes_against": "Không đồng ý", "votes_abstain": "Không biểu quyết",
    "note": "Lý do / nội dung bổ sung", "deadline": "Hạn bổ sung",
}




def _resolve(unit: str, on: date | None = None):  # noqa: ANN202
    from models.db import session_scope
    from models.hierarchy import AmbiguousUnit, Hierarchy, UnitNotFound

    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        try:
            return hierarchy.resolve(unit, on=on or today_vn()), hierarchy
        except (UnitNotFound, AmbiguousUnit) as exc:
            raise _fail(str(exc)) from exc


def read_minutes(path: Path, *, meeting_date: date, present: int, series: str, first_number: int,
                 secretary: str = ""):  # noqa: ANN201
    """A minutes file (CSV/XLSX/JSON, one row per agenda item) → Minutes, or a list of problems."""
    from pydantic import ValidationError

    from models.meetings import Minutes
    from models.sheets import FileRefused, read_rows

    try:
        rows = read_rows(path, columns=MINUTES_COLUMNS, labels=MINUTES_HEADERS, required=("code", "decision"))
    except FileRefused as exc:
        return None, [f"tệp {path.name}: {exc}"]
    problems = []
    decisions = []
    for number, raw in rows:
        raw = {k: v for k, v in raw.items() if v not in (None, "")}
        if "deadline" in raw and not isinstance(raw["deadline"], date):
            try:
                raw["deadline"] = parse_date(str(raw["deadline"]))
            except ValueError as exc:
                problems.append(f"dòng {number}: {exc}")
                continue
        decisions.append((number, raw))
    try:
        minutes = Minutes(meeting_date=meeting_date, members_present=present, decision_series=series,
                          first_decision_number=first_number, secretary=secretary,
                          decisions=[raw for _, raw in decisions])
    except ValidationError as exc:
        for err in exc.errors():
            loc = err["loc"]
            if loc and loc[0] == "decisions" and len(loc) > 1:
                number = decisions[int(loc[1])][0]
                field = MINUTES_HEADERS.get(str(loc[2]), str(loc[2])) if len(loc) > 2 else ""
                problems.append(f"dòng {number}, cột «{field}»: {err['msg'].removeprefix('Value error, ')}")
            else:
                problems.append(f"{'.'.join(map(str, loc))}: {err['msg']}")
        return None, problems
    return (None, problems) if problems else (minutes, [])


@meeting_app.command("open")
def meeting_open(unit: str, json_out: Annotated[bool, typer.Option("--json")] = False,
                 wait: Annotated[float, typer.Option(help="số giây chờ phiên họp mở")] = 120.0) -> None:
    """Mở phiên họp: lập chương trình họp và chờ Hội đồng quyết định (trên giao diện hoặc bằng `meeting decide`)."""
    from flows.service import Need, reach, run, run_ui_link, wait_for

    info = reach(Need.deployment, why="phiên họp")
    target, hierarchy = _resolve(unit)
    from prefect.deployments.flow_runs import arun_deployment

    from models.db import session_scope
    from models.meetings import Meeting

    flow_run = run(arun_deployment("council-meeting/council-meeting", parameters={"unit": target.code}, timeout=0,
                                  tags=_tags(target, hierarchy)))

    def opened() -> Meeting | None:
        with session_scope() as session:
            from sqlalchemy import select
            return session.scalars(select(Meeting).where(Meeting.flow_run_id == str(flow_run.id))).first()

    meeting = wait_for(opened, timeout=wait)
    link = run_ui_link(info, str(flow_run.id))
    if meeting is None:
        raise _fail(f"phiên họp chưa mở sau {wait:.0f} giây; xem {link}")
    if json_out:
        _emit_json({"meeting_id": meeting.id, "flow_run_id": str(flow_run.id), "ui": link, "agenda": meeting.agenda})
        return
    _print_agenda(target.name, meeting.agenda)
    console.print(f"Phiên họp #{meeting.id} đang chờ quyết định của Hội đồng: {link}")
    console.print(text("Ghi biên bản bằng tệp: [bold]thidua meeting decide {} --file BIEN-BAN.xlsx[/]", target.code))


def _tags(target, hierarchy) -> list[str]:  # noqa: ANN001
    """Tags the UI can filter by: the province and the level of the council."""
    from flows.naming import unit_slug

    province = hierarchy.province_of(target.id)
    tags = [f"cap:{target.level.value.replace('/', '-')}"]
    if province is not None:
        tags.append(f"tinh:{unit_slug(province.name)}")
    return tags


def _print_agenda(name: str, agenda: list[dict]) -> None:
    table = Table(title=f"Chương trình họp — {name} ({len(agenda)} hồ sơ)")
    for col in ("Mã hồ sơ", "Đối tượng", "Hình thức", "Đơn vị đề nghị", "Hạn xét"):
        table.add_column(col)
    for a in agenda:
        due = fmt_date(date.fromisoformat(a["due_on"])) if a.get("due_on") else ""
        table.add_row(a["code"], a["nominee"], a["award_name"], a["origin_unit"], due)
    console.print(table)


@meeting_app.command("decide")
def meeting_decide(
    unit: str,
    file: Annotated[Path, typer.Option("--file", help="biên bản: CSV hoặc XLSX, mỗi dòng một hồ sơ")],
    meeting_date: Annotated[str | None, typer.Option("--date", help="ngày họp dd/mm/yyyy")] = None,
    present: Annotated[int | None, typer.Option(help="số thành viên dự họp (mặc định: tất cả)")] = None,
    series: Annotated[str | None, typer.Option(help="ký hiệu quyết định, ví dụ QĐ-UBND")] = None,
    number: Annotated[int, typer.Option(help="số quyết định đầu tiên")] = 1,
    secretary: Annotated[str, typer.Option(help="thư ký phiên họp")] = "",
    template: Annotated[bool, typer.Option("--template", help="ghi tệp biên bản mẫu (theo chương trình họp) rồi thoát")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ghi quyết định của Hội đồng từ biên bản: tiếp tục phiên họp đang mở, hoặc áp dụng biên bản của phiên đã họp."""
    from flows.service import connect

    info = connect()
    day = parse_date(meeting_date) if meeting_date else today_vn()
    target, hierarchy = _resolve(unit, on=day)
    from models.db import session_scope
    from models.meetings import check_minutes, council_of, open_meeting_of

    with session_scope() as session:
        council, members = council_of(session=session, unit_id=target.id)
        meeting = open_meeting_of(session=session, unit_id=target.id)
        if template:
            from models.queries import inbox
            from models.sheets import write_template

            agenda = meeting.agenda if meeting else inbox(session=session, unit_id=target.id, hierarchy=hierarchy)
            _write_minutes_template(file, agenda, write_template)
            console.print(f"Đã ghi biên bản mẫu {file} ({len(agenda)} hồ sơ)")
            return
        minutes, problems = read_minutes(file, meeting_date=day, present=len(members) if present is None else present,
                                         series=series or council.decision_series, first_number=number,
                                         secretary=secretary)
        if minutes is not None and meeting is not None:
            problems = check_minutes(session=session, meeting=meeting, minutes=minutes, hierarchy=hierarchy)
        meeting_id = meeting.id if meeting else None
        run_id = meeting.flow_run_id if meeting else None
    if problems:
        _report_problems(problems, json_out)
        raise typer.Exit(1)
    if meeting_id is not None and run_id:
        from flows.service import Need, reach

        info = reach(Need.deployment, why="phiên họp đang mở (chờ quyết định)")
        result = _resume(info, meeting_id, run_id, minutes)
    else:
        from flows.service import Need, reach, run

        reach(Need.flow_run)
        from flows.council import council_meeting, minutes_parameters

        state = run(council_meeting(unit=target.code, **minutes_parameters(unit=target.code, minutes=minutes),
                                    on=day, return_state=True))
        if not state.is_completed():
            data = state.result(raise_on_failure=False)
            problems = (data or {}).get("problems") if isinstance(data, dict) else None
            _report_problems(problems or [state.message or "phiên họp không thành công"], json_out)
            raise typer.Exit(1)
        result = state.result()
    _report_result(target.name, result, json_out)


def _resume(info: dict, meeting_id: int, run_id: str, minutes) -> dict:  # noqa: ANN001
    from prefect.flow_runs import aresume_flow_run

    from flows.inputs import KIND_TO_CHOICE
    from flows.service import run, run_ui_link, wait_for
    from models.db import session_scope
    from models.meetings import Meeting, MeetingStatus

    run_input = {
        "meeting_date": minutes.meeting_date.isoformat(), "members_present": minutes.members_present,
        "decision_series": minutes.decision_series, "first_decision_number": minutes.first_decision_number,
        "secretary": minutes.secretary,
        "agenda_items": [{"code": d.code, "decision": KIND_TO_CHOICE[d.decision], "lower_award": d.lower_award,
                          "votes_for": d.votes_for, "votes_against": d.votes_against,
                          "votes_abstain": d.votes_abstain, "note": d.note} for d in minutes.decisions],
    }
    run(aresume_flow_run(run_id, run_input=run_input))

    def applied() -> dict | None:
        with session_scope() as session:
            m = session.get(Meeting, meeting_id)
            return {"meeting_id": m.id, "counts": m.summary.get("counts", {}),
                    "decision_numbers": m.summary.get("decision_numbers", {})} \
                if m.status == MeetingStatus.applied else None

    result = wait_for(applied, timeout=180)
    if result is None:
        raise _fail(f"đã gửi biên bản nhưng phiên họp chưa áp dụng xong; xem {run_ui_link(info, run_id)}")
    return result


def _report_problems(problems: list[str], json_out: bool) -> None:
    if json_out:
        _emit_json({"refused": True, "problems": problems})
        return
    err_console.print(text("[bold red]Biên bản chưa hợp lệ, chưa áp dụng gì[/] (phiên họp vẫn chờ):"))
    for p in problems:
        err_console.print(f"  • {p}")


def _report_result(name: str, result: dict, json_out: bool) -> None:
    if json_out:
        _emit_json(result)
        return
    console.print(f"Đã áp dụng phiên họp #{result['meeting_id']} của {name} — {counts_line(result.get('counts'))}")
    for form, number in result.get("decision_numbers", {}).items():
        console.print(f"  Quyết định {number}: {award_name(form)}")


MEETING_STATUS_LABELS = {"open": "đang chờ quyết định", "applied": "đã áp dụng", "cancelled": "đã hủy"}
MEETING_COUNT_LABELS = {"conferred": "khen thưởng", "forwarded": "trình cấp trên", "rejected": "không khen thưởng",
                        "returned": "trả lại bổ sung"}


def counts_line(counts: object) -> str:
    """A meeting's outcome counts with Vietnamese labels: «khen thưởng: 2, trả lại bổ sung: 1»."""
    if not isinstance(counts, dict) or not counts:
        return "chưa có quyết định"
    return ", ".join(f"{MEETING_COUNT_LABELS.get(k, k)}: {v}" for k, v in counts.items())


def _write_minutes_template(path: Path, agenda: list[dict], write_template) -> None:  # noqa: ANN001
    from openpyxl import load_workbook

    write_template(path, columns=MINUTES_COLUMNS, labels=MINUTES_HEADERS, title="Biên bản họp Hội đồng",
                   notes=("Quyết định: thông qua / không thông qua / trả lại bổ sung / khen mức thấp hơn.",
                          "Không thông qua và trả lại phải ghi lý do / nội dung cần bổ sung."))
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    for a in agenda:
        ws.append([a["code"], "thông qua", "", None, None, None, "", None])
    wb.save(path)


@meeting_app.command("show")
def meeting_show(unit: str, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Phiên họp đang mở (chương trình họp) và các phiên đã họp của Hội đồng."""
    from sqlalchemy import select

    from models.db import session_scope
    from models.meetings import Meeting

    target, _ = _resolve(unit)
    with session_scope() as session:
        meetings = list(session.scalars(select(Meeting).where(Meeting.unit_id == target.id).order_by(Meeting.id)))
        data = [{"meeting_id": m.id, "status": m.status.value, "opened_on": m.opened_on.isoformat(),
                 "meeting_date": m.meeting_date.isoformat() if m.meeting_date else None,
                 "flow_run_id": m.flow_run_id, "agenda": m.agenda, "summary": m.summary} for m in meetings]
    if json_out:
        _emit_json(data)
        return
    if not data:
        console.print(f"{target.name}: chưa có phiên họp nào")
    for m in data:
        when = fmt_date(date.fromisoformat(m["meeting_date"] or m["opened_on"]))
        state = MEETING_STATUS_LABELS.get(m["status"], m["status"])
        outcome = f"; {counts_line(m['summary'].get('counts'))}" if m["status"] == "applied" else ""
        console.print(f"Phiên #{m['meeting_id']} ngày {when}: {state}; {len(m['agenda'])} hồ sơ{outcome}")
        if m["status"] == "open":
            _print_agenda(target.name, m["agenda"])


def resubmit_command(codes: list[str], on: Annotated[str | None, typer.Option(help="ngày nộp lại dd/mm/yyyy")] = None,
                     actor: Annotated[str, typer.Option(help="người nộp lại")] = "") -> None:
    """Nộp lại hồ sơ đã bổ sung cho Hội đồng đã trả lại (thời hạn xét tiếp tục tính)."""
    from flows.service import Need, reach, run

    reach(Need.flow_run)
    from flows.intake import resubmit

    state = run(resubmit(codes=codes, on=parse_date(on) if on else None, actor=actor, return_state=True))
    if not state.is_completed():
        raise _fail(state.message or "không nộp lại được")
    console.print(f"Đã nộp lại: {', '.join(state.result()['resubmitted'])}")


def demo_command(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Chạy thử cả chuỗi trên dữ liệu mẫu với dịch vụ đang chạy: nộp hồ sơ ở Cẩm Thành, họp ở mọi cấp đến khi khen."""
    from flows.service import Need, reach, run

    info = reach(Need.deployment, why="chạy thử")
    from flows import demo
    from flows.council import council_meeting, receive_forwarded
    from flows.intake import intake, resubmit

    day = today_vn()
    state = run(intake(rows=demo.demo_rows(), source="demo", actor="thidua demo", received_on=day, return_state=True))
    if not state.is_completed():
        raise _fail(state.message or "không tiếp nhận được hồ sơ mẫu")
    codes = [n["code"] for n in state.result()["nominations"]]
    console.print(f"Đã nộp {len(codes)} hồ sơ mẫu tại xã Cẩm Thành / xã Cẩm Thạch")
    number, meetings = 1, 0
    for _ in range(12):
        if again := demo.returned_codes():
            run(resubmit(codes=again, on=day, actor="UBND xã Cẩm Thạch"))
            console.print(f"Nộp lại hồ sơ đã bổ sung: {', '.join(again)}")
        pending = demo.pending_by_unit()
        if not pending:
            break
        for unit_code, items in pending.items():
            minutes = demo.minutes_for(unit_code, items, day, number)
            result = run(council_meeting(unit=unit_code, minutes=minutes, on=day))
            meetings += 1
            number += max(1, len(result.get("decision_numbers", {})))
            run(receive_forwarded(meeting_id=result["meeting_id"], on=day))
            _report_result(demo.unit_name(unit_code), result, json_out=False) if not json_out else None
    statuses = demo.paths(codes)
    problems = demo.forms_conferred_where_expected(statuses)
    if json_out:
        _emit_json({"meetings": meetings, "nominations": statuses, "problems": problems})
    else:
        table = Table(title=f"Đường đi của {len(statuses)} hồ sơ ({meetings} phiên họp)")
        for col in ("Mã", "Đối tượng", "Hình thức", "Đường đi", "Kết quả"):
            table.add_column(col)
        for s in statuses:
            path = " → ".join(u["name"] for u in s["chain"] if u["state"] in ("passed", "here", "done"))
            outcome = s["status_label"] + (f" ({s['decision_number']})" if s["decision_number"] else "")
            table.add_row(s["code"], s["nominee"], s["award_name"], path, outcome)
        console.print(table)
        console.print(f"Giao diện: {info.get('ui_url')} — thư đã gửi: `thidua mail ls`")
    if problems:
        raise _fail("; ".join(problems))
