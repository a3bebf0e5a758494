"""`thidua mail …`: read the letters the local sink caught, and watch the outbox (hộp thư đi)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import console, fail, visible
from models.clock import VN
from models.settings import get_settings

mail_app = typer.Typer(help="Hộp thư thử nghiệm (thư đã bắt được) và hộp thư đi.", no_args_is_help=True)

MaildirOption = Annotated[
    Path | None, typer.Option("--maildir", help="Thư mục Maildir (mặc định: <THIDUA_DATA_DIR>/mail)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="In ra JSON")]


@dataclass(frozen=True)
class CapturedMail:
    """One letter in the Maildir, as `ls` shows it."""

    id: str
    path: str
    date: str | None
    date_vn: str
    sender: str
    to: str
    subject: str
    message_id: str


def _short_id(name: str) -> str:
    return hashlib.sha1(name.split(":", 1)[0].encode()).hexdigest()[:10]


def _files(maildir: Path) -> list[Path]:
    files = [p for sub in ("new", "cur") if (maildir / sub).is_dir() for p in (maildir / sub).iterdir()]
    return sorted(files, key=lambda p: p.name)


def _vn(moment: datetime | None) -> str:
    return moment.astimezone(VN).strftime("%d/%m/%Y %H:%M") if moment else ""


def _date(raw: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError):
        return None


def _summary(path: Path) -> CapturedMail:
    with path.open("rb") as fp:
        headers = BytesHeaderParser(policy=policy.default).parse(fp)
    moment = _date(headers.get("Date"))
    return CapturedMail(
        id=_short_id(path.name),
        path=str(path),
        date=moment.isoformat() if moment else None,
        date_vn=_vn(moment),
        sender=str(headers.get("From", "")),
        to=str(headers.get("To", "")),
        subject=str(headers.get("Subject", "")),
        message_id=str(headers.get("Message-ID", "")),
    )


def list_captured(*, maildir: Path, to: str | None = None) -> list[CapturedMail]:
    """Every letter of the Maildir, oldest first, optionally only those to one address."""
    mails = [_summary(path) for path in _files(maildir)]
    if to:
        wanted = to.strip().lower()
        mails = [m for m in mails if wanted in m.to.lower()]
    return mails


def find_captured(*, maildir: Path, mail_id: str) -> Path:
    """The file of a letter by its id (or a unique prefix of it); raises LookupError."""
    matches = [p for p in _files(maildir) if _short_id(p.name).startswith(mail_id.strip().lower())]
    if len(matches) != 1:
        raise LookupError(
            f"không tìm thấy thư «{mail_id}»" if not matches else f"mã «{mail_id}» trùng nhiều thư"
        )
    return matches[0]


def read_captured(path: Path) -> EmailMessage:
    with path.open("rb") as fp:
        return BytesParser(policy=policy.default).parse(fp)  # type: ignore[return-value]


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    return body.get_content() if body is not None else ""


@mail_app.command("ls")
def ls(
    to: Annotated[str | None, typer.Option("--to", help="Chỉ thư gửi đến địa chỉ này")] = None,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", help="Số thư mới nhất hiển thị (0: tất cả)")] = 50,
    maildir: MaildirOption = None,
) -> None:
    """Liệt kê thư hộp thư thử nghiệm đã nhận (mới nhất ở cuối)."""
    mails = list_captured(maildir=maildir or get_settings().maildir, to=to)
    if limit > 0:
        mails = mails[-limit:]
    if as_json:
        typer.echo(json.dumps([asdict(m) for m in mails], ensure_ascii=False, indent=2))
        return
    table = Table("Mã", "Ngày (giờ VN)", "Người nhận", "Tiêu đề", title=f"Thư đã nhận ({len(mails)})")
    for m in mails:
        table.add_row(m.id, m.date_vn, m.to, m.subject)
    console.print(table)


@mail_app.command("show")
def show(
    mail_id: Annotated[str, typer.Argument(help="Mã thư (cột «Mã» của `thidua mail ls`)")],
    html: Annotated[bool, typer.Option("--html", help="In phần HTML thay cho phần văn bản")] = False,
    as_json: JsonOption = False,
    maildir: MaildirOption = None,
) -> None:
    """Xem một thư: tiêu đề, người gửi, người nhận và nội dung."""
    try:
        path = find_captured(maildir=maildir or get_settings().maildir, mail_id=mail_id)
    except LookupError as exc:
        raise fail(str(exc)) from None
    message = read_captured(path)
    headers = {name: str(message.get(name, "")) for name in ("From", "To", "Subject", "Date", "Message-ID")}
    attachments = [
        {"filename": a.get_filename(), "content_type": a.get_content_type(), "size": len(a.get_content())}
        for a in message.iter_attachments()
    ]
    if as_json:
        payload = {
            "id": _short_id(path.name),
            "headers": headers,
            "date_vn": _vn(_date(headers["Date"])),
            "text": _part(message, "plain"),
            "html": _part(message, "html"),
            "attachments": attachments,
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    # a captured letter is data: printed as text, its control characters shown rather than sent to the terminal
    for name, value in headers.items():
        typer.echo(visible(f"{name}: {value}"))
    for item in attachments:
        typer.echo(visible(f"Đính kèm: {item['filename']} ({item['content_type']}, {item['size']} byte)"))
    typer.echo("")
    typer.echo(visible(_part(message, "html" if html else "plain").replace("\r\n", "\n")))


@mail_app.command("outbox")
def outbox(
    status: Annotated[
        str, typer.Option("--status", help="pending | sending | failed-permanent | sent | all | open")
    ] = "open",
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit")] = 50,
) -> None:
    """Hộp thư đi: thư đang chờ, đang gửi và lỗi vĩnh viễn kèm lỗi gần nhất."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import DBAPIError
    from sqlmodel import col

    from models.db import session_scope
    from notifications.outbox import OutboxMessage, OutboxStatus

    stmt = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
    if status == "open":
        stmt = stmt.where(col(OutboxMessage.status) != OutboxStatus.sent)
    elif status != "all":
        stmt = stmt.where(col(OutboxMessage.status) == status)
    try:
        with session_scope() as session:
            by_status = select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))
            counts = dict(session.execute(by_status).tuples().all())
            rows = list(session.execute(stmt).scalars())
    except DBAPIError as exc:
        raise fail(f"không đọc được hộp thư đi (cơ sở dữ liệu chưa khởi tạo?): {exc.orig}") from None
    records = [
        {
            "id": r.id,
            "key": r.key,
            "to": r.to_email,
            "category": r.category,
            "status": r.status,
            "attempts": r.attempts,
            "next_attempt_vn": _vn(r.next_attempt_at),
            "sent_vn": _vn(r.sent_at),
            "last_error": r.last_error,
            "smtp_response": r.smtp_response,
        }
        for r in rows
    ]
    if as_json:
        typer.echo(json.dumps({"counts": counts, "messages": records}, ensure_ascii=False, indent=2))
        return
    console.print(
        "Hộp thư đi: "
        + ", ".join(f"{name} {counts.get(name, 0)}" for name in (s.value for s in OutboxStatus))
    )
    table = Table("Mã", "Người nhận", "Loại thư", "Trạng thái", "Lần gửi", "Thử lại lúc", "Lỗi gần nhất")
    for r in records:
        style = "red" if r["status"] == OutboxStatus.failed else None
        table.add_row(
            str(r["id"]),
            r["to"],
            r["category"],
            OutboxStatus(r["status"]).label,
            str(r["attempts"]),
            r["next_attempt_vn"] if r["status"] == OutboxStatus.pending else "",
            (r["last_error"] or "")[:120],
            style=style,
        )
    console.print(table)


