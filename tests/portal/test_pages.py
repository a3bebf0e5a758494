"""The pages doing their work: a nomination file through the `intake` flow on the session's Prefect test
API (as `thidua nominate`), refused files storing nothing, the minutes grid checked per row with the
input kept, yearly reports stored with their hash, letters as sent, Vietnamese everywhere."""

from __future__ import annotations

import hashlib

from tests.portal.conftest import PROVINCE, A, B, csv_bytes, login, row

_csv = csv_bytes


def _count(world, model) -> int:
    from sqlalchemy import func, select
    from sqlmodel import Session

    from models.db import get_engine

    with Session(get_engine(world.url)) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_file_with_a_bad_row_is_refused_whole_then_the_fixed_file_goes_through_intake(
    world, prefect_api
) -> None:
    from sqlmodel import Session, select

    from models.db import get_engine
    from models.nominations import IntakeBatch, Nomination, NominationStep

    c, csrf = login("tk.a")
    before = _count(world, Nomination)
    bad = [row(A, "Phạm Văn Dũng"), row(A, "Đỗ Thị Én", award="khong-co-hinh-thuc-nay")]
    r = c.post("/nominate", data={"csrf": csrf}, files={"file": ("ds.csv", _csv(bad), "text/csv")})
    assert r.status_code == 400
    assert "bị từ chối" in r.text and "không lưu dòng nào" in r.text
    assert '<td class="num">3</td>' in r.text  # the bad row named by its number in the sheet
    assert _count(world, Nomination) == before
    other_unit = [row(A, "Phạm Văn Dũng"), row(B, "Ngô Văn Phúc")]
    r = c.post("/nominate", data={"csrf": csrf}, files={"file": ("ds.csv", _csv(other_unit), "text/csv")})
    assert r.status_code == 400 and "không phải đơn vị của bạn" in r.text
    assert _count(world, Nomination) == before
    good = [row(A, "Phạm Văn Dũng"), row(A, "Đỗ Thị Én")]
    r = c.post("/nominate", data={"csrf": csrf}, files={"file": ("ds.csv", _csv(good), "text/csv")})
    assert r.status_code == 200, r.text
    assert "Đã tiếp nhận 2 hồ sơ" in r.text
    assert "Lượt chạy Prefect" not in r.text  # the run's link is for operators only
    assert _count(world, Nomination) == before + 2
    with Session(get_engine(world.url)) as s:
        batch = s.exec(select(IntakeBatch).order_by(IntakeBatch.id.desc())).first()  # type: ignore[union-attr]
        assert batch is not None and batch.actor == "Nguyễn Thư Ký A (tk.a)" and batch.source == "ds.csv"
        steps = s.exec(select(NominationStep).where(NominationStep.action == "submit")).all()
        assert any(st.actor == "Nguyễn Thư Ký A (tk.a)" for st in steps)


def test_only_a_secretary_submits_and_the_template_downloads(world) -> None:
    op, csrf = login("vh.tinh")
    assert op.get("/nominate").status_code == 403
    r = op.post(
        "/nominate", data={"csrf": csrf}, files={"file": ("ds.csv", _csv([row(A, "X Y")]), "text/csv")}
    )
    assert r.status_code == 403
    c, _ = login("tk.a")
    t = c.get("/nominate/mau-ho-so.xlsx")
    assert t.status_code == 200 and t.content[:2] == b"PK"
    assert "attachment" in t.headers["content-disposition"]


def test_a_wrong_file_type_is_refused_in_words(world) -> None:
    c, csrf = login("tk.a")
    r = c.post(
        "/nominate", data={"csrf": csrf}, files={"file": ("ds.exe", b"MZ", "application/octet-stream")}
    )
    assert r.status_code == 400 and "không đúng loại" in r.text


