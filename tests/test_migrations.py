"""Alembic builds exactly the schema the models declare, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from models.db import all_metadata, get_engine
from models.migrate import current, include_object, upgrade


def test_upgrade_from_empty_matches_the_models(tmp_path) -> None:
    url = os.environ.get("THIDUA_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = get_engine(url)
    with engine.begin() as conn:  # start from nothing (the PostgreSQL pass shares one database)
        all_metadata().drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(url)
    upgrade(url)  # a second upgrade is a no-op
    assert current(url) is not None
    with engine.connect() as conn:
        opts = {"include_object": include_object}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), all_metadata())
        if conn.dialect.name == "sqlite":  # SQLAlchemy does not reflect expression indexes on SQLite
            folded = list(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars())
        else:
            folded = [ix["name"] for ix in inspect(conn).get_indexes("councilmember")]
    assert "ix_member_email_folded" in folded  # written by hand in 0001
    assert diff == [], diff
    with engine.begin() as conn:  # leave the shared database as other tests expect it
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))

