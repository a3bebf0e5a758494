"""`thidua up` end to end (marked e2e): one real start (Prefect server + UI, mail sink, serve) with
basic auth on free ports and a throwaway data folder, checked from outside, then stopped with SIGTERM.

The tests share one running instance (a fresh Prefect server took 50–80 s to answer on a busy 2-core
machine) and run in file order; the last one stops it. In the PostgreSQL pass the app database is a
fresh PostgreSQL database (`--postgres`); Prefect's own stays SQLite.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from flows.deployments import DEPLOYMENTS, DeploymentSpec
from models.settings import TIMEZONE
from supervisor.up import UP_FILE, pid_alive, port_in_use, running_api_url
from tests.ports import free_ports

e2e = pytest.mark.e2e  # the tests below that start real processes

HOST = "127.0.0.1"
AUTH = ("thuky", "mat-khau:thu")  # ASCII only: see test_non_ascii_auth_is_refused
START_TIMEOUT = 240.0
STOP_TIMEOUT = 60.0
T = TypeVar("T")


@dataclass
class Up:
    process: subprocess.Popen
    data_dir: Path
    port: int
    sink_port: int
    output: Path
    info: dict[str, Any]

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}/api"

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


def thidua_command() -> list[str]:
    script = Path(sys.executable).with_name("thidua")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.app"]


def run_thidua(
    env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess:
    """`thidua <args>` as an official types it (no terminal input), its output captured."""
    argv = [*thidua_command(), *args]
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def up_env(data_dir: Path) -> dict[str, str]:
    """The test session's environment, minus anything that would point `thidua up` elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_API_", "THIDUA_SMTP_"))
        and k not in {"THIDUA_DATABASE_URL", "THIDUA_UI_AUTH"}
    }
    env["THIDUA_DATA_DIR"] = str(data_dir)
    env["THIDUA_PORTAL_PORT"] = str(free_ports(1)[0])  # never the default 8000 another test may hold
    return env


