"""The staff queue at phone width (375 px) and the catalog's keyword box, in a real browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from machi.cases.tests.helpers import make_procedure, submit
from tests.e2e.conftest import screenshot, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page the size of a small smartphone (iPhone SE/mini class: 375 × 667)."""
    context = browser.new_context(
        locale="ja-JP", viewport={"width": 375, "height": 667}, is_mobile=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def page_scrolls_sideways(page: Page) -> bool:
    return bool(
        page.evaluate(
            "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
    )


def test_queue_fits_a_phone_screen(phone: Page, live_server, kakogawa, kakogawa_handler):
    procedure = make_procedure(
        kakogawa, name="住居表示番号の交付申請（建物が新しく建ったとき・長い名前の手続）"
    )
    for _ in range(3):
        submit(procedure)
    sign_in(phone, live_server.url, kakogawa_handler.username)
    phone.goto(f"{live_server.url}/staff/cases/?department=all")
    rows = phone.locator("tr.queue-row")
    expect(rows).to_have_count(3)
    screenshot(phone, "queue-phone")
    assert not page_scrolls_sideways(phone)
    # Each case is a card: its cells stack, so a card is no wider than the screen.
    box = rows.first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert rows.first.locator("td[data-label='手続']").inner_text() == procedure.name


def test_queue_is_a_table_on_a_desktop(page: Page, live_server, kakogawa, kakogawa_handler):
    procedure = make_procedure(kakogawa, name="犬の登録")
    submit(procedure)
    sign_in(page, live_server.url, kakogawa_handler.username)
    page.goto(f"{live_server.url}/staff/cases/?department=all")
    assert page.locator(".queue-table thead").evaluate("e => getComputedStyle(e).position") == (
        "static"
    )
    assert page.locator("tr.queue-row").first.evaluate("e => getComputedStyle(e).display") == (
        "table-row"
    )


def test_catalog_keyword_box_looks_like_the_other_inputs(page: Page, live_server, kakogawa):
    make_procedure(kakogawa, name="犬の登録")
    page.goto(f"{live_server.url}/procedures/")
    keyword = page.locator("input[type=search]").first
    select = page.locator(".field select").first
    style = "e => { const s = getComputedStyle(e); return [s.borderTopWidth, s.borderTopStyle, s.borderTopColor, s.borderRadius, s.paddingLeft]; }"
    assert keyword.evaluate(style) == select.evaluate(style)
    assert keyword.evaluate(style)[0] == "2px"
