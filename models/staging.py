"""Payloads too large to travel as a Prefect flow-run parameter, kept in the app database and handed to
the flow by key: a national council's minutes (10,000 decisions ≈ 1.4 MB), an intake file of thousands
of rows (≈ 200 bytes a row). Prefect refuses parameters over 512 KiB (measured as `json.dumps`, so each
Vietnamese letter counts six bytes), and shows every parameter in the UI.

A flow takes either the value (`minutes=…`, `rows=…`) or its key (`minutes_ref=…`, `rows_ref=…`);
`parameters()` chooses. The key is given by the caller or is the payload's hash, and a payload is stored
once, so a re-run after a crash finds the same payload under the same key.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import JSON, Column, UniqueConstraint, select
from sqlmodel import Field, Session, SQLModel, col

from models.clock import utcnow
from models.db import UTCDateTime, insert_for, session_scope

# Half of what Prefect accepts: the other parameters, and the margin for its own serialisation.
INLINE_BYTES = 256_000


class StagedPayload(SQLModel, table=True):
    """A flow's input kept in the app database until the flow run reads it (by `key`)."""

    __tablename__ = "staged_payload"
    __table_args__ = (UniqueConstraint("key", name="uq_staged_payload_key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, description="given by the caller (minutes_key) or the payload's hash")
    kind: str = Field(max_length=40, description="what the payload is: minutes, intake-rows")
    label: str = Field(
        default="", max_length=200, description="for people: the council's unit, the file's name"
    )
    body: Any = Field(default=None, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


def parameter_size(value: Any) -> int:
    """Bytes of `value` as Prefect measures a run's parameters (json.dumps, ASCII escapes)."""
    return len(json.dumps(to_jsonable_python(value), separators=(",", ":")))


def stage(*, session: Session, kind: str, body: Any, label: str = "", key: str | None = None) -> str:
    """Keep `body` (once: a second call with the same key stores nothing) and return its key."""
    body = to_jsonable_python(body)
    if key is None:
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        key = f"{kind}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:40]}"
    session.execute(
        insert_for(session)(StagedPayload)
        .values(key=key, kind=kind, label=label[:200], body=body, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return key


def staged(*, session: Session, key: str, kind: str) -> Any:
    """The payload kept under `key`; LookupError if there is none of that kind."""
    body = session.scalars(
        select(col(StagedPayload.body)).where(col(StagedPayload.key) == key, col(StagedPayload.kind) == kind)
    ).first()
    if body is None:
        raise LookupError(key)
    return body


def parameters(
    name: str, value: Any, *, kind: str, label: str = "", key: str | None = None, budget: int = INLINE_BYTES
) -> dict[str, Any]:
    """`{name: value}` while it fits a flow-run parameter, else `{name_ref: key}` with the value staged."""
    if parameter_size(value) <= budget:
        return {name: value}
    with session_scope() as session:
        return {f"{name}_ref": stage(session=session, kind=kind, body=value, label=label, key=key)}
