"""How CLI commands reach the running service: the Prefect API of `thidua up` (or PREFECT_API_URL)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import TypeVar

from flows.up import running_instance

T = TypeVar("T")


def connect() -> dict | None:
    """Point this process's Prefect client at the running `thidua up`; returns its up.json, or None.

    Call before Prefect is imported. An explicit PREFECT_API_URL wins (workers, remote servers)."""
    info = running_instance()
    if os.environ.get("PREFECT_API_URL"):
        return info or {"api_url": os.environ["PREFECT_API_URL"],
                        "ui_url": os.environ["PREFECT_API_URL"].removesuffix("/api")}
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
    if info.get("auth") and auth and not os.environ.get("PREFECT_API_AUTH_STRING"):
        os.environ["PREFECT_API_AUTH_STRING"] = auth
    return info


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


def run(coro) -> T:  # noqa: ANN001
    return asyncio.run(coro)
