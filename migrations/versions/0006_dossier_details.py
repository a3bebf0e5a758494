"""dossier details: the review type (đợt xét) and the nominee's birth year, position and workplace

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-03 09:10:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


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


def downgrade() -> None:
    with op.batch_alter_table("nomination") as batch:
        batch.drop_column("nominee_workplace")
        batch.drop_column("nominee_position")
        batch.drop_column("nominee_birth_year")
        batch.drop_column("review_type")
