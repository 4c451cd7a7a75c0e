"""Template tags for the lead's pages (my application, case page)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from machi.documents import services

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.documents.tests.urls")]


def test_resident_documents_lists_valid_documents(application, kakogawa_admin):
    document = services.document_issue(application=application, actor=None, kind="certificate")
    html = Template("{% load machi_documents %}{% resident_documents application %}").render(
        Context({"application": application})
    )
    assert f"/my/documents/{document.pk}/download/" in html
    services.document_revoke(document=document, actor=kakogawa_admin, reason="誤り")
    html = Template("{% load machi_documents %}{% resident_documents application %}").render(
        Context({"application": application})
    )
    assert "download" not in html


def test_staff_documents_shows_the_issue_form_to_approvers(
    application, kakogawa_approver, kakogawa_handler
):
    source = "{% load machi_documents %}{% staff_documents application %}"
    for user, expected in ((kakogawa_approver, True), (kakogawa_handler, False)):
        request = RequestFactory().get("/staff/cases/1/")
        request.user = user
        html = Template(source).render(
            Context({"application": application, "request": request, "csrf_token": "t"})
        )
        assert (f"/staff/documents/applications/{application.pk}/issue/" in html) is expected
        assert "発行文書" in html
