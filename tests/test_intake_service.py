"""Intake through the running service (the session's Prefect test server stands in for `thidua up`):
a file of thousands of rows travels by reference, not as a flow-run parameter (Prefect refuses more
than 512 KiB), and a refused batch ends in a Completed state named Refused with every error as data."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from models.intake import COLUMNS, HEADERS_VI
from models.nominations import IntakeBatch, Nomination

RECEIVED = date(2026, 11, 23)


@pytest.fixture
def service(prefect_api, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI at the running Prefect server, as `thidua up`'s up.json or PREFECT_API_URL would."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    monkeypatch.setenv("PREFECT_API_URL", url)
    return url


def _csv(path: Path, rows: list[dict]) -> Path:
    lines = [",".join(HEADERS_VI[c] for c in COLUMNS)] + [",".join(r[c] for c in COLUMNS) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rows(count: int) -> list[dict]:
    return [
        {
            "nominee": f"Nguyễn Thị Hồng Nhung {i:05d}",
            "kind": "cá nhân",
            "unit": "cam thach",
            "award": "giay-khen-xa",
            "campaign": "ntm-2021-2025",
            "achievement": "Tích cực hiến đất và góp công xây dựng đường giao thông nông thôn và nhà văn hóa thôn",
            "submitted_on": "02/03/2026",
        }
        for i in range(count)
    ]


def _flow_run(flow_run_id):
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return await client.read_flow_run(flow_run_id)

    return asyncio.run(read())


def _last_intake_run():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    async def read():
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["intake"])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
            return runs[0]

    return asyncio.run(read())


def test_a_5000_row_file_goes_through_the_running_service(
    service, session, sample, smtp_env, tmp_path
) -> None:
    from cli.app import app
    from models.staging import StagedPayload

    path = _csv(tmp_path / "ho-so-5000.csv", _rows(5000))
    started = time.perf_counter()
    out = CliRunner().invoke(app, ["nominate", str(path), "--json", "--received", "23/11/2026"])
    elapsed = time.perf_counter() - started
    print(f"5,000-row intake through the service: {elapsed:.1f} s ({path.stat().st_size / 1e6:.2f} MB file)")
    assert out.exit_code == 0, out.output[-3000:]
    assert len(json.loads(out.stdout)) == 5000
    assert session.execute(select(func.count()).select_from(Nomination)).scalar_one() == 5000
    run = _last_intake_run()
    assert set(run.parameters) >= {"rows_ref"} and run.parameters.get("rows") is None
    assert run.state.is_completed() and run.name.startswith("intake-thanh-hoa-")
    staged = session.scalars(
        select(StagedPayload).where(StagedPayload.key == run.parameters["rows_ref"])
    ).one()
    assert staged.kind == "intake-rows" and staged.label == "ho-so-5000.csv" and len(staged.body) == 5000
    again = CliRunner().invoke(app, ["nominate", str(path), "--json", "--received", "23/11/2026"])
    assert again.exit_code == 0 and len(json.loads(again.stdout)) == 5000
    assert session.execute(select(func.count()).select_from(IntakeBatch)).scalar_one() == 1


def test_a_refused_batch_ends_refused_not_failed(prefect_api, session, sample, smtp_env) -> None:
    from flows.intake import intake
    from flows.refusal import is_refused

    rows = [
        {"row": 2, **_rows(1)[0], "unit": "xã Không Có"},
        {"row": 3, **_rows(2)[1], "achievement": "x" * 5000},
    ]
    state = asyncio.run(intake(rows=rows, source="sai.csv", received_on=RECEIVED, return_state=True))
    assert state.is_completed() and not state.is_failed() and state.name == "Refused" and is_refused(state)
    assert "Tệp «sai.csv» bị từ chối: 2 lỗi" in state.message
    result = state.result()
    assert result["refused"] and {(e["row"], e["column"]) for e in result["errors"]} == {
        (2, "unit"),
        (3, "achievement"),
    }
    assert all(not e["message"].startswith("dòng") for e in result["errors"])
    assert session.execute(select(func.count()).select_from(Nomination)).scalar_one() == 0
    server_state = _flow_run(state.state_details.flow_run_id).state
    assert server_state.is_completed() and server_state.name == "Refused"


def test_the_cli_reports_a_refusal_from_the_service_row_by_row(
    service, session, sample, smtp_env, tmp_path
) -> None:
    from cli.app import app

    rows = _rows(3)
    rows[1]["unit"] = "xã: Không: Có"  # a colon in the data must not split the message
    path = _csv(tmp_path / "sai.csv", rows)
    out = CliRunner().invoke(app, ["nominate", str(path), "--json", "--received", "23/11/2026"])
    assert out.exit_code == 1, out.output
    body = json.loads(out.stdout)
    assert body["refused"] and [(e["row"], e["column"]) for e in body["errors"]] == [(3, "unit")]
    assert body["errors"][0]["message"] == "không tìm thấy đơn vị «xã: Không: Có»"
    assert "Traceback" not in out.output
    human = CliRunner().invoke(app, ["nominate", str(path), "--received", "23/11/2026"])
    assert (
        human.exit_code == 1
        and "dòng 3, cột «Đơn vị đề nghị»: không tìm thấy đơn vị «xã: Không: Có»" in human.stderr
    )
    assert session.execute(select(func.count()).select_from(Nomination)).scalar_one() == 0


def test_intake_with_the_service_down_queues_the_letters_the_service_delivers(
    prefect_api, session, sample, smtp_env, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `thidua up` (no service to reach: the flow runs in the command's own process) and with
    the mail server down, `nominate` stores the dossiers and queues one letter to each receiving
    council; once the mail server is back, the service's next delivery sends each of them once."""
    from datetime import UTC, datetime, timedelta

    from cli.app import app
    from notifications.mailer import deliver_due
    from notifications.outbox import OutboxMessage, OutboxStatus

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    rows = _rows(3)
    rows[2]["unit"] = "thanh-hoa.cam-tu-2025"
    path = _csv(tmp_path / "ho-so.csv", rows)
    smtp_env.stop()
    out = CliRunner().invoke(app, ["nominate", str(path), "--received", "23/11/2026"])
    assert out.exit_code == 0, out.output[-3000:]
    assert "Đã tiếp nhận 3 hồ sơ" in out.stdout
    assert session.execute(select(func.count()).select_from(Nomination)).scalar_one() == 3
    council_letters = select(OutboxMessage).where(OutboxMessage.category == "council_new_items")
    queued = session.scalars(council_letters).all()
    assert len(queued) == 2 and {m.status for m in queued} == {OutboxStatus.pending}
    assert not smtp_env.captured

    smtp_env.start()
    later = datetime.now(UTC) + timedelta(hours=2)  # the next delivery run, after the back-off
    report = asyncio.run(deliver_due(now=later))
    assert report.sent == 2 and report.failed == 0
    session.expire_all()
    assert {m.status for m in session.scalars(council_letters)} == {OutboxStatus.sent}
    assert sorted(c.rcpt_tos[0] for c in smtp_env.captured) == sorted(m.to_email for m in queued)
    assert all(n == 1 for n in smtp_env.message_ids().values())
