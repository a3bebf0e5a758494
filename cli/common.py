"""What every `thidua` command shares: the consoles, errors in Vietnamese, JSON for scripts, the log file.

Terminal output has one rule: **data is never markup**. The consoles below print every string as it is
(no rich markup, no `:emoji:` codes, control characters shown as `\\x1b` rather than sent to the
terminal), so a nominee named `[/b]` or `[link=…]` is printed literally, in tables and titles too.
Styling is opt-in and only through `text()`, whose template is code and whose values are data.

The root command (`ThiduaGroup`) runs every command with a private umask (the data folder holds
secrets), sends Python and Prefect logs to `<data_dir>/logs/cli.log` instead of the terminal (`thidua
--verbose …` shows them too), and turns an unexpected error into one line pointing at that file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from typer.core import TyperGroup

from models.clock import fmt_date, parse_date

if TYPE_CHECKING:
    from models.hierarchy import Hierarchy, UnitRef

JsonOpt = Annotated[bool, typer.Option("--json", help="in JSON cho script")]

PRIVATE_UMASK = 0o077  # files 0600, folders 0700: the data folder holds the database, mail and passwords
LOG_FILE = "cli.log"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

logger = logging.getLogger("thidua.cli")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(value: object) -> str:
    """The value as text that cannot drive the terminal: control characters shown as `\\xNN`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", str(value))


class DataConsole(Console):
    """A rich console that prints every string literally: markup and emoji codes off, control
    characters made visible. Tables, titles and panels render their strings through `render_str`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:  # type: ignore[override]
        kwargs.update(markup=False, emoji=False)
        return super().render_str(visible(text), **kwargs)


console = DataConsole()
err_console = DataConsole(stderr=True, soft_wrap=True)  # a message is one line, whatever the width


def text(template: str, *values: object) -> Text:
    """Styled output: `template` is rich markup written in the code, each `{}` is filled with a value
    from data, escaped. `text("[bold]{}[/] tại {}", code, unit)`."""
    return Text.from_markup(template.format(*(escape(visible(v)) for v in values)), emoji=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print the error for the official and return the exit to raise."""
    err_console.print(text("[bold red]Lỗi:[/] {}", message))
    return typer.Exit(code)


def find_unit(unit: str, on: date | None) -> tuple[UnitRef, Hierarchy]:
    """The unit an official named (code or name, valid on `on`; any date when None) and the unit tree;
    a unit that is not found or is ambiguous is a clear error."""
    from models.db import session_scope
    from models.hierarchy import AmbiguousUnit, Hierarchy, UnitNotFound

    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
    try:
        return hierarchy.resolve(unit, on=on), hierarchy
    except (UnitNotFound, AmbiguousUnit) as exc:
        raise fail(str(exc)) from exc


def info(message: str) -> None:
    """One line of information on stderr (stdout stays for results and --json)."""
    err_console.print(text("[yellow]{}[/]", message))


def award_name(code: str | None) -> str:
    """The award form's name (tên hình thức khen thưởng) for its code, the code itself if unknown."""
    from models.awards import catalogue

    form = catalogue().forms.get(code or "")
    return form.name if form else (code or "")


def date_option(value: str | None, option: str | None = None) -> date | None:
    """A dd/mm/yyyy option (None if not given); a wrong date ends the command with exit code 2."""
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        raise fail(f"{option}: {exc}" if option else str(exc), 2) from exc


def iso_to_vn(value: str | None) -> str:
    """An ISO date from a flow's result as dd/mm/yyyy ('' for none)."""
    return fmt_date(date.fromisoformat(value)) if value else ""


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# --- the data folder ------------------------------------------------------------------------------


