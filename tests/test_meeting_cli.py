"""A meeting suspended and resumed with input from a file, end to end (marked e2e): `thidua nominate`,
`thidua meeting open` and `thidua meeting decide --file` against a real `thidua up`. Wrong minutes are
refused with every problem listed, nothing is applied and the run stays suspended."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.test_up import AUTH, Up, app_database, running, thidua_command, up_env  # noqa: F401

pytestmark = pytest.mark.e2e

UNIT = "thanh-hoa.cam-thach-2025"
ROWS = [
    {"nominee": "Nguyễn Văn Đông", "kind": "cá nhân", "unit": UNIT, "award": "giay-khen-xa",
     "campaign": "ntm-2021-2025", "achievement": "Hiến đất làm đường", "submitted_on": "02/03/2026"},
    {"nominee": "Trần Thị Tây", "kind": "cá nhân", "unit": UNIT, "award": "bang-khen-tinh",
     "campaign": "ntm-2021-2025", "achievement": "Góp công xây kênh mương", "submitted_on": "02/03/2026"},
]


def _thidua(up: Up, database_url: str | None, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = up_env(up.data_dir) | {"THIDUA_UI_AUTH": ":".join(AUTH)}
    if database_url:
        env["THIDUA_DATABASE_URL"] = database_url
    return subprocess.run([*thidua_command(), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _state(up: Up, run_id: str):  # noqa: ANN202
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    async def read():  # noqa: ANN202
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


def test_a_meeting_suspended_then_resumed_from_a_minutes_file(running: Up, app_database: str | None,  # noqa: F811
                                                              tmp_path: Path) -> None:
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
    bad = _minutes(tmp_path / "sai.csv", [[dong, "không thông qua", "", "2", "5", "0", ""],
                                          ["HS2099-000001", "thông qua", "", "7", "0", "0", ""],
                                          [tay, "thông qua", "", "40", "0", "0", ""]])
    refused = _thidua(running, app_database, "meeting", "decide", UNIT, "--file", str(bad), "--json")
    assert refused.returncode == 1
    problems = json.loads(refused.stdout)["problems"]
    assert any(dong in p and "lý do" in p for p in problems)
    assert any("HS2099-000001" in p for p in problems)
    assert any(tay in p and "vượt" in p for p in problems)
    assert set(_statuses(running, app_database).values()) == {"submitted"}
    assert _state(running, meeting["flow_run_id"]).is_paused(), "refused minutes leave the run suspended"

    good = _minutes(tmp_path / "bien-ban.csv", [[dong, "không thông qua", "", "1", "6", "0", "Chưa tiêu biểu"],
                                                [tay, "thông qua", "", "7", "0", "0", ""]])
    applied = _thidua(running, app_database, "meeting", "decide", UNIT, "--file", str(good), "--json")
    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert json.loads(applied.stdout)["counts"] == {"rejected": 1, "forwarded": 1}
    assert _statuses(running, app_database) == {dong: "rejected", tay: "forwarded"}
    deadline = time.monotonic() + 120
    while not (state := _state(running, meeting["flow_run_id"])).is_final():
        assert time.monotonic() < deadline, f"the resumed run did not finish: {state}"
        time.sleep(1)
    assert state.is_completed(), state
