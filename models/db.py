"""The app database: engine and sessions from settings (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from models.settings import get_settings

SQLITE_BUSY_S = 30  # how long a write waits for SQLite's write lock before `database is locked`


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_S})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_S * 1000}")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def get_engine(url: str | None = None) -> Engine:
    return _engine_for(url or get_settings().effective_database_url)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dispose_engines() -> None:
    """Close every pooled connection (tests switch databases; forked processes must not share them)."""
    _engine_for.cache_clear()


TABLE_MODULES = (
    "models.units",
    "models.awards",
    "models.nominations",
    "models.campaigns",
    "models.deadlines",
    "models.reminders",
    "models.meetings",
    "models.decisions",
    "models.staging",
    "models.consultation",
    "models.documents",
    "notifications.outbox",
    "models.accounts",
    "models.portal",
)


def all_metadata() -> MetaData:
    """Import every module that declares tables and return the shared metadata (Alembic, tests)."""
    import importlib

    from sqlmodel import SQLModel

    for name in TABLE_MODULES:
        importlib.import_module(name)
    return SQLModel.metadata


def create_all_for_tests(url: str) -> None:
    """Throwaway databases only (tests); real databases are built by Alembic (`thidua db upgrade`)."""
    metadata = all_metadata()
    engine = get_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)


@contextmanager
def throwaway_databases(admin_url: str, *names: str) -> Iterator[list[str]]:
    """Empty PostgreSQL databases `names` on the server `admin_url` points at, for tests and benchmarks; yields
    their URLs and drops them afterwards (a leftover of the same name is dropped first)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    drop()
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield [make_url(admin_url).set(database=name).render_as_string(hide_password=False) for name in names]
    finally:
        dispose_engines()
        drop()
        admin.dispose()


class UTCDateTime(TypeDecorator):
    """A timestamp that always comes back timezone-aware UTC (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(enum_cls: type) -> Any:
    """Store an enum by its value (readable: 'central/prime_minister', 'return') as VARCHAR, no native type,
    so adding a value later needs no database-specific migration."""
    from sqlalchemy import Enum as SAEnum

    return SAEnum(
        enum_cls,
        values_callable=lambda e: [m.value for m in e],
        native_enum=False,
        create_constraint=False,
        length=40,
        validate_strings=True,
    )


def insert_for(session: Session) -> Any:
    """The dialect's `insert` (SQLite or PostgreSQL), which has `on_conflict_do_nothing` for race-safe inserts."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise NotImplementedError(f"thidua needs SQLite or PostgreSQL, not {dialect}")  # pragma: no cover


def column_length(model: Any, name: str) -> int:
    """The declared length of a text column (VARCHAR(n)): checks on input take their limit from here, so
    what a form or file may hold and what the database can store never drift apart."""
    length = model.__table__.c[name].type.length
    if length is None:  # pragma: no cover - a programming error, not an input
        raise TypeError(f"{model.__name__}.{name} has no length")
    return int(length)
