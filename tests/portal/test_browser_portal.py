"""The portal in headless Chromium against a real `thidua up` (its portal child, its Prefect server and
served deployments): two communes of Thanh Hóa and their province. Secretary A uploads a list with one
bad row (refused, errors shown), fixes it, opens a meeting, enters the minutes with a written vote; the
chair confirms; the dossier reaches the province's inbox. Secretary B sees none of it; the province's
operator sees it; logout ends the session; a disabled user is out at their next click. Screenshots of
every page go to test-artifacts/portal/ (1366×768, and a phone's 390×844 for two pages)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.portal.conftest import csv_bytes, row
from tests.test_browser import browser, sync_api  # noqa: F401  (skips without Chromium/playwright)
from tests.test_up import Up, app_database, running, thidua_command, up_env  # noqa: F401

# The portal as a browser shows it; its pages and queries run on PostgreSQL in test_pages, test_authorization
# and test_decisions_page, so CI's PostgreSQL pass leaves this one out (any_database).
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.any_database]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
A = "thanh-hoa.cam-thach-2025"
B = "thanh-hoa.tay-do-2025"
PASSWORD = "mat-khau-cong-2026"
TIMEOUT_MS = 90_000


def _row(nominee: str, award: str = "bang-khen-tinh") -> dict:
    return row(A, nominee, award)


_csv = csv_bytes


def _thidua(up: Up, database: str | None, *args: str) -> subprocess.CompletedProcess:
    env = up_env(up.data_dir)
    if database:
        env["THIDUA_DATABASE_URL"] = database
    return subprocess.run([*thidua_command(), *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def accounts(running: Up, app_database: str | None, tmp_path_factory: pytest.TempPathFactory) -> dict:
    secret = tmp_path_factory.mktemp("pw") / "pw"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    users = {
        "tk.a": ("secretary", A, "Nguyễn Thị Thư"),
        "ct.a": ("chair", A, "Lê Văn Chủ"),
        "tk.b": ("secretary", B, "Trần Văn Bình"),
        "vh.tinh": ("operator", "thanh-hoa", "Phạm Thi Đua"),
    }
    for username, (role, unit, name) in users.items():
        r = _thidua(
            running,
            app_database,
            "users",
            "add",
            username,
            "--unit",
            unit,
            "--role",
            role,
            "--name",
            name,
            "--password-file",
            str(secret),
        )
        assert r.returncode == 0, r.stderr
    # a yearly report for every province (the real 30/11 one binds Quảng Trị, to 2025): the Báo cáo page files it
    plan = Path(__file__).parent.parent / "data" / "deadlines_every_province.yaml"
    r = _thidua(running, app_database, "deadlines", "load", str(plan))
    assert r.returncode == 0, r.stderr
    return users


def _page(browser: Any, width: int = 1366, height: int = 768) -> Any:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _log_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda u: "/login" not in u)


def _submit_list(page: Any, rows: list[dict]) -> None:
    """On the Nộp hồ sơ page: `rows` chosen as danh-sach.csv, then sent."""
    csv = {"name": "danh-sach.csv", "mimeType": "text/csv", "buffer": _csv(rows)}
    page.set_input_files("input[name=file]", csv)
    page.get_by_role("button", name="Nộp hồ sơ").click()


def test_two_communes_and_their_province_in_the_browser(running: Up, app_database, accounts, browser) -> None:
    expect = sync_api.expect
    expect.set_options(timeout=TIMEOUT_MS)
    url = running.info["portal_url"]
    assert url.startswith("http://127.0.0.1:")

    # --- secretary A: login, a refused file, the fixed file
    a = _page(browser)
    a.goto(f"{url}/inbox")
    expect(a).to_have_url(f"{url}/login?next=/inbox")
    _shot(a, "01-dang-nhap")
    _log_in(a, url, "tk.a")
    expect(a.get_by_role("heading", name="Hồ sơ chờ xét — xã Cẩm Thạch")).to_be_visible()
    _shot(a, "02-ho-so-cho-xet-trong")
    a.get_by_role("link", name="Nộp hồ sơ").click()
    _shot(a, "03-nop-ho-so")
    bad = [_row("Nguyễn Văn An"), _row("Lê Thị Bình", award="bang-khen-khong-co")]
    _submit_list(a, bad)
    expect(a.get_by_text("bị từ chối — 1 lỗi, không lưu dòng nào")).to_be_visible()
    _shot(a, "04-tep-bi-tu-choi")
    good = [_row("Nguyễn Văn An"), _row("Lê Thị Bình", award="giay-khen-xa")]
    _submit_list(a, good)
    expect(a.get_by_text("Đã tiếp nhận 2 hồ sơ")).to_be_visible()
    _shot(a, "05-da-tiep-nhan")
    code = a.locator("table tbody tr td a").first.inner_text()
    a.get_by_role("link", name="Hồ sơ chờ xét").click()
    expect(a.locator("table").get_by_text(code).first).to_be_visible()
    _shot(a, "06-ho-so-cho-xet")

    # --- the meeting: opened from the council-meeting deployment, minutes as a grid with a written vote
    a.get_by_role("link", name="Phiên họp", exact=True).click()
    _shot(a, "07-phien-hop")
    a.get_by_role("button", name="Mở phiên họp").click()
    opened = a.get_by_role("heading", name="Phiên họp #")
    expect(opened.or_(a.get_by_role("heading", name="Phiên họp đang mở"))).to_be_visible()
    deadline = time.monotonic() + 180  # a loaded machine: the run fixes the agenda after the page gave up
    while not opened.count() and time.monotonic() < deadline:
        a.goto(f"{url}/meetings")
        link = a.locator("table a", has_text="#")
        if link.count():
            link.first.click()
        else:
            time.sleep(3)
    expect(opened).to_be_visible()
    meeting_url = a.url
    present = str(int(a.locator("input[name=members_present]").input_value()) - 1)  # one member absent
    a.locator("input[name=members_present]").fill(present)
    a.locator("input[name=all_votes_for]").fill(present)
    a.locator("input[name=all_votes_written]").fill("1")  # the absent member's written ballot
    _shot(a, "08-bien-ban")
    a.get_by_role("button", name="Thông qua tất cả").click()
    expect(a.get_by_text("chờ Chủ tịch Hội đồng xác nhận")).to_be_visible()
    expect(a.get_by_role("button", name="Xác nhận biên bản và áp dụng")).to_have_count(0)
    _shot(a, "09-bien-ban-da-luu")
    assert a.url == meeting_url  # saved: back on the meeting's page
    a.goto(f"{url}/dossiers/{code}")
    expect(a.get_by_role("heading", name=code)).to_be_visible()
    _shot(a, "10-ho-so")
    a.get_by_role("link", name="Thư", exact=True).click()
    _shot(a, "11-thu")
    a.get_by_role("link", name="Báo cáo", exact=True).click()
    a.set_input_files(
        "input[name=file]",
        {"name": "bao-cao-2025.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 bao cao"},
    )
    a.locator("input[name=year]").fill("2025")
    a.get_by_role("button", name="Nộp báo cáo").click()
    expect(a.get_by_text("Đã nhận báo cáo năm 2025")).to_be_visible()
    _shot(a, "12-bao-cao")
    a.get_by_role("link", name="Đổi mật khẩu").click()
    _shot(a, "13-doi-mat-khau")
    phone = _page(browser, 390, 844)
    phone.context.add_cookies(a.context.cookies())
    phone.goto(meeting_url)
    _shot(phone, "14-bien-ban-dien-thoai")
    phone.goto(f"{url}/inbox")
    _shot(phone, "15-ho-so-cho-xet-dien-thoai")
    a.get_by_role("button", name="Đăng xuất").click()
    expect(a).to_have_url(f"{url}/login")
    a.goto(f"{url}/inbox")
    expect(a).to_have_url(f"{url}/login?next=/inbox")  # logout ended the session (the phone's too)
    phone.goto(f"{url}/inbox")
    expect(phone).to_have_url(f"{url}/login?next=/inbox")

    # --- the chair confirms: the run resumes, the page shows the result
    chair = _page(browser)
    _log_in(chair, url, "ct.a")
    chair.goto(meeting_url)
    chair.get_by_role("button", name="Xác nhận biên bản và áp dụng").click()
    expect(chair.get_by_text("Đã áp dụng biên bản.")).to_be_visible()
    expect(chair.get_by_text("Nguyễn Thị Thư (tk.a); xác nhận: Lê Văn Chủ (ct.a)").first).to_be_visible()
    _shot(chair, "16-da-ap-dung")

    # --- the province's operator: the dossier reaches the province's inbox
    op = _page(browser)
    _log_in(op, url, "vh.tinh")
    _shot(op, "17-tinh-hinh-bao-cao")
    deadline = time.monotonic() + 90
    while True:
        op.goto(f"{url}/inbox?unit=thanh-hoa")
        if op.locator("table").get_by_text(code).count() or time.monotonic() > deadline:
            break
        time.sleep(2)
    expect(op.locator("table").get_by_text(code).first).to_be_visible()
    _shot(op, "18-ho-so-cho-xet-tinh")
    op.goto(meeting_url)
    expect(op.get_by_text("Lượt chạy Prefect")).to_be_visible()  # operators get the run's link
    _shot(op, "19-phien-hop-van-hanh")
    op.get_by_role("link", name="Tổng hợp", exact=True).click()
    expect(op.locator("svg").first).to_be_visible()
    _shot(op, "21-tong-hop")

    # --- secretary B sees none of it, and is out at the next click once disabled
    b = _page(browser)
    _log_in(b, url, "tk.b")
    expect(b.get_by_text(code)).to_have_count(0)
    response = b.goto(f"{url}/dossiers/{code}")
    assert response is not None and response.status == 404
    _shot(b, "20-khong-tim-thay")
    response = b.goto(meeting_url)
    assert response is not None and response.status == 404
    r = _thidua(running, app_database, "users", "disable", "tk.b")
    assert r.returncode == 0, r.stderr
    b.goto(f"{url}/inbox")
    expect(b).to_have_url(f"{url}/login?next=/inbox")
    portal_log = (running.data_dir / "logs" / "portal.log").read_text(encoding="utf-8")
    assert PASSWORD not in portal_log and PASSWORD not in running.log()
