"""What more than one migration does with a table: create it with its indexes, drop it with them, and the
table two migrations create (a later migration's downgrade restores an earlier table).

Never change what these do (that would change old migrations); add a new function instead.
"""

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from alembic import op

from migrations.columns import id_column, json, string, timestamp


def create_table(
    name: str, *items: sa.schema.SchemaItem, indexes: Mapping[str, Iterable[str]] | None = None
) -> None:
    """Create a table, then its plain indexes (index name → columns, in that order)."""
    op.create_table(name, *items)
    for index, columns in (indexes or {}).items():
        op.create_index(index, name, list(columns), unique=False)


def drop_table(name: str, *indexes: str) -> None:
    """Drop the indexes named (in that order), then the table."""
    for index in indexes:
        op.drop_index(index, table_name=name)
    op.drop_table(name)


def create_stored_minutes() -> None:
    """0002's table of a council's minutes by key (replaced by staged_payload in 0003, restored by its downgrade)."""
    create_table(
        "stored_minutes",
        id_column(),
        string("key", 120),
        string("unit_code", 200),
        json("body"),
        timestamp("created_at", nullable=True),
        sa.UniqueConstraint("key", name="uq_stored_minutes_key"),
    )