def test_the_inbox_shows_due_dates_in_working_days_and_counts_by_form(world) -> None:
    c, _ = login("tk.a")
    page = c.get("/inbox").text
    assert "Hồ sơ chờ xét — xã Cẩm Thạch" in page
    assert "ngày làm việc" in page
    assert "Giấy khen" in page  # counts by form
    assert world.codes[A] in page


def test_minutes_with_a_wrong_row_are_refused_per_row_with_the_input_kept(world) -> None:
    from sqlmodel import Session

    from models.db import get_engine
    from models.meetings import Meeting, MeetingStatus

    meeting_id = world.meetings[A]
    c, csrf = login("tk.a")
    page = c.get(f"/meetings/{meeting_id}")
    assert page.status_code == 200 and "Biên bản họp" in page.text
    with Session(get_engine(world.url)) as s:
        agenda = s.get(Meeting, meeting_id).agenda  # type: ignore[union-attr]
    first, second = agenda[0]["code"], agenda[1]["code"]
    form = {
        "csrf": csrf,
        "action": "save",
        "meeting_date": "",  # refused: no date
        "members_present": "7",
        f"decision:{first}": "Không thông qua",  # a rejection needs its reason
        f"votes_for:{first}": "1",
        f"votes_against:{first}": "6",
        f"note:{first}": "",
        f"decision:{second}": "Thông qua",
        f"votes_for:{second}": "sáu",  # not a number
        f"note:{second}": "ghi chú giữ nguyên",
        f"votes_written:{second}": "hai",  # written ballots: a number or for/against/abstain
    }
    r = c.post(f"/meetings/{meeting_id}/minutes", data=form)
    assert r.status_code == 400
    assert "chưa áp dụng gì" in r.text
    assert 'class="bad"' in r.text
    assert "ghi chú giữ nguyên" in r.text and 'value="sáu"' in r.text  # what was typed is kept
    assert "Ngày họp" in r.text
    assert "Phiếu bằng văn bản: «hai»" in r.text and 'value="hai"' in r.text
    with Session(get_engine(world.url)) as s:
        assert s.get(Meeting, meeting_id).status == MeetingStatus.open  # type: ignore[union-attr]
    # the common case: approve everything with the same votes; the draft then waits for the chair
    ok = {
        "csrf": csrf,
        "action": "approve_all",
        "meeting_date": "01/12/2026",
        "members_present": "6",  # one of the 7 members absent: their written ballot
        "all_votes_for": "5",
        "all_votes_against": "1",
        "all_votes_written": "1",
    }
    r = c.post(f"/meetings/{meeting_id}/minutes", data=ok)
    assert r.status_code == 303 and r.headers["location"] == f"/meetings/{meeting_id}", r.text
    r = c.get(r.headers["location"])
    assert "chờ Chủ tịch Hội đồng xác nhận" in r.text
    assert "Xác nhận biên bản" not in r.text  # the secretary does not confirm
    chair, chair_csrf = login("ct.a")
    page = chair.get(f"/meetings/{meeting_id}").text
    assert "Xác nhận biên bản và áp dụng" in page
    # the chair reads the minutes (no grid to type in, no save or approve-all button) and confirms
    assert "Thông qua tất cả" not in page and "Lưu và kiểm tra biên bản" not in page
    assert f'name="votes_for:{first}"' not in page and "data-draft" not in page
    assert "Ngày họp: <strong>01/12/2026</strong>" in page and "5 / 1 / 0" in page
    r = chair.post(f"/meetings/{meeting_id}/confirm", data={"csrf": chair_csrf})
    assert r.status_code == 409 and "dịch vụ chưa chạy" in r.text  # resuming needs the running service
    with Session(get_engine(world.url)) as s:
        assert s.get(Meeting, meeting_id).status == MeetingStatus.open  # type: ignore[union-attr]


