"""Fixtures for the end-to-end tests: a real headless Chromium driven by Playwright.

The browser is Debian's Chromium (``apt-get install chromium``), never one downloaded by
``playwright install``. Set MACHI_CHROMIUM to use another binary; when it is missing, every
e2e test is skipped with the reason instead of failing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django_otp.oath import TOTP

from machi.core.tests.factories import TEST_PASSWORD, TEST_TOTP_KEY

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("MACHI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Where to save screenshots for a human to look at (e.g. a CI artefact); unset: none are taken.
SCREENSHOT_DIR = os.environ.get("MACHI_E2E_SCREENSHOT_DIR", "")


def totp_code() -> str:
    """The current six-digit code of the test users' TOTP device."""
    totp = TOTP(bytes.fromhex(TEST_TOTP_KEY))
    totp.time = time.time()
    return f"{totp.token():06d}"


def wrong_totp_code() -> str:
    """A well-formed code that is not valid now (nor in the neighbouring time steps)."""
    totp = TOTP(bytes.fromhex(TEST_TOTP_KEY))
    totp.time = time.time() + 30 * 10
    return f"{totp.token():06d}"


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"e2e-{name}.png"), full_page=True)


def sign_in(page: Page, base_url: str, username: str, code: str | None = None) -> None:
    """Sign in through the real form: type into the fields and click the button."""
    page.goto(f"{base_url}/staff/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.fill("#id_otp_token", code or totp_code())
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"e2e: no Chromium at {CHROMIUM} (apt-get install chromium, or set MACHI_CHROMIUM)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an asyncio event loop running in this thread while it is
    # started, so Django's ORM, called from the test body or from fixtures (creating users,
    # transactional_db's flush), would raise SynchronousOnlyOperation. Those calls are really
    # synchronous and the live server answers in its own thread, so the check is switched off,
    # but only while the browser runs: the rest of the test session keeps the protection.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            # launch() gives each run a fresh temporary profile (user-data dir).
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context (no cookies), Japanese and at a desktop size."""
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