@pytest.fixture(scope="module")
def app_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database in the PostgreSQL pass (dropped afterwards), else None (SQLite)."""
    base = os.environ.get("THIDUA_TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        yield None
        return
    from models.db import throwaway_databases

    with throwaway_databases(base, f"thidua_up_{uuid.uuid4().hex[:8]}") as (url,):
        yield url


def _secret_file(path: Path, secret: str) -> Path:
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, app_database: str | None) -> Iterator[Up]:
    base = tmp_path_factory.mktemp("up")
    data_dir = base / "data"
    port, sink_port = free_ports(2)
    cmd = [
        *thidua_command(),
        "up",
        "--port",
        str(port),
        "--sink-port",
        str(sink_port),
        "--auth-file",
        str(_secret_file(base / "auth", ":".join(AUTH))),
    ]  # never a password on argv
    if app_database:
        cmd += ["--postgres-file", str(_secret_file(base / "postgres-url", app_database))]
    output = base / "up.out"
    started = time.monotonic()
    with output.open("wb") as out:
        process = subprocess.Popen(
            cmd, env=up_env(data_dir), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    up = Up(process, data_dir, port, sink_port, output, {})
    try:
        while not (data_dir / UP_FILE).exists():
            assert process.poll() is None, f"thidua up exited with {process.returncode}:\n{up.log()}"
            assert time.monotonic() - started < START_TIMEOUT, f"thidua up not ready:\n{up.log()}"
            time.sleep(0.25)
        up.info = json.loads((data_dir / UP_FILE).read_text(encoding="utf-8"))
        print(
            f"thidua up ready in {time.monotonic() - started:.1f} s "
            f"(its own figure: {up.info['startup_seconds']} s)"
        )
        yield up
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in up.info.get("children", {}).values():  # a safety net if `thidua up` itself died
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _against(up: Up, coroutine_function: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a Prefect client coroutine against the running instance, with its credentials."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: up.api_url, PREFECT_API_AUTH_STRING: ":".join(AUTH)}):
        return asyncio.run(coroutine_function())


def _served(up: Up) -> dict[str, DeploymentSpec]:
    return {s.name: s for s in DEPLOYMENTS if s.name in up.info["deployments"]}


@e2e
def test_every_written_flow_is_served_with_its_schedule_and_trigger(running: Up) -> None:
    written = list(DEPLOYMENTS)
    assert running.info["deployments"] == [s.name for s in written]
    assert running_api_url(running.data_dir) == running.api_url

    async def read() -> tuple[dict[str, Any], dict[str, Any]]:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

        async with get_client() as client:
            deployments = await client.read_deployments(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[s.name for s in written]))
            )
            automations = await client.read_automations()
        return {d.name: d for d in deployments}, {a.name: a for a in automations}

    deployments, automations = _against(running, read)
    assert sorted(deployments) == sorted(s.name for s in written)
    for spec in written:
        deployment = deployments[spec.name]
        assert not deployment.paused
        assert deployment.enforce_parameter_schema
        assert [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules] == (
            [(spec.cron, TIMEZONE)] if spec.cron else []
        )
        if spec.concurrency_limit:
            assert deployment.global_concurrency_limit.limit == spec.concurrency_limit
        if spec.trigger:
            automation = automations[spec.trigger.name]
            assert automation.trigger.expect == {spec.trigger.event}
            assert [a.parameters or {} for a in automation.actions] == [dict(spec.trigger.parameters)]
            # the dashboard's is a debounce: one run once the event has stopped coming for its window
            assert automation.trigger.posture == ("Proactive" if spec.trigger.quiet_s else "Reactive")


@e2e
def test_decided_event_starts_receive_forwarded_with_the_meeting_id(running: Up) -> None:
    """The trigger's Jinja template hands the event's payload to the flow, keeping its type."""
    spec = _served(running)["receive-forwarded"]
    meeting_id = (
        900_000 + os.getpid() % 100_000
    )  # no such meeting: the run itself will fail, and that is fine

    async def emit_and_find() -> dict[str, Any] | None:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
        from prefect.events import Event
        from prefect.events.clients import get_events_client

        async with get_events_client() as events:
            await events.emit(
                Event(
                    event=spec.trigger.event,
                    resource={"prefect.resource.id": f"thidua.meeting.{meeting_id}"},
                    payload={"meeting_id": meeting_id},
                )
            )
        deadline = time.monotonic() + 30
        async with get_client() as client:
            while time.monotonic() < deadline:
                runs = await client.read_flow_runs(
                    deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[spec.name]))
                )
                for run in runs:
                    if run.parameters.get("meeting_id") == meeting_id:
                        return run.parameters
                await asyncio.sleep(0.5)
        return None

    parameters = _against(running, emit_and_find)
    assert parameters is not None, "no receive-forwarded run within 30 s of the event"
    assert type(parameters["meeting_id"]) is int


@e2e
def test_the_prefect_server_runs_through_thiduas_launcher(running: Up) -> None:
    """`supervisor.prefect_server` (its SQLite transactions immediate: tests/test_prefect_server.py)."""
    pid = running.info["children"]["prefect-server"]
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[1:5] == [b"-m", b"supervisor.prefect_server", b"server", b"start"], cmdline


def test_ui_is_served_and_talks_to_this_api(running: Up) -> None:
    ui_url = running.info["ui_url"]
    settings = httpx.get(f"{ui_url}/ui-settings", timeout=10).json()
    assert settings["api_url"] == running.api_url  # PREFECT_SERVER_UI_API_URL, else the UI calls port 4200
    assert settings["auth"] == "BASIC"
    page = httpx.get(ui_url, headers={"Accept": "text/html"}, follow_redirects=True, timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()


@e2e
def test_api_refuses_a_client_without_credentials(running: Up) -> None:
    assert httpx.get(f"{running.api_url}/health", timeout=10).status_code == 200  # stays open by design
    assert httpx.post(f"{running.api_url}/deployments/filter", json={}, timeout=10).status_code == 401
    assert (
        httpx.post(
            f"{running.api_url}/deployments/filter", json={}, auth=("thuky", "sai"), timeout=10
        ).status_code
        == 401
    )
    assert (
        httpx.post(f"{running.api_url}/deployments/filter", json={}, auth=AUTH, timeout=10).status_code == 200
    )
    assert running.info["auth"] is True
    assert AUTH[1] not in (running.data_dir / UP_FILE).read_text(encoding="utf-8")


@e2e
def test_events_websocket_needs_the_credentials_too(running: Up) -> None:
    """Basic auth covers the events websocket (the docs once said otherwise): Prefect's handshake sends
    the auth string as its first message, and the server closes with 1008 without the right one."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = running.api_url.replace("http://", "ws://") + "/events/out"

    def handshake(token: str | None) -> tuple[int | None, str]:
        with connect(url, subprotocols=["prefect"], open_timeout=10) as ws:
            ws.send(json.dumps({"type": "auth", "token": token}))
            try:
                return None, ws.recv(timeout=10)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""

    assert handshake(None)[0] == 1008
    assert handshake("thuky:sai")[0] == 1008
    code, answer = handshake(":".join(AUTH))
    assert code is None and json.loads(answer) == {"type": "auth_success"}


