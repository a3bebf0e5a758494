"""Render letters (thư thông báo) from jinja2 templates: a subject, a plain-text part, an HTML part and,
for deadline notices, an `.ics` calendar file.

Each template has a typed context model below, so a caller knows exactly what to pass. Templates run in
an immutable sandbox with StrictUndefined: data can neither execute code nor silently go missing.
"""

from __future__ import annotations

import base64
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.clock import fmt_date, fmt_datetime, utcnow

if TYPE_CHECKING:  # imported when the first letter is rendered: a flow run that sends none never pays
    import icalendar
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATE_DIR = Path(__file__).with_name("templates")
CALENDAR_PRODID = "-//thidua//Thi dua - Khen thuong//VI"
DEFAULT_CAMPAIGN = "Cả nước chung sức xây dựng nông thôn mới"


class Attachment(BaseModel):
    """A file sent with a letter (e.g. the `.ics` of a deadline)."""

    model_config = ConfigDict(frozen=True)

    filename: str
    content_type: str = Field(description="e.g. 'text/calendar; method=PUBLISH'")
    data: bytes

    def to_json(self) -> dict[str, str]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "data": base64.b64encode(self.data).decode("ascii"),
        }

    @classmethod
    def from_json(cls, raw: dict[str, str]) -> Attachment:
        return cls(
            filename=raw["filename"], content_type=raw["content_type"], data=base64.b64decode(raw["data"])
        )


class CalendarEvent(BaseModel):
    """An all-day calendar entry on a due date; `uid` stays the same for one obligation."""

    uid: str
    day: date
    summary: str
    description: str = ""


class Rendered(BaseModel):
    """A rendered letter, ready for the outbox."""

    subject: str
    text: str
    html: str
    attachments: list[Attachment] = []


# ---------------------------------------------------------------- context models


class MailContext(BaseModel):
    """Fields every letter has; `signed_by` is the standing office that signs it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signed_by: str = Field(
        description="e.g. 'Thường trực Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa'", max_length=300
    )
    link: str | None = Field(default=None, description="where to read the dossier online, if anywhere")

    def calendar_events(self) -> list[CalendarEvent]:
        return []


class NominationLine(BaseModel):
    """One nomination (hồ sơ đề nghị khen thưởng) in a list."""

    model_config = ConfigDict(frozen=True)

    code: str
    nominee: str
    award_form: str
    proposing_unit: str
    due_date: date = Field(description="the review's due date at the receiving level")
    details: str = Field(default="", description="năm sinh, chức vụ, nơi công tác (models/namesakes.py)")
    warnings: list[str] = Field(default_factory=list, description="e.g. a namesake in another unit")
    submission: str = Field(
        default="",
        description="the tờ trình that brought it: 'Tờ trình số 05/TTr-UBND ngày 24/11/2026 của …'",
    )


class CouncilNewItems(MailContext):
    """Digest to a council's standing office: nominations that arrived in one batch."""

    council_name: str
    campaign_name: str = DEFAULT_CAMPAIGN
    agenda_items: list[NominationLine] = Field(min_length=1)


class OutcomeBase(MailContext):
    """A council's result or a head's decision on one nomination, told to the proposer."""

    council_name: str
    code: str
    nominee: str
    award_form: str
    decided_on: date
    decided_by: str = Field(
        default="", description="the head who decided (e.g. 'Chủ tịch UBND tỉnh Thanh Hóa'); '' for a meeting"
    )


class OutcomeForwarded(OutcomeBase):
    forwarded_to: str = Field(description="who decides above, e.g. 'Chủ tịch UBND tỉnh Thanh Hóa'")
    submission_number: str | None = Field(default=None, description="the tờ trình's number, where recorded")
    submission_date: date | None = None


class OutcomeConferred(OutcomeBase):
    decision_number: str = Field(description="e.g. '125/QĐ-UBND'")
    decision_date: date
    conferred_form: str | None = Field(default=None, description="set when awarded a lower form instead")


class OutcomeRejected(OutcomeBase):
    reasons: list[str] = Field(min_length=1)
    decision_number: str | None = Field(default=None, description="the head's document, if the head refused")
    at_authority: bool = Field(
        default=False, description="refused at the level that confers the form («không khen thưởng»)"
    )


class OutcomeReturned(OutcomeBase):
    to_complete: list[str] = Field(min_length=1, description="what the proposer must complete")
    complete_by: date


class OutcomeLine(BaseModel):
    """One decision in a meeting's results to a proposer."""

    model_config = ConfigDict(frozen=True)

    code: str
    nominee: str
    award_form: str
    result: str = Field(description="e.g. 'Khen thưởng, Quyết định số 15/QĐ-UBND'")
    detail: str = ""


