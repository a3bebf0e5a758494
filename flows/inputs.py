"""The meeting form (RunInput) a council's secretary fills in the Prefect UI, or that the CLI sends."""

from __future__ import annotations

from datetime import date
from typing import Literal

from prefect.input import RunInput
from pydantic import BaseModel, Field

from models.clock import fmt_date
from models.meetings import Decision, Minutes

Choice = Literal["Thông qua", "Không thông qua", "Trả lại bổ sung", "Khen mức thấp hơn"]
CHOICE_TO_KIND = {"Thông qua": "approve", "Không thông qua": "reject", "Trả lại bổ sung": "return",
                  "Khen mức thấp hơn": "award-lower"}
KIND_TO_CHOICE = {v: k for k, v in CHOICE_TO_KIND.items()}


class AgendaDecision(BaseModel):
    """One agenda item and the council's decision on it."""

    code: str = Field(title="Mã hồ sơ", description="Không sửa: mã hồ sơ trong chương trình họp")
    nominee: str = Field(default="", title="Đối tượng (để đối chiếu)")
    decision: Choice = Field(
        default="Thông qua", title="Quyết định",
        description="Thông qua: trình cấp trên hoặc khen nếu Hội đồng có thẩm quyền; Không thông qua (ghi lý do); "
                    "Trả lại bổ sung (ghi nội dung cần bổ sung); Khen mức thấp hơn (ghi hình thức).",
    )
    lower_award: str = Field(default="", title="Hình thức thấp hơn",
                             description="Chỉ ghi khi chọn «Khen mức thấp hơn», ví dụ bang-khen-tinh")
    votes_for: int = Field(default=0, ge=0, title="Số phiếu đồng ý")
    votes_against: int = Field(default=0, ge=0, title="Số phiếu không đồng ý")
    votes_abstain: int = Field(default=0, ge=0, title="Số phiếu không biểu quyết")
    note: str = Field(default="", title="Lý do / nội dung cần bổ sung / ghi chú")


class MeetingDecisions(RunInput):
    """Biên bản họp Hội đồng Thi đua – Khen thưởng."""

    meeting_date: date = Field(title="Ngày họp")
    members_present: int = Field(default=0, ge=0, title="Số thành viên dự họp")
    decision_series: str = Field(default="QĐ-UBND", title="Ký hiệu quyết định khen thưởng",
                                 description="Ví dụ QĐ-UBND; số quyết định sẽ là «số/ký hiệu»")
    first_decision_number: int = Field(default=1, ge=1, title="Số quyết định đầu tiên")
    secretary: str = Field(default="", title="Thư ký phiên họp")
    agenda_items: list[AgendaDecision] = Field(title="Quyết định cho từng hồ sơ")

    def to_minutes(self) -> Minutes:
        return Minutes(
            meeting_date=self.meeting_date, members_present=self.members_present,
            decision_series=self.decision_series, first_decision_number=self.first_decision_number,
            secretary=self.secretary,
            decisions=[Decision(code=i.code, decision=CHOICE_TO_KIND[i.decision], lower_award=i.lower_award,
                                votes_for=i.votes_for, votes_against=i.votes_against, votes_abstain=i.votes_abstain,
                                note=i.note) for i in self.agenda_items],
        )


def agenda_markdown(*, council: str, agenda: list[dict], problems: list[str] = ()) -> str:
    """The agenda as the form's description: what each item is, before the fields to fill."""
    lines = [f"## Chương trình họp — {council}", ""]
    if problems:
        lines += ["**Biên bản chưa hợp lệ, xin sửa rồi gửi lại:**", ""] + [f"- {p}" for p in problems] + [""]
    if not agenda:
        lines.append("_Không có hồ sơ nào chờ xét._")
    for i, a in enumerate(agenda, start=1):
        due = fmt_date(date.fromisoformat(a["due_on"])) if a.get("due_on") else "—"
        lines.append(f"{i}. **{a['code']}** — {a['nominee']} — {a['award_name']} — đề nghị: {a['origin_unit']} "
                     f"— hạn xét {due}")
    return "\n".join(lines)


def initial_form(*, agenda: list[dict], meeting_date: date, series: str, members: int) -> dict:
    return {
        "meeting_date": meeting_date, "members_present": members, "decision_series": series,
        "first_decision_number": 1,
        "agenda_items": [{"code": a["code"], "nominee": a["nominee"], "decision": "Thông qua"} for a in agenda],
    }
