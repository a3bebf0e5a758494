"""initial schema

Create Date: 2026-11-23 20:36:57.494267
"""

import sqlalchemy as sa
from alembic import op

from migrations.columns import (
    boolean,
    date,
    enum,
    foreign_key,
    id_column,
    integer,
    json,
    long_text,
    string,
    timestamp,
)
from migrations.tables import create_table, drop_table

revision = "0001"
down_revision = None

# The values each enum column held at 0001: stored as text with no CHECK, they document a column and do not
# constrain it.
LEVELS = "commune district province central/moha central/prime_minister central/president".split()
NOMINEE_KINDS = "individual collective household enterprise".split()
MEMBER_ROLES = "chair standing member".split()
MEETING_STATUSES = "open applied cancelled".split()
STATUSES = "draft submitted under_review forwarded conferred rejected returned withdrawn frozen".split()
ACTIONS = "submit receive forward confer reject return resubmit withdraw freeze unfreeze".split()


def upgrade() -> None:
    create_table(
        "campaign",
        string("code", 60),
        string("name", 300),
        string("legal_basis", 300),
        date("starts_on"),
        date("ends_on"),
        date("accepts_from"),
        date("accepts_until"),
        string("award_kind", 30),
        id_column(),
        timestamp("created_at", nullable=True),
        sa.UniqueConstraint("code", name="uq_campaign_code"),
    )
    create_table("code_counter", string("name", 60), integer("value"), sa.PrimaryKeyConstraint("name"))
    create_table(
        "intakebatch",
        id_column(),
        string("key", 120),
        string("source", 300),
        string("actor", 200),
        integer("rows"),
        date("received_on"),
        timestamp("created_at"),
        sa.UniqueConstraint("key", name="uq_intake_batch_key"),
    )
    create_table(
        "outbox_message",
        id_column(),
        string("key", 300),
        string("category", 60),
        string("to_email", 254),
        string("to_name", 200),
        string("subject", 500),
        long_text("text_body"),
        long_text("html_body"),
        json("attachments"),
        string("message_id", 250),
        string("status", 20),
        integer("attempts"),
        timestamp("next_attempt_at"),
        string("claim_token", 40, nullable=True),
        timestamp("claimed_until", nullable=True),
        long_text("last_error", nullable=True),
        string("smtp_response", 1000, nullable=True),
        timestamp("sent_at", nullable=True),
        timestamp("created_at"),
        sa.UniqueConstraint("key", name="uq_outbox_message_key"),
        indexes={
            "ix_outbox_message_claim": ["claim_token"],
            "ix_outbox_message_due": ["status", "next_attempt_at"],
        },
    )
    create_table(
        "unit",
        string("code", 120),
        string("name", 200),
        enum("level", LEVELS, type_name="level"),
        date("valid_from"),
        date("valid_to", nullable=True),
        string("email", 254, nullable=True),
        string("head_name", 200, nullable=True),
        string("head_email", 254, nullable=True),
        string("ntm_office_email", 254, nullable=True),
        id_column(),
        string("name_key", 200),
        integer("parent_id", nullable=True),
        integer("province_id", nullable=True),
        integer("successor_id", nullable=True),
        foreign_key("parent_id", "unit"),
        foreign_key("province_id", "unit"),
        foreign_key("successor_id", "unit"),
        sa.UniqueConstraint("code", name="uq_unit_code"),
        indexes={
            "ix_unit_name_key": ["name_key"],
            "ix_unit_parent": ["parent_id"],
            "ix_unit_province": ["province_id"],
        },
    )
    create_table(
        "council",
        id_column(),
        integer("unit_id"),
        string("name", 250),
        string("office_email", 254),
        string("decision_series", 40),
        foreign_key("unit_id", "unit"),
        sa.UniqueConstraint("unit_id", name="uq_council_unit"),
    )
    create_table(
        "deadline",
        id_column(),
        string("code", 60),
        integer("campaign_id"),
        string("name", 300),
        string("recurrence", 10),
        string("legal_basis", 500),
        json("spec"),
        timestamp("created_at"),
        timestamp("updated_at"),
        foreign_key("campaign_id", "campaign"),
        sa.UniqueConstraint("code", name="uq_deadline_code"),
    )
    create_table(
        "nominee",
        id_column(),
        string("name", 300),
        string("name_key", 300),
        enum("kind", NOMINEE_KINDS, type_name="nomineekind"),
        integer("unit_id"),
        boolean("frozen"),
        string("frozen_reason", 500, nullable=True),
        timestamp("created_at"),
        foreign_key("unit_id", "unit"),
        sa.UniqueConstraint("unit_id", "kind", "name_key", name="uq_nominee_identity"),
        indexes={"ix_nominee_name_key": ["name_key"]},
    )
    create_table(
        "councilmember",
        id_column(),
        integer("council_id"),
        string("name", 200),
        string("email", 254),
        enum("role", MEMBER_ROLES, type_name="memberrole"),
        timestamp("created_at", nullable=True),
        foreign_key("council_id", "council"),
        indexes={"ix_member_council": ["council_id"]},
    )
    # expression index (autogenerate cannot reflect it on SQLite): registry look-ups by folded address
    op.create_index("ix_member_email_folded", "councilmember", [sa.text("lower(email)")], unique=False)
    create_table(
        "meeting",
        id_column(),
        string("key", 120),
        integer("unit_id"),
        integer("council_id"),
        enum("status", MEETING_STATUSES, type_name="meetingstatus"),
        string("flow_run_id", 64, nullable=True),
        date("opened_on"),
        date("meeting_date", nullable=True),
        json("agenda"),
        json("summary"),
        timestamp("created_at", nullable=True),
        timestamp("applied_at", nullable=True),
        foreign_key("council_id", "council"),
        foreign_key("unit_id", "unit"),
        sa.UniqueConstraint("key", name="uq_meeting_key"),
        indexes={"ix_meeting_unit_status": ["unit_id", "status"]},
    )
    create_table(
        "nomination",
        id_column(),
        string("code", 30),
        integer("campaign_id"),
        integer("nominee_id"),
        integer("batch_id", nullable=True),
        string("award_code", 40),
        string("awarded_code", 40, nullable=True),
        string("rule_set", 40),
        string("achievement", 4000),
        date("submitted_on"),
        integer("origin_unit_id"),
        integer("current_unit_id"),
        enum("status", STATUSES, type_name="status"),
        enum("held_status", STATUSES, type_name="status", nullable=True),
        date("received_on", nullable=True),
        date("due_on", nullable=True),
        date("paused_on", nullable=True),
        date("return_deadline", nullable=True),
        string("decision_number", 60, nullable=True),
        date("decision_date", nullable=True),
        integer("version"),
        timestamp("created_at"),
        timestamp("updated_at"),
        foreign_key("batch_id", "intakebatch"),
        foreign_key("campaign_id", "campaign"),
        foreign_key("current_unit_id", "unit"),
        foreign_key("nominee_id", "nominee"),
        foreign_key("origin_unit_id", "unit"),
        sa.UniqueConstraint("code", name="uq_nomination_code"),
        indexes={
            "ix_nomination_inbox": ["current_unit_id", "status"],
            "ix_nomination_nominee": ["campaign_id", "nominee_id"],
            "ix_nomination_status_due": ["status", "due_on"],
        },
    )
    create_table(
        "report",
        id_column(),
        integer("deadline_id"),
        integer("unit_id"),
        integer("year"),
        integer("sequence"),
        integer("amendment_of", nullable=True),
        date("filed_on"),
        timestamp("filed_at"),
        string("filed_by", 200),
        string("file_name", 255),
        foreign_key("amendment_of", "report"),
        foreign_key("deadline_id", "deadline"),
        foreign_key("unit_id", "unit"),
        sa.UniqueConstraint("deadline_id", "unit_id", "year", "sequence", name="uq_report_filing"),
        indexes={"ix_report_deadline_year": ["deadline_id", "year"]},
    )
    create_table(
        "nominationstep",
        id_column(),
        integer("nomination_id"),
        enum("action", ACTIONS, type_name="action"),
        enum("from_status", STATUSES, type_name="status", nullable=True),
        enum("to_status", STATUSES, type_name="status"),
        integer("unit_id", nullable=True),
        integer("to_unit_id", nullable=True),
        string("actor", 200),
        integer("votes_for", nullable=True),
        integer("votes_against", nullable=True),
        integer("votes_abstain", nullable=True),
        integer("members_present", nullable=True),
        string("note", 4000),
        string("decision_number", 60, nullable=True),
        date("decision_date", nullable=True),
        string("award_code", 40, nullable=True),
        date("on_date", nullable=True),
        date("deadline", nullable=True),
        string("idempotency_key", 200, nullable=True),
        timestamp("created_at"),
        foreign_key("nomination_id", "nomination"),
        foreign_key("to_unit_id", "unit"),
        foreign_key("unit_id", "unit"),
        sa.UniqueConstraint("idempotency_key", name="uq_step_idempotency_key"),
        indexes={"ix_step_nomination": ["nomination_id", "id"]},
    )
    create_table(
        "reminder_notice",
        id_column(),
        string("key", 300),
        string("kind", 30),
        string("recipient", 254),
        integer("unit_id"),
        integer("deadline_id", nullable=True),
        integer("nomination_id", nullable=True),
        integer("year", nullable=True),
        date("due_on"),
        date("scheduled_on"),
        date("sent_on"),
        string("digest_key", 300),
        timestamp("created_at"),
        foreign_key("deadline_id", "deadline"),
        foreign_key("nomination_id", "nomination"),
        foreign_key("unit_id", "unit"),
        sa.UniqueConstraint("key", name="uq_reminder_notice_key"),
        indexes={"ix_reminder_notice_sent_on": ["sent_on"], "ix_reminder_notice_unit": ["unit_id"]},
    )


def downgrade() -> None:
    op.drop_index("ix_member_email_folded", table_name="councilmember")
    drop_table("reminder_notice", "ix_reminder_notice_unit", "ix_reminder_notice_sent_on")
    drop_table("nominationstep", "ix_step_nomination")
    drop_table("report", "ix_report_deadline_year")
    drop_table("nomination", "ix_nomination_status_due", "ix_nomination_nominee", "ix_nomination_inbox")
    drop_table("meeting", "ix_meeting_unit_status")
    drop_table("councilmember", "ix_member_council")
    drop_table("nominee", "ix_nominee_name_key")
    drop_table("deadline")
    drop_table("council")
    drop_table("unit", "ix_unit_province", "ix_unit_parent", "ix_unit_name_key")
    drop_table("outbox_message", "ix_outbox_message_due", "ix_outbox_message_claim")
    drop_table("intakebatch")
    drop_table("code_counter")
    drop_table("campaign")
