"""an enterprise is a collective; a step may record the time limit it missed

- nominee.kind 'enterprise' becomes 'collective' (Law 06/2022/QH15 Art. 2 knows individuals, collectives
  and households). Where the same unit already has a collective of that name, its dossiers move to that
  collective and the enterprise row goes (the identity (unit, kind, name) stays unique).
- nominationstep.missed_on: the time limit a step came after (the Ministry of Home Affairs' 5 working days
  to return an incomplete dossier).

Create Date: 2026-12-03 13:00:00
"""

from alembic import op

from migrations.columns import date

revision = "0011"
down_revision = "0010"

_TWIN = (
    "SELECT c.id FROM nominee c WHERE c.unit_id = nominee.unit_id AND c.kind = 'collective' "
    "AND c.name_key = nominee.name_key"
)


def upgrade() -> None:
    op.execute(
        "UPDATE nomination SET nominee_id = (SELECT c.id FROM nominee e JOIN nominee c "
        "ON c.unit_id = e.unit_id AND c.kind = 'collective' AND c.name_key = e.name_key "
        "WHERE e.id = nomination.nominee_id AND e.kind = 'enterprise') "
        "WHERE nominee_id IN (SELECT e.id FROM nominee e WHERE e.kind = 'enterprise' AND EXISTS "
        "(SELECT 1 FROM nominee c WHERE c.unit_id = e.unit_id AND c.kind = 'collective' "
        "AND c.name_key = e.name_key))"
    )
    op.execute(f"DELETE FROM nominee WHERE kind = 'enterprise' AND EXISTS ({_TWIN})")
    op.execute("UPDATE nominee SET kind = 'collective' WHERE kind = 'enterprise'")
    with op.batch_alter_table("nominationstep") as batch:
        batch.add_column(date("missed_on", nullable=True))


def downgrade() -> None:
    # The collectives that were enterprises are not told apart any more: they stay collectives.
    with op.batch_alter_table("nominationstep") as batch:
        batch.drop_column("missed_on")
