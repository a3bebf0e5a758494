"""The Prefect server `thidua up` runs (supervisor/prefect_server.py): Prefect's own, whose transactions
on its SQLite database take the write lock when they begin, so that concurrent writers queue instead of
failing with `database is locked` (a 503 to the client) or waiting out the 60 s busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

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
