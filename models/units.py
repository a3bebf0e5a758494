"""Units (đơn vị hành chính) with validity dates, and their councils (Hội đồng Thi đua – Khen thưởng).

A structural change (the district level abolished on 1/7/2025, provinces merged) never edits a unit:
the old row gets a `valid_to`, a new row starts with `valid_from` and points back at what it
succeeds. So the tree "as it stood on a date" is just the rows valid on that date.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel

from models.clock import utcnow
from models.db import UTCDateTime, enum_type


class Level(StrEnum):
    """Where a unit stands in the chain of councils, lowest first."""

    commune = "commune"
    district = "district"
    province = "province"
    moha = "central/moha"  # Bộ Nội vụ – Ban Thi đua – Khen thưởng Trung ương
    prime_minister = "central/prime_minister"
    president = "central/president"

    @property
    def rank(self) -> int:
        return _LEVEL_ORDER.index(self)

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self]


_LEVEL_ORDER = list(Level)

LEVEL_LABELS = {
    Level.commune: "cấp xã",
    Level.district: "cấp huyện",
    Level.province: "cấp tỉnh",
    Level.moha: "Bộ Nội vụ (Ban Thi đua – Khen thưởng Trung ương)",
    Level.prime_minister: "Thủ tướng Chính phủ",
    Level.president: "Chủ tịch nước",
}


class MemberRole(StrEnum):
    chair = "chair"  # Chủ tịch Hội đồng
    standing = "standing"  # Ủy viên thường trực
    member = "member"  # Ủy viên


class UnitBase(SQLModel):
    code: str = Field(max_length=120, description="stable identifier, e.g. thanh-hoa.cam-thuy.cam-thanh")
    name: str = Field(max_length=200, description="official name, e.g. 'xã Cẩm Thành'")
    level: Level = Field(sa_type=enum_type(Level))
    valid_from: date = Field(default=date(1900, 1, 1))
    valid_to: date | None = Field(default=None, description="last day the unit existed in this shape")
    email: str | None = Field(default=None, max_length=254, description="the unit's office (văn phòng)")
    head_name: str | None = Field(default=None, max_length=200, description="the unit's head (Chủ tịch UBND)")
    head_email: str | None = Field(default=None, max_length=254)
    ntm_office_email: str | None = Field(
        default=None, max_length=254,
        description="provinces: Văn phòng Điều phối nông thôn mới, which receives the yearly NTM reports",
    )


class Unit(UnitBase, table=True):
    __table_args__ = (
        UniqueConstraint("code", name="uq_unit_code"),
        Index("ix_unit_name_key", "name_key"),
        Index("ix_unit_parent", "parent_id"),
        Index("ix_unit_province", "province_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name_key: str = Field(max_length=200, description="folded name for look-ups without diacritics")
    parent_id: int | None = Field(default=None, foreign_key="unit.id")
    province_id: int | None = Field(default=None, foreign_key="unit.id", description="the province it lies in")
    successor_id: int | None = Field(default=None, foreign_key="unit.id")

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class Council(SQLModel, table=True):
    """Hội đồng Thi đua – Khen thưởng of one unit; its standing office keeps the dossiers."""

    __table_args__ = (UniqueConstraint("unit_id", name="uq_council_unit"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    name: str = Field(max_length=250)
    office_email: str = Field(max_length=254, description="thường trực Hội đồng (standing office)")
    decision_series: str = Field(default="QĐ-UBND", max_length=40, description="suffix of decision numbers")


class CouncilMember(SQLModel, table=True):
    __table_args__ = (
        Index("ix_member_council", "council_id"),
        # the outbox checks recipients against the registry by folded address (~80,000 members nationally)
        Index("ix_member_email_folded", func.lower(text("email"))),
    )

    id: int | None = Field(default=None, primary_key=True)
    council_id: int = Field(foreign_key="council.id")
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    role: MemberRole = Field(default=MemberRole.member, sa_type=enum_type(MemberRole))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
