"""Drafts: 「オンラインで申請する」 resumes the open draft; residents delete drafts they no longer want."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from machi.core.exceptions import NotFound
from machi.core.models import AuditEntry
from machi.files.selectors import file_get
from machi.procedures import services
from machi.procedures.models import Application, ApplicationStatus
from machi.procedures.tests.conftest import SIMPLE_FORM

pytestmark = pytest.mark.django_db

START = "/procedures/282103/simple/start/"


def test_signed_in_resident_resumes_the_open_draft(simple_procedure, resident):
    client = Client()
    client.force_login(resident)
    first = client.post(START)
    client.post(first["Location"], {"main.name": "太郎", "main.copies": "1"})
    draft = Application.objects.get()
    second = client.post(START)
    assert Application.objects.count() == 1
    assert second["Location"] == f"/apply/{draft.pk}/{draft.current_step}/"
    # another browser of the same resident finds it too
    other = Client()
    other.force_login(resident)
    other.post(START)
    assert Application.objects.count() == 1


def test_anonymous_draft_is_resumed_in_its_own_session_only(simple_procedure):
    client = Client()
    client.post(START)
    client.post(START)
    assert Application.objects.count() == 1
    Client().post(START)  # a stranger gets a draft of their own
    assert Application.objects.count() == 2


def test_submitted_or_outdated_drafts_are_not_resumed(simple_procedure, resident):
    client = Client()
    client.force_login(resident)
    client.post(START)
    draft = Application.objects.get()
    draft.answers = {"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    draft.save()
    services.application_submit(application=draft, actor=resident)
    client.post(START)
    assert Application.objects.filter(status=ApplicationStatus.DRAFT).count() == 1
    services.form_version_create(
        actor=None, procedure=simple_procedure, definition=SIMPLE_FORM, publish=True
    )
    client.post(START)  # the open draft is on the old form version
    drafts = Application.objects.filter(status=ApplicationStatus.DRAFT)
    assert sorted(d.form_version.number for d in drafts) == [1, 2]


def test_resident_deletes_a_draft_after_confirming(simple_procedure):
    client = Client()
    client.post(START)
    draft = Application.objects.get()
    url = f"/my/applications/{draft.pk}/delete/"
    step = client.get(f"/apply/{draft.pk}/main/").content.decode()
    assert f'<a href="{url}">この下書きを削除する</a>' in step
    page = client.get(url)
    assert page.status_code == 200
    assert "<h1>下書きを削除しますか</h1>" in page.content.decode()
    assert Application.objects.count() == 1
    # a stranger cannot delete it
    assert Client().post(url).status_code == 404
    assert Application.objects.count() == 1
    response = client.post(url)
    assert response["Location"] == "/procedures/282103/simple/"
    assert Application.objects.count() == 0
    entry = AuditEntry.objects.get(action="application.draft_delete")
    assert (entry.target_id, entry.municipality_code) == (str(draft.pk), "282103")
    # the next click starts afresh
    client.post(START)
    assert Application.objects.get().pk != draft.pk


def test_deleting_a_draft_deletes_its_files(kakogawa, shimin):
    from machi.procedures.tests.test_apply_flow import FILE_FORM

    procedure = services.procedure_create(
        actor=None,
        municipality_code=kakogawa.code,
        slug="docs",
        name="書類の提出",
        channels=["online"],
        is_published=True,
    )
    services.form_version_create(
        actor=None, procedure=procedure, definition=FILE_FORM, publish=True
    )
    started = services.application_start(procedure=procedure, applicant=None)
    draft = started.application
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    stored = services.attachment_store(
        application=draft,
        path="docs.certificate",
        upload=SimpleUploadedFile("c.pdf", pdf, content_type="application/pdf"),
        actor=None,
    )
    services.application_save_step(
        application=draft, step_key="docs", step_answers={"certificate": [str(stored.pk)]}
    )
    services.application_draft_delete(application=draft, actor=None)
    with pytest.raises(NotFound):
        file_get(file_id=stored.pk, municipality_codes={"282103"})
    assert AuditEntry.objects.filter(action="file.delete", target_id=str(stored.pk)).count() == 1


def test_a_submitted_application_cannot_be_deleted(simple_procedure):
    client = Client()
    client.post(START)
    application = Application.objects.get()
    application.answers = {"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    application.save()
    services.application_submit(application=application, actor=None)
    response = client.post(f"/my/applications/{application.pk}/delete/")
    assert response["Location"] == f"/my/applications/{application.pk}/"
    assert Application.objects.get().status == ApplicationStatus.SUBMITTED
    from machi.core.exceptions import Conflict

    with pytest.raises(Conflict):
        services.application_draft_delete(application=application, actor=None)
    assert Application.objects.count() == 1
    assert not AuditEntry.objects.filter(action="application.draft_delete").exists()
