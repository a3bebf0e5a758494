"""portal: accounts, sessions, login attempts; minutes drafts and report files filed through the portal

Create Date: 2026-12-03 09:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"

_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "portal_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", _str(length=64), nullable=False),
        sa.Column("display_name", _str(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "secretary",
                "chair",
                "registry",
                "operator",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("password_hash", _str(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", name="uq_portal_user_username"),
    )
    op.create_table(
        "portal_session",
        sa.Column("id", _str(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", _str(length=64), nullable=False),
        sa.Column("address", _str(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["portal_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_session_user", "portal_session", ["user_id"])
    op.create_table(
        "portal_login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", _str(length=64), nullable=False),
        sa.Column("address", _str(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_login_user_at", "portal_login_attempt", ["username", "at"])
    op.create_index("ix_portal_login_address_at", "portal_login_attempt", ["address", "at"])
    op.create_table(
        "portal_minutes_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("saved_by", _str(length=200), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("confirmed_by", _str(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", name="uq_portal_minutes_draft_meeting"),
    )
    op.create_table(
        "portal_report_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("file_name", _str(length=255), nullable=False),
        sa.Column("sha256", _str(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", _str(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_report_upload_report", "portal_report_upload", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_report_upload_report", table_name="portal_report_upload")
    op.drop_table("portal_report_upload")
    op.drop_table("portal_minutes_draft")
    op.drop_index("ix_portal_login_address_at", table_name="portal_login_attempt")
    op.drop_index("ix_portal_login_user_at", table_name="portal_login_attempt")
    op.drop_table("portal_login_attempt")
    op.drop_index("ix_portal_session_user", table_name="portal_session")
    op.drop_table("portal_session")
    op.drop_table("portal_user")