class OutcomeDigest(MailContext):
    """All results of one meeting (or one head's decision) on the dossiers of one proposer, in one letter."""

    council_name: str
    decided_on: date
    decided_by: str = Field(default="", description="the head who decided; '' for a meeting")
    outcomes: list[OutcomeLine] = Field(min_length=1)


class ReviewLine(NominationLine):
    """A review a council owes, with the stable id of that obligation (the calendar UID)."""

    obligation_id: str = Field(description="stable, e.g. 'review:<nomination>:<unit>'")


class ReviewNotice(MailContext):
    """Reviews due soon or overdue at one council."""

    council_name: str
    reviews: list[ReviewLine] = Field(min_length=1)
    as_of: date
    escalation: bool = Field(default=False, description="sent to the chair and the superior's office")

    def calendar_events(self) -> list[CalendarEvent]:
        return [
            CalendarEvent(
                uid=line.obligation_id,
                day=line.due_date,
                summary=f"Hạn thẩm định hồ sơ {line.code} – {line.nominee}",
                description=f"{self.council_name}: thẩm định hồ sơ đề nghị {line.award_form}.",
            )
            for line in self.reviews
        ]


class ReviewDueSoon(ReviewNotice):
    pass


class ReviewOverdue(ReviewNotice):
    pass


class ReportNotice(MailContext):
    """A yearly (or one-off) report a unit owes (báo cáo)."""

    obligation_id: str = Field(description="stable, e.g. 'report:<obligation>:<unit>:<year>'")
    unit_name: str
    report_name: str = Field(description="e.g. 'Báo cáo kết quả thực hiện phong trào năm 2026'")
    campaign_name: str = DEFAULT_CAMPAIGN
    submit_to: str = Field(description="who receives the report")
    due_date: date
    as_of: date

    @property
    def days_left(self) -> int:
        return (self.due_date - self.as_of).days

    def calendar_events(self) -> list[CalendarEvent]:
        summary = f"Hạn nộp {self.report_name}"
        description = f"{self.unit_name} gửi {self.report_name} đến {self.submit_to}."
        return [
            CalendarEvent(uid=self.obligation_id, day=self.due_date, summary=summary, description=description)
        ]


class ReportReminder(ReportNotice):
    pass


class ReportOverdue(ReportNotice):
    escalation: bool = Field(default=False, description="sent to the superior unit, not the unit's head")


DigestKind = Literal[
    "report_due", "report_overdue", "review_due", "review_overdue", "decision_due", "decision_overdue"
]

DIGEST_LABELS: dict[str, str] = {
    "report_due": "Báo cáo sắp đến hạn",
    "report_overdue": "Báo cáo quá hạn",
    "review_due": "Hồ sơ sắp đến hạn thẩm định",
    "review_overdue": "Hồ sơ quá hạn thẩm định",
    # the head's decision after the council recommended (models/decisions.py): its own time limit
    "decision_due": "Hồ sơ sắp đến thời hạn ban hành quyết định khen thưởng",
    "decision_overdue": "Hồ sơ quá thời hạn ban hành quyết định khen thưởng",
}


class DigestEntry(BaseModel):
    """One line of the daily digest."""

    model_config = ConfigDict(frozen=True)

    kind: DigestKind
    obligation_id: str
    title: str = Field(description="e.g. 'Báo cáo năm 2026' or 'Hồ sơ TH-2026-0012 – Nguyễn Văn A'")
    unit_name: str
    due_date: date


class DeadlineDigest(MailContext):
    """All of one recipient's deadlines on one day, in one letter."""

    day: date
    entries: list[DigestEntry] = Field(min_length=1)

    def calendar_events(self) -> list[CalendarEvent]:
        return [
            CalendarEvent(uid=e.obligation_id, day=e.due_date, summary=f"{DIGEST_LABELS[e.kind]}: {e.title}")
            for e in self.entries
            if e.kind in ("report_due", "review_due", "decision_due")
        ]


class ConsultationRequestLetter(MailContext):
    """Văn bản lấy ý kiến hiệp y: a province asks a body (tax, social insurance…) about one dossier."""

    council_name: str
    body_name: str
    code: str
    nominee: str
    details: str = ""
    award_form: str
    proposing_unit: str
    due_date: date
    legal_basis: str
    reminder: bool = Field(default=False, description="a reminder of a request not yet answered")


TEMPLATES: dict[str, type[MailContext]] = {
    "council_new_items": CouncilNewItems,
    "outcome_forwarded": OutcomeForwarded,
    "outcome_conferred": OutcomeConferred,
    "outcome_rejected": OutcomeRejected,
    "outcome_returned": OutcomeReturned,
    "outcome_digest": OutcomeDigest,
    "review_due_soon": ReviewDueSoon,
    "review_overdue": ReviewOverdue,
    "report_reminder": ReportReminder,
    "report_overdue": ReportOverdue,
    "deadline_digest": DeadlineDigest,
    "consultation_request": ConsultationRequestLetter,
}


