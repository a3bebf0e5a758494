"""deadlines loaded by operators: `deadline.source` (built-in, or the file an operator loaded it from),
so the built-in file never overwrites a province's deadlines (issue 13, "Deadlines per plan")

Units already carry their successor (`unit.successor_id`, 0001); the changeover's step is a new value of
`nominationstep.action`, stored as text without a constraint (models/db.py `enum_type`): no DDL.

Create Date: 2026-12-03 09:10:00
"""

from alembic import op

from migrations.columns import string

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("deadline") as batch:
        batch.add_column(string("source", 300, default="built-in"))


def downgrade() -> None:
    with op.batch_alter_table("deadline") as batch:
        batch.drop_column("source")
