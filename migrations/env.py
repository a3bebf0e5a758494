"""Alembic environment: the URL comes from thidua's settings, the tables from every model module."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import pool
from sqlmodel import create_engine

from models.db import all_metadata
from models.migrate import include_object
from models.settings import get_settings

config = context.config
target_metadata = all_metadata()


def _url() -> str:
    return config.attributes.get("url") or get_settings().effective_database_url


def run_migrations_offline() -> None:
    _run(url=_url(), literal_binds=True)


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = create_engine(_url(), poolclass=pool.NullPool)
        with engine.connect() as connection:
            _run(connection=connection)
        engine.dispose()
    else:
        _run(connection=connectable)


def _render_item(type_: str, obj, autogen_context):
    """Our column types are stored as plain SQL types: migrations never import application code."""
    from models.db import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(**where: Any) -> None:
    """Run the migrations on `where` (a URL offline, a connection online), in batch mode as SQLite alters a table
    by copying it. Autogenerate (online only) compares column types, Alembic's default, and uses the rest."""
    autogenerate: dict[str, Any] = {"render_item": _render_item, "include_object": include_object}
    context.configure(**where, target_metadata=target_metadata, render_as_batch=True, **autogenerate)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
