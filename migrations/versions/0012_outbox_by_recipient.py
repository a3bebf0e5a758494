"""the outbox indexed by recipient: a unit's letters are read by address (the portal's Thư and dossier pages)

Create Date: 2026-12-03 13:45:00
"""

from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_index("ix_outbox_message_to", "outbox_message", ["to_email"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message_to", table_name="outbox_message")
