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
            tables = ("councilmember", "unit", "council")
            folded = [ix["name"] for table in tables for ix in inspect(conn).get_indexes(table)]
    # written by hand (expression indexes): 0001, then the registry's addresses in 0013
    for name in (
        "ix_member_email_folded",
        "ix_unit_email_folded",
        "ix_unit_head_email_folded",
        "ix_unit_ntm_office_email_folded",
        "ix_council_office_email_folded",
    ):
        assert name in folded
    assert diff == [], diff
    with engine.begin() as conn:  # leave the shared database as other tests expect it
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def migrate_to(url: str, step, revision: str) -> None:
    """Run an Alembic command (upgrade, downgrade) to `revision` on the database at `url`."""
    from models.migrate import alembic_config

    cfg = alembic_config(url)
    with get_engine(url).begin() as connection:
        cfg.attributes["connection"] = connection
        step(cfg, revision)


def test_stored_minutes_move_into_staged_payloads_and_back(tmp_path) -> None:
    # 0003: one table for every staged flow input; minutes staged before it are still found by key
    from alembic import command

    from models.meetings import stored_minutes
    from models.staging import StagedPayload

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = get_engine(url)

    def migrate(step, revision: str) -> None:
        migrate_to(url, step, revision)

    migrate(command.upgrade, "0002")
    body = (
        '{"meeting_date": "2026-11-23", "members_present": 7, "decision_series": "QĐ-UBND", '
        '"first_decision_number": 1, "decisions": [{"code": "HS2026-000001", "decision": "approve", '
        '"votes_for": 7}]}'
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stored_minutes (key, unit_code, body, created_at) "
                "VALUES ('minutes:abc', 'thanh-hoa.cam-thach-2025', :body, '2026-11-23 01:00:00')"
            ),
            {"body": body},
        )
    migrate(command.upgrade, "head")
    from sqlmodel import Session

    with Session(engine) as session:
        staged = session.query(StagedPayload).one()
        assert (staged.key, staged.kind, staged.label) == (
            "minutes:abc",
            "minutes",
            "thanh-hoa.cam-thach-2025",
        )
        assert stored_minutes(session=session, key="minutes:abc").decisions[0].code == "HS2026-000001"
    migrate(command.downgrade, "0002")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT key, unit_code FROM stored_minutes")).all() == [
            ("minutes:abc", "thanh-hoa.cam-thach-2025")
        ]


def test_0006_dossier_details_up_and_down(tmp_path) -> None:
    # 0006: the review type and the nominee's details on the dossier; the consultation requests
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate_to(url, command.upgrade, "0006")
    with get_engine(url).connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("nomination")}
        assert {"review_type", "nominee_birth_year", "nominee_position", "nominee_workplace"} <= columns
        assert "consultation_request" in inspect(conn).get_table_names()
    migrate_to(url, command.downgrade, "0003")
    with get_engine(url).connect() as conn:
        assert "review_type" not in {c["name"] for c in inspect(conn).get_columns("nomination")}
        assert "consultation_request" not in inspect(conn).get_table_names()
    migrate_to(url, command.upgrade, "0006")
