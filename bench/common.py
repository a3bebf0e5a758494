"""What the benchmarks share: an isolated environment in a work folder, and a mail sink process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def isolated_environment(workdir: Path, **extra: str) -> str:
    """Point the app (SQLite in `workdir`) and Prefect's home at a throwaway folder; returns the app DB URL."""
    url = f"sqlite:///{workdir / 'app.db'}"
    os.environ.update(
        {
            "THIDUA_DATA_DIR": str(workdir / "data"),
            "THIDUA_DATABASE_URL": url,
            "THIDUA_SMTP_HOST": "127.0.0.1",
            "THIDUA_SMTP_SECURITY": "none",
            "PREFECT_HOME": str(workdir / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            **extra,
        }
    )
    return url


def start_sink(*, maildir: Path) -> tuple[subprocess.Popen[str], int]:
    """`python -m notifications.sink` on a free port, once it listens."""
    from notifications.sink import free_port

    port = free_port()
    command = [sys.executable, "-m", "notifications.sink", "--port", str(port), "--maildir", str(maildir)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.readline()  # "SMTP sink on …": listening
    return process, port