def secure_folder(path: Path, *, deep: bool = False) -> Path:
    """Create `path` as 0700 (or tighten it), and its files to 0600 (`deep`: the whole tree, else only
    the top level). Only what this user owns is changed."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    uid = os.getuid()

    def tighten(entry: Path, mode: int) -> None:
        try:
            st = entry.lstat()
            if st.st_uid == uid and not entry.is_symlink() and st.st_mode & 0o077:
                entry.chmod(mode)
        except OSError:
            pass

    tighten(path, 0o700)
    entries = path.rglob("*") if deep else path.iterdir()
    for entry in entries:
        tighten(entry, 0o700 if entry.is_dir() else 0o600)
    return path


# --- logs -----------------------------------------------------------------------------------------


class _Logging:
    """The handlers a command adds to the root logger.

    The log file stays attached after the command (until the next one in the same process): Prefect
    drains its queues and stops its temporary server at exit, and a warning logged then with no
    handler would reach the terminal through Python's last-resort handler."""

    file_handler: logging.FileHandler | None = None  # the latest command's, for the whole process

    def __init__(self) -> None:
        self.stream: logging.Handler | None = None
        self.root_level = logging.WARNING
        self.path: Path | None = None

    def start(self, *, verbose: bool) -> None:
        from models.settings import get_settings

        root = logging.getLogger()
        self.root_level = root.level
        if verbose:  # first, so that even a broken data folder still shows the logs
            self.stream = self._add(logging.StreamHandler(sys.stderr))
        data_dir = secure_folder(get_settings().data_dir)
        self.path = secure_folder(data_dir / "logs") / LOG_FILE
        if _Logging.file_handler is not None:
            root.removeHandler(_Logging.file_handler)
            _Logging.file_handler.close()
        # delay: a command that logs nothing creates no file. A root handler of our own also tells
        # Prefect (imported later, lazily) to leave the root logger alone: no console handler on it.
        _Logging.file_handler = self._add(logging.FileHandler(self.path, encoding="utf-8", delay=True))
        root.setLevel(logging.INFO)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API request
        logging.captureWarnings(True)

    @staticmethod
    def _add(handler: logging.Handler) -> Any:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.setLevel(logging.INFO)
        logging.getLogger().addHandler(handler)
        return handler

    def stop(self) -> None:
        if self.stream is not None:
            logging.getLogger().removeHandler(self.stream)
            self.stream = None
        logging.getLogger().setLevel(self.root_level)
        logging.captureWarnings(False)


def settings_problem(exc: Exception) -> str | None:
    """One Vietnamese line naming the refused settings, if `exc` is the settings' ValidationError (never
    the values: they may be passwords)."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError) or exc.title != "Settings":
        return None
    reasons = {
        "int_parsing": "phải là số nguyên",
        "float_parsing": "phải là số",
        "bool_parsing": "phải là true/false",
        "literal_error": "chỉ nhận {expected}",
        "missing": "còn thiếu",
        "json_invalid": "phải là JSON",
        "list_type": "phải là danh sách JSON",
        "url_parsing": "phải là URL",
    }
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=True):
        where = f"THIDUA_{'_'.join(str(p) for p in err['loc'][:1]).upper()}" if err["loc"] else ""
        if err["type"] == "value_error":
            reason = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            ctx = {k: str(v).replace(" or ", " hoặc ") for k, v in err.get("ctx", {}).items()}
            reason = reasons.get(err["type"], "giá trị không hợp lệ").format(**ctx)
        parts.append(f"{where}: {reason}" if where else reason)
    return "cấu hình không hợp lệ — " + "; ".join(parts)


class ThiduaGroup(TyperGroup):
    """The `thidua` root: private umask, logs to the log file, one line instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:
        from typer._click.exceptions import ClickException

        previous_umask = os.umask(PRIVATE_UMASK)
        logs = _Logging()
        try:
            logs.start(verbose=bool(ctx.params.get("verbose")))
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except Exception as exc:
            if (problem := settings_problem(exc)) is not None:
                raise fail(problem, 2) from None
            if logs.path or logs.stream:  # else Python's last-resort handler would print the traceback
                # the command's name only: its arguments may hold what must not reach a log (a refused URL)
                logger.error("Unexpected error in `thidua %s`", ctx.invoked_subcommand or "", exc_info=exc)
            where = f"; chi tiết trong {logs.path}" if logs.path else ""
            raise fail(
                f"lệnh không hoàn thành vì một lỗi ngoài dự kiến ({type(exc).__name__}){where}. "
                "Chạy lại với `thidua --verbose …` để xem ngay."
            ) from None
        finally:
            logs.stop()
            os.umask(previous_umask)


VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="in cả nhật ký (Prefect, lỗi chi tiết) ra màn hình")
]
