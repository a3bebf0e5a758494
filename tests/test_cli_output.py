"""What the CLI prints for officials: data shown literally (never as rich markup), Vietnamese labels,
award and unit names, overdue reports marked as such. Against the session's Prefect test server, real
SQLite (or PostgreSQL) and a real SMTP server; the `thidua` app itself through typer's runner."""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
from rich.table import Table
from sqlalchemy import func, select
from typer.testing import CliRunner

from models.nominations import Nomination, Nominee
from models.units import Council, CouncilMember

UNIT = "thanh-hoa.cam-thach-2025"
RECEIVED = "23/11/2026"
MARKUP_NAMES = ["[/b]", "[link=http://x]y[/link]", "Bà [bold red]Hoa[/] :smile:"]
WIDE = {"COLUMNS": "250"}


def _invoke(*args: str):
    from cli.app import app

    return CliRunner().invoke(app, list(args), env=WIDE)


def _row(nominee: str, award: str = "giay-khen-xa") -> dict:
    return {
        "nominee": nominee,
        "kind": "cá nhân",
        "unit": UNIT,
        "award": award,
        "campaign": "ntm-2021-2025",
        "achievement": "Hiến đất làm đường thôn",
        "submitted_on": "02/03/2026",
    }


def _nominate(tmp_path: Path, rows: list[dict]):
    path = tmp_path / "ho-so.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return _invoke("nominate", str(path), "--received", RECEIVED)


def _code_of(session, name: str) -> str:
    session.expire_all()
    return session.scalars(
        select(Nomination.code).join(Nominee, Nominee.id == Nomination.nominee_id).where(Nominee.name == name)
    ).one()


def test_names_that_look_like_markup_are_printed_literally(
    prefect_api, session, sample, smtp_env, tmp_path
) -> None:
    nominated = _nominate(tmp_path, [_row(name) for name in MARKUP_NAMES])
    assert nominated.exit_code == 0, nominated.output
    inbox = _invoke("inbox", "cam thach")
    assert inbox.exit_code == 0, inbox.output
    for name in MARKUP_NAMES:
        assert name in nominated.output
        assert name in inbox.output
        status = _invoke("status", _code_of(session, name))
        assert status.exit_code == 0, status.output
        assert name in status.output


def test_the_consoles_never_send_data_as_markup_emoji_or_control_codes() -> None:
    from cli.common import DataConsole, text

    out = io.StringIO()
    console = DataConsole(file=out, force_terminal=True, width=200)
    hidden_link = "\x1b]8;;http://evil.example\x1b\\bấm vào\x1b]8;;\x1b\\"
    table = Table(title="[/b] :smile:")
    table.add_column("Đối tượng")
    table.add_row(hidden_link)
    console.print(table)
    console.print(text("[bold]{}[/] tại {}", "[link=http://x]y[/link]", "[/]"))
    console.print("[red]không phải màu[/red]")
    printed = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # the consoles' own colours (SGR) aside
    assert "\x1b" not in printed and "\\x1b]8;;http://evil.example" in printed
    assert (
        "[/b] :smile:" in printed
        and "[link=http://x]y[/link]" in printed
        and "[red]không phải màu[/red]" in printed
    )
    assert "😄" not in printed


def _members(session, unit_id: int) -> int:
    council = session.scalars(select(Council).where(Council.unit_id == unit_id)).one()
    return session.execute(
        select(func.count()).select_from(CouncilMember).where(CouncilMember.council_id == council.id)
    ).scalar_one()


def test_status_and_meeting_show_speak_vietnamese(prefect_api, session, sample, smtp_env, tmp_path) -> None:
    from flows.council import council_meeting
    from models.meetings import Minutes

    nominated = _nominate(tmp_path, [_row("Nguyễn Văn Đông"), _row("Trần Thị Tây", "bang-khen-tinh")])
    assert nominated.exit_code == 0, nominated.output
    assert "Giấy khen của Chủ tịch UBND xã" in nominated.output and "giay-khen-xa" not in nominated.output
    dong, tay = _code_of(session, "Nguyễn Văn Đông"), _code_of(session, "Trần Thị Tây")
    unit = sample.resolve(UNIT)
    members = _members(session, unit.id)
    minutes = Minutes(
        meeting_date=date(2026, 11, 25),
        members_present=members,
        secretary="Thư ký",
        decisions=[{"code": c, "decision": "approve", "votes_for": members} for c in (dong, tay)],
    )
    asyncio.run(council_meeting(unit=UNIT, minutes=minutes, on=date(2026, 11, 25)))

    conferred = _invoke("status", dong)
    assert conferred.exit_code == 0, conferred.output
    forwarded = _invoke("status", tay)
    words = " ".join((conferred.output + forwarded.output).split())
    assert "nộp hồ sơ" in words and "khen thưởng" in words and "trình cấp trên → tỉnh Thanh Hóa" in words
    for english in ("submit", "forward", "confer", "receive"):
        assert not re.search(rf"\b{english}\b", words), english

    shown = _invoke("meeting", "show", "cam thach")
    assert shown.exit_code == 0, shown.output
    line = " ".join(shown.output.split())
    assert (
        "đã áp dụng" in line
        and "đề nghị khen thưởng, chờ quyết định: 1" in line
        and "trình cấp trên: 1" in line
    )
    assert "{" not in shown.output and "'" not in shown.output
    as_json = json.loads(_invoke("meeting", "show", "cam thach", "--json").stdout)
    assert as_json[0]["summary"]["counts"] == {"recommended": 1, "forwarded": 1}  # scripts keep the codes


@pytest.mark.parametrize(
    ("today", "overdue"),
    [("20/11/2025", None), ("30/11/2025", None), ("05/12/2025", "quá hạn 5 ngày, chưa nộp")],
)
def test_report_status_marks_units_overdue_after_the_due_date(session, sample, today, overdue) -> None:
    # the 30/11 report is Quảng Trị's (Decision 1872/QĐ-UBND, VII.4), to 2025
    filed = _invoke("report", "submit", "quang-tri-2025.cam-lo-2025", "--year", "2025", "--on", "20/11/2025")
    assert filed.exit_code == 0, filed.output
    result = _invoke("report", "status", "--year", "2025", "--province", "quang-tri-2025", "--today", today)
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())
    assert "chưa nộp" in words and "đã nộp, đúng hạn" in words
    if overdue:
        assert overdue in words
    else:
        assert "quá hạn" not in words
