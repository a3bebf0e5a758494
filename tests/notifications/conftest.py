"""Fixtures of the notifications tests: a small registry of units and councils, and a Vietnamese context
for every mail template."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from notifications.outbox import MailItem

SIGNED_BY = "Thường trực Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa"


@dataclass(frozen=True)
class Registry:
    commune_office: str = "vanphong@camthanh.thanhhoa.gov.vn"
    commune_head: str = "chutich@camthanh.thanhhoa.gov.vn"
    province_office: str = "vanphong@thanhhoa.gov.vn"
    council_office: str = "thuongtruc.tdkt@thanhhoa.gov.vn"
    council_chair: str = "chutich.hdtdkt@thanhhoa.gov.vn"
    communes: int = 150

    def commune(self, i: int) -> str:
        return f"ubnd.xa{i}@thanhhoa.gov.vn"


@pytest.fixture
def registry(session) -> Registry:
    """Thanh Hóa province, the commune Cẩm Thành and 150 more communes, the provincial council."""
    from models.units import Council, CouncilMember, Level, MemberRole, Unit

    reg = Registry()
    province = Unit(
        code="thanh-hoa",
        name="tỉnh Thanh Hóa",
        name_key="tinh thanh hoa",
        level=Level.province,
        email=reg.province_office,
        head_name="Chủ tịch UBND tỉnh",
        head_email="chutich@thanhhoa.gov.vn",
    )
    session.add(province)
    session.flush()

    def commune(code: str, name: str, name_key: str, email: str, **head: str) -> Unit:
        """A commune of the province, its office at `email` (its chairman as `head_name`, `head_email`)."""
        unit = Unit(code=code, name=name, name_key=name_key, level=Level.commune, email=email, **head)
        unit.parent_id = unit.province_id = province.id
        return unit

    head = {"head_name": "Ông Nguyễn Văn Hùng", "head_email": reg.commune_head}
    session.add(commune("thanh-hoa.cam-thanh", "xã Cẩm Thành", "xa cam thanh", reg.commune_office, **head))
    for i in range(reg.communes):
        session.add(commune(f"thanh-hoa.xa-{i}", f"xã Số {i}", f"xa so {i}", reg.commune(i)))
    council = Council(
        unit_id=province.id,
        name="Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa",
        office_email=reg.council_office,
    )
    session.add(council)
    session.flush()
    session.add(
        CouncilMember(
            council_id=council.id, name="Bà Lê Thị Mai", email=reg.council_chair, role=MemberRole.chair
        )
    )
    session.commit()
    return reg


def _nomination(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "code": f"TH-2025-{i:04d}",
        "nominee": ["Ông Nguyễn Văn Hùng", "Hộ gia đình bà Trần Thị Lụa", "Thôn Đồng Tâm, xã Cẩm Thành"][
            i % 3
        ],
        "award_form": "Bằng khen của Chủ tịch UBND tỉnh",
        "proposing_unit": "UBND xã Cẩm Thành",
        "due_date": date(2025, 12, 15),
        **extra,
    }


def sample_letter(key: str, to_email: str, to_name: str, template: str) -> MailItem:
    """A letter of `template` with its sample context (below)."""
    return MailItem(
        key=key, to_email=to_email, to_name=to_name, template=template, context=sample_context(template)
    )


def sample_context(template: str) -> dict[str, Any]:
    """A realistic Vietnamese context for each template."""
    outcome = {
        "signed_by": SIGNED_BY,
        "council_name": "Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa",
        "code": "TH-2025-0007",
        "nominee": "Ông Nguyễn Văn Hùng",
        "award_form": "Bằng khen của Chủ tịch UBND tỉnh",
        "decided_on": date(2025, 11, 20),
    }
    report = {
        "signed_by": SIGNED_BY,
        "obligation_id": "report:ntm-2025:thanh-hoa.cam-thanh:2025",
        "unit_name": "UBND xã Cẩm Thành",
        "report_name": "Báo cáo kết quả thực hiện phong trào năm 2025",
        "submit_to": "Văn phòng Điều phối nông thôn mới tỉnh Thanh Hóa",
        "due_date": date(2025, 11, 30),
    }
    reviews = [_nomination(i, obligation_id=f"review:TH-2025-{i:04d}:thanh-hoa") for i in range(3)]
    contexts: dict[str, dict[str, Any]] = {
        "council_new_items": {
            "signed_by": SIGNED_BY,
            "council_name": "Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa",
            "agenda_items": [_nomination(i) for i in range(3)],
        },
        "outcome_forwarded": {**outcome, "forwarded_to": "Ban Thi đua – Khen thưởng Trung ương (Bộ Nội vụ)"},
        "outcome_conferred": {
            **outcome,
            "decision_number": "2456/QĐ-UBND",
            "decision_date": date(2025, 11, 25),
        },
        "outcome_rejected": {
            **outcome,
            "reasons": ["Chưa đủ thời gian công tác", "Thiếu xác nhận của cơ quan thuế"],
        },
        "consultation_request": {
            **{k: v for k, v in outcome.items() if k != "decided_on"},
            "body_name": "Thuế tỉnh",
            "details": "sinh năm 1962; Nông dân",
            "proposing_unit": "xã Cẩm Thạch",
            "due_date": date(2025, 12, 4),
            "legal_basis": "Luật Thi đua, Khen thưởng số 06/2022/QH15, Điều 84 khoản 3",
            "reminder": True,
        },
        "outcome_returned": {
            **outcome,
            "to_complete": ["Biên bản họp Hội đồng cấp xã", "Báo cáo thành tích có xác nhận"],
            "complete_by": date(2025, 12, 5),
        },
        "outcome_digest": {
            "signed_by": SIGNED_BY,
            "council_name": "Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa",
            "decided_on": date(2025, 11, 28),
            "outcomes": [
                {
                    "code": "TH-2025-0007",
                    "nominee": "Bà Nguyễn Thị Hoa",
                    "award_form": "Bằng khen của Chủ tịch UBND tỉnh",
                    "result": "Khen thưởng, Quyết định số 125/QĐ-UBND",
                },
                {
                    "code": "TH-2025-0008",
                    "nominee": "Thôn Tiến Thành <b>&</b>",
                    "award_form": "Cờ thi đua của UBND tỉnh",
                    "result": "Không khen thưởng",
                    "detail": "Chưa đủ 80% phiếu đồng ý",
                },
            ],
        },
        "review_due_soon": {
            "signed_by": SIGNED_BY,
            "council_name": "Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa",
            "reviews": reviews,
            "as_of": date(2025, 12, 10),
        },
        "review_overdue": {
            "signed_by": SIGNED_BY,
            "council_name": "Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa",
            "reviews": reviews,
            "as_of": date(2025, 12, 18),
            "escalation": True,
        },
        "report_reminder": {**report, "as_of": date(2025, 11, 23)},
        "report_overdue": {**report, "as_of": date(2025, 12, 2), "escalation": True},
        "deadline_digest": {
            "signed_by": SIGNED_BY,
            "day": date(2025, 11, 28),
            "entries": [
                {
                    "kind": "report_due",
                    "obligation_id": report["obligation_id"],
                    "title": "Báo cáo năm 2025",
                    "unit_name": "UBND xã Cẩm Thành",
                    "due_date": date(2025, 11, 30),
                },
                {
                    "kind": "review_due",
                    "obligation_id": "review:TH-2025-0001:thanh-hoa",
                    "title": "Hồ sơ TH-2025-0001 – Ông Nguyễn Văn Hùng",
                    "unit_name": "Hội đồng TĐKT tỉnh",
                    "due_date": date(2025, 12, 1),
                },
                {
                    "kind": "review_overdue",
                    "obligation_id": "review:TH-2025-0002:thanh-hoa",
                    "title": "Hồ sơ TH-2025-0002 – Thôn Đồng Tâm",
                    "unit_name": "Hội đồng TĐKT tỉnh",
                    "due_date": date(2025, 11, 20),
                },
            ],
        },
    }
    return contexts[template]


def deliver(db_url: str, settings: Any, **kwargs: Any):
    """Run one delivery (the mailer is async; tests are plain functions)."""
    from notifications.mailer import deliver_due

    return asyncio.run(deliver_due(database_url=db_url, settings=settings, **kwargs))