def test_a_minutes_sheet_goes_into_the_grid_checked_per_row_with_nothing_applied(world) -> None:
    """The file `thidua meeting decide --file` reads, uploaded into the grid: saved as the draft, every
    problem on its row (or named by the sheet's row when it names no agenda item), nothing applied."""
    from sqlmodel import Session

    from models.db import get_engine
    from models.meetings import Meeting, MeetingStatus
    from models.portal import draft_of

    meeting_id = world.meetings[A]
    with Session(get_engine(world.url)) as s:
        agenda = s.get(Meeting, meeting_id).agenda  # type: ignore[union-attr]
    first, second = agenda[0]["code"], agenda[1]["code"]
    header = (
        "Mã hồ sơ,Quyết định,Đồng ý,Không đồng ý,Không biểu quyết,Văn bản: đồng ý,Lý do / nội dung bổ sung\n"
    )
    bad = (
        header
        + f"{first},thông qua,5,1,0,1,\n{second},không thông qua,1,5,0,0,\nHS2099-999999,thông qua,6,0,0,0,\n"
    )
    c, csrf = login("tk.a")
    form = {"csrf": csrf, "meeting_date": "01/12/2026", "members_present": "6"}
    r = c.post(
        f"/meetings/{meeting_id}/minutes/file",
        data=form,
        files={"file": ("bien-ban.csv", bad.encode(), "text/csv")},
    )
    assert r.status_code == 400, r.text[-1500:]
    assert "dòng 4: hồ sơ «HS2099-999999» không có trong chương trình họp" in r.text
    assert "không thông qua thì phải ghi rõ lý do" in r.text
    assert f'name="votes_written:{first}" value="1/0/0"' in r.text  # the sheet's cells, in the grid
    good = header + f"{first},thông qua,5,1,0,1,\n{second},không thông qua,1,5,0,0,chưa tiêu biểu\n"
    r = c.post(
        f"/meetings/{meeting_id}/minutes/file", data=form, files={"file": ("bien-ban.xlsx", b"not a sheet")}
    )
    assert r.status_code == 400 and "Chưa đọc tệp biên bản" in r.text
    r = c.post(
        f"/meetings/{meeting_id}/minutes/file",
        data=form,
        files={"file": ("bien-ban.csv", good.encode(), "text/csv")},
    )
    assert r.status_code == 303, r.text[-1500:]
    with Session(get_engine(world.url)) as s:
        draft = draft_of(s, meeting_id)
        assert draft is not None and draft.ready and draft.saved_by == "Nguyễn Thư Ký A (tk.a)"
        assert draft.body["rows"][second]["note"] == "chưa tiêu biểu"
        assert s.get(Meeting, meeting_id).status == MeetingStatus.open  # type: ignore[union-attr]


def test_a_yearly_report_is_stored_with_its_hash_and_a_second_is_an_amendment(world) -> None:
    from sqlmodel import Session, select

    from models.db import get_engine
    from models.portal import ReportUpload

    c, csrf = login("tk.b")
    body = "Báo cáo tổng kết phong trào năm 2025".encode()
    r = c.post("/reports", data={"csrf": csrf, "year": "2025"}, files={"file": ("bao-cao-2025.pdf", body)})
    assert r.status_code == 200 and "Đã nhận báo cáo năm 2025" in r.text, r.text
    r = c.post(
        "/reports", data={"csrf": csrf, "year": "2025"}, files={"file": ("bao-cao-2025-bs.pdf", b"v2")}
    )
    assert "Đã nhận bản bổ sung năm 2025" in r.text
    with Session(get_engine(world.url)) as s:
        stored = s.exec(select(ReportUpload).where(ReportUpload.file_name == "bao-cao-2025.pdf")).one()
    assert stored.sha256 == hashlib.sha256(body).hexdigest() and stored.content == body
    assert stored.uploaded_by == "Trần Thư Ký B (tk.b)"
    op, _ = login("vh.tinh")
    status = op.get("/reports/status?year=2025")
    assert status.status_code == 200
    assert "xã Tây Đô" in status.text and "chưa nộp" in status.text  # B filed, others owe
    sec, _ = login("tk.a")
    assert sec.get("/reports/status?year=2025").status_code == 403


