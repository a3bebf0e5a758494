"""the head's decision as its own step (award_decision), and the written votes of absent members and the
council's size on each step

Create Date: 2026-12-03 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from migrations.columns import date, enum, foreign_key, id_column, integer, json, string, timestamp
from migrations.tables import create_table

revision = "0004"
down_revision = "0003"

STEP_COLUMNS = ("written_for", "written_against", "written_abstain", "members_total")


def upgrade() -> None:
    create_table(
        "award_decision",
        id_column(),
        integer("unit_id"),
        string("number", 60),
        date("decision_date"),
        enum("kind", ("confer", "refuse", "submit"), type_name="decisionkind"),
        string("signer", 200),
        integer("meeting_id", nullable=True),
        json("items"),
        string("note", 4000),
        string("actor", 200),
        timestamp("created_at", nullable=True),
        foreign_key("unit_id", "unit"),
        foreign_key("meeting_id", "meeting"),
        sa.UniqueConstraint("unit_id", "number", name="uq_award_decision_number"),
    )
    with op.batch_alter_table("nominationstep") as batch:
        for name in STEP_COLUMNS:
            batch.add_column(integer(name, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nominationstep") as batch:
        for name in reversed(STEP_COLUMNS):
            batch.drop_column(name)
    op.drop_table("award_decision")
