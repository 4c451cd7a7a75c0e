"""Case processing in real browsers, from the queue to a signed document checked on /verify/.

A resident applies; the 担当者 starts the review and asks for a correction (補正) of 通数; the
resident answers it; the 担当者 drafts 許可 (起案) and cannot approve it; the 決裁者 and then the
団体管理者 approve the two steps of the route (電子決裁); the 団体管理者 issues the signed 許可書,
which completes the application; the resident downloads it and checks it on /verify/. Each person
has a browser context of their own, and axe-core checks every page of the flow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect

from machi.cases import services as case_services
from machi.cases.models import (
    ApprovalRequest,
    ApprovalRequestStatus,
    ApprovalState,
    ApprovalStepStatus,
    Case,
)
from machi.core.models import Role
from machi.core.tests.factories import staff_member
from machi.documents.models import DocumentKind, DocumentStatus, IssuedDocument
from machi.documents.services import document_read
from machi.documents.tests.conftest import document_pki, documents_settings  # noqa: F401
from machi.identity import services as identity_services
from machi.procedures.models import Application, ApplicationOutcome, ApplicationStatus
from machi.procedures.tests.conftest import shimin, simple_procedure  # noqa: F401 - fixtures
from tests.e2e.a11y import axe_violations, blocking, describe
from tests.e2e.conftest import screenshot, sign_in

pytestmark = pytest.mark.e2e

RESIDENT_EMAIL = "hanako@example.jp"
RESIDENT_PASSWORD = "correct-horse-battery-staple"
CORRECTION_MESSAGE = "通数を確認のうえ、正しい通数を入力してください。"


def assert_accessible(page: Page) -> None:
    found = blocking(axe_violations(page))
    assert not found, f"axe-core on {page.url}:\n{describe(found)}"


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Pages in browser contexts of their own (one per person), closed after the test."""
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def verified_resident(db):
    user = identity_services.resident_sign_up(
        email=RESIDENT_EMAIL, password=RESIDENT_PASSWORD, display_name="加古川 花子"
    )
    identity_services.resident_email_verify(
        token=identity_services.email_verification_token(user=user)
    )
    return user


@pytest.fixture
def two_step_route(simple_procedure, kakogawa_admin):  # noqa: F811
    """課長決裁 (any 決裁者) then 部長決裁 (any 団体管理者), saved as the 団体管理者 would."""
    return case_services.approval_route_save(
        actor=kakogawa_admin,
        procedure=simple_procedure,
        steps=[
            case_services.RouteStepSpec(position=1, label="課長決裁", role=Role.APPROVER),
            case_services.RouteStepSpec(position=2, label="部長決裁", role=Role.MUNICIPALITY_ADMIN),
        ],
    )


def open_details(page: Page, form_action: str) -> None:
    """Open the <details> holding the case page's form that posts to ``…/<form_action>/``."""
    details = page.locator("details.action", has=page.locator(f"form[action$='/{form_action}/']"))
    details.locator("summary").click()
    expect(details.locator("form")).to_be_visible()


def status_fact(page: Page):
    """The 状態 value of a page's facts list (case page and the resident's application page)."""
    return page.locator("dl.facts dt", has_text="状態").locator("xpath=following-sibling::dd[1]")