# ---------------------------------------------------------------- rendering


def _days(n: int) -> str:
    return f"{abs(n)} ngày"


@lru_cache(maxsize=2)
def _environment(kind: Literal["txt", "html"]) -> ImmutableSandboxedEnvironment:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=kind == "html",
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["vn_date"] = fmt_date
    env.filters["vn_datetime"] = fmt_datetime
    env.filters["days"] = _days
    env.globals["DIGEST_LABELS"] = DIGEST_LABELS
    return env


@lru_cache(maxsize=64)
def _template(kind: Literal["txt", "html"], template: str) -> Template:
    return _environment(kind).get_template(f"{template}.{kind}.j2")


def context_model(template: str) -> type[MailContext]:
    """The context model of a template; raises KeyError on an unknown one."""
    try:
        return TEMPLATES[template]
    except KeyError:
        raise KeyError(f"unknown mail template {template!r}; known: {', '.join(TEMPLATES)}") from None


def validate_context(*, template: str, context: MailContext | dict[str, Any]) -> MailContext:
    """Check (or build) the context for a template."""
    model = context_model(template)
    if isinstance(context, model):
        return context
    if isinstance(context, BaseModel):
        raise TypeError(f"template {template!r} needs a {model.__name__}, got {type(context).__name__}")
    return model.model_validate(context)


def render(*, template: str, context: MailContext | dict[str, Any], recipient_name: str) -> Rendered:
    """Render one letter: subject, text part, HTML part and the calendar file of its deadlines."""
    ctx = validate_context(template=template, context=context)
    variables: dict[str, Any] = {name: getattr(ctx, name) for name in type(ctx).model_fields}
    variables["ctx"] = ctx
    variables["recipient_name"] = recipient_name
    text_tmpl = _template("txt", template)
    text_ctx = text_tmpl.new_context(variables)  # one context for the subject block and the body
    subject = "".join(text_tmpl.blocks["subject"](text_ctx)).strip()
    text = "".join(text_tmpl.root_render_func(text_ctx))
    variables["subject"] = subject
    html = _template("html", template).render(variables)
    events = ctx.calendar_events()
    attachments = [calendar_attachment(events=events)] if events else []
    return Rendered(subject=subject, text=text, html=html, attachments=attachments)


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 sequence (RFC 5545 §3.1)."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts: list[bytes] = []
    start, limit = 0, 75
    while len(raw) - start > limit:
        cut = start + limit
        while raw[cut] & 0xC0 == 0x80:  # never cut inside a multi-byte character
            cut -= 1
        parts.append(raw[start:cut])
        start, limit = cut, 74  # continuation lines begin with one space
    parts.append(raw[start:])
    return b"\r\n ".join(parts).decode("utf-8")


def _text_line(name: str, value: str) -> str:
    from icalendar import vText

    return _fold(f"{name}:{vText(value).to_ical().decode('utf-8')}")


def calendar_attachment(*, events: list[CalendarEvent], filename: str = "han-chot.ics") -> Attachment:
    """An iCalendar file (RFC 5545) with one all-day VEVENT per deadline.

    Values are encoded by icalendar's own types; the lines are assembled here because
    `Calendar.to_ical()` costs ~0.4 ms a file, too slow for 10,000 reminders in one batch.
    """
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", _text_line("PRODID", CALENDAR_PRODID), "METHOD:PUBLISH"]
    for item in events:
        uid = item.uid if "@" in item.uid else f"{item.uid}@thidua"
        lines += [
            "BEGIN:VEVENT",
            _text_line("UID", uid),
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{item.day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{item.day + timedelta(days=1):%Y%m%d}",
            _text_line("SUMMARY", item.summary),
        ]
        if item.description:
            lines.append(_text_line("DESCRIPTION", item.description))
        lines += ["TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    return Attachment(filename=filename, content_type="text/calendar; method=PUBLISH", data=data)


def calendar_reference(*, events: list[CalendarEvent]) -> icalendar.Calendar:
    """The same calendar built through icalendar's object model (tests compare the two)."""
    import icalendar

    cal = icalendar.Calendar()
    cal.add("prodid", CALENDAR_PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    for item in events:
        event = icalendar.Event()
        event.add("uid", item.uid if "@" in item.uid else f"{item.uid}@thidua")
        event.add("dtstamp", utcnow().replace(microsecond=0))
        event.add("dtstart", item.day)
        event.add("dtend", item.day + timedelta(days=1))
        event.add("summary", item.summary)
        if item.description:
            event.add("description", item.description)
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal
