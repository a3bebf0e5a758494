"""staged payloads: one table for every flow input too large for a Prefect parameter (minutes, intake rows);
the stored minutes move into it

Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

from migrations.columns import id_column, json, string, timestamp
from migrations.tables import create_stored_minutes, create_table

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    create_table(
        "staged_payload",
        id_column(),
        string("key", 120),
        string("kind", 40),
        string("label", 200),
        json("body"),
        timestamp("created_at", nullable=True),
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
