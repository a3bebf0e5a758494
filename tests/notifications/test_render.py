"""Every template, rendered with Vietnamese data, sent through a real SMTP server and parsed back."""

from __future__ import annotations

from datetime import date

import icalendar
import pytest
from jinja2.sandbox import SandboxedEnvironment

from notifications.outbox import OutboxMessage, enqueue
from notifications.render import TEMPLATES, _environment, calendar_attachment, calendar_reference, render
from tests.notifications.conftest import SIGNED_BY, deliver, sample_context, sample_letter

DEADLINE_TEMPLATES = {
    "review_due_soon",
    "review_overdue",
    "report_reminder",
    "report_overdue",
    "deadline_digest",
}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_arrives_readable(template, session, db_url, registry, smtp_server):
    recipient = "Ông Nguyễn Văn Hùng – Chủ tịch UBND xã Cẩm Thành"
    queued = enqueue(
        session=session, item=sample_letter(f"test:{template}", registry.commune_head, recipient, template)
    )
    session.commit()
    report = deliver(db_url, smtp_server.settings())
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)

    (captured,) = smtp_server.captured
    msg = captured.message
    row: OutboxMessage = queued.message
    assert captured.rcpt_tos == [registry.commune_head]
    assert msg["Message-ID"] == row.message_id
    assert msg["Subject"] == row.subject and "Thi đua – Khen thưởng" in msg["Subject"]
    assert msg["To"].addresses[0].display_name == recipient
    assert msg["From"].addresses[0].display_name == "Hội đồng Thi đua – Khen thưởng"
    assert not msg.defects
    assert captured.data.isascii()  # 7-bit clean: headers RFC 2047, bodies base64

    if template in DEADLINE_TEMPLATES:
        assert msg.get_content_type() == "multipart/mixed"
        alternative, ics_part = msg.get_payload()
    else:
        alternative, ics_part = msg, None
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = alternative.get_payload()  # text part first, HTML second
    for part, kind in ((plain, "text/plain"), (html, "text/html")):
        assert part.get_content_type() == kind
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "base64"
    text, markup = plain.get_content(), html.get_content()
    assert text.startswith(f"Kính gửi: {recipient}\n")  # no comma (Decree 30/2020, Appendix I, II.9a)
    assert SIGNED_BY in text and SIGNED_BY in markup
    assert "Trân trọng" in text
    assert '<html lang="vi">' in markup

    if ics_part is not None:
        assert ics_part.get_content_type() == "text/calendar"
        assert ics_part.get_param("method") == "PUBLISH"
        assert ics_part.get_filename().endswith(".ics")
        calendar = icalendar.Calendar.from_ical(ics_part.get_content())
        events = calendar.walk("VEVENT")
        assert events
        for event in events:
            assert isinstance(event.decoded("dtstart"), date)  # all-day
            assert event["uid"].endswith("@thidua")
            assert str(event["summary"]).startswith(("Hạn", "Báo cáo", "Hồ sơ"))


def test_dates_are_day_month_year(session, registry):
    rendered = render(
        template="outcome_conferred", context=sample_context("outcome_conferred"), recipient_name="A"
    )
    assert "Quyết định số 2456/QĐ-UBND ngày 25/11/2025" in rendered.text
    assert "2025-11-25" not in rendered.text + rendered.html


def test_data_is_escaped_in_html_and_never_executed():
    context = sample_context("outcome_rejected")
    context["nominee"] = '<script>alert("x")</script> {{ 7*7 }} {% raw %}'
    context["reasons"] = ["{{ ''.__class__.__mro__ }}"]
    rendered = render(template="outcome_rejected", context=context, recipient_name="<b>Bà Lan</b>")
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "&lt;b&gt;Bà Lan&lt;/b&gt;" in rendered.html
    assert "{{ 7*7 }}" in rendered.text and "49" not in rendered.text
    assert "__mro__" in rendered.text  # shown as text, not evaluated
    assert isinstance(_environment("html"), SandboxedEnvironment)
    assert _environment("html").autoescape and not _environment("txt").autoescape


def test_missing_context_is_refused():
    context = sample_context("outcome_returned")
    del context["complete_by"]
    with pytest.raises(ValueError, match="complete_by"):
        render(template="outcome_returned", context=context, recipient_name="A")


def test_calendar_uid_is_stable_per_obligation_and_matches_icalendar():
    first = render(template="report_reminder", context=sample_context("report_reminder"), recipient_name="A")
    later = sample_context("report_reminder") | {"as_of": date(2025, 11, 29)}
    second = render(template="report_reminder", context=later, recipient_name="A")
    uid = [
        icalendar.Calendar.from_ical(r.attachments[0].data).walk("VEVENT")[0]["uid"] for r in (first, second)
    ]
    assert uid[0] == uid[1] == "report:ntm-2025:thanh-hoa.cam-thanh:2025@thidua"

    from notifications.render import ReportReminder

    events = ReportReminder.model_validate(sample_context("report_reminder")).calendar_events()
    ours = icalendar.Calendar.from_ical(calendar_attachment(events=events).data).walk("VEVENT")[0]
    reference = calendar_reference(events=events).walk("VEVENT")[0]
    for prop in ("uid", "summary", "description", "transp"):
        assert str(ours[prop]) == str(reference[prop])
    for prop in ("dtstart", "dtend"):
        assert ours.decoded(prop) == reference.decoded(prop)


def test_long_vietnamese_lines_fold_without_breaking_characters():
    context = sample_context("report_reminder") | {"report_name": "Báo cáo " + "tổng kết phong trào " * 12}
    data = render(template="report_reminder", context=context, recipient_name="A").attachments[0].data
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    event = icalendar.Calendar.from_ical(data).walk("VEVENT")[0]
    assert str(event["summary"]) == "Hạn nộp " + context["report_name"]
