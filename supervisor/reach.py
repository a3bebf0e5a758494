"""How CLI commands reach Prefect: the running `thidua up` (or PREFECT_API_URL), or a temporary server.

**The one rule for "the service is not running"** (`reach()`, used by every command that needs Prefect):
- a command that runs a flow to completion in its own process (`nominate`, `resubmit`, `remind`,
  `meeting decide` for a meeting already held, `mail send`) uses the running service when there is
  one, and otherwise Prefect's temporary server for this one command (with a start-up timeout that
  holds on a busy machine), after one line saying so — letters it queues wait in the outbox;
- a command that needs a served deployment or a suspended run (`meeting open`, `meeting decide` for
  an open meeting, `demo`) refuses with one line saying to start `thidua up`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TypeVar

from supervisor.up import running_instance

T = TypeVar("T")

# Prefect's default (20 s) was not enough for its temporary server on a fresh data folder at load ≈ 1 on
# 2 cores (`Timed out while attempting to connect to ephemeral Prefect API server`); 45 s was measured.
TEMPORARY_SERVER_STARTUP_TIMEOUT = 120


class Need(Enum):
    """What a command needs from Prefect."""

    flow_run = "flow_run"  # runs a flow in this process: a temporary server will do
    deployment = "deployment"  # starts a served deployment or resumes a suspended run: needs `thidua up`


def connect() -> dict | None:
    """Point this process's Prefect client at the running `thidua up`; returns its up.json, or None.

    Call before Prefect is imported. An explicit PREFECT_API_URL wins (workers, remote servers)."""
    info = running_instance()
    if os.environ.get("PREFECT_API_URL"):
        return info or {
            "api_url": os.environ["PREFECT_API_URL"],
            "ui_url": os.environ["PREFECT_API_URL"].removesuffix("/api"),
        }
    if info is None:
        return None
    os.environ["PREFECT_API_URL"] = info["api_url"]
    if info.get("smtp") and not os.environ.get("THIDUA_SMTP_HOST"):
        # mail queued by this command is delivered where the service delivers it (its sink, by default)
        host, _, port = info["smtp"].rpartition(":")
        os.environ["THIDUA_SMTP_HOST"], os.environ["THIDUA_SMTP_PORT"] = host, port
        if info.get("sink_port"):
            os.environ["THIDUA_SMTP_SECURITY"] = "none"
        from models.settings import reset_settings

        reset_settings()
    auth = os.environ.get("THIDUA_UI_AUTH")
    if not auth and info.get("auth"):
        from models.settings import get_settings

        secret = get_settings().ui_auth  # from a .env file
        auth = secret.get_secret_value() if secret else None
    if info.get("auth") and auth and not os.environ.get("PREFECT_API_AUTH_STRING"):
        os.environ["PREFECT_API_AUTH_STRING"] = auth
    return info


def reach(need: Need, *, why: str = "") -> dict | None:
    """The one rule: the running service's up.json, or None when this command will use Prefect's
    temporary server (one line on stderr says so). When the command cannot do without the service,
    prints one line saying to start `thidua up` and raises typer.Exit(1)."""
    from cli.common import fail
    from cli.common import info as say

    info = connect()
    if info is not None:
        return info
    if need is Need.deployment:
        raise fail(
            "dịch vụ chưa chạy: "
            + (f"{why} cần" if why else "lệnh này cần")
            + " «thidua up» (máy chủ Prefect và các deployment); hãy chạy «thidua up» ở một cửa sổ khác "
            "rồi thử lại"
        )
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():  # nor a Prefect profile or test harness naming a server
        # The temporary server inherits this environment and this terminal: without these it prints its
        # own logs there (telemetry errors, "database is locked" noise).
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
        from supervisor.prefect_server import temporary_servers_fixed

        temporary_servers_fixed()  # the same server as `thidua up`'s
        say(
            "Dịch vụ chưa chạy (thidua up): lệnh này dùng một máy chủ Prefect tạm (có thể mất vài chục giây); "
            "thư chưa gửi được sẽ chờ trong hộp thư đi đến khi dịch vụ chạy."
        )
    return None


def run_ui_link(info: dict | None, flow_run_id: str) -> str:
    base = (info or {}).get("ui_url") or os.environ.get("PREFECT_UI_URL", "")
    return f"{base}/runs/flow-run/{flow_run_id}" if base else flow_run_id


def wait_for(check: Callable[[], T | None], *, timeout: float, every: float = 0.5) -> T | None:
    """Poll `check` until it returns something, or give up after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None:
            return value
        time.sleep(every)
    return None


def run(call: Awaitable[T]) -> T:
    """Run a flow (or client call) to completion; a temporary server gets time to start on a busy machine."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    # Prefect types an async flow's call as an Awaitable (it is a coroutine); asyncio.run takes coroutines.
    async def main() -> T:
        return await call

    timeout = max(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value(), TEMPORARY_SERVER_STARTUP_TIMEOUT)
    with temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: timeout}):
        return asyncio.run(main())
