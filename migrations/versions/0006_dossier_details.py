"""dossier details: the review type (đợt xét) and the nominee's birth year, position and workplace;
consultation requests (hiệp y) and their answers

Create Date: 2026-12-03 09:10:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("nomination") as batch:
        batch.add_column(
            sa.Column(
                "review_type",
                sa.Enum(
                    "thuong-xuyen",
                    "chuyen-de",
                    "so-ket",
                    "tong-ket",
                    name="reviewtype",
                    native_enum=False,
                    create_constraint=False,
                    length=40,
                ),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("nominee_birth_year", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "nominee_position",
                sqlmodel.sql.sqltypes.AutoString(length=300),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column(
                "nominee_workplace",
                sqlmodel.sql.sqltypes.AutoString(length=300),
                nullable=False,
                server_default="",
            )
        )

    op.create_table(
        "consultation_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nomination_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "answer",
            sa.Enum(
                "agree", "objection", name="answer", native_enum=False, create_constraint=False, length=40
            ),
            nullable=True,
        ),
        sa.Column("answer_note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["nomination_id"], ["nomination.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nomination_id", "body", name="uq_consultation_body"),
    )
    with op.batch_alter_table("consultation_request") as batch:
        batch.create_index("ix_consultation_request_nomination_id", ["nomination_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consultation_request") as batch:
        batch.drop_index("ix_consultation_request_nomination_id")
    op.drop_table("consultation_request")
    with op.batch_alter_table("nomination") as batch:
        batch.drop_column("nominee_workplace")
        batch.drop_column("nominee_position")
        batch.drop_column("nominee_birth_year")
        batch.drop_column("review_type")
