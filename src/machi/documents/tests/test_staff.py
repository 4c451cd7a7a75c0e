"""Staff pages: issue from the case, download, revoke, and per-procedure templates."""

from __future__ import annotations

import pytest

from machi.core.models import AuditEntry
from machi.documents.models import DocumentStatus, DocumentTemplate, IssuedDocument
from machi.documents.tests.conftest import pdf_of
from machi.documents.tests.test_issue import closed_port_url
from machi.procedures.models import ApplicationStatus

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.documents.tests.urls")]


def issue_url(application) -> str:
    return f"/staff/documents/applications/{application.pk}/issue/"


def test_approver_issues_from_the_case_page(staff_client, application, kakogawa_approver):
    client = staff_client(kakogawa_approver)
    page = client.get(issue_url(application))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<h1>") == 1
    assert '<label for="id_kind">' in html

    response = client.post(
        issue_url(application),
        {"kind": "permit", "note": "道路占用の条件を守ること。", "next": "/staff/cases/1/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/staff/cases/1/"
    document = IssuedDocument.objects.get()
    assert document.created_by == kakogawa_approver
    assert document.note == "道路占用の条件を守ること。"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.COMPLETED

    # Twice: same document, no error.
    again = client.post(issue_url(application), {"kind": "permit"})
    assert again.status_code == 302
    assert again["Location"] == f"/staff/documents/{document.pk}/"
    assert IssuedDocument.objects.count() == 1


def test_external_next_is_ignored(staff_client, application, kakogawa_admin):
    response = staff_client(kakogawa_admin).post(
        issue_url(application), {"kind": "certificate", "next": "https://evil.example/"}
    )
    document = IssuedDocument.objects.get()
    assert response["Location"] == f"/staff/documents/{document.pk}/"


def test_case_handler_gets_403_and_other_municipality_404(
    staff_client, application, kakogawa_handler, kobe_admin, kobe_approver
):
    assert (
        staff_client(kakogawa_handler).post(issue_url(application), {"kind": "permit"}).status_code
        == 403
    )
    for user in (kobe_admin, kobe_approver):
        client = staff_client(user)
        assert client.post(issue_url(application), {"kind": "permit"}).status_code == 404
        assert client.get(issue_url(application)).status_code == 404
    assert not IssuedDocument.objects.exists()


def test_not_signed_in_goes_to_the_sign_in_page(client, application):
    response = client.post(issue_url(application), {"kind": "permit"})
    assert response.status_code == 302
    assert "/staff/login/" in response["Location"]


def test_failing_tsa_shows_a_clear_error_and_stores_nothing(
    staff_client, settings, application, kakogawa_approver
):
    settings.MACHI_TSA_URL = closed_port_url()
    client = staff_client(kakogawa_approver)
    response = client.post(issue_url(application), {"kind": "permit"}, follow=True)
    assert response.status_code == 200
    assert "タイムスタンプを取得できなかったため" in response.content.decode()
    assert not IssuedDocument.objects.exists()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW


def test_invalid_kind_is_a_form_error(staff_client, application, kakogawa_approver):
    response = staff_client(kakogawa_approver).post(issue_url(application), {"kind": "passport"})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()


@pytest.fixture
def document(application):
    from machi.documents import services

    return services.document_issue(application=application, actor=None, kind="certificate")


def test_detail_download_and_revoke(staff_client, document, kakogawa_approver, kakogawa_handler):
    client = staff_client(kakogawa_approver)
    page = client.get(f"/staff/documents/{document.pk}/")
    assert page.status_code == 200
    assert document.display_verification_id in page.content.decode()

    download = client.get(f"/staff/documents/{document.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download.content == pdf_of(document)
    assert AuditEntry.objects.filter(action="document.downloaded", personal_data=True).exists()

    # A case handler sees the record but may not download or revoke.
    handler = staff_client(kakogawa_handler)
    assert handler.get(f"/staff/documents/{document.pk}/").status_code == 200
    assert handler.get(f"/staff/documents/{document.pk}/download/").status_code == 403
    assert (
        handler.post(f"/staff/documents/{document.pk}/revoke/", {"reason": "x"}).status_code == 403
    )

    assert client.post(f"/staff/documents/{document.pk}/revoke/", {"reason": ""}).status_code == 400
    response = client.post(f"/staff/documents/{document.pk}/revoke/", {"reason": "誤記のため"})
    assert response.status_code == 302
    document.refresh_from_db()
    assert document.status == DocumentStatus.REVOKED
    assert document.revoked_by == kakogawa_approver
    assert AuditEntry.objects.filter(action="document.revoked").exists()


def test_other_municipality_cannot_see_documents(staff_client, document, kobe_admin):
    client = staff_client(kobe_admin)
    assert client.get(f"/staff/documents/{document.pk}/").status_code == 404
    assert client.get(f"/staff/documents/{document.pk}/download/").status_code == 404


def test_templates_page(staff_client, procedure, kakogawa_admin, kakogawa_approver, kobe_admin):
    url = f"/staff/documents/procedures/{procedure.pk}/templates/"
    admin = staff_client(kakogawa_admin)
    page = admin.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<h1>") == 1
    assert "却下通知書" in html  # the default wording is shown for editing

    bad = admin.post(url, {"kind": "permit", "permit-title": "許可書", "permit-body": "{% if %}"})
    assert bad.status_code == 400
    assert "テンプレートに誤りがあります" in bad.content.decode()

    saved = admin.post(
        url,
        {
            "kind": "permit",
            "permit-title": "{{ procedure.name }}許可書",
            "permit-body": "許可します。",
        },
    )
    assert saved.status_code == 302
    template = DocumentTemplate.objects.get()
    assert (template.kind, template.body, template.municipality_id) == (
        "permit",
        "許可します。",
        "282103",
    )

    assert (
        staff_client(kakogawa_approver)
        .post(url, {"kind": "permit", "permit-title": "x", "permit-body": "y"})
        .status_code
        == 403
    )
    assert staff_client(kobe_admin).get(url).status_code == 404

    reset = admin.post(url, {"kind": "permit", "reset": "1"})
    assert reset.status_code == 302
    assert not DocumentTemplate.objects.exists()
