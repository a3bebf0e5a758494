"""`thidua meeting open|decide|show`, `thidua resubmit` and `thidua demo`: the approval chain from the
command line, through the running service's flows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.table import Table

from cli.common import console, err_console, find_unit, text
from cli.common import emit_json as _emit_json
from cli.common import fail as _fail
from models.clock import fmt_date, parse_date, today_vn

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun, State
    from sqlmodel import Session

    from models.hierarchy import Hierarchy, UnitRef
    from models.meetings import Meeting, MeetingApplied, Minutes

meeting_app = typer.Typer(help="Phiên họp Hội đồng Thi đua – Khen thưởng", no_args_is_help=True)

MINUTES_COLUMNS = (
    "code",
    "decision",
    "lower_award",
    "votes_for",
    "votes_against",
    "votes_abstain",
    "written_for",
    "written_against",
    "written_abstain",
    "note",
    "deadline",
)
MINUTES_HEADERS = {
    "code": "Mã hồ sơ",
    "decision": "Quyết định",
    "lower_award": "Hình thức thấp hơn",
    "votes_for": "Đồng ý",
    "votes_against": "Không đồng ý",
    "votes_abstain": "Không biểu quyết",
    "written_for": "Văn bản: đồng ý",
    "written_against": "Văn bản: không đồng ý",
    "written_abstain": "Văn bản: không biểu quyết",
    "note": "Lý do / nội dung bổ sung",
    "deadline": "Hạn bổ sung",
}


def _resolve(unit: str, on: date | None = None) -> tuple[UnitRef, Hierarchy]:
    return find_unit(unit, on or today_vn())


def read_minutes(
    path: Path, *, meeting_date: date, present: int, secretary: str = ""
) -> tuple[Minutes | None, list[str], Callable[[int], str]]:
    """A minutes file (CSV/XLSX/JSON, one row per agenda item) → Minutes, or every problem of the file and
    of the model at once (each named by its row); with the function that names a decision by its row, for
    the check against the meeting (`apply_and_queue`, in the transaction that applies the minutes)."""
    from models.meetings import parse_minutes
    from models.sheets import FileRefused, read_rows

    try:
        rows = read_rows(path, columns=MINUTES_COLUMNS, labels=MINUTES_HEADERS, required=("code", "decision"))
    except FileRefused as exc:
        return None, [str(exc)], lambda index: f"mục {index + 1}"
    problems: list[str] = []
    numbers, decisions = [], []
    for number, raw in rows:
        raw = {k: v for k, v in raw.items() if v not in (None, "")}
        if "deadline" in raw and not isinstance(raw["deadline"], date):
            try:
                raw["deadline"] = parse_date(str(raw["deadline"]))
            except ValueError as exc:
                problems.append(f"dòng {number}: {exc}")
                del raw["deadline"]
        numbers.append(number)
        decisions.append(raw)
    data = {
        "meeting_date": meeting_date,
        "members_present": present,
        "secretary": secretary,
        "decisions": decisions,
    }

    def row(index: int) -> str:
        code = str(decisions[index].get("code") or "").strip().upper()
        return f"dòng {numbers[index]}" + (f" (hồ sơ {code})" if code else "")

    minutes, found = parse_minutes(data, item_label=row)
    problems += found
    return (None, problems, row) if problems or minutes is None else (minutes, [], row)


@meeting_app.command("open")
def meeting_open(
    unit: str,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    wait: Annotated[float, typer.Option(help="số giây chờ phiên họp mở")] = 120.0,
) -> None:
    """Mở phiên họp: lập chương trình họp và chờ Hội đồng quyết định (trên giao diện hoặc bằng `meeting decide`)."""
    from supervisor.reach import Need, reach, run, run_ui_link, wait_for

    info = reach(Need.deployment, why="phiên họp")
    target, hierarchy = _resolve(unit)
    from prefect.deployments.flow_runs import arun_deployment
    from sqlalchemy import select
    from sqlmodel import col

    from flows.council import read_state, settle_open_meetings
    from flows.refusal import is_refused
    from models.db import session_scope
    from models.meetings import Meeting, MeetingAlreadyOpen, council_of, open_meetings_of

    run(settle_open_meetings(target.id))
    with session_scope() as session:
        waiting = [m for m in open_meetings_of(session=session, unit_id=target.id) if m.waits_for_decisions]
        if waiting:
            council, _ = council_of(session=session, unit_id=target.id)
            link = run_ui_link(info, waiting[0].flow_run_id) if waiting[0].flow_run_id else ""
            raise _fail(str(MeetingAlreadyOpen(waiting[0], council)) + (f"; xem {link}" if link else ""))
    flow_run: FlowRun = run(
        arun_deployment(
            "council-meeting/council-meeting",
            parameters={"unit": target.code},
            timeout=0,
            tags=meeting_tags(target.code),
        )
    )
    link = run_ui_link(info, str(flow_run.id))

    def opened() -> Meeting | State | None:
        """The meeting once open, or the run's final state if it ended without opening one."""
        with session_scope() as session:
            meeting = session.scalars(
                select(Meeting).where(col(Meeting.flow_run_id) == str(flow_run.id))
            ).first()
        if meeting is not None:
            return meeting
        state: State | None = run(read_state(str(flow_run.id)))
        return state if state is not None and state.is_final() else None

    found = cast("Meeting | State | None", wait_for(opened, timeout=wait, every=1.0))  # mypy joins the union
    if found is None:
        raise _fail(f"phiên họp chưa mở sau {wait:.0f} giây; xem {link}")
    if not isinstance(found, Meeting):
        if is_refused(found):
            raise _fail(found.message or "")
        raise _fail(f"phiên họp không mở được ({found.name}); xem {link}")
    meeting = found
    if json_out:
        _emit_json(
            {"meeting_id": meeting.id, "flow_run_id": str(flow_run.id), "ui": link, "agenda": meeting.agenda}
        )
        return
    _print_agenda(target.name, meeting.agenda)
    console.print(f"Phiên họp #{meeting.id} đang chờ quyết định của Hội đồng: {link}")
    console.print(
        text("Ghi biên bản bằng tệp: [bold]thidua meeting decide {} --file BIEN-BAN.xlsx[/]", target.code)
    )


