"""Units (đơn vị hành chính) with validity dates, and their councils (Hội đồng Thi đua – Khen thưởng).

A structural change (the district level abolished on 1/7/2025, provinces merged) never edits a unit:
the old row gets a `valid_to`, a new row starts with `valid_from` and points back at what it
succeeds. So the tree "as it stood on a date" is just the rows valid on that date.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Column, Index, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel

from models.clock import fmt_date, utcnow
from models.db import UTCDateTime, enum_type
from models.labelled import LabelledEnum
from models.text import fold


class Level(LabelledEnum):
    """Where a unit stands in the chain of councils, lowest first."""

    commune = "commune", "cấp xã"
    district = "district", "cấp huyện"
    province = "province", "cấp tỉnh"
    moha = "central/moha", "Bộ Nội vụ (Ban Thi đua – Khen thưởng Trung ương)"
    prime_minister = "central/prime_minister", "Thủ tướng Chính phủ"
    president = "central/president", "Chủ tịch nước"

    @property
    def rank(self) -> int:
        return _LEVEL_ORDER.index(self)


_LEVEL_ORDER = list(Level)


# The words an official name starts with ("xã Cẩm Thành", "thành phố Huế"): a look-up by "Cẩm Thành"
# or a run named "cam-thanh" leaves them out.
LEVEL_WORDS = ("thành phố", "thị xã", "thị trấn", "phường", "huyện", "tỉnh", "quận", "xã")
FOLDED_LEVEL_WORDS = tuple(fold(word) for word in LEVEL_WORDS)


def strip_level_word(name: str, words: tuple[str, ...] = LEVEL_WORDS) -> str:
    """'xã Cẩm Thành' → 'Cẩm Thành'; pass FOLDED_LEVEL_WORDS for a folded key ('xa cam thanh')."""
    for word in words:
        if name.startswith(word + " "):
            return name[len(word) + 1 :]
    return name


class Dated:
    """A unit in one shape: it exists from `valid_from` to `valid_to`, both inclusive (None: still)."""

    __slots__ = ()
    if TYPE_CHECKING:
        valid_from: date
        valid_to: date | None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def span(self) -> str:
        """'từ 01/07/2025 đến nay', 'đến 30/06/2025' (a unit older than the records has no start)."""
        start = f"từ {fmt_date(self.valid_from)} " if self.valid_from.year > 1900 else ""
        return start + (f"đến {fmt_date(self.valid_to)}" if self.valid_to else "đến nay")


class MemberRole(StrEnum):
    chair = "chair"  # Chủ tịch Hội đồng
    standing = "standing"  # Ủy viên thường trực
    member = "member"  # Ủy viên


class UnitBase(Dated, SQLModel):
    code: str = Field(max_length=120, description="stable identifier, e.g. thanh-hoa.cam-thuy.cam-thanh")
    name: str = Field(max_length=200, description="official name, e.g. 'xã Cẩm Thành'")
    level: Level = Field(sa_type=enum_type(Level))
    valid_from: date = Field(default=date(1900, 1, 1))
    valid_to: date | None = Field(default=None, description="last day the unit existed in this shape")
    email: str | None = Field(default=None, max_length=254, description="the unit's office (văn phòng)")
    head_name: str | None = Field(default=None, max_length=200, description="the unit's head (Chủ tịch UBND)")
    head_email: str | None = Field(default=None, max_length=254)
    ntm_office_email: str | None = Field(
        default=None,
        max_length=254,
        description="provinces: Văn phòng Điều phối nông thôn mới, which receives the yearly NTM reports",
    )


class Unit(UnitBase, table=True):
    __table_args__ = (
        UniqueConstraint("code", name="uq_unit_code"),
        Index("ix_unit_name_key", "name_key"),
        Index("ix_unit_parent", "parent_id"),
        Index("ix_unit_province", "province_id"),
        # the outbox checks recipients against the registry by folded address (notifications/outbox.py)
        Index("ix_unit_email_folded", func.lower(text("email"))),
        Index("ix_unit_head_email_folded", func.lower(text("head_email"))),
        Index("ix_unit_ntm_office_email_folded", func.lower(text("ntm_office_email"))),
    )

    id: int | None = Field(default=None, primary_key=True)
    name_key: str = Field(max_length=200, description="folded name for look-ups without diacritics")
    parent_id: int | None = Field(default=None, foreign_key="unit.id")
    province_id: int | None = Field(
        default=None, foreign_key="unit.id", description="the province it lies in"
    )
    successor_id: int | None = Field(default=None, foreign_key="unit.id")


class Council(SQLModel, table=True):
    """Hội đồng Thi đua – Khen thưởng of one unit; its standing office keeps the dossiers."""

    __table_args__ = (
        UniqueConstraint("unit_id", name="uq_council_unit"),
        Index("ix_council_office_email_folded", func.lower(text("office_email"))),
    )

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
