"""`thidua demo`: the whole chain on the sample data, through the running service's flows.

Submits a set of nominations at Cẩm Thành (one for every award form the date allows, a 2022-dated set and a 2026-dated
set from its successor xã Cẩm Thạch); the 2022 set, pending when Cẩm Thành and huyện Cẩm Thủy ended on
30/6/2025, is moved to xã Cẩm Thạch by the changeover of 1/7/2025 (Giấy khen huyện → Giấy khen xã), holds a
meeting at each level with minutes (approvals, one rejection, one return and its resubmission), records
the head's decision on what a council recommended (central bodies decide or submit without a council
vote) until each nomination is conferred at its own level, and prints every path.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.table import Table

from cli.common import console
from cli.common import emit_json as _emit_json
from cli.common import fail as _fail
from cli.meetings import _report_result
from models.clock import today_vn

if TYPE_CHECKING:  # the models (SQLAlchemy) load when the demo runs: every other `thidua` command skips them
    from prefect.client.schemas.objects import State

    from models.meetings import MeetingApplied, Minutes

UNIT_2022 = "thanh-hoa.cam-thuy.cam-thanh"
UNIT_2026 = "thanh-hoa.cam-thach-2025"
CHANGEOVER = date(2025, 7, 1)  # two-tier local government (models/data/changeover.yaml)

NOMINEES = {
    "giay-khen-xa": ("Bà Nguyễn Thị Hoa", "cá nhân", "Vận động bà con hiến 300 m² đất mở rộng đường thôn"),
    "giay-khen-huyen": ("Ông Trịnh Văn Tâm", "cá nhân", "Đóng góp 50 triệu đồng xây nhà văn hóa thôn"),
    "bang-khen-tinh": ("Hợp tác xã Nông nghiệp Cẩm Thành", "doanh nghiệp", "Sản phẩm OCOP 4 sao"),
    "co-thi-dua-tinh": ("Thôn Tiến Thành", "tập thể", "Thôn đạt chuẩn nông thôn mới kiểu mẫu"),
    "bang-khen-ttg": ("Ông Lê Văn Hùng", "cá nhân", "Hiến 1.200 m² đất làm đường liên xã"),
    "co-thi-dua-cp": ("Ủy ban Mặt trận Tổ quốc xã", "tập thể", "Dẫn đầu phong trào thi đua của tỉnh"),
    "huan-chuong-ld-3": ("Bà Phạm Thị Mai", "cá nhân", "Thành tích xuất sắc 5 năm xây dựng nông thôn mới"),
    "huan-chuong-ld-2": ("Hội Nông dân xã", "tập thể", "Thành tích đặc biệt xuất sắc trong phong trào"),
    "huan-chuong-ld-1": ("Đảng ủy xã", "tập thể", "Lãnh đạo hoàn thành xuất sắc chương trình 2021–2025"),
}
REJECTED = (
    "Ông Đỗ Văn Bình",
    "cá nhân",
    "giay-khen-xa",
    "Thành tích chưa tiêu biểu so với các hộ khác trong thôn",
)
RETURNED = (
    "Hộ ông Quách Văn Sơn",
    "hộ gia đình",
    "giay-khen-xa",
    "Bổ sung biên bản hiến đất có xác nhận của thôn",
)


def demo_rows() -> list[dict]:
    rows = []
    for unit, on, suffix in ((UNIT_2022, "15/06/2022", ""), (UNIT_2026, "02/03/2026", " (2026)")):
        for form, (name, kind, achievement) in NOMINEES.items():
            if form == "giay-khen-huyen" and on.endswith("2026"):
                continue  # no district certificate after 30/6/2025
            if form == "huan-chuong-ld-3" and on.endswith("2022"):
                continue  # only at the movement's final review, from 2025 (Law Art. 44(2))
            rows.append(
                {
                    "nominee": name + suffix,
                    "kind": kind,
                    "unit": unit,
                    "award": form,
                    "campaign": "ntm-2021-2025",
                    "achievement": achievement,
                    "submitted_on": on,
                    "review_type": "tổng kết" if on.endswith("2026") else "",
                }
            )
    for name, kind, form, _ in (REJECTED, RETURNED):
        rows.append(
            {
                "nominee": name,
                "kind": kind,
                "unit": UNIT_2026,
                "award": form,
                "campaign": "ntm-2021-2025",
                "achievement": "Đóng góp ngày công xây dựng kênh mương",
                "submitted_on": "02/03/2026",
            }
        )
    return [{"row": i + 2, **r} for i, r in enumerate(rows)]


def pending_by_unit() -> dict[str, list[tuple[str, str]]]:
    """Unit code → [(nomination code, nominee)] of everything on a council's agenda, or forwarded to it
    (its meeting receives those when it opens)."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.db import session_scope
    from models.hierarchy import Hierarchy
    from models.nominations import AGENDA, Nomination, Nominee, Status

    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        rows = session.execute(
            select(col(Nomination.code), col(Nomination.current_unit_id), col(Nominee.name))
            .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
            .where(col(Nomination.status).in_([s.value for s in AGENDA | {Status.forwarded}]))
            .order_by(col(Nomination.id))
        ).all()
    out: dict[str, list[tuple[str, str]]] = {}
    for code, unit_id, name in rows:
        out.setdefault(hierarchy.get(unit_id).code, []).append((code, name))
    return out