def meeting_tags(unit_code: str) -> list[str]:
    """Tags the UI can filter by (the council's province and level), the same the run gives itself."""
    from flows.naming import find_place, tags_of

    place = find_place(unit_code)
    return tags_of([place] if place is not None else [])


def _print_agenda(name: str, agenda: list[dict]) -> None:
    title = f"Chương trình họp — {name} ({len(agenda)} hồ sơ)"
    table = Table("Mã hồ sơ", "Đối tượng", "Hình thức", "Đơn vị đề nghị", "Hạn xét", title=title)
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
    secretary: Annotated[str, typer.Option(help="thư ký phiên họp")] = "",
    template: Annotated[
        bool, typer.Option("--template", help="ghi tệp biên bản mẫu (theo chương trình họp) rồi thoát")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="với --template: ghi đè tệp đã có")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ghi quyết định của Hội đồng từ biên bản: tiếp tục phiên họp đang mở, hoặc áp dụng biên bản của phiên đã họp."""
    from models.db import session_scope
    from models.meetings import council_of
    from supervisor.reach import connect, run

    info = connect()
    day = _meeting_day(meeting_date)
    target, hierarchy = _resolve(unit, on=day)
    if info is not None:  # a meeting whose run ended or was deleted no longer holds the council
        from flows.council import settle_open_meetings

        run(settle_open_meetings(target.id))
    with session_scope() as session:
        council, members = council_of(session=session, unit_id=target.id)
        waiting = _waiting_meeting(session, target.id)
        if template:
            _write_template(session, file, waiting, target, hierarchy, force=force)
            return
        minutes, problems, row = read_minutes(
            file, meeting_date=day, present=len(members) if present is None else present, secretary=secretary
        )
        meeting_id, run_id = (waiting.id, waiting.flow_run_id) if waiting else (None, None)
    if problems or minutes is None:
        _report_problems(problems, json_out, waiting=meeting_id is not None)
        raise typer.Exit(1)
    if meeting_id is not None and run_id:
        from supervisor.reach import Need, reach

        service = reach(Need.deployment, why="phiên họp đang mở (chờ quyết định)")
        result = _decide_waiting(service, meeting_id, run_id, target.code, minutes, row, json_out)
    else:
        result = _decide_in_a_new_run(target.code, minutes, day, json_out)
    _report_result(target.name, result, json_out)


def _meeting_day(meeting_date: str | None) -> date:
    try:
        return parse_date(meeting_date) if meeting_date else today_vn()
    except ValueError as exc:
        raise _fail(str(exc)) from exc


def _waiting_meeting(session: Session, unit_id: int) -> Meeting | None:
    """The council's open meeting whose run waits for its decisions, if any."""
    from models.meetings import open_meetings_of

    meetings = open_meetings_of(session=session, unit_id=unit_id)
    return next((m for m in meetings if m.waits_for_decisions and m.flow_run_id), None)


