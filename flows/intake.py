"""Flow `intake` (tiếp nhận hồ sơ): screen and store a batch, tell the UI and the receiving councils."""

from __future__ import annotations

from datetime import date

from anyio import to_thread
from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.client.schemas.objects import State
from pydantic import BaseModel
from sqlmodel import Session

from flows.events import (
    BATCH,
    INTAKE_RECEIVED,
    NOMINATION_SUBMITTED,
    emit_batch_event,
    emit_nomination_events,
)
from flows.naming import intake_run_name
from flows.orphans import end_orphaned_subflows
from flows.refusal import refused
from models import nominations as nm
from models import staging
from models.clock import fmt_date, today_vn
from models.db import session_scope
from models.hierarchy import Hierarchy
from models.intake import (
    HEADERS_VI,
    ROWS_KIND,
    BatchRefused,
    IntakeRefused,
    IntakeResult,
    staged_rows,
    take_in,
)
from notifications.approval_letters import council_digests, group_by_unit
from notifications.outbox import enqueue_many

# A file's rows as the intake reads them: (the row's number in the file, its cells by column)
NumberedRows = list[tuple[int, dict]]


def intake_parameters(*, rows: NumberedRows, source: str = "") -> dict:
    """The `intake` parameters that carry these rows: inline (shown in the UI) while small, else staged
    in the app database and passed by key (`rows_ref`), as large minutes are."""
    payload = [{"row": n, **r} for n, r in rows]
    return staging.parameters("rows", payload, kind=ROWS_KIND, label=source)


def intake_batch(
    *,
    session: Session,
    rows: NumberedRows,
    source: str = "",
    actor: str = "",
    received_on: date | None = None,
) -> IntakeResult:
    """The intake use case: screen and store the batch, and queue a letter to each council that receives
    dossiers (none for a batch received before); raises BatchRefused, storing nothing. The flow and
    every path without the service call this, in one transaction of the caller's."""
    hierarchy = Hierarchy.load(session)
    result = take_in(
        session=session, rows=rows, source=source, actor=actor, received_on=received_on, hierarchy=hierarchy
    )
    if result.replayed:
        return result
    units = [
        (n["code"], hierarchy.by_code[n["unit_code"]].id) for n in result.nominations if "unit_code" in n
    ]
    digests = council_digests(
        session=session, hierarchy=hierarchy, by_unit=group_by_unit(units), ref=f"intake-{result.batch_key}"
    )
    result.letters = len(enqueue_many(session=session, items=digests).created)
    return result


def numbered(rows: list[dict]) -> NumberedRows:
    """Flow-parameter rows (each with its file row as "row") as (row number, fields)."""
    return [
        (int(r.get("row", i + 2)), {k: v for k, v in r.items() if k != "row"}) for i, r in enumerate(rows)
    ]


def screen_store_and_queue(
    *,
    rows: list[dict] | None = None,
    rows_ref: str | None = None,
    source: str = "",
    actor: str = "",
    received_on: date | None = None,
) -> IntakeResult | IntakeRefused:
    """`intake_batch` in its own transaction, on the rows or on those staged under `rows_ref`; a
    refused batch is returned as data."""
    try:
        with session_scope() as session:
            raw = staged_rows(session=session, key=rows_ref) if rows_ref is not None else rows or []
            return intake_batch(
                session=session, rows=numbered(raw), source=source, actor=actor, received_on=received_on
            )
    except BatchRefused as exc:
        return exc.refusal


@task(name="screen-and-store")
async def screen_and_store(
    rows: list[dict] | None, rows_ref: str | None, source: str, actor: str, received_on: date | None
) -> IntakeResult | IntakeRefused:
    """Check every row against the rules and store the batch, or refuse it whole (as data, not an error)."""
    return await to_thread.run_sync(
        lambda: screen_store_and_queue(
            rows=rows, rows_ref=rows_ref, source=source, actor=actor, received_on=received_on
        )
    )


def emit_events(result: IntakeResult) -> int:
    """The `submitted` events of the accepted dossiers (batched, flows/events.py), and one for the batch;
    a plain call, not a task: the events are the record, a task run would only add writes."""
    if result.replayed:
        return 0
    resource_id, name = f"{BATCH}{result.batch_key}", f"Lô hồ sơ {result.batch_key[:15]}"
    emit_nomination_events(
        NOMINATION_SUBMITTED,
        [{**n, "payload": {"status": n["status"], "due_on": n["due_on"]}} for n in result.nominations],
        resource_id=resource_id,
        name=name,
    )
    emit_batch_event(
        INTAKE_RECEIVED,
        resource_id=resource_id,
        name=name,
        payload={"count": len(result.nominations), "codes": [n["code"] for n in result.nominations][:1000]},
    )
    return len(result.nominations)


