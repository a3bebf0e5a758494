"""Table definitions more than one migration creates (a later migration's downgrade restores an earlier table)."""

import sqlalchemy as sa
import sqlmodel
from alembic import op


def create_stored_minutes() -> None:
    """0002's table of a council's minutes by key (replaced by staged_payload in 0003, restored by its downgrade)."""
    op.create_table(
        "stored_minutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_stored_minutes_key"),
    )
