"""What every `thidua` command shares: the consoles, errors in Vietnamese, JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="in JSON cho script")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print the error for the official and return the exit to raise."""
    err_console.print(f"[bold red]Lỗi:[/] {message}")
    return typer.Exit(code)


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
