"""The local sink stores every letter in a Maildir; `thidua mail` lists and shows them, and the outbox."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from cli.mail import mail_app
from models.clock import utcnow
from models.settings import get_settings
from notifications.outbox import enqueue_many
from notifications.sink import start_sink
from tests.notifications.conftest import deliver, sample_letter

runner = CliRunner()


def test_sink_keeps_every_letter_and_the_cli_reads_them(session, db_url, registry, tmp_path):
    maildir = tmp_path / "mail"
    sink = start_sink(host="127.0.0.1", port=0, maildir=maildir)
    try:
        items = [
            sample_letter("a", registry.commune_head, "Ông Nguyễn Văn Hùng", "report_reminder"),
            sample_letter("b", registry.council_office, "Thường trực Hội đồng", "council_new_items"),
        ]
        enqueue_many(session=session, items=items)
        session.commit()
        settings = get_settings().model_copy(update={"smtp_port": sink.port, "smtp_security": "none"})
        assert deliver(db_url, settings).sent == 2
    finally:
        sink.stop()
    assert len(list((maildir / "new").iterdir())) == 2

    listed = runner.invoke(mail_app, ["ls", "--json", "--maildir", str(maildir)])
    assert listed.exit_code == 0, listed.output
    mails = json.loads(listed.output)
    assert len(mails) == 2
    assert {m["subject"].split("]")[0] for m in mails} == {"[Thi đua – Khen thưởng"}
    assert all(len(m["date_vn"]) == 16 and m["date_vn"][2] == "/" for m in mails)  # dd/mm/yyyy HH:MM

    only = runner.invoke(
        mail_app, ["ls", "--json", "--to", registry.council_office, "--maildir", str(maildir)]
    )
    (council_mail,) = json.loads(only.output)
    assert "hồ sơ đề nghị khen thưởng mới" in council_mail["subject"]

    table = runner.invoke(mail_app, ["ls", "--maildir", str(maildir)])
    assert table.exit_code == 0 and "Thư đã nhận (2)" in table.output

    shown = runner.invoke(mail_app, ["show", council_mail["id"], "--maildir", str(maildir)])
    assert shown.exit_code == 0
    assert "Kính gửi: Thường trực Hội đồng\n" in shown.output and "Subject: [Thi đua" in shown.output

    # the other letter carries the .ics; `ls` orders by arrival, which is not fixed within one second
    (deadline_mail,) = [m for m in mails if m["id"] != council_mail["id"]]
    as_json = json.loads(
        runner.invoke(mail_app, ["show", deadline_mail["id"], "--json", "--maildir", str(maildir)]).output
    )
    assert as_json["attachments"][0]["content_type"] == "text/calendar"
    assert "<html" in as_json["html"] and "Kính gửi" in as_json["text"]

    html = runner.invoke(mail_app, ["show", council_mail["id"][:6], "--html", "--maildir", str(maildir)])
    assert "<table" in html.output

    missing = runner.invoke(mail_app, ["show", "zzz", "--maildir", str(maildir)])
    assert missing.exit_code == 1 and "không tìm thấy" in missing.output


def test_outbox_command_shows_permanent_failures(session, db_url, registry, smtp_server):
    items = [sample_letter(f"k{i}", registry.commune(i), f"Xã {i}", "outcome_rejected") for i in range(3)]
    enqueue_many(session=session, items=items)
    session.commit()
    smtp_server.handler.rcpt_replies[registry.commune(0)] = "550 5.1.1 Mailbox does not exist"
    deliver(db_url, smtp_server.settings())

    result = runner.invoke(mail_app, ["outbox", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["counts"] == {"sent": 2, "failed-permanent": 1}
    (failed,) = data["messages"]
    assert failed["status"] == "failed-permanent" and "5.1.1 Mailbox does not exist" in failed["last_error"]

    table = runner.invoke(mail_app, ["outbox"])
    assert "failed-permanent 1" in table.output and "5.1.1" in table.output

    requeued = runner.invoke(mail_app, ["retry", "k0"])
    assert "Đã đưa 1 thư" in requeued.output
    smtp_server.handler.rcpt_replies.clear()
    assert deliver(db_url, smtp_server.settings(), now=utcnow() + timedelta(seconds=1)).sent == 1