def consult_first(unit_code: str, items: list[tuple[str, str]], day: date) -> list[str]:
    """Before a province forwards a state-level award it asks the bodies its plan names (hiệp y): receive
    what was forwarded to it (as its meeting would on opening, with the same events), ask each body and,
    in this tour, record that each has no objection. Returns the codes consulted (none below the province,
    nor for what the province confers itself)."""
    from flows.consultation import consultation_answer, consultation_request
    from flows.council import receive_at_units
    from flows.events import NOMINATION_RECEIVED, RECEIPT, emit_nomination_events
    from models.consultation import bodies_to_consult
    from models.db import session_scope
    from models.hierarchy import Hierarchy
    from models.nominations import by_code
    from supervisor.reach import run

    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        unit_id = hierarchy.by_code[unit_code].id
        need: dict[str, list[str]] = {}
        for code, _ in items:
            nomination = by_code(session=session, code=code)
            if nomination is not None and (
                bodies := bodies_to_consult(nomination=nomination, hierarchy=hierarchy)
            ):
                need[code] = [b.code for b in bodies]
    if not need:
        return []
    _, received = receive_at_units([unit_id], day, f"demo-{unit_code}")
    emit_nomination_events(
        NOMINATION_RECEIVED,
        received,
        resource_id=f"{RECEIPT}demo-{unit_code}",
        name="Tiếp nhận hồ sơ (chạy thử)",
    )
    for code, asked in need.items():
        run(consultation_request(code=code, on=day, actor="thidua demo"))
        for body in asked:
            run(consultation_answer(code=code, body=body, on=day, actor="thidua demo"))
    return sorted(need)


def minutes_for(unit_code: str, items: list[tuple[str, str]], day: date) -> Minutes:
    """Sample minutes: everyone present and for, except the demo's one rejection and one return."""
    from models.db import session_scope
    from models.hierarchy import Hierarchy
    from models.meetings import Decision, ItemDecision, Minutes, council_of

    with session_scope() as session:
        unit = Hierarchy.load(session).resolve(unit_code)
        council, members = council_of(session=session, unit_id=unit.id)
    decisions = []
    for code, name in items:
        if name == REJECTED[0]:
            decisions.append(
                ItemDecision(
                    code=code,
                    decision=Decision.reject,
                    votes_for=1,
                    votes_against=len(members) - 1,
                    note=REJECTED[3],
                )
            )
        elif name == RETURNED[0] and not _was_returned(code):
            decisions.append(
                ItemDecision(code=code, decision=Decision.return_for_completion, note=RETURNED[3])
            )
        else:
            decisions.append(ItemDecision(code=code, decision=Decision.approve, votes_for=len(members)))
    return Minutes(
        meeting_date=day, members_present=len(members), secretary="Thư ký Hội đồng", decisions=decisions
    )