def test_letters_show_what_was_sent_to_the_unit(world) -> None:
    c, _ = login("tk.a")
    page = c.get("/letters")
    assert page.status_code == 200 and "Thư gửi xã Cẩm Thạch" in page.text
    assert "<details" in page.text  # the intake queued the council's digest
    other, _ = login("tk.b")
    assert world.codes[A] not in other.get("/letters").text
    province, _ = login("tk.tinh")
    assert province.get(f"/letters?unit={A}").status_code == 200
    assert province.get(f"/letters?unit={PROVINCE}").status_code == 200


def test_the_summary_draws_the_areas_figures_as_svg_with_tables(world) -> None:
    op, _ = login("vh.tinh")
    page = op.get("/summary")
    assert page.status_code == 200
    assert "Tổng hợp phong trào — tỉnh Thanh Hóa" in page.text
    assert page.text.count("<svg") == 4 and "<rect" in page.text
    assert (
        "Hồ sơ theo trạng thái" in page.text and "đã nộp" in page.text
    )  # the statuses of the seeded dossiers
    other, _ = login("vh.qt")
    assert "Thanh Hóa" not in other.get("/summary").text.split("<main>")[1]


def test_returned_dossiers_show_their_completion_deadline_or_the_days_since_return(world) -> None:
    """Hồ sơ chờ xét: a dossier returned for completion shows its «Hạn bổ sung» with the working days
    left (overdue in red); one returned without a deadline shows the day it came back and the working
    days since. Every returned one is listed, however many newer dossiers the unit proposed."""
    from datetime import timedelta

    from sqlmodel import Session

    from flows.intake import intake_batch
    from models.calendar import add_working_days, working_days_between
    from models.clock import fmt_date, today_vn
    from models.db import get_engine
    from models.nominations import Act, by_code, return_for_completion
    from portal.web import PROPOSED_SHOWN

    today = today_vn()
    with Session(get_engine(world.url), expire_on_commit=False) as s:
        result = intake_batch(
            session=s,
            rows=[(2, row(A, "Phạm Văn Hạn")), (3, row(A, "Vũ Thị Trễ")), (4, row(A, "Đỗ Văn Cũ"))],
            source="returned-test",
        )
        codes = [n["code"] for n in result.nominations]
        due, late, old = (by_code(session=s, code=c) for c in codes)
        returned_on = today - timedelta(days=20)
        deadline = add_working_days(today, 5)
        for n, d in ((due, deadline), (late, today - timedelta(days=10)), (old, None)):
            assert n is not None
            act = Act("Hội đồng xã", returned_on, unit_id=n.current_unit_id, note="Bổ sung bản thành tích")
            return_for_completion(session=s, nomination=n, act=act, deadline=d)
        assert old is not None
        old.return_deadline = None  # returned before deadlines were kept
        s.add(old)
        s.commit()
        # many newer dossiers: the returned ones are not pushed off the page
        intake_batch(
            session=s,
            rows=[(i + 2, row(A, f"Người Mới {i:03d}")) for i in range(PROPOSED_SHOWN + 5)],
            source="newer",
        )
        s.commit()
    c, _ = login("tk.a")
    page = c.get("/inbox").text
    section = page[page.index("chờ bổ sung</h2>") : page.index("đã đề nghị</h2>")]
    rows = {
        code: section[section.index(code) : section.index("</tr>", section.index(code))] for code in codes
    }
    assert fmt_date(deadline) in rows[codes[0]]
    assert f"{working_days_between(today, deadline)} ngày làm việc" in rows[codes[0]]
    assert "quá hạn" not in rows[codes[0]]
    assert "quá hạn" in rows[codes[1]]
    late_row = section[section.rfind("<tr", 0, section.index(codes[1])) :]
    assert late_row.startswith('<tr class="overdue"')
    assert "không ghi hạn" in rows[codes[2]]
    assert fmt_date(returned_on) in rows[codes[2]]
    since = working_days_between(returned_on, today)
    assert f"đã {since} ngày làm việc từ khi trả lại" in rows[codes[2]]
    assert "3</strong> hồ sơ bị trả lại chờ bổ sung" in page