@flow(
    name="intake",
    flow_run_name=intake_run_name,
    log_prints=False,
    on_completion=[end_orphaned_subflows],
    on_failure=[end_orphaned_subflows],
)
async def intake(
    rows: list[dict] | None = None,
    source: str = "",
    actor: str = "",
    received_on: date | None = None,
    deliver: bool = True,
    rows_ref: str | None = None,
) -> dict | State:
    """Take in a batch of nominations (the rows, or `rows_ref` naming rows staged in the app database):
    screen, store, announce, and tell the receiving councils. Returns an `IntakeResult` as JSON; a
    refused batch ends Completed, named Refused, with an `IntakeRefused` as JSON (flows/refusal.py)."""
    logger = get_run_logger()
    if (rows is None) == (rows_ref is None):
        raise ValueError("truyền đúng một trong hai: rows hoặc rows_ref")
    result = await screen_and_store(rows, rows_ref, source, actor, received_on)
    if isinstance(result, IntakeRefused):
        errors = result.errors
        await acreate_table_artifact(
            key="intake-refused",
            table=[
                {"Dòng": e.row or "", "Cột": HEADERS_VI.get(e.column or "", e.column or ""), "Lỗi": e.message}
                for e in errors[:1000]
            ],
            description=f"Tệp «{source}» bị từ chối: {len(errors)} lỗi, không lưu dòng nào",
        )
        logger.info("intake %s refused: %d errors", source, len(errors))
        return refused(
            f"Tệp «{source}» bị từ chối: {len(errors)} lỗi, không lưu dòng nào; "
            + "; ".join(str(e) for e in errors[:20]),
            result.model_dump(mode="json"),
        )
    emit_events(result)
    logger.info(
        "intake %s: %d nominations (%s)",
        result.batch_key,
        len(result.nominations),
        "replayed" if result.replayed else "new",
    )
    await acreate_table_artifact(
        key="intake-last-batch",
        table=[
            {
                "Mã hồ sơ": n["code"],
                "Đối tượng": n["nominee"],
                "Hình thức": n["award"],
                "Đơn vị": n.get("unit", ""),
                "Hạn xét": fmt_date(date.fromisoformat(n["due_on"])) if n["due_on"] else "",
            }
            for n in result.nominations[:500]
        ],
        description=f"Lô {source or result.batch_key[:15]}: {len(result.nominations)} hồ sơ",
    )
    if deliver and result.letters:
        from flows.delivery import deliver_mail

        await deliver_mail()
    return result.model_dump(mode="json")


class ResubmitResult(BaseModel):
    """Dossiers sent back completed (nộp lại) and the letters queued to the councils that returned them."""

    resubmitted: list[str]
    letters: int = 0


def resubmit_dossiers(*, session: Session, codes: list[str], on: date, actor: str) -> ResubmitResult:
    """The resubmit use case: completed dossiers go back to the council that returned them, its clock
    resumes, and that council is told (idempotent); raises ValueError naming every dossier that cannot."""
    hierarchy = Hierarchy.load(session)
    done: list[str] = []
    problems: list[str] = []
    by_unit: dict[int, list[str]] = {}
    for code in codes:
        n = nm.by_code(session=session, code=code)
        if n is None:
            problems.append(f"không tìm thấy hồ sơ «{code}»")
            continue
        key = f"resubmit:{n.code}:{n.paused_on.isoformat() if n.paused_on else 'x'}"
        try:
            nm.resubmit(session=session, nomination=n, act=nm.Act(actor or "đơn vị đề nghị", on, key=key))
        except nm.TransitionError as exc:
            problems.append(str(exc))
            continue
        done.append(n.code)
        by_unit.setdefault(n.current_unit_id, []).append(n.code)
    if problems:
        raise ValueError("; ".join(problems))
    digests = council_digests(
        session=session,
        hierarchy=hierarchy,
        by_unit=by_unit,
        ref=f"resubmit-{on.isoformat()}-{'-'.join(sorted(done))[:80]}",
    )
    return ResubmitResult(resubmitted=done, letters=len(enqueue_many(session=session, items=digests).created))


def _resubmit_in_transaction(*, codes: list[str], on: date, actor: str) -> ResubmitResult:
    with session_scope() as session:
        return resubmit_dossiers(session=session, codes=codes, on=on, actor=actor)


@flow(
    name="resubmit",
    log_prints=False,
    on_completion=[end_orphaned_subflows],
    on_failure=[end_orphaned_subflows],
)
async def resubmit(codes: list[str], on: date | None = None, actor: str = "", deliver: bool = True) -> dict:
    """The proposer sends back completed dossiers (nộp lại hồ sơ đã bổ sung); returns a `ResubmitResult`
    as JSON."""
    day = on or today_vn()
    result = await to_thread.run_sync(lambda: _resubmit_in_transaction(codes=codes, on=day, actor=actor))
    if deliver and result.letters:
        from flows.delivery import deliver_mail

        await deliver_mail()
    return result.model_dump(mode="json")
