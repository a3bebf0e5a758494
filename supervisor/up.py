"""`thidua up`: the whole service on one machine, on 127.0.0.1, until Ctrl-C or SIGTERM.

It upgrades the app database (and loads the sample hierarchy on first start), starts a Prefect server
with its UI, the local mail sink, and one process serving every deployment (`python -m supervisor.serve`).
Children run in their own process groups, so Ctrl-C reaches only this process, which stops them in
order (serve first, while the API can still record it, then the server) and kills what outlives a
grace period. While it runs, `<data_dir>/up.lock` is held (a second `thidua up` on the same data folder
refuses to start) and `<data_dir>/up.json` tells other commands where the API is (`running_api_url()`).

Secrets never travel on a command line (every local user sees it in `ps`): passwords come from the
environment, a `.env` file or a file argument (`--auth-file`, `--postgres-file`, `--prefect-db-file`),
and reach the children through their environment. The data folder is 0700 and its files 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from cli.common import PRIVATE_UMASK, DataConsole, secure_folder, text
from cli.database import counts_line
from models.settings import Settings, get_settings, reset_settings
from supervisor.serve import PROJECT_ROOT, write_json_atomic

logger = logging.getLogger(__name__)
console = DataConsole(soft_wrap=True)
err_console = DataConsole(stderr=True, soft_wrap=True)

HOST = "127.0.0.1"
UP_FILE = "up.json"
LOCK_FILE = "up.lock"
SERVE_READY_FILE = "serve-ready.json"
SERVER_START_TIMEOUT = 120.0
SERVE_START_TIMEOUT = 120.0
STOP_GRACE = 10.0
RUNNER_POLL_FREQUENCY = "2"  # seconds; Prefect's default 10 s makes a UI "Run" feel stuck
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class UpError(Exception):
    """`thidua up` cannot go on; the message is for the operator (Vietnamese)."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while starting."""


# --- where a running `thidua up` is -------------------------------------------------------------


def pid_alive(pid: Any) -> bool:
    """True while a process with this PID exists."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def running_instance(data_dir: Path | None = None) -> dict[str, Any] | None:
    """What `<data_dir>/up.json` says about the running `thidua up` (URLs, ports, PIDs), or None."""
    path = (data_dir or get_settings().data_dir) / UP_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and pid_alive(info.get("pid")) else None


def running_api_url(data_dir: Path | None = None) -> str | None:
    """The PREFECT_API_URL of a running `thidua up` on this data folder, or None.

    With `--auth`/THIDUA_UI_AUTH, clients also need PREFECT_API_AUTH_STRING (never stored in up.json).
    """
    info = running_instance(data_dir)
    return info.get("api_url") if info else None


# --- start-up checks ------------------------------------------------------------------------------


@contextlib.contextmanager
def instance_lock(data_dir: Path, *, prefect_port: int, sink_port: int | None) -> Iterator[None]:
    """Hold `<data_dir>/up.lock` while running; the kernel drops it even if this process is killed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpError(_already_running_message(data_dir, fd)) from None
        os.ftruncate(fd, 0)
        os.write(
            fd,
            json.dumps({"pid": os.getpid(), "prefect_port": prefect_port, "sink_port": sink_port}).encode(),
        )
        (data_dir / UP_FILE).unlink(missing_ok=True)  # left by a killed run: its PID may be reused
        yield
    finally:
        os.close(fd)


