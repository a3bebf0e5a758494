"""staged payloads: one table for every flow input too large for a Prefect parameter (minutes, intake rows);
the stored minutes move into it

Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations.tables import create_stored_minutes

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "staged_payload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_staged_payload_key"),
    )
    op.execute(
        "INSERT INTO staged_payload (key, kind, label, body, created_at) "
        "SELECT key, 'minutes', unit_code, body, created_at FROM stored_minutes"
    )
    op.drop_table("stored_minutes")


def downgrade() -> None:
    create_stored_minutes()
    op.execute(
        "INSERT INTO stored_minutes (key, unit_code, body, created_at) "
        "SELECT key, label, body, created_at FROM staged_payload WHERE kind = 'minutes'"
    )
    op.drop_table("staged_payload")