@mail_app.command("retry")
def retry(
    keys: Annotated[
        list[str] | None, typer.Argument(help="Khóa thư cần gửi lại (bỏ trống: mọi thư lỗi)")
    ] = None,
) -> None:
    """Đưa thư lỗi vĩnh viễn trở lại hàng chờ (sau khi đã sửa nguyên nhân)."""
    from models.db import session_scope
    from notifications.outbox import requeue_failed

    with session_scope() as session:
        count = requeue_failed(session=session, keys=keys or None)
    console.print(f"Đã đưa {count} thư trở lại hàng chờ.")


@mail_app.command("send")
def send(
    limit: Annotated[int | None, typer.Option("--limit", help="Gửi tối đa bấy nhiêu thư")] = None,
    as_json: JsonOption = False,
) -> None:
    """Gửi ngay các thư đến lượt trong hộp thư đi (flow deliver-mail; dịch vụ cũng tự gửi 5 phút một lần)."""
    from supervisor.reach import Need, reach, run

    reach(Need.flow_run)
    from flows.delivery import deliver_mail
    from notifications.mailer import DeliveryReport

    report: DeliveryReport = run(deliver_mail(limit=limit))
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    console.print(
        f"Gửi thư: {report.sent} đã gửi, {report.retried} thử lại sau, {report.failed} lỗi vĩnh viễn."
    )
    if report.server_down:
        console.print(f"Chưa kết nối được máy chủ thư: {report.last_error or ''}", style="yellow")