def _write_template(
    session: Session,
    file: Path,
    waiting: Meeting | None,
    target: UnitRef,
    hierarchy: Hierarchy,
    *,
    force: bool,
) -> None:
    """A minutes file to fill in: the waiting meeting's agenda, else what waits in the council's inbox."""
    from models.queries import inbox
    from models.sheets import FileRefused

    agenda = waiting.agenda if waiting else inbox(session=session, unit_id=target.id, hierarchy=hierarchy)
    try:
        _write_minutes_template(file, agenda, overwrite=force)
    except FileRefused as exc:
        raise _fail(f"{exc}{'' if force else ' (thêm --force để ghi đè)'}", 2) from None
    console.print(f"Đã ghi biên bản mẫu {file} ({len(agenda)} hồ sơ)")


def _decide_in_a_new_run(unit_code: str, minutes: Minutes, day: date, json_out: bool) -> MeetingApplied:
    """No meeting waits: a `council-meeting` run applies the minutes of a meeting already held."""
    from flows.council import council_meeting, minutes_parameters
    from flows.refusal import is_refused
    from supervisor.reach import Need, reach, run

    reach(Need.flow_run)
    state: State = run(
        council_meeting(
            unit=unit_code,  # type: ignore[call-overload]  # Prefect's overloads
            **minutes_parameters(unit=unit_code, minutes=minutes),
            on=day,
            return_state=True,
        )
    )
    if is_refused(state):
        _report_problems(state.result().problems, json_out, waiting=False)
        raise typer.Exit(1)
    if not state.is_completed():
        raise _fail(
            f"phiên họp không áp dụng được ({state.name}): {(state.message or '').splitlines()[0][:300]}"
        )
    from prefect.exceptions import MissingResult

    try:
        return state.result()
    except MissingResult:  # Prefect handed back the final state from its API, without its data (under load)
        return applied_by_run(unit_code, str(state.state_details.flow_run_id))


