"""Quyết định: the registry (văn thư) records the head's decision on what the council recommended,
through the `issue-decision` flow on the session's Prefect test API (as `thidua decision issue`);
every problem shown with the input kept and nothing applied; the decision's DOCX downloaded under the
one authorization table; the dossier page shows the decision and links its papers. And the minutes
grid carries written votes: 6 present + 3 written of 9 pass a provincial emulation flag."""

from __future__ import annotations

import re

import pytest

from tests.portal.conftest import PASSWORD, PROVINCE, A, login


def _recommend_at_a(world) -> list[str]:
    """A's council approves both dossiers of its open meeting: they wait for the chairman's decision."""
    from sqlmodel import Session

    from models.clock import today_vn
    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from models.meetings import Meeting, apply_minutes

    with Session(get_engine(world.url), expire_on_commit=False) as s:
        meeting = s.get(Meeting, world.meetings[A])
        assert meeting is not None
        codes = [a["code"] for a in meeting.agenda]
        minutes = {
            "meeting_date": today_vn(),
            "members_present": 7,
            "decisions": [{"code": c, "votes_for": 7} for c in codes],
        }
        apply_minutes(session=s, meeting=meeting, minutes=minutes, hierarchy=Hierarchy.load(s))
        s.commit()
    return codes


def _decisions(world) -> list:
    from sqlmodel import Session, select

    from models.db import get_engine
    from models.decisions import AwardDecision

    with Session(get_engine(world.url)) as s:
        return list(s.exec(select(AwardDecision).order_by(AwardDecision.id)).all())  # type: ignore[arg-type]


def _status(world, code: str) -> str:
    from sqlmodel import Session

    from models.db import get_engine
    from models.nominations import by_code

    with Session(get_engine(world.url)) as s:
        n = by_code(session=s, code=code)
        assert n is not None
        return n.status.value


@pytest.fixture(scope="module")
def recommended(world) -> list[str]:
    return _recommend_at_a(world)


def test_the_registry_sees_what_waits_for_the_head_grouped_by_meeting(world, recommended) -> None:
    c, _ = login("vt.a")
    page = c.get("/decisions")
    assert page.status_code == 200
    assert "2</strong> hồ sơ chờ Chủ tịch UBND" in page.text or "2</strong> hồ sơ chờ" in page.text
    assert f"Phiên họp #{world.meetings[A]}" in page.text
    for code in recommended:
        assert f'name="code" value="{code}"' in page.text
    assert "Ghi quyết định" in page.text and "tự động đánh số" in page.text
    # the secretary reads it, records nothing; another commune's secretary never sees A's
    sec, csrf = login("tk.a")
    seen = sec.get("/decisions").text
    assert recommended[0] in seen and '<button type="submit">Ghi quyết định' not in seen
    assert sec.post("/decisions", data={"csrf": csrf, "code": recommended[0]}).status_code == 403
    other, _ = login("tk.b")
    assert recommended[0] not in other.get("/decisions").text
    assert other.get(f"/decisions?unit={A}").status_code == 404


def test_every_problem_is_shown_with_the_input_kept_and_nothing_applied(
    world, recommended, prefect_api
) -> None:
    first, second = recommended
    c, csrf = login("vt.a")
    base = {"csrf": csrf, "decision_date": "", "signer": "KT. CHỦ TỊCH – PHÓ CHỦ TỊCH", "action": "confer"}
    cases = [
        ({"number": "123", "decision_date": "01/12/2026"}, "không đúng dạng số/ký hiệu"),
        ({"number": "7/QĐ-UBND", "decision_date": "31/12/2099"}, "còn ở tương lai"),
        ({"number": "7/QĐ-UBND", "decision_date": "32/13/2026"}, "Ngày quyết định: ngày «32/13/2026»"),
        ({"number": "7/QĐ-UBND", "decision_date": "01/12/2026", "action": "refuse"}, "phải ghi rõ lý do"),
        ({"number": "", "decision_date": "01/12/2026"}, "thiếu số quyết định"),
    ]
    for fields, said in cases:
        r = c.post("/decisions", data={**base, **fields, "code": [first]})
        assert r.status_code == 400, (fields, r.text[-800:])
        assert "chưa áp dụng gì" in r.text and said in r.text, (said, r.text[-1500:])
        if fields["number"]:
            assert f'value="{fields["number"]}"' in r.text  # what was typed is kept
        assert 'value="KT. CHỦ TỊCH – PHÓ CHỦ TỊCH"' in r.text
        assert re.search(rf'value="{first}" id="c-{first}" checked', r.text)
        assert not re.search(rf'value="{second}" id="c-{second}" checked', r.text)  # as ticked
    r = c.post("/decisions", data={**base, "number": "7/QĐ-UBND", "decision_date": "01/12/2026"})
    assert r.status_code == 400 and "chưa chọn hồ sơ nào" in r.text
    assert _decisions(world) == [] and _status(world, first) == "recommended"


