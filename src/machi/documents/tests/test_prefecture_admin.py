"""The 県管理者 reads across municipalities but issues, revokes and edits no municipality's
documents (issue 7, item 1): every staff write path of documents refuses it, nothing changes."""

from __future__ import annotations

import pytest

from machi.core.exceptions import Forbidden
from machi.core.models import AuditEntry
from machi.documents import services
from machi.documents.models import DocumentStatus, DocumentTemplate, IssuedDocument
from machi.procedures.models import ApplicationStatus

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.documents.tests.urls")]


@pytest.fixture
def document(application):
    return services.document_issue(application=application, actor=None, kind="certificate")


def test_service_refuses_the_prefecture_admin_to_issue(application, prefecture_admin):
    with pytest.raises(Forbidden):
        services.document_issue(application=application, actor=prefecture_admin, kind="permit")
    assert IssuedDocument.objects.count() == 0
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW


def test_issue_page_refuses_the_prefecture_admin(staff_client, application, prefecture_admin):
    url = f"/staff/documents/applications/{application.pk}/issue/"
    response = staff_client(prefecture_admin).post(url, {"kind": "permit"})
    assert response.status_code == 403
    assert IssuedDocument.objects.count() == 0
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW


def test_service_and_page_refuse_the_prefecture_admin_to_revoke(
    staff_client, document, prefecture_admin
):
    with pytest.raises(Forbidden):
        services.document_revoke(document=document, actor=prefecture_admin, reason="誤記")
    response = staff_client(prefecture_admin).post(
        f"/staff/documents/{document.pk}/revoke/", {"reason": "誤記"}
    )
    assert response.status_code == 403
    document.refresh_from_db()
    assert document.status == DocumentStatus.ISSUED
    assert document.revoked_by is None
    assert AuditEntry.objects.filter(action="document.revoked").count() == 0


def test_service_and_page_refuse_the_prefecture_admin_to_edit_templates(
    staff_client, procedure, prefecture_admin
):
    with pytest.raises(Forbidden):
        services.document_template_save(
            procedure=procedure,
            kind="permit",
            title="許可書",
            body="許可します。",
            actor=prefecture_admin,
        )
    with pytest.raises(Forbidden):
        services.document_template_reset(procedure=procedure, kind="permit", actor=prefecture_admin)
    url = f"/staff/documents/procedures/{procedure.pk}/templates/"
    response = staff_client(prefecture_admin).post(
        url, {"kind": "permit", "permit-title": "許可書", "permit-body": "許可します。"}
    )
    assert response.status_code == 403
    assert DocumentTemplate.objects.count() == 0
