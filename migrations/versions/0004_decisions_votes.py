"""the head's decision as its own step (award_decision), and the written votes of absent members and the
council's size on each step

Create Date: 2026-12-03 10:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"

STEP_COLUMNS = ("written_for", "written_against", "written_abstain", "members_total")


def upgrade() -> None:
    op.create_table(
        "award_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "confer",
                "refuse",
                "submit",
                name="decisionkind",
                native_enum=False,
                create_constraint=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("signer", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_id", "number", name="uq_award_decision_number"),
    )
    with op.batch_alter_table("nominationstep") as batch:
        for name in STEP_COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nominationstep") as batch:
        for name in reversed(STEP_COLUMNS):
            batch.drop_column(name)
    op.drop_table("award_decision")