def test_the_head_refuses_one_confers_the_other_and_the_decision_downloads(
    world, recommended, prefect_api
) -> None:
    from models.clock import fmt_date, today_vn

    first, second = recommended
    today = fmt_date(today_vn())
    c, csrf = login("vt.a")

    def decide(**fields):
        """The registry's form sent, dated today unless `fields` say otherwise."""
        return c.post("/decisions", data={"csrf": csrf, "decision_date": today, **fields})

    reason = "không khen thưởng: thành tích chưa tiêu biểu"
    r = decide(number="4/QĐ-UBND", action="refuse", reason=reason, code=[first])
    assert r.status_code == 200, r.text[-1500:]
    assert "Đã ghi không khen thưởng số 4/QĐ-UBND" in r.text and _status(world, first) == "rejected"
    # the number is taken: the other dossier cannot have it
    r = decide(number="4/QĐ-UBND", action="confer", code=[second])
    assert r.status_code == 400 and "số 4/QĐ-UBND của xã Cẩm Thạch đã dùng" in r.text, r.text[-1500:]
    assert 'value="4/QĐ-UBND"' in r.text and _status(world, second) == "recommended"
    # a refusal reads as one: its run's task `record-decision` completed (no Failed task, no traceback)
    assert _last_decision_tasks() == [("record-decision", "COMPLETED")]
    # every problem is listed: the number taken and a date in the future, together
    r = decide(number="4/QĐ-UBND", decision_date="31/12/2099", action="confer", code=[second])
    assert r.status_code == 400 and "còn ở tương lai" in r.text, r.text[-1500:]
    assert "số 4/QĐ-UBND của xã Cẩm Thạch đã dùng" in r.text and _status(world, second) == "recommended"
    # automatic numbering: the unit's next number in its series
    r = decide(auto_number="1", action="confer", code=[second])
    assert r.status_code == 200, r.text[-1500:]
    assert _status(world, second) == "conferred"
    conferred = _decisions(world)[-1]
    assert conferred.kind == "confer" and conferred.actor == "Văn Thư A (vt.a)"
    assert f"Đã ghi quyết định khen thưởng số {conferred.number} ngày {today}" in r.text
    link = re.search(r'href="(/documents/(\d+))" download>([^<]+\.docx)<', r.text)
    assert link, r.text[-2000:]
    doc = c.get(link.group(1))
    assert doc.status_code == 200 and doc.content[:2] == b"PK"
    assert (
        "wordprocessingml" in doc.headers["content-type"]
        and "attachment" in doc.headers["content-disposition"]
    )
    # the same paper under the one table: A's people and the province's operator, no one else
    for username, status in (("tk.a", 200), ("vh.tinh", 200), ("tk.b", 404), ("vh.qt", 404)):
        other, _ = login(username)
        assert other.get(link.group(1)).status_code == status, username
    # the dossier page shows the decision and links its papers
    page = c.get(f"/dossiers/{second}").text
    assert f"Quyết định số {conferred.number} ngày {today}" in page
    assert f'href="{link.group(1)}"' in page and "Quyết định khen thưởng" in page
    # nothing waits any more
    assert "Không có hồ sơ nào chờ quyết định" in c.get("/decisions").text