def applied_by_run(unit_code: str, flow_run_id: str) -> MeetingApplied:
    """What a completed `council-meeting` run applied, read back from the app database (its meeting)."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.db import session_scope
    from models.hierarchy import Hierarchy
    from models.meetings import Meeting, applied_result

    with session_scope() as session:
        meeting = session.scalars(select(Meeting).where(col(Meeting.flow_run_id) == flow_run_id)).first()
        if meeting is None:
            raise _fail(f"phiên họp đã chạy xong; xem kết quả bằng `thidua meeting show {unit_code}`")
        return applied_result(
            session=session, meeting=meeting, hierarchy=Hierarchy.load(session), unit=unit_code
        )


def _decide_waiting(
    info: dict | None,
    meeting_id: int,
    run_id: str,
    unit_code: str,
    minutes: Minutes,
    row: Callable[[int], str],
    json_out: bool,
) -> MeetingApplied:
    """Apply the minutes to the meeting its run waits with, then resume the run, which finds the meeting
    applied and finishes (events, letters, dashboard). The minutes are checked once, in the transaction
    that applies them (`apply_and_queue`); refused minutes change nothing and leave the run waiting."""
    from uuid import UUID

    from prefect.exceptions import NotPausedError
    from prefect.flow_runs import aresume_flow_run

    from flows.council import Applied, apply_and_queue, read_state
    from flows.inputs import MeetingDecisions
    from models.meetings import MeetingRefused
    from supervisor.reach import run, run_ui_link

    busy = (
        f"phiên họp #{meeting_id} đang xử lý biên bản gửi trước; xem {run_ui_link(info, run_id)} "
        "hoặc `thidua meeting show`"
    )
    state = run(read_state(run_id))
    if state is None or not state.is_paused():
        raise _fail(busy)
    try:
        applied = apply_and_queue(meeting_id, minutes, unit_code, label=row)
    except (LookupError, MeetingRefused) as exc:  # closed meanwhile, or the council busy (CouncilBusy)
        raise _fail(str(exc)) from None
    if not isinstance(applied, Applied):
        _report_problems([str(p) for p in applied], json_out, waiting=True)
        raise typer.Exit(1)
    try:
        run(aresume_flow_run(UUID(run_id), run_input=MeetingDecisions.run_input(minutes)))
    except NotPausedError:  # resumed meanwhile from elsewhere: that run finds the meeting applied
        pass
    return applied.result


def _report_problems(problems: list[str], json_out: bool, *, waiting: bool) -> None:
    if json_out:
        _emit_json({"refused": True, "problems": problems})
        return
    what = "phiên họp vẫn chờ biên bản đã sửa" if waiting else "sửa biên bản rồi gửi lại"
    err_console.print(text("[bold red]Biên bản chưa hợp lệ, chưa áp dụng gì[/] ({}):", what))
    for p in problems:
        err_console.print(f"  • {p}")


def _report_result(name: str, result: MeetingApplied, json_out: bool) -> None:
    if json_out:
        _emit_json(result.model_dump(mode="json", exclude_none=True))
        return
    console.print(f"Đã áp dụng phiên họp #{result.meeting_id} của {name} — {counts_line(result.counts)}")
    if any(str(k) == "recommended" for k in result.counts):
        console.print(
            f"  Hồ sơ được đề nghị khen thưởng chờ quyết định của người đứng đầu: "
            f"thidua decision issue ĐƠN_VỊ --meeting {result.meeting_id} --number SỐ/QĐ-UBND --date dd/mm/yyyy"
        )


MEETING_STATUS_LABELS = {"open": "đang chờ quyết định", "applied": "đã áp dụng", "cancelled": "đã hủy"}


def counts_line(counts: object) -> str:
    """A meeting's outcome counts with Vietnamese labels: «khen thưởng: 2, trả lại bổ sung: 1»."""
    from models.meetings import Outcome

    if not isinstance(counts, dict) or not counts:
        return "chưa có quyết định"
    labels = {o.value: o.label for o in Outcome}
    return ", ".join(f"{labels.get(str(k), k)}: {v}" for k, v in counts.items())


def _write_minutes_template(path: Path, agenda: list[dict], *, overwrite: bool = False) -> None:
    from models.sheets import write_template

    write_template(
        path,
        columns=MINUTES_COLUMNS,
        labels=MINUTES_HEADERS,
        title="Biên bản họp Hội đồng",
        notes=(
            "Quyết định: thông qua / không thông qua / trả lại bổ sung / khen mức thấp hơn.",
            "Không thông qua và trả lại phải ghi lý do / nội dung cần bổ sung.",
            "Phiếu tại phiên họp (đồng ý / không đồng ý / không biểu quyết) và phiếu bằng văn bản của thành viên "
            "vắng mặt ghi ở các cột riêng.",
        ),
        rows=[[a["code"], "thông qua", "", None, None, None, None, None, None, "", None] for a in agenda],
        overwrite=overwrite,
    )


