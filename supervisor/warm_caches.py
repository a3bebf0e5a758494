"""The per-process caches every run would otherwise fill again, filled once in the fork server of
supervisor/warm.py (its last preload, supervisor/warm_fill.py, calls `fill`, after Prefect and the
flows' modules are imported), and each forked run inherits what it holds.

A process that lives long (the embedded path, the portal) fills these on first use and keeps them; a
forked run is new each time and filled them again, every run. Measured in the forked intake runs of the
surge (py-spy over `bench/surge_workers.py --size 1000`): the unit tree 19 % of a run's CPU, Prefect's
TLS contexts 15 %, the holidays tables 11 %, the database driver's import 6 %; the paper-making runs
add the templates' compilation and docxtpl's import.

Each cache is checked as it always is (the unit tree against the unit table's count, highest id and
revision; a template by its mtime), so an inherited one is never taken for the database's. Nothing here
keeps a connection across the fork, nor the settings: a run reads its own environment. A cache that
cannot be filled (the database not reachable yet) is left to the runs, as before: the fork server must
start whatever happens.
"""

from __future__ import annotations

import copy
import logging
import ssl
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

logger = logging.getLogger("thidua.warm")


class SharedTLSContexts:
    """`ssl` as Prefect's client module sees it: one verified context per CA file, shared by every client
    of an http:// API (over https each client keeps its own, as before).

    Prefect 3.8.8 builds a TLS context for each API client it makes (`PrefectClient.__init__`, the CA
    bundle parsed again: ~16 ms of CPU here), even for an http:// API, and a run makes many clients. A
    verified context is read-only once built, so one per CA file serves all (keyed by the file's mtime:
    a renewed bundle is read again). Any other call, such as the unverified context Prefect builds and
    then changes for PREFECT_API_TLS_INSECURE_SKIP_VERIFY, gets a new context as before."""

    def __init__(self) -> None:
        self._contexts: dict[tuple[str, int], ssl.SSLContext] = {}

    def create_default_context(self, purpose: Any = ssl.Purpose.SERVER_AUTH, **kwargs: Any) -> ssl.SSLContext:
        cafile = kwargs.get("cafile")
        if (
            purpose is not ssl.Purpose.SERVER_AUTH
            or not cafile
            or set(kwargs) != {"cafile"}
            or not _plain_http_api()
        ):
            return ssl.create_default_context(purpose, **kwargs)
        key = (str(cafile), Path(cafile).stat().st_mtime_ns)
        if key not in self._contexts:
            self._contexts[key] = ssl.create_default_context(cafile=cafile)
        return self._contexts[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)


def _plain_http_api() -> bool:
    """An http:// API: the context is never used for a handshake. Over https, httpcore sets the ALPN
    protocols on the context at each connection, which a context shared across threads must not see."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value() or "").startswith("http://")


def share_prefect_tls_contexts() -> None:
    """Prefect's clients share one TLS context per CA file; the one they use by default is built now."""
    import certifi
    import prefect.client.orchestration as orchestration
    from prefect.settings import PREFECT_API_SSL_CERT_FILE

    if not isinstance(orchestration.ssl, SharedTLSContexts):
        orchestration.ssl = SharedTLSContexts()  # type: ignore[assignment]
    orchestration.ssl.create_default_context(cafile=PREFECT_API_SSL_CERT_FILE.value() or certifi.where())


def serialise_settings_once() -> None:
    """Prefect's settings, turned into a run's environment and its serialised context once per settings
    object, not for every run the process starts.

    Prefect 3.8.8 does both for each flow run a worker (or a runner) starts: the job's base environment
    and `run_flow_in_subprocess` (`Settings.to_environment_variables`, twice) and the context the child
    hydrates (`SettingsContext.serialize`), each a full walk of ~200 settings with their secrets: 37 % of
    a warm worker's own CPU (py-spy, `bench/surge_workers.py --size 1000`). A settings object is never
    changed once made (Prefect makes a new one for a change: `copy_with_update`, `temporary_settings`), so
    the answer is kept beside the very object it came from and given out as a copy."""
    from prefect.context import SettingsContext
    from prefect.settings import Settings

    if getattr(Settings.to_environment_variables, "thidua_once", False):
        return
    environment, serialise = Settings.to_environment_variables, SettingsContext.serialize
    kept: dict[tuple, tuple[Any, Any]] = {}

    def once(made: Any, key: tuple, compute: Callable[[], Any]) -> Any:
        """The answer kept for `made` (the caller copies it)."""
        held = kept.get(key)
        if held is None or held[0] is not made:
            if len(kept) >= 32:  # a few settings objects live at once; older ones are let go
                kept.clear()
            held = kept[key] = (made, compute())
        return held[1]

    def to_environment_variables(
        self: Any, exclude_unset: bool = False, include_secrets: bool = True, include_aliases: bool = False
    ) -> dict[str, str]:
        options = {
            "exclude_unset": exclude_unset,
            "include_secrets": include_secrets,
            "include_aliases": include_aliases,
        }
        # flat (str → str): a shallow copy is a whole one
        return dict(once(self, ("env", id(self), *options.values()), lambda: environment(self, **options)))

    def serialize(self: Any, include_secrets: bool = True) -> dict[str, Any]:
        return copy.deepcopy(
            once(self, ("context", id(self), include_secrets), lambda: serialise(self, include_secrets))
        )

    to_environment_variables.thidua_once = True  # type: ignore[attr-defined]
    Settings.to_environment_variables = to_environment_variables  # type: ignore[method-assign]
    SettingsContext.serialize = serialize  # type: ignore[method-assign]