def test_the_minutes_grid_takes_a_completion_deadline_for_a_returned_dossier(world) -> None:
    """«Hạn bổ sung» in the grid (and in the minutes sheet, as `thidua meeting decide --file` reads it):
    a date that cannot be read is shown on its row with the input kept; a good one is kept in the draft
    and goes into the minutes the chair confirms."""
    from sqlmodel import Session

    from models.db import get_engine
    from models.meetings import Meeting, MeetingStatus
    from models.portal import draft_of
    from portal.web import _minutes_data

    meeting_id = world.meetings[A]
    with Session(get_engine(world.url)) as s:
        agenda = s.get(Meeting, meeting_id).agenda  # type: ignore[union-attr]
    first, second = agenda[0]["code"], agenda[1]["code"]
    c, csrf = login("tk.a")
    assert 'name="deadline:' in c.get(f"/meetings/{meeting_id}").text
    form = {
        "csrf": csrf,
        "action": "save",
        "meeting_date": "01/12/2026",
        "members_present": "6",
        f"decision:{first}": "Trả lại bổ sung",
        f"note:{first}": "Bổ sung bản thành tích có xác nhận",
        f"deadline:{first}": "31/02/2027",
        f"decision:{second}": "Thông qua",
        f"votes_for:{second}": "6",
    }
    r = c.post(f"/meetings/{meeting_id}/minutes", data=form)
    assert r.status_code == 400
    assert "Hạn bổ sung: ngày «31/02/2027» không hợp lệ" in r.text
    assert f'name="deadline:{first}" value="31/02/2027"' in r.text
    # a date in another form than dd/mm/yyyy is refused on its row, never read as something else
    r = c.post(f"/meetings/{meeting_id}/minutes", data={**form, f"deadline:{first}": "2026-12-20"})
    assert r.status_code == 400
    assert "Hạn bổ sung: ngày «2026-12-20» không hợp lệ, cần dạng dd/mm/yyyy" in r.text
    assert f'name="deadline:{first}" value="2026-12-20"' in r.text
    r = c.post(f"/meetings/{meeting_id}/minutes", data={**form, f"deadline:{first}": "15/01/2027"})
    assert r.status_code == 303, r.text[-1500:]
    with Session(get_engine(world.url)) as s:
        draft = draft_of(s, meeting_id)
        assert draft is not None and draft.ready
        assert draft.body["rows"][first]["deadline"] == "15/01/2027"
        data, problems = _minutes_data(draft.body, "x")
        assert not problems
        assert {d["code"]: d.get("deadline") for d in data["decisions"]}[first].isoformat() == "2027-01-15"
        assert s.get(Meeting, meeting_id).status == MeetingStatus.open  # type: ignore[union-attr]
    # the same column in the minutes sheet lands in the grid
    sheet = (
        "Mã hồ sơ,Quyết định,Đồng ý,Lý do / nội dung bổ sung,Hạn bổ sung\n"
        f"{first},trả lại bổ sung,,Bổ sung bản thành tích,20/01/2027\n{second},thông qua,6,,\n"
    )
    r = c.post(
        f"/meetings/{meeting_id}/minutes/file",
        data={"csrf": csrf, "meeting_date": "01/12/2026", "members_present": "6"},
        files={"file": ("bien-ban.csv", sheet.encode(), "text/csv")},
    )
    assert r.status_code == 303, r.text[-1500:]
    with Session(get_engine(world.url)) as s:
        draft = draft_of(s, meeting_id)
        assert draft is not None and draft.body["rows"][first]["deadline"] == "20/01/2027"