def _was_returned(code: str) -> bool:
    from sqlalchemy import select
    from sqlmodel import col

    from models.db import session_scope
    from models.nominations import Nomination, NominationStep

    with session_scope() as session:
        n = session.scalars(select(Nomination).where(col(Nomination.code) == code)).one()
        return (
            session.scalars(
                select(col(NominationStep.id)).where(
                    col(NominationStep.nomination_id) == n.id, col(NominationStep.action) == "return"
                )
            ).first()
            is not None
        )


def central_documents(unit_code: str, items: list[tuple[str, str]]) -> list[list[str]]:
    """A central body's documents for what waits there: the decision on the forms it confers, and the
    submission (tờ trình) of the others to the level above — two documents, each with its number."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.awards import catalogue
    from models.db import session_scope
    from models.hierarchy import Hierarchy
    from models.nominations import Nomination

    with session_scope() as session:
        level = Hierarchy.load(session).resolve(unit_code).level
        awards = dict(
            session.execute(
                select(col(Nomination.code), col(Nomination.award_code)).where(
                    col(Nomination.code).in_([c for c, _ in items])
                )
            )
            .tuples()
            .all()
        )
    forms = catalogue().forms
    here = [c for c, _ in items if forms[awards[c]].authority == level]
    above = [c for c, _ in items if forms[awards[c]].authority != level]
    return [group for group in (here, above) if group]


def is_central(unit_code: str) -> bool:
    from models.db import session_scope
    from models.hierarchy import CENTRAL, Hierarchy

    with session_scope() as session:
        return Hierarchy.load(session).resolve(unit_code).level in CENTRAL


def unit_name(unit_code: str) -> str:
    """The unit's name (tên đơn vị) for its code, as the demo's report shows it."""
    from models.db import session_scope
    from models.hierarchy import Hierarchy

    with session_scope() as session:
        return Hierarchy.load(session).resolve(unit_code).name


def returned_codes() -> list[str]:
    from sqlalchemy import select
    from sqlmodel import col

    from models.db import session_scope
    from models.nominations import Nomination, Status

    with session_scope() as session:
        return list(
            session.scalars(select(col(Nomination.code)).where(col(Nomination.status) == Status.returned))
        )


def paths(codes: list[str]) -> list[dict]:
    from models.db import session_scope
    from models.queries import nomination_status

    with session_scope() as session:
        return [nomination_status(session=session, code=c) for c in codes]


def forms_conferred_where_expected(statuses: list[dict]) -> list[str]:
    """Problems, if any nomination did not end where its form is conferred (the demo checks itself)."""
    from models.awards import catalogue

    problems = []
    for s in statuses:
        if s["nominee"] == REJECTED[0]:
            if s["status"] != "rejected":
                problems.append(f"{s['code']} lẽ ra bị từ chối")
            continue
        authority = catalogue().forms[s["awarded"] or s["award"]].authority.value
        if s["status"] != "conferred" or s["current_unit"]["level"] != authority:
            problems.append(
                f"{s['code']} ({s['award_name']}) dừng ở {s['current_unit']['name']} ({s['status_label']})"
            )
    return problems


def demo_command(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Chạy thử cả chuỗi trên dữ liệu mẫu với dịch vụ đang chạy: nộp hồ sơ ở Cẩm Thành, họp ở mọi cấp đến khi khen."""
    from supervisor.reach import Need, reach, run

    info = reach(Need.deployment, why="chạy thử")
    from flows.council import council_meeting
    from flows.decisions import issue_decision
    from flows.intake import intake, resubmit
    from flows.refusal import is_refused
    from models.decisions import DecisionIssued, DecisionRefusal
    from models.meetings import MeetingRefusal, Outcome

    day = today_vn()
    state: State = run(
        intake(rows=demo_rows(), source="demo", actor="thidua demo", received_on=day, return_state=True)
    )
    if not state.is_completed() or is_refused(state):
        raise _fail(state.message or "không tiếp nhận được hồ sơ mẫu")
    codes = [n["code"] for n in state.result()["nominations"]]
    console.print(f"Đã nộp {len(codes)} hồ sơ mẫu tại xã Cẩm Thành / xã Cẩm Thạch")
    if day >= CHANGEOVER:  # the 2022 units no longer sit: their dossiers go to the successors first
        from models.changeover import changeover, changeover_summary
        from models.db import session_scope

        with session_scope() as session:
            console.print(changeover_summary(changeover(session=session, on=CHANGEOVER, actor="thidua demo")))

    meetings, decisions = 0, 0

    def decide(unit_code: str, **what: object) -> None:
        """The head's decision (numbered by the system), as the registry records it."""
        nonlocal decisions
        issued = cast(
            "DecisionIssued | DecisionRefusal",
            run(issue_decision(unit=unit_code, decision_date=day, auto_number=True, **what)),  # type: ignore[call-overload]
        )
        if isinstance(issued, DecisionRefusal):
            raise _fail(issued.message)
        decisions += 1
        if not json_out:
            console.print(
                f"{issued.kind.label.capitalize()} số {issued.number} của {issued.unit_name}: "
                f"{len(issued.outcomes)} hồ sơ"
            )

    for _ in range(12):
        if again := returned_codes():
            run(resubmit(codes=again, on=day, actor="UBND xã Cẩm Thạch"))
            console.print(f"Nộp lại hồ sơ đã bổ sung: {', '.join(again)}")
        pending = pending_by_unit()
        if not pending:
            break
        for unit_code, items in pending.items():
            if is_central(unit_code):  # no council vote at the centre: the decision, or the submission
                for group in central_documents(unit_code, items):
                    decide(unit_code, codes=group)
                continue
            if consulted := consult_first(unit_code, items, day):
                console.print(
                    f"{unit_name(unit_code)} lấy ý kiến hiệp y (các cơ quan đồng ý): {', '.join(consulted)}"
                )
            minutes = minutes_for(unit_code, items, day)
            # calling a flow returns its result: a Refused run's is its refusal
            result = cast(
                "MeetingApplied | MeetingRefusal",
                run(council_meeting(unit=unit_code, minutes=minutes, on=day)),
            )
            if isinstance(result, MeetingRefusal):  # the data of a Refused run
                raise _fail(result.message)
            meetings += 1
            if result.counts.get(Outcome.recommended):
                decide(unit_code, meeting_id=result.meeting_id)
            # What it forwarded is received by `receive-forwarded`, which the meeting's event starts, or
            # by the next council's meeting if that opens first: once either way, one event each.
            _report_result(unit_name(unit_code), result, json_out=False) if not json_out else None
    statuses = paths(codes)
    problems = forms_conferred_where_expected(statuses)
    if json_out:
        _emit_json(
            {"meetings": meetings, "decisions": decisions, "nominations": statuses, "problems": problems}
        )
    else:
        title = f"Đường đi của {len(statuses)} hồ sơ ({meetings} phiên họp, {decisions} quyết định/tờ trình)"
        table = Table("Mã", "Đối tượng", "Hình thức", "Đường đi", "Kết quả", title=title)
        for s in statuses:
            path = " → ".join(u["name"] for u in s["chain"] if u["state"] in ("passed", "here", "done"))
            outcome = s["status_label"] + (f" ({s['decision_number']})" if s["decision_number"] else "")
            table.add_row(s["code"], s["nominee"], s["award_name"], path, outcome)
        console.print(table)
        console.print(f"Giao diện: {(info or {}).get('ui_url')} — thư đã gửi: `thidua mail ls`")
    if problems:
        raise _fail("; ".join(problems))
