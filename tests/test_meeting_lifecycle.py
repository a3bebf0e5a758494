"""Meetings never hang on a dead run, minutes are checked once in the model, and receipts are reported
once (issue 11): the domain functions, the flows on the session's Prefect test server, and the CLI in
this process without `thidua up` (the server's shell with the service stopped). The same paths with
the service running are in tests/test_meeting_cli.py."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from typer.testing import CliRunner

from models import meetings as mt
from models.nominations import Nomination, Status

UNIT = "thanh-hoa.cam-thach-2025"  # xã Cẩm Thạch: 7 council members
DAY = date(2026, 11, 24)
BASE = {
    "meeting_date": DAY,
    "members_present": 7,
    "secretary": "Trần Thị Thư",
    "decisions": [{"code": "HS2026-000001", "decision": "approve", "votes_for": 7}],
}


def _take_in(
    session, awards: list[str], unit: str = UNIT, on: str = "02/03/2026", received_on: date = DAY
) -> list[str]:
    from models.intake import take_in

    rows = [
        (
            i + 2,
            {
                "nominee": f"{'Thôn' if a.startswith('co-') else 'Nguyễn Văn'} {a} {i}",
                "kind": "tập thể" if a.startswith("co-") else "cá nhân",
                "unit": unit,
                "award": a,
                "campaign": "ntm-2021-2025",
                "achievement": "Đóng góp xây dựng nông thôn mới",
                "submitted_on": on,
            },
        )
        for i, a in enumerate(awards)
    ]
    result = take_in(session=session, rows=rows, source="test", received_on=received_on)
    session.commit()
    return [n["code"] for n in result.nominations]


def _meetings(session, unit: str = UNIT) -> list[mt.Meeting]:
    from models.hierarchy import Hierarchy

    session.expire_all()
    unit_id = Hierarchy.load(session).by_code[unit].id
    return list(
        session.scalars(select(mt.Meeting).where(mt.Meeting.unit_id == unit_id).order_by(mt.Meeting.id))
    )


def _open(session, sample, key: str, unit: str = UNIT, on: date = DAY) -> mt.Meeting:
    meeting = mt.open_meeting(
        session=session, unit_id=sample.by_code[unit].id, key=key, hierarchy=sample, on=on
    )
    session.commit()
    return meeting


# --- minutes: every field checked in the model, reported with the meeting's own problems ----------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("secretary", "Trần\u200bThư", "thư ký phiên họp: có ký tự ẩn"),
        ("secretary", "x" * 201, "thư ký phiên họp: dài quá 200 ký tự"),
        ("secretary", "Trần\nThư", "thư ký phiên họp: có ký tự ẩn"),
        ("meeting_date", date(2099, 1, 1), "ngày họp: ngày 01/01/2099 còn ở tương lai"),
        ("written_for", -1, "hồ sơ HS2026-000001, phiếu bằng văn bản đồng ý: phải từ 0 trở lên"),
        ("members_present", -1, "số thành viên dự họp: phải từ 0 trở lên"),
        ("note", "x" * 4001, "hồ sơ HS2026-000001, lý do / ghi chú: dài quá 4000 ký tự"),
        ("note", "chưa\x00đủ", "hồ sơ HS2026-000001, lý do / ghi chú: có ký tự ẩn"),
        ("code", "HS2026-\u200b000001", "mã hồ sơ: có ký tự ẩn"),
        ("votes_for", -1, "hồ sơ HS2026-000001, số phiếu đồng ý: phải từ 0 trở lên"),
        ("deadline", date(2099, 1, 1), "hồ sơ HS2026-000001, hạn bổ sung: hạn 01/01/2099 quá xa"),
    ],
)
def test_each_field_of_the_minutes_is_refused_in_the_model_with_a_message(
    field: str, value: object, expected: str
) -> None:
    data = json.loads(json.dumps(BASE, default=str))
    if field in data:
        data[field] = value
    else:
        data["decisions"][0][field] = value
    with pytest.raises(ValidationError) as refused:
        mt.Minutes.model_validate(data)
    problems = mt.field_problems(refused.value, data)
    assert any(expected in p for p in problems), problems


def test_an_approval_with_no_votes_written_is_everyone_present_in_favour() -> None:
    minutes = mt.Minutes.model_validate(
        BASE
        | {
            "members_present": 6,
            "decisions": [
                {"code": "HS2026-000001"},
                {"code": "HS2026-000002", "decision": "khen mức thấp hơn"},
                {"code": "HS2026-000003", "decision": "approve", "votes_for": 4, "votes_against": 2},
                {"code": "HS2026-000004", "decision": "reject", "note": "Chưa tiêu biểu"},
            ],
        }
    )
    assert [d.votes_for for d in minutes.decisions] == [6, 6, 4, 0]


def test_check_minutes_reports_the_models_problems_together_with_the_meetings(session, sample) -> None:
    flag, certificate, other = _take_in(session, ["co-thi-dua-tinh", "giay-khen-xa", "giay-khen-xa"])
    meeting = _open(session, sample, mt.waiting_key(str(uuid.uuid4())))
    submitted = BASE | {
        "secretary": "Trần\u200bThư",
        "decisions": [
            {
                "code": flag,
                "decision": "approve",
                "votes_for": 5,
                "votes_against": 2,
            },  # 5 of 7: short of 80 %
            {"code": certificate, "decision": "reject", "note": "x" * 4001},
            {"code": other, "decision": "reject"},
        ],
    }  # no reason given
    problems = mt.check_minutes(session=session, meeting=meeting, minutes=submitted, hierarchy=sample)
    assert any(p.startswith("thư ký phiên họp: có ký tự ẩn") and p.code is None for p in problems), problems
    assert any(flag in p and "chưa đạt" in p and p.code == flag for p in problems), problems
    assert any("dài quá 4000 ký tự" in p and p.code == certificate for p in problems), problems
    assert any("phải ghi rõ lý do" in p and p.code == other for p in problems), problems
    assert not any("chưa có quyết định" in p for p in problems), problems  # the refused item is not "missing"
    assert len(problems) == 4


def test_a_meeting_opened_on_29_february_checks_its_minutes(session, sample) -> None:
    leap_day = date(2024, 2, 29)
    (code,) = _take_in(
        session, ["giay-khen-xa"], unit="thanh-hoa.cam-thuy.cam-thanh", on="20/02/2024", received_on=leap_day
    )
    meeting = _open(session, sample, "minutes:leap-day", unit="thanh-hoa.cam-thuy.cam-thanh", on=leap_day)
    on_time = mt.Minutes(meeting_date=leap_day, members_present=7, decisions=[{"code": code}])
    assert mt.check_minutes(session=session, meeting=meeting, minutes=on_time, hierarchy=sample) == []
    too_old = on_time.model_copy(update={"meeting_date": date(2023, 2, 27)})
    problems = mt.check_minutes(session=session, meeting=meeting, minutes=too_old, hierarchy=sample)
    assert problems == ["ngày họp 27/02/2023 không hợp lý (hơn một năm trước ngày mở phiên họp 29/02/2024)"]


# --- opening: nothing to decide, one waiting meeting per council -----------------------------------------


def test_a_council_with_nothing_waiting_opens_no_meeting(session, sample) -> None:
    with pytest.raises(
        mt.NothingToDecide, match="không có hồ sơ nào chờ Hội đồng Thi đua – Khen thưởng xã Cẩm Thạch"
    ):
        _open(session, sample, mt.waiting_key(str(uuid.uuid4())))
    session.rollback()
    assert _meetings(session) == []


def test_a_council_holds_one_waiting_meeting_at_a_time(session, sample) -> None:
    (code,) = _take_in(session, ["giay-khen-xa"])
    first = _open(session, sample, mt.waiting_key(str(uuid.uuid4())))
    for key in (mt.waiting_key(str(uuid.uuid4())), "minutes:held-the-same-day"):
        with pytest.raises(
            mt.MeetingAlreadyOpen, match=f"đang có phiên họp #{first.id} .*thidua meeting cancel"
        ):
            _open(session, sample, key)
        session.rollback()
    assert mt.cancel_meeting(session=session, meeting_id=first.id, reason="thử hủy")
    session.commit()
    assert not mt.cancel_meeting(
        session=session, meeting_id=first.id, reason="hủy lần hai"
    )  # only an open one
    second = _open(session, sample, mt.waiting_key(str(uuid.uuid4())))
    assert [m.status for m in _meetings(session)] == [mt.MeetingStatus.cancelled, mt.MeetingStatus.open]
    assert [a["code"] for a in second.agenda] == [code]


# --- the meeting form as a secretary uses it ----------------------------------------------------------

AGENDA = [
    {
        "code": f"HS2026-00000{i}",
        "nominee": f"Nguyễn Văn {i}",
        "award_name": "Giấy khen của Chủ tịch UBND xã",
        "origin_unit": "xã Cẩm Thạch",
        "due_on": None,
    }
    for i in range(1, 4)
]


def test_a_refused_form_comes_back_filled_with_each_problem_beside_its_item() -> None:
    from prefect._internal.pydantic.v2_schema import create_v2_schema

    from flows.inputs import MeetingDecisions, agenda_markdown, initial_form, refill_form

    values = initial_form(agenda=AGENDA, meeting_date=DAY, members=7)
    first, second, _ = values["agenda_items"]
    sent = MeetingDecisions(
        **values
        | {
            "secretary": "Trần Thị Thư",
            "agenda_items": [
                first | {"decision": "Không thông qua", "votes_for": 1, "votes_against": 6},  # no reason
                second
                | {
                    "code": "HS2026-999999",
                    "votes_for": 6,
                    "votes_abstain": 1,
                    "written_for": 2,
                    "note": "ý kiến",
                },  # code edited
            ],
        }
    )  # third card deleted
    problems = [
        mt.Problem("hồ sơ HS2026-000001: không thông qua thì phải ghi rõ lý do", "HS2026-000001"),
        mt.Problem("hồ sơ HS2026-999999 không có trong chương trình họp", "HS2026-999999"),
        mt.Problem("hồ sơ HS2026-000002: chưa có quyết định", "HS2026-000002"),
        mt.Problem("hồ sơ HS2026-000003: chưa có quyết định", "HS2026-000003"),
    ]
    again = refill_form(agenda=AGENDA, submitted=sent, problems=problems)
    assert again["secretary"] == "Trần Thị Thư" and again["members_present"] == 7
    one, two, three = again["agenda_items"]
    assert [i["code"] for i in again["agenda_items"]] == [a["code"] for a in AGENDA]  # the agenda is fixed
    assert (one["decision"], one["votes_for"], one["votes_against"]) == ("Không thông qua", 1, 6)
    assert one["problems"] == "hồ sơ HS2026-000001: không thông qua thì phải ghi rõ lý do"
    assert (two["votes_for"], two["votes_abstain"], two["note"]) == (6, 1, "ý kiến")
    assert two["written_for"] == 2  # written votes of absent members come back apart (issue 13)
    assert "HS2026-999999" in two["problems"] and "đã đặt lại mã HS2026-000002" in two["problems"]
    assert three["decision"] == "Thông qua" and "chưa có quyết định" in three["problems"]
    # what the UI receives: the same values as the form's defaults, the problems above the agenda too
    form = MeetingDecisions.with_initial_data(
        description=agenda_markdown(council="Hội đồng xã", agenda=AGENDA, problems=problems), **again
    )
    schema = create_v2_schema(form.__name__, model_base=form)["properties"]
    assert schema["agenda_items"]["default"] == json.loads(json.dumps(again["agenda_items"]))
    assert schema["secretary"]["default"] == "Trần Thị Thư"
    assert "không thông qua thì phải ghi rõ lý do" in schema["agenda_items"]["description"]


def test_a_completion_deadline_survives_the_meeting_form() -> None:
    """The form a waiting meeting is resumed with (the CLI's minutes file, the portal chair's confirmation)
    carries a returned dossier's Hạn bổ sung: it was dropped, and the rule's default took its place."""
    from flows.inputs import MeetingDecisions

    minutes = mt.Minutes.model_validate(
        {
            "meeting_date": date(2026, 12, 3),
            "members_present": 7,
            "decisions": [
                {
                    "code": "HS2026-000001",
                    "decision": "return",
                    "note": "Bổ sung báo cáo thành tích",
                    "deadline": date(2026, 12, 20),
                },
                {"code": "HS2026-000002", "decision": "approve"},
            ],
        }
    )
    values = MeetingDecisions.run_input(minutes)
    again = mt.Minutes.model_validate(MeetingDecisions.model_validate(values).minutes_data())
    assert [d.deadline for d in again.decisions] == [date(2026, 12, 20), None]


def test_agenda_numbers_from_ten_items_on_are_text_the_ui_shows_whole() -> None:
    from flows.inputs import agenda_markdown

    agenda = [AGENDA[0] | {"code": f"HS2026-{n:06d}"} for n in range(1, 13)]
    text = agenda_markdown(council="Hội đồng xã", agenda=agenda)
    assert "\n\n10\\. **HS2026-000010** — " in text and "\n\n1\\. **HS2026-000001** — " in text
    # no markdown list: the default UI's list clipped 10, 11, 12 to 0, 1, 2
    assert not any(re.match(r"\d+[.)] ", line) for line in text.splitlines())


def test_suspension_is_logged_as_information_not_as_an_error() -> None:
    from prefect.settings import PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW, temporary_settings

    import flows.council  # noqa: F401 - installs the filter on Prefect's flow-run logger

    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    logger = logging.getLogger("prefect.flow_runs")
    logger.addHandler(handler)
    try:
        with temporary_settings(
            {PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"}
        ):  # no run: nothing to send
            logger.error("Finished in state Suspended('Run is suspended', type=PAUSED)")
            logger.error("Finished in state Failed('Flow run encountered an exception.')")
    finally:
        logger.removeHandler(handler)
    assert [(r.levelname, r.getMessage().split("(")[0]) for r in seen] == [
        ("INFO", "Finished in state Suspended"),
        ("ERROR", "Finished in state Failed"),
    ]


# --- the flows: dead runs close their meeting, receipts once -------------------------------------------


def test_a_meeting_whose_run_is_gone_or_over_is_closed_and_a_live_one_stays(
    prefect_api, session, sample
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    from flows.council import settle_open_meetings

    @flow(name="placeholder-meeting-run")
    def placeholder() -> None:
        pass

    async def new_run() -> str:
        async with get_client() as client:
            return str((await client.create_flow_run(placeholder)).id)

    (code,) = _take_in(session, ["giay-khen-xa"])
    unit_id = sample.by_code[UNIT].id
    live = asyncio.run(new_run())  # Scheduled: may still run
    meeting = mt.open_meeting(
        session=session, unit_id=unit_id, key=mt.waiting_key(live), hierarchy=sample, on=DAY, flow_run_id=live
    )
    session.commit()
    assert asyncio.run(settle_open_meetings(unit_id)) == [meeting.id]

    async def cancel() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(uuid.UUID(live), Cancelled(), force=True)

    asyncio.run(cancel())
    assert asyncio.run(settle_open_meetings(unit_id)) == []
    gone = str(uuid.uuid4())  # deleted in the UI: the server no longer knows it
    second = mt.open_meeting(
        session=session, unit_id=unit_id, key=mt.waiting_key(gone), hierarchy=sample, on=DAY, flow_run_id=gone
    )
    session.commit()
    assert asyncio.run(settle_open_meetings(unit_id)) == []
    closed = _meetings(session)
    assert [(m.id, m.status) for m in closed] == [
        (meeting.id, mt.MeetingStatus.cancelled),
        (second.id, mt.MeetingStatus.cancelled),
    ]
    assert "Cancelled" in closed[0].summary["cancelled"] and "đã bị xóa" in closed[1].summary["cancelled"]
    assert [a["code"] for a in closed[1].agenda] == [code]


def test_the_next_meeting_takes_over_from_a_meeting_whose_run_is_gone(prefect_api, session, sample) -> None:
    from flows.council import council_meeting

    (code,) = _take_in(session, ["giay-khen-xa"])
    gone = str(uuid.uuid4())  # suspended, then deleted in the UI
    stale = mt.open_meeting(
        session=session,
        unit_id=sample.by_code[UNIT].id,
        key=mt.waiting_key(gone),
        hierarchy=sample,
        on=DAY,
        flow_run_id=gone,
    )
    session.commit()
    minutes = mt.Minutes(meeting_date=DAY, members_present=7, decisions=[{"code": code, "votes_for": 7}])
    result = asyncio.run(council_meeting(unit=UNIT, minutes=minutes, on=DAY, deliver=False, dashboard=False))
    assert result.counts == {"recommended": 1}  # the head decides later (issue 13)
    assert [(m.id, m.status) for m in _meetings(session)] == [
        (stale.id, mt.MeetingStatus.cancelled),
        (result.meeting_id, mt.MeetingStatus.applied),
    ]


def test_nothing_waiting_refuses_the_meeting_run_and_leaves_no_meeting(prefect_api, session, sample) -> None:
    from flows.council import council_meeting
    from flows.refusal import is_refused

    minutes = mt.Minutes(meeting_date=DAY, members_present=7, decisions=[{"code": "HS2026-000042"}])
    state = asyncio.run(
        council_meeting(unit=UNIT, minutes=minutes, on=DAY, deliver=False, dashboard=False, return_state=True)
    )
    assert is_refused(state) and state.name == "Refused"
    assert "không có hồ sơ nào chờ" in state.message and "HS2026-000042" in state.message
    assert _meetings(session) == []


def _cli(*args: str) -> tuple[int, str]:
    from cli.app import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def _minutes_file(path: Path, rows: list[list[str]]) -> str:
    header = "Mã hồ sơ,Quyết định,Đồng ý,Không đồng ý,Không biểu quyết,Lý do / nội dung bổ sung\n"
    path.write_text(header + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_refused_minutes_then_corrected_ones_apply_without_the_service(
    prefect_api, session, sample, smtp_env, tmp_path: Path
) -> None:
    flag, certificate = _take_in(session, ["co-thi-dua-tinh", "giay-khen-xa"])
    short = _minutes_file(
        tmp_path / "thieu.csv",
        [
            [flag, "thông qua", "5", "2", "0", ""],  # 5 of 7 < 80 %
            [certificate, "thông qua", "7", "0", "0", ""],
        ],
    )
    code, out = _cli("meeting", "decide", UNIT, "--date", "24/11/2026", "--file", short, "--json")
    assert code == 1, out
    problems = json.loads(out)["problems"]
    assert len(problems) == 1 and flag in problems[0] and "chưa đạt" in problems[0]
    assert [m.status for m in _meetings(session)] == [mt.MeetingStatus.cancelled]  # nothing left open
    future = _minutes_file(tmp_path / "sai-ngay.csv", [[certificate, "thông qua", "7", "0", "0", ""]])
    code, out = _cli("meeting", "decide", UNIT, "--date", "01/01/2099", "--file", future, "--json")
    assert code == 1 and any("01/01/2099 còn ở tương lai" in p for p in json.loads(out)["problems"]), out
    right = _minutes_file(
        tmp_path / "dung.csv",
        [[flag, "thông qua", "6", "1", "0", ""], [certificate, "thông qua", "", "", "", ""]],
    )  # votes: all present
    code, out = _cli("meeting", "decide", UNIT, "--date", "24/11/2026", "--file", right, "--json")
    assert code == 0, out
    assert json.loads(out)["counts"] == {"forwarded": 1, "recommended": 1}
    assert [m.status for m in _meetings(session)] == [mt.MeetingStatus.cancelled, mt.MeetingStatus.applied]


def test_a_failed_meeting_run_closes_its_meeting_and_the_next_one_applies(
    prefect_api, session, sample, smtp_env, tmp_path: Path, monkeypatch
) -> None:
    import flows.council

    def broken_template(**_: object) -> list:
        raise RuntimeError("mẫu thư hỏng")  # an unexpected crash while applying (not a refusal)

    code_a, code_b = _take_in(session, ["giay-khen-xa", "giay-khen-xa"])
    minutes = _minutes_file(
        tmp_path / "bien-ban.csv",
        [[code_a, "thông qua", "7", "0", "0", ""], [code_b, "thông qua", "7", "0", "0", ""]],
    )
    monkeypatch.setattr(flows.council, "outcome_letters", broken_template)
    code, out = _cli("meeting", "decide", UNIT, "--date", "24/11/2026", "--file", minutes)
    assert code == 1
    (failed,) = _meetings(session)
    assert failed.status == mt.MeetingStatus.cancelled and "mẫu thư hỏng" in failed.summary["cancelled"]
    assert {n.status for n in session.scalars(select(Nomination))} == {
        Status.submitted
    }  # nothing half-applied
    monkeypatch.undo()
    code, out = _cli("meeting", "decide", UNIT, "--date", "24/11/2026", "--file", minutes, "--json")
    assert code == 0, out
    assert json.loads(out)["counts"] == {"recommended": 2}
    # what the run applied, read back from the app database (when Prefect hands back a state without its
    # data, cli/meetings.py reports the same from there)
    from cli.meetings import applied_by_run

    applied = next(m for m in _meetings(session) if m.status == mt.MeetingStatus.applied)
    assert applied.flow_run_id is not None
    again = applied_by_run(UNIT, applied.flow_run_id)
    assert again.model_dump(mode="json", exclude={"letters", "unit"}) == {
        k: v for k, v in json.loads(out).items() if k not in {"letters", "unit"}
    }


@pytest.mark.parametrize("first", ["receive-forwarded", "the next meeting"])
def test_each_forwarded_dossier_is_received_once_with_one_event(
    prefect_api, session, sample, smtp_env, first: str
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import (
        EventAnyResourceFilter,
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
    )

    from flows.council import council_meeting, receive_forwarded
    from flows.events import dossiers_named

    started = datetime.now(
        UTC
    )  # codes repeat across tests (a fresh app database each), events do not go away
    codes = _take_in(session, ["bang-khen-tinh", "bang-khen-tinh"])
    commune = asyncio.run(
        council_meeting(
            unit=UNIT,
            on=DAY,
            deliver=False,
            dashboard=False,
            minutes=mt.Minutes(
                meeting_date=DAY, members_present=7, decisions=[{"code": c, "votes_for": 7} for c in codes]
            ),
        )
    )
    assert commune.counts == {"forwarded": 2}
    province = mt.Minutes(
        meeting_date=DAY, members_present=9, decisions=[{"code": c, "votes_for": 9} for c in codes]
    )
    receipts = []
    if first == "the next meeting":
        assert asyncio.run(
            council_meeting(unit="thanh-hoa", minutes=province, on=DAY, deliver=False, dashboard=False)
        ).counts == {"recommended": 2}
    for _ in range(2):  # the event's trigger, and a second start (a re-run, or a script calling it again)
        receipts.append(asyncio.run(receive_forwarded(meeting_id=commune.meeting_id, on=DAY, deliver=False)))
    if first == "receive-forwarded":
        assert asyncio.run(
            council_meeting(unit="thanh-hoa", minutes=province, on=DAY, deliver=False, dashboard=False)
        ).counts == {"recommended": 2}
    assert [sorted(r.received) for r in receipts] == (
        [sorted(codes), []] if first == "receive-forwarded" else [[], []]
    )

    async def received_events() -> list:
        wanted = EventFilter(
            event=EventNameFilter(name=["thidua.nomination.received"]),
            any_resource=EventAnyResourceFilter(id=[f"thidua.nomination.{c}" for c in codes]),
            occurred=EventOccurredFilter(since=started),
        )
        deadline = time.monotonic() + 10  # events are written asynchronously: give the extras time to land
        async with get_client() as client:
            while True:
                page = await client.read_events(filter=wanted, limit=50)
                if len(page.events) > 1 or time.monotonic() > deadline:
                    return page.events
                await asyncio.sleep(0.5)

    events = asyncio.run(received_events())
    # one batched event (same unit and award form) names both dossiers, each once
    assert len(events) == 1
    assert sorted(c for e in events for c in dossiers_named(e)) == sorted(codes)
    session.expire_all()
    assert (
        session.execute(
            select(func.count()).select_from(Nomination).where(Nomination.status == Status.recommended)
        ).scalar_one()
        == 2
    )


# --- tags: a meeting opened from the CLI is tagged once per level ----------------------------------------


def test_a_central_meeting_run_has_exactly_one_level_tag(prefect_api, session, sample, monkeypatch) -> None:
    """`thidua meeting open` tags the run it starts, and the run tags itself when it is named: both must
    say the level the same way (a meeting at MOHA once had `cap:central-moha` and `cap:central/moha`)."""
    import prefect
    import prefect.deployments.flow_runs
    from prefect.client.orchestration import get_client

    import supervisor.reach
    from flows.council import council_meeting

    started: list[str] = []

    async def run_here(name: str, *, parameters: dict, tags: list[str], **_: object) -> object:
        with prefect.tags(*tags):  # as the deployment's run would carry them
            state = await council_meeting(**parameters, deliver=False, dashboard=False, return_state=True)
        started.append(str(state.state_details.flow_run_id))
        async with get_client() as client:
            return await client.read_flow_run(state.state_details.flow_run_id)

    monkeypatch.setattr(supervisor.reach, "reach", lambda *_, **__: {"ui_url": ""})
    monkeypatch.setattr(prefect.deployments.flow_runs, "arun_deployment", run_here)
    code, _ = _cli("meeting", "open", "central.bo-noi-vu", "--wait", "30")
    assert code == 1  # the Ministry decides without a council vote: the run is refused, after it was named

    async def tags_of_run() -> list[str]:
        async with get_client() as client:
            return (await client.read_flow_run(uuid.UUID(started[0]))).tags

    assert [t for t in asyncio.run(tags_of_run()) if t.startswith("cap:")] == ["cap:central/moha"]
