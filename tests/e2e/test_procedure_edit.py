"""Staff edit a procedure in a real browser: the page shows the saved values and saves changes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from machi.procedures.models import Procedure
from machi.procedures.tests.conftest import shimin, simple_procedure  # noqa: F401 - fixtures
from tests.e2e.conftest import screenshot, sign_in

pytestmark = pytest.mark.e2e


def test_staff_edit_a_procedure_and_see_it_saved(
    page: Page,
    live_server,
    simple_procedure,  # noqa: F811 - the fixture imported above
    kakogawa_admin,
):
    sign_in(page, live_server.url, "kakogawa-admin")
    url = f"{live_server.url}/staff/procedures/{simple_procedure.pk}/"
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("粗大ごみ収集申込")
    # the saved values are in the fields (they used to be empty)
    expect(page.locator("#id_name")).to_have_value("粗大ごみ収集申込")
    expect(page.locator("#id_slug")).to_have_value("simple")
    expect(page.locator("#id_slug")).to_be_disabled()
    expect(page.locator("#id_municipality")).to_have_value("282103")
    expect(page.locator("#id_department")).to_have_value("shimin")

    page.fill("#id_name", "粗大ごみ戸別収集の申込")
    page.fill("#id_fee_yen", "400")
    page.select_option("#id_payment_timing", "before_submission")
    page.get_by_label("郵送").check()
    page.get_by_role("button", name="保存").click()

    expect(page).to_have_url(url)
    expect(page.locator("main")).to_contain_text("保存しました。")
    expect(page.get_by_role("heading", level=1)).to_have_text("粗大ごみ戸別収集の申込")
    expect(page.locator("#id_fee_yen")).to_have_value("400")
    expect(page.locator("#id_payment_timing")).to_have_value("before_submission")
    screenshot(page, "procedure-edit-saved")
    procedure = Procedure.objects.get(pk=simple_procedure.pk)
    assert (procedure.name, procedure.fee_yen, procedure.payment_timing) == (
        "粗大ごみ戸別収集の申込",
        400,
        "before_submission",
    )
    assert procedure.channels == ["online", "counter", "post"]
    assert (procedure.municipality_id, procedure.slug) == ("282103", "simple")