def _last_decision_tasks() -> list[tuple[str, str]]:
    """The task runs (name, state) of the latest `issue-decision` run, from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["issue-decision"])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[runs[0].id])))
    return [(t.name.rsplit("-", 1)[0], t.state_type.value if t.state_type else "") for t in tasks]


def _flag_at_the_province(world) -> tuple[str, int]:
    """A village of A proposed for the province's emulation flag, walked up to the province, whose
    council (9 members) opens a meeting on it."""
    from sqlmodel import Session

    from flows.intake import intake_batch
    from models import nominations as nm
    from models.clock import today_vn
    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from models.meetings import open_meeting, waiting_key
    from tests.portal.conftest import row

    with Session(get_engine(world.url), expire_on_commit=False) as s:
        flag = {**row(A, "Thôn Cẩm Hoa"), "kind": "tập thể", "award": "co-thi-dua-tinh"}
        code = intake_batch(session=s, rows=[(2, flag)], source="seed").nominations[0]["code"]
        hierarchy = Hierarchy.load(s)
        n = nm.by_code(session=s, code=code)
        assert n is not None
        while hierarchy.get(n.current_unit_id).code != PROVINCE:
            nm.forward(session=s, nomination=n, hierarchy=hierarchy, act=nm.Act("hđ", today_vn()))
            nm.receive(session=s, nomination=n, hierarchy=hierarchy, act=nm.Act("vp", today_vn()))
        meeting = open_meeting(
            session=s,
            unit_id=hierarchy.by_code[PROVINCE].id,
            key=waiting_key("run-flag"),
            hierarchy=hierarchy,
            on=today_vn(),
        )
        s.commit()
        assert [a["code"] for a in meeting.agenda] == [code]
        return code, meeting.id


def test_6_present_and_3_written_of_9_pass_a_provincial_flag_through_the_grid_and_the_head_decides(
    world, prefect_api
) -> None:
    from sqlmodel import Session

    from flows.inputs import MeetingDecisions
    from models.clock import fmt_date, today_vn
    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from models.meetings import Meeting, apply_minutes
    from models.nominations import steps_of
    from models.portal import draft_of
    from portal.web import _check_grid

    code, meeting_id = _flag_at_the_province(world)
    today = fmt_date(today_vn())
    sec, csrf = login("tk.tinh")
    grid = {
        "csrf": csrf,
        "action": "save",
        "meeting_date": today,
        "members_present": "6",
        f"decision:{code}": "Thông qua",
        f"votes_for:{code}": "6",
        f"votes_written:{code}": "1",  # 6 + 1 of 9 is not 80 % of the members
    }
    r = sec.post(f"/meetings/{meeting_id}/minutes", data=grid)
    assert r.status_code == 400 and "và 1 phiếu bằng văn bản chưa đạt yêu cầu" in r.text, r.text[-1500:]
    r = sec.post(f"/meetings/{meeting_id}/minutes", data={**grid, f"votes_written:{code}": "3"})
    assert r.status_code == 303, r.text[-1500:]
    # what the chair's confirmation resumes the run with (portal/runs.py resume_meeting), applied as the
    # council-meeting run applies its input
    with Session(get_engine(world.url), expire_on_commit=False) as s:
        meeting = s.get(Meeting, meeting_id)
        draft = draft_of(s, meeting_id)
        assert meeting is not None and draft is not None and draft.ready
        hierarchy = Hierarchy.load(s)
    minutes, problems = _check_grid(meeting, draft.body, "Thư Ký Tỉnh (tk.tinh)", hierarchy)
    assert problems == [] and minutes is not None
    values = MeetingDecisions.run_input(minutes)
    assert values["agenda_items"][0]["written_for"] == 3 and values["members_present"] == 6
    with Session(get_engine(world.url), expire_on_commit=False) as s:
        meeting = s.get(Meeting, meeting_id)
        assert meeting is not None
        data = MeetingDecisions.model_validate(values).minutes_data()
        apply_minutes(session=s, meeting=meeting, minutes=data, hierarchy=Hierarchy.load(s))
        s.commit()
        n = __import__("models.nominations", fromlist=["by_code"]).by_code(session=s, code=code)
        step = steps_of(session=s, nomination_id=n.id)[-1]
        assert (step.action, step.votes_for, step.written_for, step.members_present, step.members_total) == (
            "recommend",
            6,
            3,
            6,
            9,
        )
    # the written votes are on the meeting's result and on the dossier's steps, as the CLI shows them
    for url in (f"/meetings/{meeting_id}", f"/dossiers/{code}"):
        assert "6/0/0 + 3/0/0 bằng văn bản (dự họp 6)" in sec.get(url).text, url
    # the province's registry decides the whole meeting: the decision is that meeting's
    reg, reg_csrf = login("vt.tinh")
    page = reg.get("/decisions").text
    assert code in page and "6 đồng ý + 3 bằng văn bản (dự họp 6)" in page
    r = reg.post(
        "/decisions",
        data={
            "csrf": reg_csrf,
            "number": "9/QĐ-UBND",
            "decision_date": today,
            "action": "confer",
            "code": [code],
        },
    )
    assert r.status_code == 200 and "Đã ghi quyết định khen thưởng số 9/QĐ-UBND" in r.text, r.text[-1500:]
    decision = _decisions(world)[-1]
    assert (decision.number, decision.meeting_id, decision.actor) == (
        "9/QĐ-UBND",
        meeting_id,
        "Văn Thư Tỉnh (vt.tinh)",
    )
    assert _status(world, code) == "conferred"
    # the commune's registry has no business with the province's decisions
    a, a_csrf = login("vt.a")
    assert a.post("/decisions", data={"csrf": a_csrf, "unit": PROVINCE, "code": [code]}).status_code == 404


def test_a_disabled_password_never_shows(world) -> None:
    c, _ = login("vt.a")
    assert PASSWORD not in c.get("/decisions").text
