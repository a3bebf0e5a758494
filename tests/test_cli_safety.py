"""The `thidua` command as a person runs it (a real process, real SQLite, and without `thidua up` a real
Prefect temporary server): settings refused without echoing secrets, one rule when the service is not
running, Prefect's logs in the log file rather than on the terminal, a private data folder."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from tests.test_up import free_ports, run_thidua, up_env

SECRET = "mat-khau-bi-mat-93"
UNIT = "thanh-hoa.cam-thach-2025"
PREFECT_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| ", re.MULTILINE)  # Prefect's console format


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A fresh data folder, no Prefect server named anywhere, Prefect's default log level, and mail
    pointed at a closed port (never at someone else's sink)."""
    env = up_env(data_dir) | {
        "PREFECT_HOME": str(data_dir.parent / "prefect-home"),
        "PREFECT_LOGGING_LEVEL": "INFO",
        "THIDUA_SMTP_PORT": str(free_ports(1)[0]),
    }
    env.pop("PREFECT_PROFILE", None)
    return env | extra


def _thidua(env: dict[str, str], *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_thidua(env, *args, cwd=cwd, timeout=timeout)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {
                "THIDUA_ENV": "production",
                "THIDUA_SMTP_USERNAME": "thuky",
                "THIDUA_SMTP_PASSWORD": SECRET,
                "THIDUA_UI_AUTH": f"thuky:{SECRET}",
            },
            ["THIDUA_DATABASE_URL"],
        ),
        (
            {
                "THIDUA_ENV": "production",
                "THIDUA_DATABASE_URL": f"postgresql+psycopg://thidua:{SECRET}@db/thidua",
                "THIDUA_SMTP_USERNAME": "thuky",
                "THIDUA_SMTP_PASSWORD": SECRET,
            },
            ["THIDUA_SMTP_SECURITY"],
        ),
        (
            {"THIDUA_SMTP_PORT": SECRET, "THIDUA_SMTP_SECURITY": SECRET, "THIDUA_UI_AUTH": f"thuky:{SECRET}"},
            ["THIDUA_SMTP_PORT", "THIDUA_SMTP_SECURITY"],
        ),
    ],
    ids=["production-sqlite", "production-smtp-without-tls", "malformed"],
)
@pytest.mark.parametrize("source", ["environment", "dotenv"])
def test_a_refused_setting_is_one_line_without_its_value(tmp_path: Path, settings, named, source) -> None:
    env = _env(tmp_path / "data")
    if source == "environment":
        env |= settings
    else:  # the environment wins over .env: leave these settings to the file
        env = {k: v for k, v in env.items() if k not in settings}
        (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()), encoding="utf-8")
    result = _thidua(env, "units", "cam thach", cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    (line,) = _lines(result.stderr)
    assert line.startswith("Lỗi: cấu hình không hợp lệ") and all(name in line for name in named), line


def _modes(folder: Path) -> dict[str, str]:
    """Every folder and file that is not private (0700 / 0600)."""
    wrong = {}
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong[path.relative_to(folder).as_posix() or "."] = oct(mode)
    return wrong


@pytest.mark.e2e
def test_without_the_service_flows_run_on_a_temporary_server_and_the_rest_refuse(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    data_dir.mkdir(mode=0o755)
    (data_dir / "ghi-chu.txt").write_text("left by an older version")
    (data_dir / "ghi-chu.txt").chmod(0o644)
    for args in (["db", "upgrade"], ["sample", "load"]):
        prepared = _thidua(env, *args, cwd=tmp_path, timeout=180)
        assert prepared.returncode == 0, prepared.stderr

    # a flow run to completion: the intake flow on Prefect's temporary server, which queues the letters
    rows = [
        {
            "nominee": name,
            "kind": "cá nhân",
            "unit": UNIT,
            "award": "giay-khen-xa",
            "campaign": "ntm-2021-2025",
            "achievement": "Hiến đất làm đường thôn",
            "submitted_on": "02/03/2026",
        }
        for name in ("Nguyễn Văn Đông", "Trần Thị Tây")
    ]
    (tmp_path / "ho-so.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    nominated = _thidua(
        env, "nominate", str(tmp_path / "ho-so.json"), "--received", "23/11/2026", cwd=tmp_path
    )
    assert nominated.returncode == 0, nominated.stderr
    (said,) = _lines(nominated.stderr)  # one line: the service is down, a temporary server is used
    assert "Dịch vụ chưa chạy" in said and "máy chủ Prefect tạm" in said and "hộp thư đi" in said
    for output in (nominated.stdout, nominated.stderr):
        assert "INFO" not in output and "Traceback" not in output and not PREFECT_LOG_LINE.search(output), (
            output
        )
    assert "Đã tiếp nhận 2 hồ sơ" in nominated.stdout
    with sqlite3.connect(data_dir / "thidua.db") as db:
        letters = db.execute("SELECT status FROM outbox_message WHERE category LIKE 'council%'").fetchall()
    assert letters and {status for (status,) in letters} == {"pending"}, (
        letters
    )  # queued, waiting for the service
    log = (data_dir / "logs" / "cli.log").read_text(encoding="utf-8")
    assert "INFO prefect.flow_runs" in log and "intake" in log

    # --verbose shows the same logs on the terminal
    reminded = _thidua(env, "--verbose", "remind", "--today", "16/11/2026", "--no-deliver", cwd=tmp_path)
    assert reminded.returncode == 0, reminded.stderr
    assert "Nhắc hạn ngày 16/11/2026" in reminded.stdout
    assert "INFO prefect.flow_runs" in reminded.stderr and "Traceback" not in reminded.stderr

    # what needs a served deployment or a suspended run refuses, in one line
    for args in (["meeting", "open", "cam thach"], ["demo"]):
        refused = _thidua(env, *args, cwd=tmp_path, timeout=120)
        assert refused.returncode == 1
        (line,) = _lines(refused.stderr)
        assert line.startswith("Lỗi: dịch vụ chưa chạy") and "thidua up" in line, line
        assert refused.stdout == ""

    assert _modes(data_dir) == {}


def test_an_unexpected_error_is_one_line_and_a_traceback_in_the_log(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir, THIDUA_DATABASE_URL="postgresql+psycopg://thidua@127.0.0.1:9/khong-co")
    result = _thidua(env, "units", "cam thach", cwd=tmp_path, timeout=120)
    assert result.returncode == 1
    (line,) = _lines(result.stderr)
    assert line.startswith("Lỗi: lệnh không hoàn thành") and "OperationalError" in line and "cli.log" in line
    assert "Traceback" in (data_dir / "logs" / "cli.log").read_text(encoding="utf-8")
    assert _modes(data_dir) == {}