@meeting_app.command("cancel")
def meeting_cancel(unit: str, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Hủy phiên họp đang mở của Hội đồng (cho người vận hành): không áp dụng gì, các hồ sơ chờ phiên họp sau."""
    from supervisor.reach import connect, run

    info = connect()
    target, _ = _resolve(unit)
    from flows.council import cancel, cancel_run
    from models.db import session_scope
    from models.meetings import open_meetings_of, saved_id

    reason = "người vận hành hủy (thidua meeting cancel)"
    with session_scope() as session:
        meetings = [
            (saved_id(m), m.flow_run_id) for m in open_meetings_of(session=session, unit_id=target.id)
        ]
    if not meetings:
        raise _fail(f"{target.name}: không có phiên họp nào đang mở")
    # the meeting first: a run about to apply it then finds it cancelled and applies nothing
    cancelled = [(meeting_id, run_id) for meeting_id, run_id in meetings if cancel(meeting_id, reason)]
    for _, run_id in cancelled:
        if info is not None and run_id:
            run(cancel_run(run_id, reason))
    if json_out:
        _emit_json({"cancelled": [m for m, _ in cancelled], "runs_cancelled": info is not None})
        return
    if not cancelled:
        raise _fail(f"{target.name}: phiên họp vừa kết thúc, không còn gì để hủy")
    for meeting_id, run_id in cancelled:
        console.print(
            f"Đã hủy phiên họp #{meeting_id} của {target.name}; các hồ sơ vẫn chờ Hội đồng xét ở phiên sau."
        )
        if run_id and info is None:
            console.print(
                f"  Dịch vụ chưa chạy: lượt chạy {run_id} trên Prefect chưa được hủy; nếu được tiếp tục, "
                "nó sẽ dừng vì phiên họp đã hủy."
            )


@meeting_app.command("show")
def meeting_show(unit: str, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Phiên họp đang mở (chương trình họp) và các phiên đã họp của Hội đồng."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.db import session_scope
    from models.meetings import Meeting
    from supervisor.reach import connect, run

    target, _ = _resolve(unit)
    if connect() is not None:  # a meeting whose run ended or was deleted shows as cancelled, not waiting
        from flows.council import settle_open_meetings

        run(settle_open_meetings(target.id))
    with session_scope() as session:
        meetings = list(
            session.scalars(
                select(Meeting).where(col(Meeting.unit_id) == target.id).order_by(col(Meeting.id))
            )
        )
    if json_out:
        _emit_json(
            [
                {
                    "meeting_id": m.id,
                    "status": m.status.value,
                    "opened_on": m.opened_on.isoformat(),
                    "meeting_date": m.meeting_date.isoformat() if m.meeting_date else None,
                    "flow_run_id": m.flow_run_id,
                    "agenda": m.agenda,
                    "summary": m.summary,
                }
                for m in meetings
            ]
        )
        return
    if not meetings:
        console.print(f"{target.name}: chưa có phiên họp nào")
    for m in meetings:
        state = MEETING_STATUS_LABELS.get(m.status.value, m.status.value)
        if m.status == "cancelled" and m.summary.get("cancelled"):
            state += f" ({m.summary['cancelled']})"
        outcome = f"; {counts_line(m.summary.get('counts'))}" if m.status == "applied" else ""
        console.print(
            f"Phiên #{m.id} ngày {fmt_date(m.meeting_date or m.opened_on)}: {state}; "
            f"{len(m.agenda)} hồ sơ{outcome}"
        )
        if m.status == "open":
            _print_agenda(target.name, m.agenda)