def _already_running_message(data_dir: Path, fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        holder = {}
    pid = holder.get("pid")
    where = f" (PID {pid}, Prefect cổng {holder.get('prefect_port')})" if pid_alive(pid) else ""
    url = running_api_url(data_dir)
    return (
        f"«thidua up» đang chạy với thư mục dữ liệu {data_dir}{where}"
        + (f"; giao diện tại {url.removesuffix('/api')}" if url else "")
        + ". Dừng tiến trình đó (Ctrl-C) trước, hoặc dùng THIDUA_DATA_DIR khác."
    )


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when something already listens on host:port (or the port cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _check_ports(ports: dict[str, int]) -> None:
    if len(set(ports.values())) < len(ports):
        raise UpError(f"các cổng phải khác nhau: {', '.join(f'{k} {v}' for k, v in ports.items())}")
    for option, port in ports.items():
        if port_in_use(port):
            raise UpError(
                f"cổng {port} trên {HOST} đang được dùng (một «thidua up» hay máy chủ Prefect khác?); "
                f"chọn cổng khác bằng {option}."
            )


def _parse_auth(auth: str | None) -> str | None:
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if not (user and sep and password):
        raise UpError("--auth (hoặc THIDUA_UI_AUTH) phải có dạng TÊN:MẬT_KHẨU.")
    if not auth.isascii():  # Prefect 3.8.8 answers 500 to every request (hmac.compare_digest on str)
        raise UpError(
            "--auth (hoặc THIDUA_UI_AUTH): tên và mật khẩu chỉ dùng chữ không dấu, số và ký hiệu ASCII."
        )
    return auth


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def refuse_secret_on_argv(option: str, value: str | None, *, env: str | None, file_option: str) -> None:
    """`--auth USER:PASS` or a URL with a password on the command line: every local user sees it in `ps`."""
    if value is None:
        return
    if option == "--auth":
        leaked = True  # USER:PASSWORD, or a user alone whose password would follow elsewhere: never here
    else:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            leaked = make_url(value).password is not None
        except ArgumentError:
            raise UpError(f"{option}: URL không hợp lệ (dạng postgresql+psycopg://TÊN@MÁY/CSDL)") from None
    if leaked:
        where = f"đặt {env} trong môi trường hoặc tệp .env, hoặc " if env else ""
        raise UpError(
            f"{option}: không nhận mật khẩu trên dòng lệnh (mọi người dùng máy này đều thấy qua `ps`); "
            f"{where}ghi vào một tệp chỉ bạn đọc được và dùng {file_option} TỆP"
        )


def read_secret_file(path: Path, option: str) -> str:
    """The first non-empty line of a file given for a secret (`--auth-file`, `--postgres-file`)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UpError(f"{option}: không đọc được tệp {path} ({type(exc).__name__})") from None
    value = next((line.strip() for line in lines if line.strip()), "")
    if not value:
        raise UpError(f"{option}: tệp {path} trống")
    return value


# --- child processes ------------------------------------------------------------------------------


@dataclass
class Child:
    """A process started by `thidua up`, leader of its own process group."""

    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM the group, wait, then SIGKILL whatever is left of it."""
        if self.process.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s (pid %d) ignored SIGTERM for %.0f s; killing it", self.name, self.pid, grace
                )
        _signal_group(self.pid, signal.SIGKILL)  # the leader's own children, if any outlived it
        self.process.wait()

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM when `thidua up` dies, even by SIGKILL, so no
    orphaned server keeps the port."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _spawn(name: str, cmd: list[str], *, env: dict[str, str], log_dir: Path) -> Child:
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        out.write(f"\n=== {datetime.now(UTC).isoformat()} {' '.join(cmd)}\n".encode())
        out.flush()
        # cwd: `-m supervisor.serve` must find this checkout's `flows`, not one in the operator's directory
        process = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Child(name, process, log)


def _wait_until(
    ready: Callable[[], bool], *, child: Child, timeout: float, stop: threading.Event, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if stop.is_set():
            raise Interrupted
        if child.process.poll() is not None:
            raise UpError(
                f"{what} dừng bất thường (mã {child.process.returncode}); "
                f"nhật ký {child.log}:\n{child.tail()}"
            )
        if time.monotonic() > deadline:
            raise UpError(
                f"{what} chưa sẵn sàng sau {timeout:.0f} giây; nhật ký {child.log}:\n{child.tail()}"
            )
        stop.wait(0.2)


def _health_ok(api_url: str) -> bool:
    return _page_ok(f"{api_url}/health")


def _page_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


# --- the app database -----------------------------------------------------------------------------


def prepare_database(*, load_sample: bool) -> dict[str, int] | None:
    """Upgrade the app database; load the sample hierarchy if it has no unit yet. Returns what was loaded."""
    from sqlmodel import select

    from models.campaigns import ensure_campaigns
    from models.db import dispose_engines, session_scope
    from models.migrate import upgrade
    from models.sample import load_sample as load
    from models.units import Unit

    upgrade()
    if not load_sample:
        return None
    try:
        with session_scope() as session:
            if session.exec(select(Unit.id).limit(1)).first() is not None:
                return None
            counts = load(session=session)
            ensure_campaigns(session=session)
        return counts
    finally:
        dispose_engines()  # the children open their own connections


# --- the whole thing ------------------------------------------------------------------------------


@dataclass
class Options:
    port: int
    sink_port: int
    auth: str | None = None
    portal_port: int = 8000
    postgres: str | None = None
    prefect_db: str | None = None
    sample: bool = True


@dataclass
class Running:
    """Everything `thidua up` started, stopped in reverse order."""

    children: list[Child] = field(default_factory=list)
    sink: Any = None  # aiosmtpd Controller

    def stop(self) -> None:
        for child in reversed(self.children):  # serve before the server it reports to
            child.stop()
        if self.sink is not None:
            self.sink.stop()
            self.sink = None

    def first_dead(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)


def run(options: Options, *, stop: threading.Event) -> int:
    """Start everything, wait for `stop` (or a child's death), stop everything. Returns the exit code."""
    started = time.monotonic()
    os.umask(PRIVATE_UMASK)  # every file of this process and of the children it starts: 0600 / 0700
    if options.postgres:
        os.environ["THIDUA_DATABASE_URL"] = options.postgres  # this process and, inherited, the children
        reset_settings()
    settings = get_settings()
    data_dir = settings.data_dir.resolve()
    auth = _parse_auth(options.auth or (settings.ui_auth.get_secret_value() if settings.ui_auth else None))
    # The sink stands in for a mail server only when mail would go to this machine anyway.
    use_sink = settings.smtp_host in LOOPBACK
    ports = (
        {"--port": options.port}
        | ({"--sink-port": options.sink_port} if use_sink else {})
        | {"--portal-port": options.portal_port}
    )
    api_url = f"http://{HOST}:{options.port}/api"
    running = Running()
    secure_folder(data_dir, deep=True)  # a folder left by an older version or another umask
    with instance_lock(
        data_dir, prefect_port=options.port, sink_port=options.sink_port if use_sink else None
    ):
        _check_ports(ports)
        log_dir = data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        settings.prefect_home.mkdir(parents=True, exist_ok=True)
        ready_file = data_dir / SERVE_READY_FILE
        ready_file.unlink(missing_ok=True)
        env = _child_env(
            settings,
            data_dir=data_dir,
            api_url=api_url,
            auth=auth,
            use_sink=use_sink,
            sink_port=options.sink_port,
        )
        try:
            _start_children(
                running, options, env=env, api_url=api_url, auth=auth, log_dir=log_dir, ready_file=ready_file
            )
            if use_sink:
                from notifications.sink import start_sink

                running.sink = start_sink(host=HOST, port=options.sink_port, maildir=settings.maildir)
            loaded = prepare_database(load_sample=options.sample)
            served = _wait_until_ready(running, api_url=api_url, ready_file=ready_file, stop=stop)
            _start_portal(running, options, env=env, log_dir=log_dir, stop=stop)
            info = _up_info(
                options,
                settings,
                running,
                env=env,
                api_url=api_url,
                auth=auth,
                served=served,
                started=started,
            )
            write_json_atomic(data_dir / UP_FILE, info)
            _print_banner(info, auth=auth, loaded=loaded)
            return _watch(running, stop)
        except Interrupted:
            console.print("Đã nhận lệnh dừng trong khi khởi động; đang dừng…")
            return 130
        finally:
            (data_dir / UP_FILE).unlink(missing_ok=True)
            running.stop()
            ready_file.unlink(missing_ok=True)


def _start_children(
    running: Running,
    options: Options,
    *,
    env: dict[str, str],
    api_url: str,
    auth: str | None,
    log_dir: Path,
    ready_file: Path,
) -> None:
    """The Prefect server, then the process serving the deployments (it imports the flows, seconds, while
    the server boots, and waits for the API itself)."""
    command = [
        sys.executable,
        "-m",
        "supervisor.prefect_server",  # `prefect server start`, its SQLite transactions immediate
        "server",
        "start",
        "--host",
        HOST,
        "--port",
        str(options.port),
    ]
    server_env = _server_env(env, api_url=api_url, auth=auth, prefect_db=options.prefect_db)
    running.children.append(_spawn("prefect-server", command, env=server_env, log_dir=log_dir))
    serve = [sys.executable, "-m", "supervisor.serve", "--ready-file", str(ready_file)]
    running.children.append(_spawn("serve", serve, env=env, log_dir=log_dir))


def _wait_until_ready(running: Running, *, api_url: str, ready_file: Path, stop: threading.Event) -> dict:
    """Wait for the server's health, then for the serving process's ready file; returns what it serves."""
    server, serve = running.children
    _wait_until(
        lambda: _health_ok(api_url),
        child=server,
        timeout=SERVER_START_TIMEOUT,
        stop=stop,
        what="Máy chủ Prefect",
    )
    _wait_until(
        ready_file.exists,
        child=serve,
        timeout=SERVE_START_TIMEOUT,
        stop=stop,
        what="Tiến trình phục vụ deployment (supervisor.serve)",
    )
    return json.loads(ready_file.read_text(encoding="utf-8"))


def _start_portal(
    running: Running, options: Options, *, env: dict[str, str], log_dir: Path, stop: threading.Event
) -> None:
    """The council portal, once the database is upgraded (its tables) and the API answers."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "portal.web:app_factory",
        "--factory",
        "--host",
        HOST,
        "--port",
        str(options.portal_port),
    ]
    # unbuffered: its access log reaches portal.log as it happens
    portal = _spawn("portal", command, env=env | {"PYTHONUNBUFFERED": "1"}, log_dir=log_dir)
    running.children.append(portal)
    _wait_until(
        lambda: _page_ok(f"http://{HOST}:{options.portal_port}/login"),
        child=portal,
        timeout=SERVE_START_TIMEOUT,
        stop=stop,
        what="Cổng Hội đồng (portal)",
    )


def _up_info(
    options: Options,
    settings: Settings,
    running: Running,
    *,
    env: dict[str, str],
    api_url: str,
    auth: str | None,
    served: dict,
    started: float,
) -> dict[str, Any]:
    """What up.json says of the running service (read by `thidua` commands and `supervisor.reach`)."""
    data_dir = settings.data_dir.resolve()
    sink = running.sink is not None
    prefect_db = options.prefect_db or f"sqlite:///{settings.prefect_home / 'prefect.db'}"
    return {
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(),
        "startup_seconds": round(time.monotonic() - started, 1),
        "data_dir": str(data_dir),
        "api_url": api_url,
        "ui_url": f"http://{HOST}:{options.port}",
        "portal_url": f"http://{HOST}:{options.portal_port}",
        "prefect_port": options.port,
        "auth": auth is not None,
        "sink_port": options.sink_port if sink else None,
        "maildir": str(settings.maildir) if sink else None,
        "smtp": f"{env['THIDUA_SMTP_HOST']}:{env['THIDUA_SMTP_PORT']}",
        "database_url": safe_url(settings.effective_database_url),
        "prefect_database_url": safe_url(prefect_db),
        "children": {c.name: c.pid for c in running.children},
        "deployments": served["deployments"],
        "logs": str(data_dir / "logs"),
    }


def _watch(running: Running, stop: threading.Event) -> int:
    """Wait for `stop` (0) or for a child to die (1, with the end of its log)."""
    while not stop.wait(0.5):
        if dead := running.first_dead():
            err_console.print(
                text(
                    "[bold red]Lỗi:[/] {} (PID {}) đã dừng bất thường (mã {}); nhật ký {}:",
                    dead.name,
                    dead.pid,
                    dead.process.returncode,
                    dead.log,
                )
            )
            err_console.print(dead.tail())
            return 1
    console.print("Đang dừng…")
    return 0


# Measured in bench/surge.py: with Prefect's defaults (10 s lock timeout, 5 client retries) a surge of
# runs on the embedded SQLite server ended in "503 Service Unavailable" on creating a flow run.
SQLITE_PATIENCE = {"PREFECT_SERVER_DATABASE_TIMEOUT": "60", "PREFECT_CLIENT_MAX_RETRIES": "10"}


def settings_env(settings: Settings) -> dict[str, str]:
    """Every setting given explicitly (environment or `.env` file) as a THIDUA_* variable, secrets
    included: the children start in the project folder and would not find the operator's `.env`."""
    env = {}
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list | dict):
            value = json.dumps(value)
        env[f"THIDUA_{name.upper()}"] = str(value)
    return env


def _child_env(
    settings: Settings, *, data_dir: Path, api_url: str, auth: str | None, use_sink: bool, sink_port: int
) -> dict[str, str]:
    """Environment of every child: the app's settings made explicit, and the Prefect client's. Secrets go
    to the children this way, never on their command lines."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING")}
    env.update(settings_env(settings))
    env.update(
        THIDUA_DATA_DIR=str(data_dir),
        PREFECT_HOME=str(settings.prefect_home),
        PREFECT_API_URL=api_url,
        PREFECT_UI_URL=api_url.removesuffix("/api"),
        PREFECT_RUNNER_POLL_FREQUENCY=RUNNER_POLL_FREQUENCY,
        THIDUA_SMTP_HOST=HOST if use_sink else settings.smtp_host,
        THIDUA_SMTP_PORT=str(sink_port if use_sink else settings.smtp_port),
    )
    # Prefect's own SQLite serialises every write; under a burst of runs and events it answers 503 after
    # its 10 s lock timeout. Waiting longer and retrying more beats a failed run (the operator's value wins).
    env.setdefault("PREFECT_CLIENT_MAX_RETRIES", SQLITE_PATIENCE["PREFECT_CLIENT_MAX_RETRIES"])
    if settings.database_url:
        env["THIDUA_DATABASE_URL"] = settings.database_url
    if use_sink:
        env["THIDUA_SMTP_SECURITY"] = "none"
    if auth:
        env["PREFECT_API_AUTH_STRING"] = auth
    return env


def _server_env(
    env: dict[str, str], *, api_url: str, auth: str | None, prefect_db: str | None
) -> dict[str, str]:
    # Prefect's own records stay in SQLite under PREFECT_HOME unless --prefect-db says otherwise.
    server = {
        k: v
        for k, v in env.items()
        if k not in ("PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_DATABASE_CONNECTION_URL")
    }
    # Behind a reverse proxy the browser reaches the API at the proxy's address: the operator's
    # PREFECT_SERVER_UI_API_URL (e.g. https://thidua.tinh.gov.vn/api) wins over the local one.
    ui_api_url = os.environ.get("PREFECT_SERVER_UI_API_URL") or api_url
    server.update(PREFECT_SERVER_UI_API_URL=ui_api_url, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    if auth:
        server["PREFECT_SERVER_API_AUTH_STRING"] = auth
    if prefect_db:
        server["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_db
    else:
        server.setdefault(
            "PREFECT_SERVER_DATABASE_TIMEOUT", SQLITE_PATIENCE["PREFECT_SERVER_DATABASE_TIMEOUT"]
        )
    return server


def _print_banner(info: dict[str, Any], *, auth: str | None, loaded: dict[str, int] | None) -> None:
    if loaded:
        console.print("Đã nạp dữ liệu mẫu: " + counts_line(loaded))
    login = f" (đăng nhập: {auth.partition(':')[0]}:•••)" if auth else ""
    console.print()
    console.print(text("[bold green]thidua đã sẵn sàng[/] sau {} giây", info["startup_seconds"]))
    console.print(text("  Giao diện Prefect: [bold]{}[/]{}", info["ui_url"], login))
    console.print(f"  API Prefect:       {info['api_url']}")
    console.print(text("  Cổng Hội đồng:     [bold]{}[/] (tài khoản: thidua users add)", info["portal_url"]))
    if info["maildir"]:
        console.print(
            text(
                "  Thư bắt được:      {} (SMTP {}:{}; xem bằng [bold]thidua mail ls[/])",
                info["maildir"],
                HOST,
                info["sink_port"],
            )
        )
    else:
        console.print(f"  Thư gửi qua:       {info['smtp']}")
    console.print(
        f"  Cơ sở dữ liệu:     {info['database_url']} (của Prefect: {info['prefect_database_url']})"
    )
    console.print(f"  Deployment:        {', '.join(info['deployments'])}")
    console.print(f"  Nhật ký:           {info['logs']}")
    console.print("Nhấn Ctrl-C để dừng.")


def _port(flag: str, what: str, default: str) -> Any:
    """A port option: which service listens on it, and where its default comes from."""
    return typer.Option(flag, help=f"cổng {what} (mặc định {default})")


def _secret_file(flag: str, what: str) -> Any:
    """The option naming a file that holds `what` (read by read_secret_file, so no secret is on argv)."""
    return typer.Option(flag, metavar="TỆP", help=f"tệp chứa {what} (có thể kèm mật khẩu)")


def up(
    port: Annotated[int | None, _port("--port", "máy chủ Prefect", "THIDUA_PREFECT_PORT, 4200")] = None,
    sink_port: Annotated[int | None, _port("--sink-port", "hộp thư thử nghiệm SMTP", "8025")] = None,
    auth_file: Annotated[
        Path | None,
        typer.Option(
            "--auth-file",
            metavar="TỆP",
            help="bật xác thực cơ bản cho giao diện và API Prefect: tệp chứa "
            "TÊN:MẬT_KHẨU (hoặc đặt THIDUA_UI_AUTH trong môi trường / tệp .env)",
        ),
    ] = None,
    postgres: Annotated[
        str | None,
        typer.Option(
            "--postgres",
            metavar="URL",
            help="cơ sở dữ liệu PostgreSQL của ứng dụng, không kèm mật khẩu "
            "(mật khẩu: THIDUA_DATABASE_URL, ~/.pgpass hoặc --postgres-file)",
        ),
    ] = None,
    postgres_file: Annotated[
        Path | None, _secret_file("--postgres-file", "URL PostgreSQL của ứng dụng")
    ] = None,
    prefect_db: Annotated[
        str | None,
        typer.Option(
            "--prefect-db",
            metavar="URL",
            help="cơ sở dữ liệu riêng của Prefect (mặc định SQLite), không kèm mật khẩu",
        ),
    ] = None,
    prefect_db_file: Annotated[
        Path | None, _secret_file("--prefect-db-file", "URL cơ sở dữ liệu của Prefect")
    ] = None,
    no_sample: Annotated[bool, typer.Option("--no-sample", help="không nạp dữ liệu mẫu lần đầu")] = False,
    portal_port: Annotated[
        int | None, _port("--portal-port", "của cổng Hội đồng", "THIDUA_PORTAL_PORT, 8000")
    ] = None,
    auth: Annotated[
        str | None, typer.Option("--auth", hidden=True, help="bị từ chối: dùng --auth-file")
    ] = None,
) -> None:
    """Chạy toàn bộ dịch vụ trên máy này: máy chủ Prefect và giao diện, hộp thư thử nghiệm, mọi deployment."""
    try:
        refuse_secret_on_argv("--auth", auth, env="THIDUA_UI_AUTH", file_option="--auth-file")
        refuse_secret_on_argv(
            "--postgres", postgres, env="THIDUA_DATABASE_URL", file_option="--postgres-file"
        )
        refuse_secret_on_argv("--prefect-db", prefect_db, env=None, file_option="--prefect-db-file")
        settings = get_settings()
        options = Options(
            port=port or settings.prefect_port,
            sink_port=sink_port or settings.sink_port,
            auth=read_secret_file(auth_file, "--auth-file") if auth_file else None,
            postgres=read_secret_file(postgres_file, "--postgres-file") if postgres_file else postgres,
            prefect_db=read_secret_file(prefect_db_file, "--prefect-db-file")
            if prefect_db_file
            else prefect_db,
            sample=not no_sample,
            portal_port=portal_port or settings.portal_port,
        )
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        code = run(options, stop=stop)
    except UpError as exc:
        err_console.print(text("[bold red]Lỗi:[/] {}", exc))
        code = 1
    raise typer.Exit(code)
