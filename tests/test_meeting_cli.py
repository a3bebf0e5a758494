"""A meeting suspended and resumed with input from a file, end to end (marked e2e): `thidua nominate`,
`thidua meeting open` and `thidua meeting decide --file` against a real `thidua up`. Wrong minutes are
refused with every problem listed, nothing is applied and the run stays suspended."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time
from pathlib import Path

import pytest

from tests.test_up import AUTH, Up, app_database, run_thidua, running, up_env  # noqa: F401

pytestmark = pytest.mark.e2e

UNIT = "thanh-hoa.cam-thach-2025"
ROWS = [
    {
        "nominee": "Nguyễn Văn Đông",
        "kind": "cá nhân",
        "unit": UNIT,
        "award": "giay-khen-xa",
        "campaign": "ntm-2021-2025",
        "achievement": "Hiến đất làm đường",
        "submitted_on": "02/03/2026",
    },
    {
        "nominee": "Trần Thị Tây",
        "kind": "cá nhân",
        "unit": UNIT,
        "award": "bang-khen-tinh",
        "campaign": "ntm-2021-2025",
        "achievement": "Góp công xây kênh mương",
        "submitted_on": "02/03/2026",
    },
]


def _thidua(
    up: Up, database_url: str | None, *args: str, timeout: float = 240
) -> subprocess.CompletedProcess:
    env = up_env(up.data_dir) | {"THIDUA_UI_AUTH": ":".join(AUTH)}
    if database_url:
        env["THIDUA_DATABASE_URL"] = database_url
    return run_thidua(env, *args, timeout=timeout)


def _state(up: Up, run_id: str):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    async def read():
        async with get_client() as client:
            return (await client.read_flow_run(run_id)).state

    with temporary_settings({PREFECT_API_URL: up.api_url, PREFECT_API_AUTH_STRING: ":".join(AUTH)}):
        return asyncio.run(read())


def _statuses(up: Up, database_url: str | None) -> dict[str, str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url or f"sqlite:///{up.data_dir / 'thidua.db'}")
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT code, status FROM nomination")).all())
    finally:
        engine.dispose()


def _minutes(path: Path, rows: list[list[str]]) -> Path:
    header = "Mã hồ sơ,Quyết định,Hình thức thấp hơn,Đồng ý,Không đồng ý,Không biểu quyết,Lý do / nội dung bổ sung\n"
    path.write_text(header + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_meeting_suspended_then_resumed_from_a_minutes_file(
    running: Up, app_database: str | None, tmp_path: Path
) -> None:
    nominations = tmp_path / "ho-so.json"
    nominations.write_text(json.dumps(ROWS, ensure_ascii=False), encoding="utf-8")
    out = _thidua(running, app_database, "nominate", str(nominations), "--json")
    assert out.returncode == 0, out.stderr
    codes = {n["nominee"]: n["code"] for n in json.loads(out.stdout)}

    opened = _thidua(running, app_database, "meeting", "open", UNIT, "--json")
    assert opened.returncode == 0, opened.stderr
    meeting = json.loads(opened.stdout)
    assert sorted(a["code"] for a in meeting["agenda"]) == sorted(codes.values())
    deadline = time.monotonic() + 120
    while not _state(running, meeting["flow_run_id"]).is_paused():
        assert time.monotonic() < deadline, "the meeting run never suspended"
        time.sleep(1)

    dong, tay = codes["Nguyễn Văn Đông"], codes["Trần Thị Tây"]
    bad = _minutes(
        tmp_path / "sai.csv",
        [
            [dong, "không thông qua", "", "2", "5", "0", ""],
            ["HS2099-000001", "thông qua", "", "7", "0", "0", ""],
            [tay, "thông qua", "", "40", "0", "0", ""],
        ],
    )
    refused = _thidua(running, app_database, "meeting", "decide", UNIT, "--file", str(bad), "--json")
    assert refused.returncode == 1
    problems = json.loads(refused.stdout)["problems"]
    assert any(dong in p and "lý do" in p for p in problems)
    assert any("HS2099-000001" in p for p in problems)
    assert any(tay in p and "vượt" in p for p in problems)
    assert set(_statuses(running, app_database).values()) == {"submitted"}
    assert _state(running, meeting["flow_run_id"]).is_paused(), "refused minutes leave the run suspended"

    good = _minutes(
        tmp_path / "bien-ban.csv",
        [
            [dong, "không thông qua", "", "1", "6", "0", "Chưa tiêu biểu"],
            [tay, "thông qua", "", "7", "0", "0", ""],
        ],
    )
    applied = _thidua(running, app_database, "meeting", "decide", UNIT, "--file", str(good), "--json")
    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert json.loads(applied.stdout)["counts"] == {"rejected": 1, "forwarded": 1}
    assert _statuses(running, app_database) == {dong: "rejected", tay: "forwarded"}
    deadline = time.monotonic() + 120
    while not (state := _state(running, meeting["flow_run_id"])).is_final():
        assert time.monotonic() < deadline, f"the resumed run did not finish: {state}"
        time.sleep(1)
    assert state.is_completed(), state


# --- issue 11: meetings never hang on a dead run; the form as a secretary uses it -------------------------
# Each test uses its own commune, so they share this module's `thidua up` without seeing each other's dossiers.


def _api(up: Up, coroutine_function):
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: up.api_url, PREFECT_API_AUTH_STRING: ":".join(AUTH)}):
        return asyncio.run(coroutine_function())


def _nominate(up: Up, database_url: str | None, tmp_path: Path, unit: str, awards: list[str]) -> list[str]:
    rows = [
        {
            "nominee": f"{'Thôn' if a.startswith('co-') else 'Nguyễn Văn'} {unit.split('.')[-1]} {i}",
            "kind": "tập thể" if a.startswith("co-") else "cá nhân",
            "unit": unit,
            "award": a,
            "campaign": "ntm-2021-2025",
            "achievement": "Góp công xây dựng nông thôn mới",
            "submitted_on": "02/03/2026",
        }
        for i, a in enumerate(awards)
    ]
    path = tmp_path / f"ho-so-{unit}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    out = _thidua(up, database_url, "nominate", str(path), "--json")
    assert out.returncode == 0, out.stderr
    return [n["code"] for n in json.loads(out.stdout)]


def _said(out: subprocess.CompletedProcess) -> str:
    """What the command said on stderr, as one line (the console wraps long messages)."""
    return " ".join(out.stderr.split())


def _meetings(up: Up, database_url: str | None, unit: str) -> list[dict]:
    shown = _thidua(up, database_url, "meeting", "show", unit, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def _wait_state(up: Up, run_id: str, done, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not done(state := _state(up, run_id)):
        assert time.monotonic() < deadline, f"{what}: {state}"
        time.sleep(1)
    return state


@pytest.mark.any_database  # the CLI and the run's state; refused-then-corrected minutes on PostgreSQL: test_meeting_lifecycle
def test_refused_minutes_of_a_held_meeting_leave_nothing_open_and_the_corrected_ones_apply(
    running: Up, app_database: str | None, tmp_path: Path
) -> None:
    unit = "thanh-hoa.cam-thuy-2025"  # xã Cẩm Thủy, 7 council members
    flag, certificate = _nominate(running, app_database, tmp_path, unit, ["co-thi-dua-tinh", "giay-khen-xa"])
    short = _minutes(
        tmp_path / "thieu.csv",
        [
            [flag, "thông qua", "", "5", "2", "0", ""],  # 5 of 7: short of 80 %
            [certificate, "thông qua", "", "7", "0", "0", ""],
        ],
    )

    def decide(minutes: Path) -> subprocess.CompletedProcess:
        args = ("meeting", "decide", unit, "--date", "27/11/2026", "--json")
        return _thidua(running, app_database, *args, "--file", str(minutes))

    refused = decide(short)
    assert refused.returncode == 1, refused.stderr
    problems = json.loads(refused.stdout)["problems"]
    assert len(problems) == 1 and flag in problems[0] and "chưa đạt" in problems[0]
    assert "Traceback" not in refused.stderr
    assert [m["status"] for m in _meetings(running, app_database, unit)] == ["cancelled"]  # nothing left open
    right = _minutes(
        tmp_path / "dung.csv",
        [[flag, "thông qua", "", "6", "1", "0", ""], [certificate, "thông qua", "", "7", "0", "0", ""]],
    )
    applied = decide(right)
    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert json.loads(applied.stdout)["counts"] == {"forwarded": 1, "recommended": 1}
    assert [m["status"] for m in _meetings(running, app_database, unit)] == ["cancelled", "applied"]


@pytest.mark.any_database  # the refusal's words and the run's state; no row is written
def test_nothing_waiting_opens_no_meeting(running: Up, app_database: str | None) -> None:
    unit = "thanh-hoa.bien-thuong-2025"  # xã Biện Thượng: no dossier in this test module
    opened = _thidua(running, app_database, "meeting", "open", unit)
    assert opened.returncode == 1
    assert "không có hồ sơ nào chờ Hội đồng Thi đua – Khen thưởng xã Biện Thượng xét" in _said(opened)
    assert _meetings(running, app_database, unit) == []


@pytest.mark.any_database  # Prefect run states and the UI cancel; racing meetings on PostgreSQL: test_flows
def test_one_meeting_at_a_time_and_a_cancelled_or_deleted_run_closes_its_meeting(
    running: Up, app_database: str | None, tmp_path: Path
) -> None:
    from prefect.states import Cancelling

    unit = "thanh-hoa.cam-tu-2025"  # xã Cẩm Tú
    (code,) = _nominate(running, app_database, tmp_path, unit, ["giay-khen-xa"])

    def open_and_wait() -> dict:
        opened = _thidua(running, app_database, "meeting", "open", unit, "--json")
        assert opened.returncode == 0, opened.stderr
        meeting = json.loads(opened.stdout)
        _wait_state(
            running, meeting["flow_run_id"], lambda s: s.is_paused(), "the meeting run never suspended"
        )
        return meeting

    first = open_and_wait()
    again = _thidua(running, app_database, "meeting", "open", unit)
    assert again.returncode == 1 and f"đang có phiên họp #{first['meeting_id']}" in _said(again)

    async def cancel_in_the_ui() -> None:  # what the UI's Cancel button sends
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            await client.set_flow_run_state(first["flow_run_id"], Cancelling())

    _api(running, cancel_in_the_ui)
    _wait_state(
        running, first["flow_run_id"], lambda s: s.is_cancelled(), "the suspended run was not cancelled"
    )
    second = open_and_wait()  # the council is not held by the cancelled run
    assert second["meeting_id"] != first["meeting_id"] and [a["code"] for a in second["agenda"]] == [code]

    async def delete_in_the_ui() -> None:
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            await client.delete_flow_run(second["flow_run_id"])

    _api(running, delete_in_the_ui)
    third = open_and_wait()
    meetings = {m["meeting_id"]: m for m in _meetings(running, app_database, unit)}
    assert meetings[first["meeting_id"]]["status"] == "cancelled"
    assert meetings[second["meeting_id"]]["status"] == "cancelled"
    assert "đã bị xóa" in meetings[second["meeting_id"]]["summary"]["cancelled"]
    assert meetings[third["meeting_id"]]["status"] == "open"

    cancelled = _thidua(running, app_database, "meeting", "cancel", unit, "--json")  # the operator's command
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["cancelled"] == [third["meeting_id"]]
    _wait_state(
        running, third["flow_run_id"], lambda s: s.is_cancelled(), "meeting cancel left the run suspended"
    )
    assert {m["status"] for m in _meetings(running, app_database, unit)} == {"cancelled"}
    assert _statuses(running, app_database)[code] == "submitted"  # the dossier waits for the next meeting
    nothing = _thidua(running, app_database, "meeting", "cancel", unit)
    assert nothing.returncode == 1 and "không có phiên họp nào đang mở" in _said(nothing)


@pytest.mark.any_database  # the Prefect form's refill; applying minutes on PostgreSQL is tested beside it
def test_a_refused_form_comes_back_filled_and_the_applied_meeting_clears_its_problems(
    running: Up, app_database: str | None, tmp_path: Path
) -> None:
    from prefect.flow_runs import aresume_flow_run

    unit = "thanh-hoa.tay-do-2025"  # xã Tây Đô
    forwarded, conferred = _nominate(
        running, app_database, tmp_path, unit, ["bang-khen-tinh", "giay-khen-xa"]
    )
    opened = _thidua(running, app_database, "meeting", "open", unit, "--json")
    assert opened.returncode == 0, opened.stderr
    meeting = json.loads(opened.stdout)
    run_id, problems_key = meeting["flow_run_id"], f"meeting-{meeting['meeting_id']}-problems"
    state = _wait_state(running, run_id, lambda s: s.is_paused(), "the meeting run never suspended")

    async def read(what: str, key: str | None = None):
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            ArtifactFilter,
            ArtifactFilterKey,
            LogFilter,
            LogFilterFlowRunId,
        )

        async with get_client() as client:
            if what == "form":
                return json.loads(await client.read_flow_run_input(run_id, key))["properties"]
            if what == "logs":
                return await client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
                )
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            return max(artifacts, key=lambda a: a.created).data if artifacts else None

    suspended_logs = [
        log for log in _api(running, lambda: read("logs")) if "Finished in state Suspended" in log.message
    ]
    assert suspended_logs and all(log.level == logging.INFO for log in suspended_logs)  # not a red ERROR

    # the secretary submits in the UI: no reason for a rejection, a card deleted, a hidden character
    first_form = _api(running, lambda: read("form", state.state_details.run_input_keyset["schema"]))
    card = next(i for i in first_form["agenda_items"]["default"] if i["code"] == forwarded)
    _api(
        running,
        lambda: aresume_flow_run(
            run_id,
            run_input={
                "meeting_date": first_form["meeting_date"]["default"],
                "members_present": 7,
                "secretary": "Lê\u200bThư Ký",
                "agenda_items": [card | {"decision": "Không thông qua", "votes_for": 2, "votes_against": 5}],
            },
        ),
    )
    deadline = time.monotonic() + 120
    while (state := _state(running, run_id)).state_details.pause_key != "decisions-1":
        assert time.monotonic() < deadline, f"the refused form was not offered again: {state}"
        time.sleep(1)
    again = _api(running, lambda: read("form", state.state_details.run_input_keyset["schema"]))
    assert again["secretary"]["default"] == "Lê\u200bThư Ký"
    refilled = {i["code"]: i for i in again["agenda_items"]["default"]}
    assert list(refilled) == [a["code"] for a in meeting["agenda"]]  # the deleted card is back, in its place
    assert refilled[forwarded]["decision"] == "Không thông qua" and refilled[forwarded]["votes_against"] == 5
    assert "phải ghi rõ lý do" in refilled[forwarded]["problems"]
    assert "chưa có quyết định" in refilled[conferred]["problems"]
    assert "thư ký phiên họp: có ký tự ẩn" in again["agenda_items"]["description"]
    assert "chưa hợp lệ" in _api(running, lambda: read("artifact", problems_key))

    right = _minutes(
        tmp_path / "tay-do.csv",
        [
            [forwarded, "thông qua", "", "", "", "", ""],  # everyone present
            [conferred, "thông qua", "", "7", "0", "0", ""],
        ],
    )
    applied = _thidua(running, app_database, "meeting", "decide", unit, "--file", str(right), "--json")
    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert json.loads(applied.stdout)["counts"] == {"forwarded": 1, "recommended": 1}
    assert _wait_state(
        running, run_id, lambda s: s.is_final(), "the resumed run did not finish"
    ).is_completed()
    assert "Biên bản đã áp dụng" in _api(running, lambda: read("artifact", problems_key))

    # the decided event starts receive-forwarded once; its dossier is received once, with one event
    async def receipts() -> tuple[list, list]:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
        from prefect.events.filters import EventAnyResourceFilter, EventFilter, EventNameFilter

        async with get_client() as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["receive-forwarded"]))
            )
            events = await client.read_events(
                filter=EventFilter(
                    event=EventNameFilter(name=["thidua.nomination.received"]),
                    any_resource=EventAnyResourceFilter(id=[f"thidua.nomination.{forwarded}"]),
                ),
                limit=50,
            )
        return [r for r in runs if r.parameters.get("meeting_id") == meeting["meeting_id"]], events.events

    deadline = time.monotonic() + 120
    while not (
        (found := _api(running, receipts))[0] and all(r.state.is_final() for r in found[0]) and found[1]
    ):
        assert time.monotonic() < deadline, f"no receipt of {forwarded} within 120 s: {found}"
        time.sleep(1)
    time.sleep(12)  # longer than the runner's poll: a second run or event would have shown by now
    runs, events = _api(running, receipts)
    assert len(runs) == 1 and runs[0].state.is_completed(), runs
    assert len(events) == 1, events
