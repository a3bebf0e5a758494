"""consultation: a round per return, so a returned and resubmitted dossier is consulted again

Create Date: 2026-12-03 10:30:00
"""

from alembic import op

from migrations.columns import integer

revision = "0010"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("consultation_request") as batch:
        batch.add_column(integer("round_no", default="0"))
        batch.drop_constraint("uq_consultation_body", type_="unique")
        batch.create_unique_constraint(
            "uq_consultation_body_round", ["nomination_id", "unit_id", "body", "round_no"]
        )


def downgrade() -> None:
    # Later requests (later rounds, other consulting units) are dropped: the old schema holds one per body.
    op.execute(
        "DELETE FROM consultation_request WHERE id NOT IN "
        "(SELECT MIN(id) FROM consultation_request GROUP BY nomination_id, body)"
    )
    with op.batch_alter_table("consultation_request") as batch:
        batch.drop_constraint("uq_consultation_body_round", type_="unique")
        batch.create_unique_constraint("uq_consultation_body", ["nomination_id", "body"])
        batch.drop_column("round_no")
