"""documents: the papers councils sign (tờ trình, biên bản, quyết định, danh sách, báo cáo năm), stored
with their bytes and a content hash, and the dossiers each records

Create Date: 2026-12-03 09:30:00
"""

import sqlalchemy as sa

from migrations.columns import binary, date, foreign_key, id_column, integer, string, timestamp
from migrations.tables import create_table, drop_table

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    create_table(
        "document",
        id_column(),
        string("key", 200),
        string("kind", 40),
        integer("unit_id"),
        integer("meeting_id", nullable=True),
        integer("to_unit_id", nullable=True),
        string("number", 60),
        date("issued_on"),
        string("title", 300),
        string("file_name", 200),
        string("media_type", 100),
        string("sha256", 64),
        integer("size"),
        binary("content"),
        timestamp("created_at"),
        foreign_key("meeting_id", "meeting"),
        foreign_key("to_unit_id", "unit"),
        foreign_key("unit_id", "unit"),
        sa.UniqueConstraint("key", name="uq_document_key"),
        indexes={"ix_document_meeting": ["meeting_id"], "ix_document_unit": ["unit_id", "kind"]},
    )
    create_table(
        "document_nomination",
        integer("document_id"),
        integer("nomination_id"),
        foreign_key("document_id", "document"),
        foreign_key("nomination_id", "nomination"),
        sa.PrimaryKeyConstraint("document_id", "nomination_id"),
        indexes={"ix_document_nomination_nomination": ["nomination_id"]},
    )


def downgrade() -> None:
    drop_table("document_nomination", "ix_document_nomination_nomination")
    drop_table("document", "ix_document_unit", "ix_document_meeting")
