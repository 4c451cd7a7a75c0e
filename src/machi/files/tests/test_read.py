"""Reading: tenant isolation, response headers, audit; deleting drafts."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from csp.middleware import CSPMiddleware
from django.http import HttpResponseBase
from django.test import RequestFactory

from machi.core.exceptions import NotFound
from machi.core.models import AuditEntry
from machi.files.models import StoredFile
from machi.files.selectors import file_get
from machi.files.services import content_disposition, file_delete, file_response, file_store
from machi.files.tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(kakogawa, kakogawa_admin) -> StoredFile:
    return file_store(
        municipality_code=kakogawa.code,
        upload=builders.plain_pdf(),
        name="住民票の写し.pdf",
        actor=kakogawa_admin,
        purpose="転入届の審査",
    )


def test_file_get_within_visible_municipalities(stored, kakogawa):
    assert file_get(file_id=stored.pk, municipality_codes={kakogawa.code}) == stored
    assert file_get(file_id=str(stored.pk), municipality_codes={kakogawa.code, "281000"}) == stored


@pytest.mark.parametrize(
    "codes", [{"281000"}, set(), {"280003"}], ids=["other-city", "none", "prefecture-not-listed"]
)
def test_file_get_refuses_other_municipalities(stored, kobe, codes):
    with pytest.raises(NotFound) as caught:
        file_get(file_id=stored.pk, municipality_codes=codes)
    assert caught.value.code == "file_not_found"


@pytest.mark.parametrize("file_id", ["not-a-uuid", uuid.uuid4(), "", "1 OR 1=1"])
def test_file_get_unknown_ids_are_not_found(stored, kakogawa, file_id):
    with pytest.raises(NotFound):
        file_get(file_id=file_id, municipality_codes={kakogawa.code})


def test_file_response_headers_body_and_audit(stored, kakogawa_admin, private_root):
    response = file_response(stored_file=stored, actor=kakogawa_admin, purpose="審査のため閲覧")
    body = b"".join(response.streaming_content)  # type: ignore[arg-type]
    response.close()
    assert body == (private_root / stored.storage_name).read_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(stored.size)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, no-store"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert 'filename="download.pdf"' in disposition
    assert f"filename*=UTF-8''{quote('住民票の写し.pdf')}" in disposition
    entry = AuditEntry.objects.get(action="file.read")
    assert entry.personal_data is True
    assert entry.purpose == "審査のため閲覧"
    assert entry.target_id == str(stored.pk)
    assert entry.municipality_code == stored.municipality_id
    assert entry.actor_id == kakogawa_admin.pk


def test_inline_response_and_site_csp_middleware_keeps_the_sandbox(stored):
    response = file_response(stored_file=stored, actor=None, purpose="表示", as_attachment=False)
    assert response["Content-Disposition"].startswith("inline; ")
    request = RequestFactory().get("/staff/files/x")
    processed = CSPMiddleware(lambda r: response)(request)
    assert isinstance(processed, HttpResponseBase)
    assert processed["Content-Security-Policy"] == "default-src 'none'; sandbox"
    response.close()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"),
        (
            'a"b\\c;.png',
            "attachment; filename=\"abc.png\"; filename*=UTF-8''a%22b%5Cc%3B.png",
        ),
        (
            "申請 2024.pdf",
            "attachment; filename=\"2024.pdf\"; filename*=UTF-8''"
            + quote("申請 2024.pdf", safe=""),
        ),
    ],
)
def test_content_disposition_quoting(name, expected):
    assert content_disposition(name) == expected


def test_missing_bytes_are_not_found(stored, private_root):
    (private_root / stored.storage_name).unlink()
    with pytest.raises(NotFound):
        file_response(stored_file=stored, actor=None, purpose="閲覧")


def test_file_delete_removes_row_then_bytes_on_commit(
    stored, kakogawa_admin, private_root, django_capture_on_commit_callbacks
):
    path = private_root / stored.storage_name
    file_id = str(stored.pk)
    with django_capture_on_commit_callbacks(execute=True):
        file_delete(stored_file=stored, actor=kakogawa_admin, purpose="下書きの添付を削除")
    assert not StoredFile.objects.exists()
    assert not path.exists()
    entry = AuditEntry.objects.get(action="file.delete")
    assert entry.personal_data is True and entry.target_id == file_id


def test_file_delete_keeps_bytes_until_commit(stored, private_root):
    file_delete(stored_file=stored, actor=None, purpose="下書きの添付を削除")
    assert (private_root / stored.storage_name).exists()  # test transaction never commits
