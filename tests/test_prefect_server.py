"""The Prefect server `thidua up` runs (supervisor/prefect_server.py): Prefect's own, whose transactions
on its SQLite database take the write lock when they begin, so that concurrent writers queue instead of
failing with `database is locked` (a 503 to the client) or waiting out the 60 s busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa


def _locks_at_begin(db: Path) -> bool:
    """Whether a transaction Prefect's SQLite configuration opens holds the write lock before it writes:
    another connection, not willing to wait, cannot begin a write while it is open."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    async def inside() -> bool:
        config = AioSqliteConfiguration(connection_url=f"sqlite+aiosqlite:///{db}")
        engine = await config.engine()
        try:
            session = await config.session(engine)
            async with session, config.begin_transaction(session):
                await session.execute(sa.text("SELECT count(*) FROM t"))  # a read first, as the API does
                other = sqlite3.connect(db, timeout=0, isolation_level=None)
                try:
                    other.execute("BEGIN IMMEDIATE")
                    other.execute("ROLLBACK")
                    return False
                except sqlite3.OperationalError as exc:
                    assert "locked" in str(exc)
                    return True
                finally:
                    other.close()
        finally:
            await engine.dispose()

    return asyncio.run(inside())


@pytest.fixture
def database(tmp_path: Path) -> Path:
    db = tmp_path / "prefect.db"
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE t (x INTEGER)")
    return db


def test_prefects_own_transactions_read_before_they_lock(database: Path) -> None:
    """What the launcher changes: as shipped, a transaction takes no lock until it writes."""
    assert _locks_at_begin(database) is False


