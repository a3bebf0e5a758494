"""portal: accounts, sessions, login attempts; minutes drafts and report files filed through the portal

Create Date: 2026-12-03 09:30:00
"""

import sqlalchemy as sa

from migrations.columns import binary, boolean, enum, foreign_key, id_column, integer, json, string, timestamp
from migrations.tables import create_table, drop_table

revision = "0008"
down_revision = "0007"

ROLES = ("secretary", "chair", "registry", "operator", "admin")


def upgrade() -> None:
    create_table(
        "portal_user",
        id_column(),
        string("username", 64),
        string("display_name", 200),
        integer("unit_id"),
        enum("role", ROLES, type_name="role"),
        string("password_hash", 255),
        boolean("disabled"),
        timestamp("created_at"),
        timestamp("password_changed_at"),
        foreign_key("unit_id", "unit"),
        sa.UniqueConstraint("username", name="uq_portal_user_username"),
    )
    create_table(
        "portal_session",
        string("id", 64),
        integer("user_id"),
        string("csrf_token", 64),
        string("address", 64),
        timestamp("created_at"),
        timestamp("last_seen"),
        foreign_key("user_id", "portal_user"),
        sa.PrimaryKeyConstraint("id"),
        indexes={"ix_portal_session_user": ["user_id"]},
    )
    create_table(
        "portal_login_attempt",
        id_column(),
        string("username", 64),
        string("address", 64),
        boolean("ok"),
        timestamp("at"),
        indexes={
            "ix_portal_login_user_at": ["username", "at"],
            "ix_portal_login_address_at": ["address", "at"],
        },
    )
    create_table(
        "portal_minutes_draft",
        id_column(),
        integer("meeting_id"),
        json("body"),
        json("problems"),
        string("saved_by", 200),
        boolean("ready"),
        string("confirmed_by", 200),
        timestamp("updated_at"),
        foreign_key("meeting_id", "meeting"),
        sa.UniqueConstraint("meeting_id", name="uq_portal_minutes_draft_meeting"),
    )
    create_table(
        "portal_report_upload",
        id_column(),
        integer("report_id"),
        string("file_name", 255),
        string("sha256", 64),
        integer("size"),
        binary("content"),
        string("uploaded_by", 200),
        timestamp("created_at"),
        foreign_key("report_id", "report"),
        indexes={"ix_portal_report_upload_report": ["report_id"]},
    )


def downgrade() -> None:
    drop_table("portal_report_upload", "ix_portal_report_upload_report")
    drop_table("portal_minutes_draft")
    drop_table("portal_login_attempt", "ix_portal_login_address_at", "ix_portal_login_user_at")
    drop_table("portal_session", "ix_portal_session_user")
    drop_table("portal_user")
