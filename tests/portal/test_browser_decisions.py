"""The Quyết định page in headless Chromium (1366×768) against the portal served by uvicorn on
127.0.0.1, on the test world (tests/portal/conftest.py) and the session's Prefect test API: the registry
of xã Cẩm Thạch (after its secretary's grid was saved as she typed) sees the dossiers its council recommended, types a wrong number (refused, input kept),
then records the decision with automatic numbering and downloads its DOCX. Screenshots go to
test-artifacts/portal/ (decisions-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from models.clock import VN
from tests.portal.conftest import PASSWORD, serve_portal
from tests.portal.test_decisions_page import _recommend_at_a
from tests.test_browser import browser, sync_api  # noqa: F401  (skips without Chromium/playwright)

pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"


@pytest.fixture(scope="module")
def served(world, prefect_api) -> Iterator[str]:
    with serve_portal() as url:
        yield url


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def test_the_minutes_grid_is_saved_as_the_secretary_types(world, served, browser) -> None:  # noqa: F811
    """portal.js (no inline script: the CSP allows none) saves the draft a second after the last key."""
    from sqlmodel import Session

    from models.db import get_engine
    from models.meetings import Meeting
    from models.portal import draft_of

    meeting_id = world.meetings["thanh-hoa.cam-thach-2025"]
    with Session(get_engine(world.url)) as s:
        code = s.get(Meeting, meeting_id).agenda[0]["code"]  # type: ignore[union-attr]
    # a browser whose clock is set to New York: the draft's time is still Vietnam's, as the server's
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="vi-VN", timezone_id="America/New_York"
    )
    context.set_default_timeout(90_000)
    page = context.new_page()
    _login(page, served, "tk.a")
    page.goto(f"{served}/meetings/{meeting_id}")
    before = datetime.now(VN)
    page.locator(f"textarea[name='note:{code}']").fill("Thôn tiêu biểu, đề nghị khen")
    page.get_by_text("Đã lưu nháp lúc").wait_for()
    saved = page.locator(".draft-state").inner_text()
    after = datetime.now(VN)
    assert any(f"lúc {t:%H:%M}" in saved for t in (before, after)), (saved, before, after)
    _shot(page, "meeting-draft-saved")
    with Session(get_engine(world.url)) as s:
        draft = draft_of(s, meeting_id)
        assert draft is not None and draft.body["rows"][code]["note"] == "Thôn tiêu biểu, đề nghị khen"
    context.close()


def _login(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{url}/**")


def test_the_registry_records_the_heads_decision_in_the_browser(world, served, browser) -> None:  # noqa: F811
    codes = _recommend_at_a(world)
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="vi-VN", accept_downloads=True
    )
    context.set_default_timeout(90_000)
    page = context.new_page()
    _login(page, served, "vt.a")
    page.get_by_role("link", name="Quyết định").first.click()
    page.wait_for_url("**/decisions")
    for code in codes:
        assert page.locator(f"input[name=code][value='{code}']").is_checked()
    page.locator("input[name=number]").fill("123")
    page.locator("input[name=signer]").fill("KT. CHỦ TỊCH – PHÓ CHỦ TỊCH")
    _shot(page, "decisions")
    page.get_by_role("button", name="Ghi quyết định").click()
    problem = page.get_by_role("alert")
    assert "không đúng dạng số/ký hiệu" in problem.inner_text()
    assert page.locator("input[name=number]").input_value() == "123"  # kept
    _shot(page, "decisions-problem")
    page.locator("input[name=number]").fill("")
    page.locator("input[name=auto_number]").check()
    page.get_by_role("button", name="Ghi quyết định").click()
    result = page.get_by_role("status")
    assert "Đã ghi quyết định khen thưởng số" in result.inner_text()
    _shot(page, "decisions-issued")
    with page.expect_download() as download:
        result.locator("a[download]").first.click()
    assert download.value.suggested_filename.endswith(".docx")
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"
    context.close()


def test_a_meetings_tables_fit_a_phone(world, served, browser) -> None:  # noqa: F811
    """At 390×844 the meeting's tables (its agenda, the decisions recorded) and the list of meetings read
    as one card per row: nothing is cut off or needs a sideways scroll (the registry test applied A's)."""
    meeting_id = world.meetings["thanh-hoa.cam-thach-2025"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    context.set_default_timeout(90_000)
    page = context.new_page()
    _login(page, served, "tk.a")
    for url in (f"{served}/meetings/{meeting_id}", f"{served}/meetings"):
        page.goto(url)
        assert page.locator("table.cards tbody tr").count() > 0, url
        wide = page.evaluate(
            """() => [...document.querySelectorAll('.scroll')]
                .filter(e => e.scrollWidth > e.clientWidth + 1).length"""
        )
        right = page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('table.cards td')]"
            ".map(td => td.getBoundingClientRect().right))"
        )
        assert wide == 0 and right <= 390, (url, wide, right)
    _shot(page, "meetings-phone")
    context.close()
