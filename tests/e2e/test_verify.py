"""/verify/ in a real browser: a genuine and a tampered PDF read as two different verdicts.

The verdict leads (有効 / 無効 with the reason) and the two look different on screen: the
result styles come from a served static file (CSP allows no inline style), so the computed
colours differ, not just the words.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from machi.documents import services
from machi.documents.tests.conftest import (  # noqa: F401 - fixtures
    document_pki,
    documents_settings,
    make_application,
    procedure,
)
from machi.documents.tests.test_external_tools import tamper
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def _verdict_of(page: Page, base: str, pdf: Path) -> dict[str, str]:
    page.goto(f"{base}/verify/")
    page.set_input_files("#id_pdf", str(pdf))
    page.get_by_role("button", name="ファイルを確認する").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("検証結果")
    box = page.locator("#verify-verdict")
    return {
        "title": " ".join(box.locator(".verdict-title").inner_text().split()),
        "class": box.get_attribute("class") or "",
        "border": box.evaluate("el => getComputedStyle(el).borderTopColor"),
        "word_background": box.locator(".verdict-word").evaluate(
            "el => getComputedStyle(el).backgroundColor"
        ),
    }


def test_genuine_and_tampered_pdfs_read_and_look_different(
    page: Page,
    live_server,
    settings,
    make_application: Callable[..., object],  # noqa: F811
    documents_settings,  # noqa: F811
    tmp_path: Path,
):
    settings.MACHI_PUBLIC_BASE_URL = live_server.url
    document = services.document_issue(
        application=make_application(), actor=None, kind="certificate"
    )
    genuine = tmp_path / "genuine.pdf"
    genuine.write_bytes(services.document_read(document=document))
    forged = tmp_path / "tampered.pdf"
    forged.write_bytes(tamper(services.document_read(document=document)))

    valid = _verdict_of(page, live_server.url, genuine)
    screenshot(page, "verify-genuine")
    assert valid["title"] == "有効"
    assert valid["class"] == "verdict verdict-valid"
    # The tampered file: one verdict, and no ✓ anywhere on the page beside the ✗.
    invalid = _verdict_of(page, live_server.url, forged)
    screenshot(page, "verify-tampered")
    assert invalid["title"] == "無効 改ざんされています"
    assert invalid["class"] == "verdict verdict-invalid"
    assert "✓" not in page.locator("main").inner_text()
    # Real CSS is applied (the static file loaded): green for valid, red for invalid.
    assert valid["border"] == "rgb(30, 107, 52)"
    assert invalid["border"] == "rgb(179, 38, 30)"
    assert valid["word_background"] != invalid["word_background"]
