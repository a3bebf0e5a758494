"""What the portal keeps beside the flows' tables: a meeting's minutes as the secretary types them (the
draft the chair confirms), and the files of yearly reports filed through it (stored with their SHA-256).
Functions take a session and never commit."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint, select
from sqlalchemy.types import JSON
from sqlmodel import Field, Session, SQLModel, col

from models.clock import utcnow
from models.db import UTCDateTime


class MinutesDraft(SQLModel, table=True):
    """The minutes of one open meeting as typed in the portal: one per meeting, saved at every change."""

    __tablename__ = "portal_minutes_draft"
    __table_args__ = (UniqueConstraint("meeting_id", name="uq_portal_minutes_draft_meeting"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    body: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    problems: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    saved_by: str = Field(default="", max_length=200)
    ready: bool = Field(default=False, description="checked without problems: the chair may confirm")
    confirmed_by: str = Field(default="", max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ReportUpload(SQLModel, table=True):
    """The file of a yearly report filed through the portal."""

    __tablename__ = "portal_report_upload"
    __table_args__ = (Index("ix_portal_report_upload_report", "report_id"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id")
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def draft_of(session: Session, meeting_id: int) -> MinutesDraft | None:
    return session.scalars(select(MinutesDraft).where(col(MinutesDraft.meeting_id) == meeting_id)).first()


def save_draft(
    *, session: Session, meeting_id: int, body: dict, problems: list, saved_by: str
) -> MinutesDraft:
    draft = draft_of(session, meeting_id) or MinutesDraft(meeting_id=meeting_id)
    draft.body, draft.problems, draft.saved_by = body, list(problems), saved_by
    draft.ready = not problems
    draft.confirmed_by = ""
    draft.updated_at = utcnow()
    session.add(draft)
    session.flush()
    return draft


def store_upload(
    *, session: Session, report_id: int, file_name: str, content: bytes, by: str
) -> ReportUpload:
    upload = ReportUpload(
        report_id=report_id,
        file_name=file_name[:255],
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        content=content,
        uploaded_by=by[:200],
    )
    session.add(upload)
    session.flush()
    return upload


def uploads_of(session: Session, report_ids: list[int]) -> dict[int, ReportUpload]:
    if not report_ids:
        return {}
    rows = session.scalars(select(ReportUpload).where(col(ReportUpload.report_id).in_(report_ids)))
    return {u.report_id: u for u in rows}
