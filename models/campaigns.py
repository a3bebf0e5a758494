"""Campaigns (phong trào thi đua): the movements whose awards the councils decide."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from models.clock import utcnow
from models.db import UTCDateTime, insert_for


class CampaignBase(SQLModel):
    code: str = Field(max_length=60)
    name: str = Field(max_length=300)
    legal_basis: str = Field(max_length=300)
    starts_on: date = Field(description="first day of the movement's period")
    ends_on: date = Field(description="last day of the movement's period")
    accepts_from: date = Field(description="first dossier date accepted for the movement's awards")
    accepts_until: date = Field(description="last dossier date accepted (final review included)")
    award_kind: str = Field(default="movement", max_length=30, description="Law Art. 8: kind of commendation")

    @property
    def years(self) -> int:
        return self.ends_on.year - self.starts_on.year + 1


class Campaign(CampaignBase, table=True):
    __table_args__ = (UniqueConstraint("code", name="uq_campaign_code"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


NTM_2021_2025 = CampaignBase(
    code="ntm-2021-2025",
    name="Cả nước chung sức xây dựng nông thôn mới giai đoạn 2021–2025",
    legal_basis="Quyết định số 587/QĐ-TTg ngày 18/5/2022 của Thủ tướng Chính phủ",
    starts_on=date(2021, 1, 1),
    ends_on=date(2025, 12, 31),
    accepts_from=date(2021, 1, 1),
    # The final review (tổng kết) of 2025 proposes awards that councils decide through 2026.
    accepts_until=date(2026, 12, 31),
)

CAMPAIGNS = (NTM_2021_2025,)


def ensure_campaigns(*, session: Session) -> list[Campaign]:
    """Create the known campaigns if missing (idempotent)."""
    # INSERT … ON CONFLICT DO NOTHING: two first runs at once (two workers) must not both insert.
    session.execute(
        insert_for(session)(Campaign).on_conflict_do_nothing(index_elements=["code"]),
        [{**spec.model_dump(), "created_at": utcnow()} for spec in CAMPAIGNS],
    )
    rows = {
        c.code: c
        for c in session.exec(select(Campaign).where(col(Campaign.code).in_([s.code for s in CAMPAIGNS])))
    }
    return [rows[spec.code] for spec in CAMPAIGNS]