def fill_starter() -> None:
    """The caches of the process that starts the runs (the warm worker, `thidua up`'s runner), which lives
    long and, for each run it starts, makes Prefect API clients (a TLS context each: 30 % of a warm
    worker's own CPU) and serialises its settings."""
    share_prefect_tls_contexts()
    serialise_settings_once()


def _heavy_imports() -> None:
    """What the flows import only when used (docxtpl, openpyxl, the database driver), and what Prefect's
    engine imports only once a run starts (its task engine; graphviz, for flow visualisation; anyio's
    asyncio backend): 3 % of a forked run's CPU (py-spy, `bench/surge_workers.py --size 1000`)."""
    import anyio._backends._asyncio  # noqa: F401
    import docxtpl  # noqa: F401 - documents/render.py, on the first paper
    import openpyxl.comments  # noqa: F401 - models/sheets.py, on the first workbook
    import openpyxl.styles  # noqa: F401
    import prefect.task_engine  # noqa: F401
    import prefect.utilities.visualization  # noqa: F401
    from sqlalchemy.engine import make_url

    from models.settings import get_settings

    make_url(get_settings().effective_database_url).get_dialect().import_dbapi()


def _server_version() -> None:
    """Prefect's check that its API speaks this client's version, done here for the runs: each process
    checks once (its first websocket, its first API client: two keys, one URL with a trailing slash),
    and a forked run is a new process, so each run checked again (a TLS context and requests: 5 % of a
    forked run's CPU). An API that does not answer yet (`thidua up` starts it beside its runner) is not
    remembered, and each run checks, as before; a server of another major version is an error, logged
    here, and again in each run."""
    import asyncio

    import prefect
    from prefect._internal.version_checking import (
        _api_version_check_key,
        _is_api_version_check_cached,
        _sanitize_url,
        check_server_version,
    )
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if not api_url:
        raise LookupError("no PREFECT_API_URL: a temporary server, made by each run")

    async def check() -> None:
        await check_server_version(api_url, logger, raise_on_error=False)
        if not _is_api_version_check_cached(_api_version_check_key(api_url, prefect.__version__)):
            raise LookupError(
                f"the Prefect API at {_sanitize_url(api_url)} does not answer yet; each run checks it"
            )
        async with get_client() as client:
            await client.raise_for_api_version_mismatch_once()

    asyncio.run(check())


def _templates() -> None:
    from documents.render import compile_templates

    compile_templates()


def _calendar() -> None:
    """The working days of last year, this year and next (the holidays tables, the overrides)."""
    from models.calendar import is_working_day

    this_year = date.today().year
    for year in (this_year - 1, this_year, this_year + 1):
        is_working_day(date(year, 1, 1))


def _units() -> None:
    """The unit tree of the app database; the connection is closed before any run forks."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool
    from sqlmodel import Session, create_engine

    from models.hierarchy import Hierarchy
    from models.settings import get_settings

    url = make_url(get_settings().effective_database_url)
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite and not Path(url.database or "").is_file():
        raise LookupError(f"no database at {url.database} yet")  # not made here: `thidua up` makes it
    # An engine of its own, quick to give up: the worker waits for its fork server (the first run's
    # start blocks on it), and an unreachable database must not hold it for a TCP timeout.
    engine = create_engine(
        url, connect_args={"timeout": 5} if sqlite else {"connect_timeout": 5}, poolclass=NullPool
    )
    try:
        with Session(engine) as session:
            Hierarchy.load(session)  # cached under the database's URL, as the runs' engines name it
    finally:
        engine.dispose()


STEPS: dict[str, Callable[[], None]] = {
    "tls": share_prefect_tls_contexts,
    "imports": _heavy_imports,
    "server version": _server_version,
    "templates": _templates,
    "calendar": _calendar,
    "units": _units,
}


def fill() -> dict[str, float | str]:
    """Fill each cache; seconds taken by each, or what stopped it (logged, never raised)."""
    from models.settings import reset_settings

    done: dict[str, float | str] = {}
    for name, step in STEPS.items():
        started = time.perf_counter()
        try:
            step()
            done[name] = round(time.perf_counter() - started, 3)
        except Exception as exc:  # the fork server starts regardless; the runs fill it as before
            done[name] = reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            # no database yet (a first start) is expected; anything else is worth an operator's look
            level = logging.INFO if isinstance(exc, LookupError) else logging.WARNING
            logger.log(level, "warm process: %s not filled in advance (%s); each run fills it", name, reason)
    reset_settings()  # a run reads its own environment's settings, not the fork server's
    return done