@e2e
def test_app_database_is_upgraded_and_sample_loaded(running: Up, app_database: str | None) -> None:
    from sqlalchemy import create_engine, func, inspect, select

    from models.units import Unit

    url = app_database or f"sqlite:///{running.data_dir / 'thidua.db'}"
    engine = create_engine(url)
    try:
        tables = inspect(engine).get_table_names()
        assert "alembic_version" in tables
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Unit)).scalar_one() > 0
    finally:
        engine.dispose()


@e2e
def test_mail_sink_accepts_smtp(running: Up) -> None:
    if running.info["sink_port"] is None:
        pytest.skip("no mail sink: THIDUA_SMTP_HOST is not this machine")
    message = EmailMessage()
    message["From"] = "thidua@example.gov.vn"
    message["To"] = "hoidong@example.gov.vn"
    message["Subject"] = "Thử hộp thư"
    message.set_content("Nội dung thử.")
    with smtplib.SMTP(HOST, running.sink_port, timeout=10) as smtp:
        smtp.send_message(message)
    assert len(list((Path(running.info["maildir"]) / "new").iterdir())) == 1


def _descendants(pid: int) -> list[int]:
    """`pid` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


@e2e
def test_no_password_on_any_command_line(running: Up, app_database: str | None) -> None:
    """`ps` shows every local user the command lines of `thidua up` and its children: no secret there."""
    from sqlalchemy.engine import make_url

    secrets = [AUTH[1]] + (
        [make_url(app_database).password] if app_database and make_url(app_database).password else []
    )
    processes = _descendants(running.process.pid)
    assert set(running.info["children"].values()) <= set(processes)
    for pid in processes:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        assert not any(secret in cmdline for secret in secrets), (
            f"a password on the command line of {pid}: {cmdline}"
        )


@e2e
def test_data_folder_is_private(running: Up, app_database: str | None) -> None:
    """Folders 0700, files 0600: the app database, Prefect's, up.json, the logs, the captured mail."""
    import stat

    found = {p.relative_to(running.data_dir).as_posix() for p in running.data_dir.rglob("*")}
    expected = {"prefect/prefect.db", UP_FILE, "logs/prefect-server.log", "logs/serve.log"}
    assert expected | ({"thidua.db"} if app_database is None else set()) <= found, found
    wrong = {}
    for path in [running.data_dir, *running.data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong[path.relative_to(running.data_dir).as_posix() or "."] = oct(mode)
    assert wrong == {}


@e2e
@pytest.mark.any_database  # what a terminal shows; the service on PostgreSQL is checked by the tests above
def test_a_command_against_the_service_prints_no_prefect_logs(running: Up, app_database: str | None) -> None:
    env = up_env(running.data_dir) | {"THIDUA_UI_AUTH": ":".join(AUTH), "PREFECT_LOGGING_LEVEL": "INFO"}
    if app_database:
        env["THIDUA_DATABASE_URL"] = app_database
    result = run_thidua(env, "remind", "--today", "16/11/2026", "--no-deliver")
    assert result.returncode == 0, result.stderr
    assert "Nhắc hạn ngày 16/11/2026" in result.stdout
    assert result.stderr.strip() == "", result.stderr  # the service is running: nothing to say
    assert "INFO" not in result.stdout
    # a refused file: the official's list of errors, not the task's and flow's tracebacks
    bad = running.data_dir.parent / "sai.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "nominee": "Nguyễn Văn Đông",
                    "kind": "cá nhân",
                    "unit": "không có",
                    "award": "giay-khen-xa",
                    "submitted_on": "02/03/2026",
                }
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    refused = run_thidua(env, "nominate", str(bad))
    assert refused.returncode == 1, refused.stderr
    assert "bị từ chối" in refused.stderr and "dòng 1" in refused.stderr and "không có" in refused.stderr
    assert (
        "Traceback" not in refused.stderr and "INFO" not in refused.stderr and "ERROR" not in refused.stderr
    )
    log = (running.data_dir / "logs" / "cli.log").read_text(encoding="utf-8")
    assert "prefect.flow_runs" in log and "Finished in state Completed" in log
    # the details stay available to operators: the run ended Refused (not Failed), with every error
    assert "Finished in state Refused(" in log and "không tìm thấy đơn vị «không có»" in log


