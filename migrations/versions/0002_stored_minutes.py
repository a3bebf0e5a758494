"""stored minutes: a council's minutes kept in the app database and passed to the meeting flow by key

Create Date: 2026-12-02 10:45:00
"""

from alembic import op

from migrations.tables import create_stored_minutes

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    create_stored_minutes()


def downgrade() -> None:
    op.drop_table("stored_minutes")
