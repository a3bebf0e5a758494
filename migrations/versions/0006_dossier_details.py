"""dossier details: the review type (đợt xét) and the nominee's birth year, position and workplace;
consultation requests (hiệp y) and their answers

Create Date: 2026-12-03 09:10:00
"""

import sqlalchemy as sa
from alembic import op

from migrations.columns import date, enum, foreign_key, id_column, integer, string, timestamp
from migrations.tables import create_table, drop_table

revision = "0006"
down_revision = "0005"

REVIEW_TYPES = ("thuong-xuyen", "chuyen-de", "so-ket", "tong-ket")


def upgrade() -> None:
    with op.batch_alter_table("nomination") as batch:
        batch.add_column(enum("review_type", REVIEW_TYPES, type_name="reviewtype", nullable=True))
        batch.add_column(integer("nominee_birth_year", nullable=True))
        for name in ("nominee_position", "nominee_workplace"):
            batch.add_column(string(name, 300, default=""))

    create_table(
        "consultation_request",
        id_column(),
        integer("nomination_id"),
        integer("unit_id"),
        string("body", 40),
        date("requested_on"),
        date("due_on"),
        enum("answer", ("agree", "objection"), type_name="answer", nullable=True),
        string("answer_note", 2000),
        date("answered_on", nullable=True),
        string("actor", 200),
        timestamp("created_at"),
        foreign_key("nomination_id", "nomination"),
        foreign_key("unit_id", "unit"),
        sa.UniqueConstraint("nomination_id", "body", name="uq_consultation_body"),
        indexes={"ix_consultation_request_nomination_id": ["nomination_id"]},
    )


def downgrade() -> None:
    drop_table("consultation_request", "ix_consultation_request_nomination_id")
    with op.batch_alter_table("nomination") as batch:
        for name in ("nominee_workplace", "nominee_position", "nominee_birth_year", "review_type"):
            batch.drop_column(name)
