"""the registry's addresses indexed by their folded form, as council members' already were

The outbox checks every letter's recipients against the registry by lower(address) (notifications/
outbox.py). Without these indexes PostgreSQL read the 11,370 units three times and the councils once for
each letter: the largest share of its CPU in the year-end surge.

Create Date: 2026-12-05 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"

FOLDED = (
    ("ix_unit_email_folded", "unit", "email"),
    ("ix_unit_head_email_folded", "unit", "head_email"),
    ("ix_unit_ntm_office_email_folded", "unit", "ntm_office_email"),
    ("ix_council_office_email_folded", "council", "office_email"),
)


def upgrade() -> None:
    for name, table, column in FOLDED:
        op.create_index(name, table, [sa.text(f"lower({column})")], unique=False)


def downgrade() -> None:
    for name, table, _ in FOLDED:
        op.drop_index(name, table_name=table)