def test_a_dossier_shows_only_the_letters_about_it_that_the_viewer_may_read(world) -> None:
    """A letter to another unit that names the dossier (a digest, a namesake warning) stays with that unit,
    and a code is matched whole: the dossier page used to list every letter whose text contained the code."""
    from sqlmodel import Session

    from models.db import get_engine
    from models.hierarchy import Hierarchy
    from notifications.outbox import OutboxMessage
    from portal.web import unit_addresses

    code = world.codes[A]
    with Session(get_engine(world.url)) as s:
        hierarchy = Hierarchy.load(s)
        to_a = unit_addresses(s, hierarchy.by_code[A])[0]
        to_b = unit_addresses(s, hierarchy.by_code[B])[0]
        for key, to, body in (
            ("to-a", to_a, f"Hồ sơ {code} đã được tiếp nhận."),
            ("to-b", to_b, f"Cùng tên với hồ sơ {code} của xã Cẩm Thạch: thư riêng của xã Tây Đô."),
            ("to-a-other", to_a, f"Hồ sơ {code}7 là một hồ sơ khác."),
        ):
            s.add(
                OutboxMessage(
                    key=f"test-letters-about:{key}",
                    category="test",
                    to_email=to,
                    subject=f"Thư thử {key}",
                    text_body=body,
                    html_body=f"<p>{body}</p>",
                    message_id=f"<{key}@thidua.test>",
                )
            )
        s.commit()
    for username in ("tk.a", "vh.tinh"):
        c, _ = login(username)
        page = c.get(f"/dossiers/{code}")
        assert page.status_code == 200
        assert "Thư thử to-a " in page.text, username
        assert "Thư thử to-b" not in page.text and "thư riêng của xã Tây Đô" not in page.text, username
        assert "Thư thử to-a-other" not in page.text, username


def test_a_meetings_result_reads_in_vietnamese(world) -> None:
    """Phiên họp, column Kết quả: every outcome by its Vietnamese label (never `recommended: 3`)."""
    from portal.web import templates

    counts = {"recommended": 3, "conferred": 1, "forwarded": 2, "rejected": 1, "returned": 1}
    text = templates.env.from_string(
        "{% for k, v in counts.items() %}{{ k|outcome }}: {{ v }}; {% endfor %}"
    ).render(counts=counts)
    assert "recommended" not in text and "conferred" not in text
    assert "đề nghị khen thưởng, chờ quyết định: 3" in text and "trả lại bổ sung: 1" in text
    meetings = templates.env.loader.get_source(templates.env, "meetings.html")[0]  # type: ignore[union-attr]
    assert "|outcome" in meetings


def test_the_operators_first_page_is_the_latest_year_that_has_a_due_date(world) -> None:
    """Without a year, Tình hình nộp báo cáo shows the latest year a plan sets a due date for (not an error
    box for this year); a year asked for without one is still refused in words."""
    from sqlmodel import Session, select

    from models.clock import today_vn
    from models.db import get_engine
    from models.deadlines import Deadline

    last = today_vn().year - 1
    with Session(get_engine(world.url)) as s:
        row = s.exec(select(Deadline).where(Deadline.code == "bao-cao-nam-mau")).one()
        kept = dict(row.spec)
        row.spec = {**kept, "last_year": last}  # the plan ends last year: nothing is due this year
        s.add(row)
        s.commit()
    try:
        op, _ = login("vh.tinh")
        first = op.get(op.get("/").headers["location"])
        assert first.status_code == 200
        assert f"Tình hình nộp báo cáo năm {last}" in first.text
        assert 'class="error"' not in first.text and "hạn nộp 30/11/" in first.text
        asked = op.get(f"/reports/status?year={today_vn().year}")
        assert 'class="error"' in asked.text and f"năm {today_vn().year}" in asked.text
    finally:
        with Session(get_engine(world.url)) as s:
            row = s.exec(select(Deadline).where(Deadline.code == "bao-cao-nam-mau")).one()
            row.spec = kept
            s.add(row)
            s.commit()
