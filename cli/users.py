"""`thidua users add|list|disable|enable|reset` (portal accounts) and `thidua portal` (the portal alone).

A password comes from a prompt (typed twice, not echoed) or from `--password-file` (its first line),
never from the command line, where every local user sees it in `ps`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import JsonOpt, console, emit_json, fail

users_app = typer.Typer(
    help="Tài khoản cổng Hội đồng (thư ký, chủ tịch, văn thư, cán bộ thi đua, quản trị)", no_args_is_help=True
)

PasswordFileOpt = Annotated[
    Path | None,
    typer.Option("--password-file", metavar="TỆP", help="tệp chứa mật khẩu (dòng đầu); không có thì hỏi"),
]


def _password(path: Path | None) -> str:
    if path is not None:
        from supervisor.up import UpError, read_secret_file

        try:
            return read_secret_file(path, "--password-file")
        except UpError as exc:
            raise fail(str(exc), 2) from None
    return str(typer.prompt("Mật khẩu", hide_input=True, confirmation_prompt="Nhập lại mật khẩu"))


@users_app.command("add")
def add(
    username: str,
    unit: Annotated[str, typer.Option("--unit", help="mã hoặc tên đơn vị, ví dụ thanh-hoa.cam-thach-2025")],
    role: Annotated[str, typer.Option("--role", help="secretary | chair | registry | operator | admin")],
    name: Annotated[str, typer.Option("--name", help="họ tên hiển thị")] = "",
    password_file: PasswordFileOpt = None,
) -> None:
    """Tạo tài khoản cổng Hội đồng cho một người của một đơn vị."""
    from models import accounts
    from models.db import session_scope

    password = _password(password_file)
    try:
        with session_scope() as session:
            user = accounts.add_user(
                session=session, username=username, unit=unit, role=role, password=password, display_name=name
            )
            from models.hierarchy import Hierarchy

            unit_name = Hierarchy.load(session).get(user.unit_id).name
    except accounts.AccountError as exc:
        raise fail(str(exc), 2) from None
    console.print(f"Đã tạo tài khoản {user.username} ({user.role.label}, {unit_name})")


@users_app.command("list")
def list_users(json_out: JsonOpt = False) -> None:
    """Các tài khoản cổng Hội đồng."""
    from models import accounts
    from models.db import session_scope
    from models.hierarchy import Hierarchy

    with session_scope() as session:
        users = accounts.list_users(session)
        hierarchy = Hierarchy.load(session)
    rows = [
        {
            "username": u.username,
            "name": u.display_name,
            "role": u.role.value,
            "unit": hierarchy.get(u.unit_id).code,
            "disabled": u.disabled,
        }
        for u in users
    ]
    if json_out:
        emit_json(rows)
        return
    title = f"Tài khoản cổng Hội đồng ({len(rows)})"
    table = Table("Tên đăng nhập", "Họ tên", "Vai trò", "Đơn vị", "Tình trạng", title=title)
    for u in users:
        table.add_row(
            u.username,
            u.display_name,
            u.role.label,
            hierarchy.get(u.unit_id).name,
            "đã khóa" if u.disabled else "",
        )
    console.print(table)


def _set_disabled(username: str, disabled: bool) -> None:
    from models import accounts
    from models.db import session_scope

    with session_scope() as session:
        user = accounts.by_username(session, username)
        if user is None:
            raise fail(f"không có tài khoản «{username}»")
        accounts.set_disabled(session=session, user=user, disabled=disabled)
    what = (
        "đã khóa tài khoản; mọi phiên đăng nhập của tài khoản đã kết thúc"
        if disabled
        else "đã mở lại tài khoản"
    )
    console.print(f"{username}: {what}")


@users_app.command("disable")
def disable(username: str) -> None:
    """Khóa tài khoản: các phiên đăng nhập kết thúc ngay."""
    _set_disabled(username, True)


@users_app.command("enable")
def enable(username: str) -> None:
    """Mở lại tài khoản đã khóa."""
    _set_disabled(username, False)


@users_app.command("reset")
def reset(username: str, password_file: PasswordFileOpt = None) -> None:
    """Đặt mật khẩu mới cho tài khoản (các phiên đăng nhập kết thúc)."""
    from models import accounts
    from models.db import session_scope

    password = _password(password_file)
    try:
        with session_scope() as session:
            user = accounts.by_username(session, username)
            if user is None:
                raise fail(f"không có tài khoản «{username}»")
            accounts.set_password(session=session, user=user, password=password)
    except accounts.AccountError as exc:
        raise fail(str(exc), 2) from None
    console.print(f"{username}: đã đặt mật khẩu mới; mọi phiên đăng nhập của tài khoản đã kết thúc")


def portal_command(
    port: Annotated[
        int | None, typer.Option("--port", help="cổng (mặc định THIDUA_PORTAL_PORT, 8000)")
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="địa chỉ lắng nghe (mặc định chỉ máy này)")
    ] = "127.0.0.1",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="số tiến trình phục vụ (phiên đăng nhập lưu trong cơ sở dữ liệu nên dùng chung được); "
            "nên bằng số lõi CPU",
        ),
    ] = 1,
) -> None:
    """Chạy riêng cổng Hội đồng (uvicorn), ví dụ sau một reverse proxy có TLS."""
    import uvicorn

    from models.migrate import upgrade
    from models.settings import get_settings

    upgrade()
    port = port or get_settings().portal_port
    console.print(
        f"Cổng Hội đồng: http://{host}:{port}" + (f" ({workers} tiến trình)" if workers > 1 else "")
    )
    # proxy headers from 127.0.0.1 only (uvicorn's default): behind nginx on this machine the client's
    # address is the browser's, which the login throttling counts
    app = "portal.web:app_factory"
    uvicorn.run(app, factory=True, host=host, port=port, workers=workers, log_level="info", access_log=True)