def test_application_through_correction_two_step_approval_issue_and_verify(
    page: Page,
    new_page: Callable[[], Page],
    live_server,
    settings,
    simple_procedure,  # noqa: F811 - the fixture imported above
    two_step_route,
    verified_resident,
    kakogawa_handler,
    kakogawa_admin,
    documents_settings,  # noqa: F811
    tmp_path: Path,
):
    base = live_server.url
    settings.MACHI_PUBLIC_BASE_URL = base
    staff_member("kakogawa-approver", simple_procedure.municipality, Role.APPROVER)
    resident = page

    # --- The resident applies through the real pages. ---------------------------------------
    resident.goto(f"{base}/account/sign-in/")
    resident.fill("#id_email", RESIDENT_EMAIL)
    resident.fill("#id_password", RESIDENT_PASSWORD)
    resident.locator("main form button[type=submit]").first.click()
    resident.wait_for_load_state()
    resident.goto(f"{base}/procedures/{simple_procedure.municipality_id}/{simple_procedure.slug}/")
    resident.get_by_role("button", name="オンラインで申請する").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("申込内容")
    resident.fill("#f-main-name", "加古川 花子")
    resident.fill("#f-main-email", RESIDENT_EMAIL)
    resident.fill("#f-main-copies", "1")
    resident.get_by_role("button", name="次へ進む").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("確認")
    resident.locator("#f-confirm-agree").check()
    resident.get_by_role("button", name="確認画面へ").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("入力内容の確認")
    resident.get_by_role("button", name="この内容で申請する").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("申請を受け付けました")

    application = Application.objects.get(procedure=simple_procedure)
    assert application.applicant_id == verified_resident.pk
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.cleaned["main"]["copies"] == 1
    receipt = application.receipt_number
    case_url = f"{base}/staff/cases/{application.pk}/"
    status_url = f"{base}/my/applications/{application.pk}/"
    assert Case.objects.filter(application=application).exists()

    # --- The 担当者 finds the case in the queue, starts the review, asks for a correction. ---
    handler = new_page()
    sign_in(handler, base, "kakogawa-handler")
    handler.goto(f"{base}/staff/cases/")
    expect(handler.get_by_role("heading", level=1)).to_have_text("案件一覧")
    assert_accessible(handler)
    handler.get_by_role("link", name=receipt, exact=True).click()
    expect(handler).to_have_url(case_url)
    expect(handler.get_by_role("heading", level=1)).to_contain_text(simple_procedure.name)
    expect(status_fact(handler)).to_contain_text("受付")
    assert_accessible(handler)
    screenshot(handler, "case-submitted")

    handler.get_by_role("button", name="審査中にする").click()
    handler.wait_for_load_state()
    expect(status_fact(handler)).to_contain_text("審査中")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW

    deadline = timezone.localdate() + dt.timedelta(days=10)
    open_details(handler, "correction")
    handler.fill("#id_correction-message", CORRECTION_MESSAGE)
    handler.locator("input[name='correction-targets'][value='main.copies']").check()
    handler.fill("#id_correction-deadline", deadline.isoformat())
    assert_accessible(handler)  # with the correction form open
    handler.locator("form[action$='/correction/'] button[type=submit]").click()
    handler.wait_for_load_state()
    expect(status_fact(handler)).to_contain_text("補正依頼中")
    expect(handler.locator("#corrections-heading")).to_be_visible()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.CORRECTION_REQUESTED
    correction = application.corrections.get()
    assert correction.message == CORRECTION_MESSAGE
    assert correction.fields == ["main.copies"]
    assert correction.deadline == deadline
    assert correction.answered_at is None

    # --- The resident sees the request and answers it, changing 通数. ------------------------
    resident.goto(status_url)
    expect(status_fact(resident)).to_contain_text("補正依頼中")
    request_panel = resident.locator("section", has=resident.locator("#correction-heading"))
    expect(request_panel).to_contain_text(CORRECTION_MESSAGE)
    expect(request_panel).to_contain_text(deadline.isoformat())
    assert_accessible(resident)
    request_panel.get_by_role("link", name="補正に回答する").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("補正に回答する")
    expect(resident.locator("#f-main-copies")).to_have_value("1")
    assert_accessible(resident)
    resident.fill("#f-main-copies", "3")
    resident.fill("#id_note", "3通に訂正しました。")
    resident.get_by_role("button", name="補正して再提出する").click()
    expect(resident).to_have_url(status_url)
    expect(status_fact(resident)).to_contain_text("審査中")
    expect(resident.locator("#correction-heading")).to_have_count(0)
    assert_accessible(resident)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW
    assert application.cleaned["main"]["copies"] == 3
    correction.refresh_from_db()
    assert correction.answered_at is not None
    assert correction.answer_note == "3通に訂正しました。"

    # --- The 担当者 drafts 許可 and sends it to 決裁; the drafter cannot approve it. -------------
    handler.goto(case_url)
    expect(status_fact(handler)).to_contain_text("審査中")
    copies = handler.locator("dl.summary dt", has_text="通数").locator(
        "xpath=following-sibling::dd[1]"
    )
    expect(copies).to_have_text("3")  # the staff see the corrected answer
    open_details(handler, "approval")
    handler.locator("input[name='approval-proposed_outcome'][value='granted']").check()
    handler.fill("#id_approval-comment", "補正により通数を確認した。許可してよい。")
    handler.locator("form[action$='/approval/'] button[type=submit]").click()
    handler.wait_for_load_state()
    expect(status_fact(handler)).to_contain_text("決裁中")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVING
    request = ApprovalRequest.objects.get(case__application=application)
    assert request.status == ApprovalRequestStatus.PENDING
    assert request.proposed_outcome == ApplicationOutcome.GRANTED
    assert request.drafted_by_id == kakogawa_handler.pk
    step1, step2 = request.steps.order_by("position")
    assert (step1.status, step2.status) == (ApprovalStepStatus.PENDING, ApprovalStepStatus.WAITING)

    route_section = handler.locator("section", has=handler.locator("#route-heading"))
    expect(route_section).to_contain_text("課長決裁")
    expect(route_section).to_contain_text("部長決裁")
    expect(handler.locator("form[action$='/decide/']")).to_have_count(0)
    expect(route_section).to_contain_text("起案した職員は決裁できません。")
    assert_accessible(handler)

    # --- The 決裁者 approves step 1. -----------------------------------------------------------
    approver = new_page()
    sign_in(approver, base, "kakogawa-approver")
    approver.goto(f"{base}/staff/cases/")
    pending = approver.locator("section", has=approver.locator("#approvals-heading"))
    expect(pending).to_contain_text("課長決裁")
    assert_accessible(approver)
    pending.get_by_role("link", name=receipt).click()
    expect(approver).to_have_url(case_url)
    decide1 = approver.locator(f"section[aria-labelledby='decide-{step1.pk}-heading']")
    expect(decide1.get_by_role("heading", level=3)).to_have_text("課長決裁を判断する")
    expect(approver.locator("form[action$='/decide/']")).to_have_count(1)
    decide1.get_by_label("承認する").check()
    decide1.get_by_label("意見（差戻し・否決のときは必須）").fill("異議なし")
    assert_accessible(approver)  # the approval page, with its form
    screenshot(approver, "case-approval")
    decide1.get_by_role("button", name="判断を記録する").click()
    approver.wait_for_load_state()
    expect(approver.locator("form[action$='/decide/']")).to_have_count(0)
    step1.refresh_from_db()
    step2.refresh_from_db()
    assert step1.status == ApprovalStepStatus.APPROVED
    assert step1.decided_by.username == "kakogawa-approver"
    assert step1.acting_for is None
    assert step2.status == ApprovalStepStatus.PENDING
    # Nobody decides two steps: the step-1 approver is refused the second one.
    expect(approver.locator("section", has=approver.locator("#route-heading"))).to_contain_text(
        "この案件をすでに決裁しています。"
    )

    # The drafter still gets no form for the step that is now open.
    handler.reload()
    expect(handler.locator("form[action$='/decide/']")).to_have_count(0)

    # --- The 団体管理者 approves step 2, then issues the 許可書 from the case page. -------------
    admin = new_page()
    sign_in(admin, base, "kakogawa-admin")
    admin.goto(f"{base}/staff/cases/")
    pending = admin.locator("section", has=admin.locator("#approvals-heading"))
    expect(pending).to_contain_text("部長決裁")
    pending.get_by_role("link", name=receipt).click()
    expect(admin).to_have_url(case_url)
    decide2 = admin.locator(f"section[aria-labelledby='decide-{step2.pk}-heading']")
    expect(decide2.get_by_role("heading", level=3)).to_have_text("部長決裁を判断する")
    decide2.get_by_label("承認する").check()
    assert_accessible(admin)
    decide2.get_by_role("button", name="判断を記録する").click()
    admin.wait_for_load_state()
    expect(admin.locator("#approved-heading")).to_be_visible()
    request.refresh_from_db()
    step2.refresh_from_db()
    assert request.status == ApprovalRequestStatus.APPROVED
    assert step2.decided_by_id == kakogawa_admin.pk
    case = Case.objects.get(application=application)
    assert case.approval_state == ApprovalState.APPROVED
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVING  # until the document completes it
    assert_accessible(admin)

    admin.get_by_role("link", name="文書を発行して完了する").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("文書の発行")
    assert_accessible(admin)
    screenshot(admin, "document-issue")
    admin.locator("#id_kind").select_option(DocumentKind.PERMIT)
    admin.fill("#id_note", "収集日の前日までに指定の場所へ出してください。")
    admin.get_by_role("button", name="署名して発行する").click()
    expect(admin).to_have_url(case_url)
    expect(status_fact(admin)).to_contain_text("完了")
    expect(status_fact(admin)).to_contain_text("許可")

    application.refresh_from_db()
    assert application.status == ApplicationStatus.COMPLETED
    assert application.outcome == ApplicationOutcome.GRANTED
    document = IssuedDocument.objects.get(application=application)
    assert document.kind == DocumentKind.PERMIT
    assert document.status == DocumentStatus.ISSUED
    assert document.created_by_id == kakogawa_admin.pk
    assert document.title == f"{simple_procedure.name} 許可書"
    case.refresh_from_db()
    assert not case.is_open

    # --- The resident downloads the document and checks it on /verify/. ----------------------
    resident.goto(status_url)
    expect(status_fact(resident)).to_contain_text("完了")
    documents = resident.locator("section", has=resident.locator("#issued-documents-heading"))
    expect(documents).to_contain_text(document.display_verification_id)
    assert_accessible(resident)
    screenshot(resident, "application-completed")
    with resident.expect_download() as download_info:
        documents.get_by_role("link", name=document.title, exact=False).click()
    download = download_info.value
    # The browser prefers the UTF-8 name (filename*): title and verification id.
    assert download.suggested_filename == f"{document.title}_{document.verification_id}.pdf"
    pdf = tmp_path / "downloaded.pdf"
    download.save_as(pdf)
    assert pdf.read_bytes() == document_read(document=document)

    resident.goto(f"{base}/verify/")
    assert_accessible(resident)
    resident.set_input_files("#id_pdf", str(pdf))
    resident.get_by_role("button", name="ファイルを確認する").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("検証結果")
    verdict = resident.locator("#verify-verdict")
    expect(verdict).to_have_attribute("data-verdict", "valid")
    expect(verdict.locator(".verdict-word")).to_have_text("有効")
    assert_accessible(resident)
    screenshot(resident, "verify-upload")

    resident.goto(f"{base}/verify/{document.verification_id}/")
    verdict = resident.locator("#verify-verdict")
    expect(verdict).to_have_attribute("data-verdict", "valid")
    expect(resident.locator("main")).to_contain_text(document.display_verification_id)
    expect(resident.locator("main")).to_contain_text(simple_procedure.municipality.name)
    assert_accessible(resident)