def test_the_launcher_makes_them_take_the_write_lock_when_they_begin(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.server.database.configurations import AioSqliteConfiguration

    from supervisor.prefect_server import immediate_sqlite_transactions

    # restored after the test: this process's other tests keep Prefect as shipped
    monkeypatch.setattr(AioSqliteConfiguration, "begin_transaction", AioSqliteConfiguration.begin_transaction)
    immediate_sqlite_transactions()
    assert _locks_at_begin(database) is True


async def _engine_waiting_at_most(db: Path, busy_ms: int) -> tuple[Any, Any]:
    """Prefect's SQLite configuration and engine for `db`, with the busy timeout cut to `busy_ms` so that a
    statement waiting on a lock fails fast instead of after Prefect's 60 s."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    config = AioSqliteConfiguration(connection_url=f"sqlite+aiosqlite:///{db}")
    engine = await config.engine()
    sa.event.listen(engine.sync_engine, "connect", lambda c, _: c.execute(f"PRAGMA busy_timeout = {busy_ms}"))
    return config, engine


def _reads_inside_a_transaction(db: Path) -> list[str]:
    """What a plain session gets when it reads while a transaction is open: one opened inside the
    transaction (a nested read) and one in a task started there (as Prefect refreshes its automations
    cache after a commit). "read", or the error; the busy timeout is cut to 0.5 s so that a read waiting
    on the transaction fails fast instead of after Prefect's 60 s."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    async def read(config: AioSqliteConfiguration, engine: sa.ext.asyncio.AsyncEngine) -> str:
        try:
            async with await config.session(engine) as session:
                await session.execute(sa.text("SELECT count(*) FROM t"))
            return "read"
        except sa.exc.OperationalError as exc:
            return str(exc.orig)

    async def inside() -> list[str]:
        config, engine = await _engine_waiting_at_most(db, 500)
        try:
            session = await config.session(engine)
            async with session, config.begin_transaction(session):
                await session.execute(sa.text("INSERT INTO t VALUES (1)"))
                nested = await read(config, engine)
                spawned = await asyncio.create_task(read(config, engine))
            return [nested, spawned]
        finally:
            await engine.dispose()

    return asyncio.run(inside())


def test_a_read_inside_a_transaction_does_not_wait_on_it(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the transaction's own BEGIN is immediate: a read opened inside it, or by a task started in
    it, does not take the write lock and so does not wait on its own transaction (as shipped it does
    not either; the first version of the launcher's change made it wait the whole busy timeout)."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    from supervisor.prefect_server import immediate_sqlite_transactions

    assert _reads_inside_a_transaction(database) == ["read", "read"]
    monkeypatch.setattr(AioSqliteConfiguration, "begin_transaction", AioSqliteConfiguration.begin_transaction)
    immediate_sqlite_transactions()
    assert _reads_inside_a_transaction(database) == ["read", "read"]
    assert _locks_at_begin(database) is True


def _store_twice(db_path: Path) -> int:
    """Write the same flush of events twice, as the event persister does when a client sent them again;
    returns how many are stored (raises what the second write raises)."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from prefect.server.database import provide_database_interface
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.server.events.storage.database import write_events
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, temporary_settings

    now = datetime.now(UTC)
    events = [
        ReceivedEvent.model_validate(
            {
                "occurred": now,
                "received": now,
                "id": uuid4(),
                "event": "thidua.nomination.received",
                "resource": {"prefect.resource.id": f"thidua.meeting.{i}"},
                "related": [
                    {
                        "prefect.resource.id": "thidua.nomination.HS2026-000001",
                        "prefect.resource.role": "nomination",
                    }
                ],
            }
        )
        for i in range(3)
    ]

    async def run() -> int:
        db = provide_database_interface()
        await db.create_db()
        for _ in range(2):
            async with db.session_context(begin_transaction=True) as session:
                await write_events(session, events)
        async with db.session_context() as session:
            ids = [event.id for event in events]
            return (
                await session.execute(
                    sa.select(sa.func.count()).select_from(db.Event).where(db.Event.id.in_(ids))
                )
            ).scalar_one()

    from prefect.server.database.dependencies import MODELS_DEPENDENCIES

    kept = MODELS_DEPENDENCIES.get("database_config")
    MODELS_DEPENDENCIES["database_config"] = None  # Prefect keeps the first database it was given
    try:
        with temporary_settings({PREFECT_API_DATABASE_CONNECTION_URL: f"sqlite+aiosqlite:///{db_path}"}):
            return asyncio.run(run())
    finally:
        MODELS_DEPENDENCIES["database_config"] = kept


def test_prefect_fails_on_a_flush_of_events_it_stored_already(tmp_path: Path) -> None:
    """As shipped: the second write is an INSERT with no row (the persister then drops the flush)."""
    with pytest.raises(sa.exc.IntegrityError, match="events.occurred"):
        _store_twice(tmp_path / "prefect.db")


def test_the_launcher_stores_such_a_flush_as_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.server.events.storage import database as storage

    from supervisor.prefect_server import duplicate_events_skipped

    monkeypatch.setattr(storage, "_write_sqlite_events", storage._write_sqlite_events)
    duplicate_events_skipped()
    assert _store_twice(tmp_path / "prefect.db") == 3


def test_the_test_harness_serves_the_fixed_server(prefect_api) -> None:
    """The tests' Prefect server (tests/fixtures_prefect.py), like a CLI command's temporary one
    (supervisor/reach.py), is `supervisor.prefect_server:create_app`, not Prefect's own app."""
    from prefect.server.api.server import SubprocessASGIServer

    process = SubprocessASGIServer._instances[None].server_process
    assert process is not None and process.poll() is None
    argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
    assert argv[argv.index(b"--factory") + 1] == b"supervisor.prefect_server:create_app", argv


def test_a_write_that_waits_out_the_busy_timeout_logs_where_the_servers_tasks_stood(
    database: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The launcher's report of a stall: the task that waited, and the others, named in the log."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    from supervisor.prefect_server import locked_waits_reported

    monkeypatch.setattr(AioSqliteConfiguration, "engine", AioSqliteConfiguration.engine)
    locked_waits_reported()

    async def write_while_locked() -> str:
        config, engine = await _engine_waiting_at_most(database, 300)
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            async with await config.session(engine) as session:
                await session.execute(sa.text("INSERT INTO t VALUES (2)"))
            return "written"
        except sa.exc.OperationalError as exc:
            return str(exc.orig)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
            await engine.dispose()

    async def waiting_writer() -> str:
        return await asyncio.create_task(write_while_locked(), name="the-waiting-writer")

    with caplog.at_level("WARNING", logger="thidua.prefect_server"):
        assert asyncio.run(waiting_writer()) == "database is locked"
    [record] = [r for r in caplog.records if r.name == "thidua.prefect_server"]
    assert "INSERT INTO t" in record.getMessage() and "the-waiting-writer" in record.getMessage()
