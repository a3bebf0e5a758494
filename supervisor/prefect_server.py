"""The Prefect server as `thidua up` runs it: `python -m supervisor.prefect_server server start …` is
Prefect's own `prefect server start` (same arguments, same settings), with one change to how its SQLite
database takes writes.

Prefect 3.8.8 opens its server's write transactions on SQLite as `BEGIN DEFERRED`: a transaction reads,
then asks for the write lock. When another connection wrote in between, SQLite refuses at once
(`database is locked`: its busy timeout does not apply to that case), the API answers 503 and the client
backs off 2, 4, 8 … s; or two transactions wait on each other until the 60 s busy timeout Prefect sets
runs out, and the whole server stands still for that minute. Measured with 60 of `bench/surge.py`'s
empty floor runs, 8 at once: 51 answers 503 on `POST /flow_runs/`, one request of 58.8 s, 1.63 s per run.

Here every transaction Prefect opens (`begin_transaction`) starts as `BEGIN IMMEDIATE`: it takes the write
lock first, so writers queue on the lock (the busy timeout) instead of failing, and none can hold a read
snapshot that a write then invalidates. Reads outside a transaction are untouched (WAL: readers never
wait). The mode applies to that transaction's own BEGIN only: Prefect passes it in a context variable,
which a session opened inside the transaction, or a task started there (the automations cache refresh
after a commit), would otherwise inherit, so that a plain read took the write lock too, and one inside the
transaction waited on its own transaction for the whole busy timeout. Same 60 runs: no 503, longest request 1.5 s, 0.22 s per run. PostgreSQL is not affected (the
change is on Prefect's SQLite configuration only).

And one fix to how it stores events on SQLite: a flush whose events are all stored already is skipped
instead of failing (and, after 5 retries, dropping the events that came with it): `duplicate_events_skipped`.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any


def immediate_sqlite_transactions() -> None:
    """Make Prefect's SQLite transactions take the write lock when they begin (`BEGIN IMMEDIATE`)."""
    from prefect.server.database import configurations

    @asynccontextmanager
    async def begin_transaction(self: Any, session: Any, with_for_update: bool = False) -> AsyncIterator[Any]:
        async with session.begin() as transaction:
            token = configurations.SQLITE_BEGIN_MODE.set("IMMEDIATE")
            try:
                await session.connection()  # BEGIN IMMEDIATE, on this session's connection only
            finally:
                configurations.SQLITE_BEGIN_MODE.reset(token)
            yield transaction

    configurations.AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]


def duplicate_events_skipped() -> None:
    """Store a flush of events whose every one is stored already as nothing, not as an empty INSERT.

    Prefect 3.8.8's `_write_sqlite_events` drops the events it finds stored (a client sends again what it
    sent before a reconnect) and inserts the rest, even when none is left: `INSERT INTO events` with no
    row fails (`NOT NULL constraint failed: events.occurred`), the event persister retries the flush 5
    times and then drops all of it, new events included — a gap in a dossier's trail in the event feed.
    The same function, skipping an empty batch."""
    import sqlalchemy as sa
    from prefect.server.database import db_injector
    from prefect.server.events.storage import database as storage

    @db_injector
    async def _write_sqlite_events(db: Any, session: Any, events: list[Any]) -> None:
        for batch in storage._in_safe_batches(events):
            ids = {event.id for event in batch}
            stored = set((await session.scalars(sa.select(db.Event.id).where(db.Event.id.in_(ids)))).all())
            new = [event for event in batch if event.id not in stored]
            if not new:
                continue
            await session.execute(db.queries.insert(db.Event).values([e.as_database_row() for e in new]))
            resources = [row for event in new for row in event.as_database_resource_rows()]
            if resources:
                await session.execute(db.queries.insert(db.EventResource).values(resources))

    storage._write_sqlite_events = _write_sqlite_events


def locked_waits_reported() -> None:
    """When a statement on Prefect's SQLite database fails with `database is locked` (it waited out the
    busy timeout), log where each of the server's tasks stood at that moment: the one holding the write
    lock is among them, still holding it, so the log names the code that stalled the server."""
    import sqlite3

    from prefect.server.database import configurations
    from sqlalchemy import event

    original_engine = configurations.AioSqliteConfiguration.engine

    async def engine(self: Any) -> Any:
        made = await original_engine(self)
        if not event.contains(made.sync_engine, "handle_error", _report_locked):
            event.listen(made.sync_engine, "handle_error", _report_locked)
        return made

    def _report_locked(context: Any) -> None:
        error = context.original_exception
        if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
            _log_tasks(str(context.statement or "")[:80])

    configurations.AioSqliteConfiguration.engine = engine  # type: ignore[method-assign]


_PLUMBING = (
    "/asyncio/",
    "/sqlalchemy/",
    "/aiosqlite/",
    "/contextlib.py",
    "/anyio/",
    "/starlette/",
    "/uvicorn/",
)


def _log_tasks(statement: str) -> None:
    import asyncio
    import logging

    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        return
    lines = []
    for task in tasks:
        frames = [
            f for f in task.get_stack(limit=40) if not any(p in f.f_code.co_filename for p in _PLUMBING)
        ]
        where = " < ".join(
            f"{Path(f.f_code.co_filename).stem}.{f.f_code.co_name}:{f.f_lineno}"
            for f in reversed(frames[-4:])
        )
        lines.append(f"  {task.get_name()}: {where or '-'}")
    logging.getLogger("thidua.prefect_server").warning(
        "database is locked (%s); the server's tasks at that moment:\n%s", statement, "\n".join(sorted(lines))
    )


def fixed() -> None:
    """The fixes, in the process that runs the server."""
    immediate_sqlite_transactions()
    duplicate_events_skipped()
    locked_waits_reported()


def create_app() -> Any:
    """Prefect's API app with both fixes: the uvicorn factory of the temporary servers below."""
    fixed()
    from prefect.server.api import server

    return server.create_app()


def temporary_servers_fixed() -> None:
    """Make Prefect's temporary server (`SubprocessASGIServer`: the one a CLI command starts when no
    `thidua up` runs, and `prefect_test_harness`'s) serve `create_app` above instead of Prefect's.

    The same command as Prefect 3.8.8's `_run_uvicorn_command`, the factory excepted (the project is
    installed, so `supervisor` imports from site-packages like `prefect`)."""
    import os
    import subprocess

    import prefect
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    def run_uvicorn(self: SubprocessASGIServer) -> subprocess.Popen[Any]:
        return subprocess.Popen(
            args=[
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(prefect.__module_path__.parent),
                "--factory",
                "supervisor.prefect_server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env={
                **os.environ,
                "PREFECT_UI_ENABLED": "0",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1",
                **get_current_settings().to_environment_variables(exclude_unset=True),
            },
        )

    SubprocessASGIServer._run_uvicorn_command = run_uvicorn  # type: ignore[method-assign]


def main() -> None:
    fixed()
    from prefect.cli import app

    sys.argv[0] = "prefect"
    app()


if __name__ == "__main__":
    main()
