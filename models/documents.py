"""Documents (văn bản) the councils sign: tờ trình, biên bản, quyết định, danh sách, báo cáo năm.

A document is stored once, by a key that names the fact it records (`minutes:meeting:12`,
`submission:meeting:12:to:34`…): rendering the same fact again finds the stored row (same ID, same
hash), never a second one. The bytes live in the app database, not in a file under the data folder:
they commit or roll back with the meeting that produced them (no orphan file, no row without its
file), every worker and the CLI read them wherever they run (PostgreSQL in production), and a backup of
the database is a backup of the papers. A DOCX is 15–60 KB; a national final review (~750 documents) is
tens of MB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint, update
from sqlmodel import Field, Session, SQLModel, col, select

from models.clock import utcnow
from models.db import UTCDateTime, enum_type, insert_for
from models.labelled import LabelledEnum
from models.nominations import CodeCounter, Nomination


class DocumentKind(LabelledEnum):
    """Which paper a stored document is (loại văn bản); the label is its title as officials know it."""

    submission = "submission", "Tờ trình đề nghị khen thưởng"
    minutes = "minutes", "Biên bản họp Hội đồng"
    decision = "decision", "Quyết định khen thưởng"
    nominee_list = "nominee-list", "Danh sách đề nghị khen thưởng (XLSX)"
    yearly_report = "yearly-report", "Báo cáo năm"


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Document(SQLModel, table=True):
    """One rendered document and the facts it records."""

    __table_args__ = (
        UniqueConstraint("key", name="uq_document_key"),
        Index("ix_document_meeting", "meeting_id"),
        Index("ix_document_unit", "unit_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, description="the fact it records; the same fact is one document")
    kind: DocumentKind = Field(sa_type=enum_type(DocumentKind))
    unit_id: int = Field(foreign_key="unit.id", description="the issuing unit")
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    to_unit_id: int | None = Field(
        default=None, foreign_key="unit.id", description="a submission's addressee"
    )
    number: str = Field(default="", max_length=60, description="number and symbol, e.g. 05/TTr-UBND")
    issued_on: date
    title: str = Field(max_length=300)
    file_name: str = Field(max_length=200)
    media_type: str = Field(max_length=100)
    sha256: str = Field(max_length=64)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class DocumentNomination(SQLModel, table=True):
    """Which dossiers a document records (a list, a decision's appendix, a meeting's minutes)."""

    __tablename__ = "document_nomination"
    __table_args__ = (Index("ix_document_nomination_nomination", "nomination_id"),)

    document_id: int = Field(foreign_key="document.id", primary_key=True)
    nomination_id: int = Field(foreign_key="nomination.id", primary_key=True)


@dataclass(frozen=True)
class Rendered:
    """A document's bytes and what its row says of it."""

    content: bytes
    title: str
    file_name: str
    media_type: str
    number: str
    issued_on: date


def by_key(*, session: Session, key: str) -> Document | None:
    return session.scalars(select(Document).where(col(Document.key) == key)).first()


def ensure_document(
    *,
    session: Session,
    key: str,
    kind: DocumentKind,
    unit_id: int,
    render: Callable[[], Rendered],
    nomination_ids: list[int] = (),  # type: ignore[assignment]
    meeting_id: int | None = None,
    to_unit_id: int | None = None,
) -> Document:
    """The document stored under `key`, rendered and stored if it is not yet (race-safe insert)."""
    found = by_key(session=session, key=key)
    if found is not None:
        return found
    out = render()
    session.execute(
        insert_for(session)(Document)
        .values(
            key=key,
            kind=kind,
            unit_id=unit_id,
            meeting_id=meeting_id,
            to_unit_id=to_unit_id,
            number=out.number,
            issued_on=out.issued_on,
            title=out.title[:300],
            file_name=out.file_name[:200],
            media_type=out.media_type,
            sha256=hashlib.sha256(out.content).hexdigest(),
            size=len(out.content),
            content=out.content,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    document = by_key(session=session, key=key)
    assert document is not None and document.id is not None
    if nomination_ids:
        session.execute(
            insert_for(session)(DocumentNomination)
            .values([{"document_id": document.id, "nomination_id": n} for n in sorted(set(nomination_ids))])
            .on_conflict_do_nothing()
        )
    return document


def next_number(*, session: Session, unit_id: int, year: int, symbol: str) -> int:
    """The next number of a unit's documents of one symbol in a year (TTr, BB, BC…).

    The registry (văn thư) numbers what a unit issues; thidua keeps its own sequence per symbol so each
    paper has a number the next level can cite, and the registry may renumber it in Word."""
    name = f"doc:{unit_id}:{year}:{symbol}"[:60]
    session.execute(
        insert_for(session)(CodeCounter)
        .values(name=name, value=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    stmt = update(CodeCounter).where(col(CodeCounter.name) == name).values(value=col(CodeCounter.value) + 1)
    return int(session.execute(stmt.returning(col(CodeCounter.value))).scalar_one())


def documents_of(
    *, session: Session, meeting_id: int | None = None, unit_id: int | None = None, code: str | None = None
) -> list[Document]:
    """Documents of a meeting, of an issuing unit, or recording one dossier (by its code); oldest first."""
    stmt = select(Document)
    if meeting_id is not None:
        stmt = stmt.where(col(Document.meeting_id) == meeting_id)
    if unit_id is not None:
        stmt = stmt.where(col(Document.unit_id) == unit_id)
    if code is not None:
        stmt = (
            stmt.join(DocumentNomination, col(DocumentNomination.document_id) == col(Document.id))
            .join(Nomination, col(Nomination.id) == col(DocumentNomination.nomination_id))
            .where(col(Nomination.code) == code.strip().upper())
        )
    return list(session.scalars(stmt.order_by(col(Document.id))))


def submissions_for(*, session: Session, nomination_ids: list[int], to_unit_id: int) -> list[Document]:
    """The submission letters (tờ trình) that brought these dossiers to `to_unit_id`, oldest first."""
    stmt = (
        select(Document)
        .join(DocumentNomination, col(DocumentNomination.document_id) == col(Document.id))
        .where(
            col(Document.kind) == DocumentKind.submission,
            col(Document.to_unit_id) == to_unit_id,
            col(DocumentNomination.nomination_id).in_(nomination_ids),
        )
        .distinct()
        .order_by(col(Document.id))
    )
    return list(session.scalars(stmt))


def submissions_by_code(
    *, session: Session, codes: list[str], meeting_id: int | None = None, to_unit_id: int | None = None
) -> dict[str, Document]:
    """The submission letter (tờ trình) that carries each dossier (by code): of one meeting, or to one
    level; the latest where there are several. Codes no letter carries are left out."""
    if not codes:
        return {}
    stmt = (
        select(col(Nomination.code), Document)
        .join(DocumentNomination, col(DocumentNomination.document_id) == col(Document.id))
        .join(Nomination, col(Nomination.id) == col(DocumentNomination.nomination_id))
        .where(col(Document.kind) == DocumentKind.submission, col(Nomination.code).in_(codes))
    )
    if meeting_id is not None:
        stmt = stmt.where(col(Document.meeting_id) == meeting_id)
    if to_unit_id is not None:
        stmt = stmt.where(col(Document.to_unit_id) == to_unit_id)
    return dict(session.execute(stmt.order_by(col(Document.id))).tuples().all())
