"""Nộp hồ sơ in headless Chromium against the portal app (uvicorn on 127.0.0.1, the portal world's
SQLite database): with JavaScript a file is sent with XMLHttpRequest and a progress bar and text follow
the upload (the upload is slowed to 0.5 MB/s so the bar is seen moving), then the server's answer replaces
the page; without JavaScript the same form is posted as a plain HTML form and answers the same. The file
names another unit's dossier, so it is refused by the portal before any flow runs (no Prefect needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.portal.conftest import PASSWORD, A, B, csv_bytes, row, serve_portal
from tests.test_browser import browser, sync_api  # noqa: F401  (skips without Chromium/playwright)

pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def portal_url(world) -> Iterator[str]:
    with serve_portal() as url:
        yield url


def _logged_in(browser: Any, url: str, *, javascript: bool) -> Any:
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="vi-VN", java_script_enabled=javascript
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{url}/login?next=/nominate")
    page.get_by_label("Tên đăng nhập").fill("tk.a")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{url}/nominate")
    return page


def _big_file(rows: int = 1500) -> bytes:
    """About 2 MB: A's dossiers with a long account of achievements, and one row of B's."""
    long = "Hiến đất, góp công làm đường giao thông nông thôn và nhà văn hóa thôn. " * 15
    data = [{**row(A, f"Người Số {i:04d}"), "achievement": long} for i in range(rows)]
    data.append({**row(B, "Người Xã Khác"), "achievement": long})
    return csv_bytes(data)


def test_a_large_file_shows_its_upload_progress_then_the_answer(world, portal_url, browser) -> None:  # noqa: F811
    expect = sync_api.expect
    page = _logged_in(browser, portal_url, javascript=True)
    sent: list[tuple[str, str]] = []
    page.on("request", lambda r: sent.append((r.resource_type, r.url)) if r.method == "POST" else None)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 512 * 1024},
    )
    content = _big_file()
    assert len(content) > 3 * 2**19
    page.set_input_files(
        "input[name=file]", {"name": "danh-sach-lon.csv", "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Nộp hồ sơ").click()
    # the bar moves while the file goes up, and the text says how much
    page.wait_for_function(
        "() => { const b = document.querySelector('form[action=\"/nominate\"] progress');"
        " return b && !b.hidden && b.value > 0 && b.value < 100; }"
    )
    status = page.locator("form[action='/nominate'] p.progress")
    expect(status).to_contain_text("Đang gửi tệp:")
    expect(status).to_contain_text("MB)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "03b-nop-ho-so-dang-gui.png"), full_page=True)
    # then the server's answer replaces the page: the row of another unit, nothing stored
    expect(page.get_by_text("bị từ chối — 1 lỗi, không lưu dòng nào")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("không phải đơn vị của bạn")).to_be_visible()
    assert ("xhr", f"{portal_url}/nominate") in sent


def test_without_javascript_the_form_is_posted_as_it_is(world, portal_url, browser) -> None:  # noqa: F811
    expect = sync_api.expect
    page = _logged_in(browser, portal_url, javascript=False)
    sent: list[tuple[str, str]] = []
    page.on("request", lambda r: sent.append((r.resource_type, r.url)) if r.method == "POST" else None)
    page.set_input_files(
        "input[name=file]",
        {"name": "danh-sach.csv", "mimeType": "text/csv", "buffer": csv_bytes([row(B, "Người Xã Khác")])},
    )
    page.get_by_role("button", name="Nộp hồ sơ").click()
    expect(page.get_by_text("bị từ chối — 1 lỗi, không lưu dòng nào")).to_be_visible()
    assert ("document", f"{portal_url}/nominate") in sent
    assert page.locator("form[action='/nominate'] progress").is_hidden()
