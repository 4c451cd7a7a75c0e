"""The applicant downloads their own document; nobody else can."""

from __future__ import annotations

import pytest
from django.test import Client

from machi.core.models import User
from machi.documents import services
from machi.documents.tests.conftest import pdf_of

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.documents.tests.urls")]


@pytest.fixture
def resident(db):
    return User.objects.create_user(username="hanako@example.jp", password="x-y-z-123456")


def url(document) -> str:
    return f"/my/documents/{document.pk}/download/"


def test_signed_in_applicant_downloads(make_application, resident):
    application = make_application(applicant=resident)
    document = services.document_issue(application=application, actor=None, kind="certificate")
    client = Client()
    client.force_login(resident)
    response = client.get(url(document))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert response.content == pdf_of(document)

    other = User.objects.create_user(username="taro@example.jp", password="x-y-z-123456")
    client.force_login(other)
    assert client.get(url(document)).status_code == 404
    assert Client().get(url(document)).status_code == 404


def test_anonymous_applicant_of_this_session(make_application, client):
    application = make_application()
    document = services.document_issue(application=application, actor=None, kind="certificate")
    assert client.get(url(document)).status_code == 404
    session = client.session
    session["machi_applications"] = [str(application.pk)]
    session.save()
    assert client.get(url(document)).status_code == 200


def test_revoked_document_is_gone(make_application, resident, kakogawa_admin):
    application = make_application(applicant=resident)
    document = services.document_issue(application=application, actor=None, kind="certificate")
    services.document_revoke(document=document, actor=kakogawa_admin, reason="再発行のため")
    client = Client()
    client.force_login(resident)
    assert client.get(url(document)).status_code == 410


def test_unknown_id(client):
    assert (
        client.get("/my/documents/00000000-0000-0000-0000-000000000000/download/").status_code
        == 404
    )