@e2e
def test_secrets_on_the_command_line_are_refused(tmp_path: Path) -> None:
    secret = "mat-khau-9d1"
    for args, alternative in (
        (["--auth", f"thuky:{secret}"], "--auth-file"),
        (["--postgres", f"postgresql+psycopg://thidua:{secret}@127.0.0.1:9/thidua"], "--postgres-file"),
        (["--prefect-db", f"postgresql+asyncpg://prefect:{secret}@127.0.0.1:9/prefect"], "--prefect-db-file"),
    ):
        result = subprocess.run(
            [*thidua_command(), "up", *args, "--port", str(free_ports(1)[0])],
            env=up_env(tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0
        assert "dòng lệnh" in result.stderr and alternative in result.stderr, result.stderr
        assert secret not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "data" / UP_FILE).exists()


@e2e
def test_non_ascii_auth_is_refused(tmp_path: Path) -> None:
    """Prefect 3.8.8 compares the auth string with hmac.compare_digest on str: 500 on every request."""
    result = subprocess.run(
        [*thidua_command(), "up", "--port", str(free_ports(1)[0])],
        env=up_env(tmp_path / "data") | {"THIDUA_UI_AUTH": "thuky:mật-khẩu"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "không dấu" in result.stderr
    assert not (tmp_path / "data" / UP_FILE).exists()


@e2e
@pytest.mark.any_database  # the README's tour on its embedded defaults; chains on PostgreSQL: test_flows, test_workers_e2e
def test_the_readmes_tour_runs_every_dossier_to_its_end(running: Up, app_database: str | None) -> None:
    """`thidua demo` (README): intake, the 1/7/2025 changeover, a meeting at each level, the province's
    consultation (hiệp y) before it forwards a state-level award, and the heads' decisions, to the end."""
    env = up_env(running.data_dir) | {"THIDUA_UI_AUTH": ":".join(AUTH)}
    if app_database:
        env["THIDUA_DATABASE_URL"] = app_database
    result = run_thidua(env, "demo", "--json", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tour = json.loads(result.stdout[result.stdout.index("{") :])
    assert tour["problems"] == []
    assert tour["meetings"] >= 3 and tour["decisions"] >= 2
    statuses = {n["status"] for n in tour["nominations"]}
    assert "conferred" in statuses and statuses <= {"conferred", "rejected"}, statuses


@e2e
def test_second_up_on_the_same_data_dir_refuses(running: Up) -> None:
    port, sink_port = free_ports(2)
    result = subprocess.run(
        [*thidua_command(), "up", "--port", str(port), "--sink-port", str(sink_port)],
        env=up_env(running.data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "đang chạy" in result.stderr and str(running.process.pid) in result.stderr
    assert not port_in_use(port) and not port_in_use(sink_port)


@e2e
def test_up_on_a_busy_port_refuses(running: Up, tmp_path: Path) -> None:
    result = subprocess.run(
        [*thidua_command(), "up", "--port", str(running.port), "--sink-port", str(free_ports(1)[0])],
        env=up_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"cổng {running.port}" in result.stderr and "đang được dùng" in result.stderr


@e2e
def test_sigterm_stops_every_child_and_frees_the_ports(running: Up) -> None:
    children = running.info["children"]
    assert set(children) == {"prefect-server", "serve", "portal"}
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(STOP_TIMEOUT) == 0, running.log()
    assert {name: pid for name, pid in children.items() if pid_alive(pid)} == {}
    assert not port_in_use(running.port)
    assert not port_in_use(running.sink_port)
    assert not (running.data_dir / UP_FILE).exists()
    assert running_api_url(running.data_dir) is None


def test_sample_is_loaded_on_first_start_only(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import models.migrate
    from supervisor.up import prepare_database

    monkeypatch.setattr(models.migrate, "upgrade", lambda url=None: None)  # db_url built the schema already
    loaded = prepare_database(load_sample=True)
    assert loaded and all(count >= 0 for count in loaded.values()) and sum(loaded.values()) > 0
    assert prepare_database(load_sample=True) is None  # an operator's corrections are never overwritten
    assert prepare_database(load_sample=False) is None


def test_running_api_url_ignores_a_dead_instance(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    (tmp_path / UP_FILE).write_text(
        json.dumps({"pid": int(dead.stdout), "api_url": "http://127.0.0.1:1/api"})
    )
    assert running_api_url(tmp_path) is None
    (tmp_path / UP_FILE).write_text(json.dumps({"pid": os.getpid(), "api_url": "http://127.0.0.1:1/api"}))
    assert running_api_url(tmp_path) == "http://127.0.0.1:1/api"
    (tmp_path / UP_FILE).write_text("{half a fi")
    assert running_api_url(tmp_path) is None


def test_ui_follows_the_operators_api_address_behind_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from supervisor.up import _server_env

    local = "http://127.0.0.1:4200/api"
    monkeypatch.delenv("PREFECT_SERVER_UI_API_URL", raising=False)
    env = _server_env({"PREFECT_SERVER_API_AUTH_STRING": "stale"}, api_url=local, auth="a:b", prefect_db=None)
    assert env["PREFECT_SERVER_UI_API_URL"] == local and env["PREFECT_SERVER_API_AUTH_STRING"] == "a:b"
    monkeypatch.setenv("PREFECT_SERVER_UI_API_URL", "https://thidua.tinh.gov.vn/api")
    env = _server_env({}, api_url=local, auth=None, prefect_db=None)
    assert env["PREFECT_SERVER_UI_API_URL"] == "https://thidua.tinh.gov.vn/api"
    assert "PREFECT_SERVER_API_AUTH_STRING" not in env


def test_embedded_prefect_server_is_patient_with_its_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    from supervisor.up import SQLITE_PATIENCE, _server_env

    monkeypatch.delenv("PREFECT_SERVER_UI_API_URL", raising=False)
    embedded = _server_env({}, api_url="http://127.0.0.1:4200/api", auth=None, prefect_db=None)
    assert embedded["PREFECT_SERVER_DATABASE_TIMEOUT"] == SQLITE_PATIENCE["PREFECT_SERVER_DATABASE_TIMEOUT"]
    operator = _server_env(
        {"PREFECT_SERVER_DATABASE_TIMEOUT": "30"},
        api_url="http://127.0.0.1:4200/api",
        auth=None,
        prefect_db=None,
    )
    assert operator["PREFECT_SERVER_DATABASE_TIMEOUT"] == "30"
    on_postgres = _server_env(
        {},
        api_url="http://127.0.0.1:4200/api",
        auth=None,
        prefect_db="postgresql+asyncpg://prefect@db/prefect",
    )
    assert "PREFECT_SERVER_DATABASE_TIMEOUT" not in on_postgres
