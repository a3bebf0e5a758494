"""What the benchmarks share: an isolated environment in a work folder, a mail sink process and its maildir."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from models.meetings import Minutes

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


def wait_healthy(api_url: str, *, timeout: float = 180, server: subprocess.Popen | None = None) -> None:
    """Until the Prefect API at `api_url` answers its health check; TimeoutError when it does not in
    `timeout` s, or at once when its `server` process has ended."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (server is None or server.poll() is None):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"Prefect server at {api_url} did not answer in {timeout:.0f} s")


@contextlib.contextmanager
def prefect_server(home: Path, *, stock: bool = False, timeout: float = 180) -> Iterator[str]:
    """A Prefect server on SQLite under `home`, as `thidua up` runs it (`supervisor.prefect_server`) or as
    Prefect ships it (`stock`: `prefect server start`), with this process's client pointed at it; yields
    the API URL. Its log is `home`/server.log."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from notifications.sink import free_port

    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    module = "prefect" if stock else "supervisor.prefect_server"
    with (home / "server.log").open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", module, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        try:
            wait_healthy(url, timeout=timeout, server=server)
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}: {(home / 'server.log').read_text()[-2000:]}") from None
        with temporary_settings({PREFECT_API_URL: url}):
            yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def use_sink(port: int) -> None:
    """Send the app's mail to the sink on `port` (settings are read again)."""
    from models.settings import reset_settings

    os.environ["THIDUA_SMTP_PORT"] = str(port)
    reset_settings()


def check_maildir(maildir: Path) -> tuple[int, int]:
    """Letters the sink stored, and how many distinct Message-IDs they carry."""
    from email import policy
    from email.parser import BytesHeaderParser

    parser = BytesHeaderParser(policy=policy.compat32)
    ids = []
    for path in (maildir / "new").iterdir():
        with path.open("rb") as fp:
            ids.append(parser.parse(fp)["Message-ID"])
    return len(ids), len(set(ids))


def harness_figures() -> dict[str, str]:
    """Where a flow benchmark ran: the Prefect harness, the sink, the database and the machine."""
    return {
        "orchestration": "prefect_test_harness (temporary local Prefect API server)",
        "sink": "aiosmtpd (notifications.sink, own process, Maildir) on 127.0.0.1",
        "database": "SQLite (WAL) in a temporary folder",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
    }


def print_figures(title: str, figures: dict, rows: list[tuple[str, str, str]]) -> None:
    """A table of (what, seconds, detail) under a title and the machine, then the figures as one JSON line."""
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}")
    print(f"{figures['machine']}\n")
    for name, seconds, detail in rows:
        print(f"  {name:<{width}}  {seconds:>9}  {detail}")
    print()
    print(json.dumps(figures, ensure_ascii=False))


def waiting_by_unit(engine: Engine, statuses: Collection[str]) -> dict[str, list[str]]:
    """The codes of the dossiers in `statuses`, by the code of the unit that holds them (in code order)."""
    from sqlalchemy import select
    from sqlmodel import Session, col

    from models.nominations import Nomination
    from models.units import Unit

    with Session(engine) as session:
        rows = session.execute(
            select(Unit.code, Nomination.code)
            .join(Unit, col(Unit.id) == col(Nomination.current_unit_id))
            .where(col(Nomination.status).in_(list(statuses)))
            .order_by(col(Nomination.code))
        ).all()
    out: dict[str, list[str]] = {}
    for unit, code in rows:
        out.setdefault(unit, []).append(code)
    return out


def approve_all(engine: Engine, unit_code: str, codes: list[str], *, on: date) -> Minutes:
    """Minutes of the unit's council meeting on `on` approving every one of `codes`, all members present."""
    from sqlalchemy import select
    from sqlmodel import Session

    from models.meetings import Minutes, council_of
    from models.units import Unit

    with Session(engine) as session:
        unit_id = session.scalars(select(Unit.id).where(Unit.code == unit_code)).one()
        _, members = council_of(session=session, unit_id=unit_id)
    return Minutes(
        meeting_date=on,
        members_present=len(members),
        decisions=[{"code": c, "decision": "approve", "votes_for": len(members)} for c in codes],
    )
