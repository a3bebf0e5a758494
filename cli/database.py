"""The app database and sample data from the command line: `thidua db upgrade`, `thidua sample load|national`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JsonOpt, console, text
from cli.common import emit_json as _emit_json

db_app = typer.Typer(help="Cơ sở dữ liệu của ứng dụng", no_args_is_help=True)
sample_app = typer.Typer(help="Dữ liệu mẫu", no_args_is_help=True)


SAMPLE_LABELS = {
    "units": "đơn vị",
    "units_created": "đơn vị mới",
    "units_updated": "đơn vị cập nhật",
    "councils": "hội đồng",
    "councils_created": "hội đồng mới",
    "councils_updated": "hội đồng cập nhật",
    "members": "thành viên",
    "members_created": "thành viên mới",
    "members_updated": "thành viên cập nhật",
}


def counts_line(counts: dict) -> str:
    """`{"units": 86, …}` as «đơn vị: 86, …» for officials."""
    return ", ".join(f"{SAMPLE_LABELS.get(k, k)}: {v}" for k, v in counts.items())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Tạo/nâng cấp cơ sở dữ liệu lên phiên bản mới nhất (Alembic)."""
    from models.migrate import current, upgrade
    from models.settings import get_settings

    upgrade()
    url = get_settings().effective_database_url
    from supervisor.up import safe_url

    console.print(text("Cơ sở dữ liệu đã ở phiên bản [bold]{}[/] ({})", current(), safe_url(url)))


@sample_app.command("load")
def sample_load(json_out: JsonOpt = False) -> None:
    """Nạp dữ liệu mẫu: đơn vị của các địa phương trong kế hoạch (2022 và từ 01/07/2025), hội đồng, phong trào."""
    from models.campaigns import ensure_campaigns
    from models.db import session_scope
    from models.sample import load_sample

    with session_scope() as session:
        counts = load_sample(session=session)
        ensure_campaigns(session=session)
    if json_out:
        _emit_json(counts)
    else:
        console.print("Đã nạp dữ liệu mẫu: " + counts_line(counts))


@sample_app.command("national")
def sample_national(
    shape: Annotated[str, typer.Option(help="2022 (63 tỉnh, 3 cấp) hoặc 2025 (34 tỉnh, 2 cấp)")] = "2022",
    json_out: JsonOpt = False,
) -> None:
    """Sinh hệ thống đơn vị quy mô toàn quốc (tổng hợp, cho đo hiệu năng)."""
    from models.campaigns import ensure_campaigns
    from models.db import session_scope
    from models.synthetic import generate_national, shape_of

    with session_scope() as session:
        counts = generate_national(session=session, shape=shape_of(shape))
        ensure_campaigns(session=session)
    _emit_json(counts) if json_out else console.print("Đã sinh: " + counts_line(counts))
