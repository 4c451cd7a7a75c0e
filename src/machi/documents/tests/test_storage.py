"""Issued PDFs live in the documents storage: write order, rollback cleanup, checked reads, sweep."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client

from machi.core.exceptions import Conflict
from machi.core.models import AuditEntry, User
from machi.documents import services
from machi.documents.models import IssuedDocument
from machi.documents.storage import document_storage
from machi.documents.stored import document_sweep_orphans
from machi.documents.tests.conftest import local_documents_storage
from machi.documents.verification import Verdict, verify_id
from machi.procedures.extensions import ApplicationHooks, application_hooks
from machi.procedures.models import ApplicationStatus

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.documents.tests.urls")]

NAME = re.compile(r"^282103/([0-9a-f]{2})/\1[0-9a-f]{30}\.pdf$")


def stored_files(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def issue(application) -> IssuedDocument:
    return services.document_issue(application=application, actor=None, kind="certificate")


def test_the_pdf_is_a_private_file_named_by_the_row(application, documents_root):
    document = issue(application)
    document.refresh_from_db()
    assert NAME.match(document.storage_name)
    assert stored_files(documents_root) == [document.storage_name]
    path = documents_root / document.storage_name
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert (document.size, document.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert services.document_read(document=document) == data
    with pytest.raises(ValueError, match="no URL"):
        document_storage().url(document.storage_name)


def test_a_failed_signature_writes_no_file(settings, tmp_path, application, documents_root):
    settings.PRODUCTION = True
    settings.MACHI_DOCUMENTS_PKI_DIR = tmp_path / "empty"
    with pytest.raises(services.IssuanceFailed):
        issue(application)
    assert stored_files(documents_root) == []


def test_a_storage_that_refuses_the_write_stores_nothing(application, monkeypatch):
    def full(name, content, max_length=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(document_storage(), "save", full)
    with pytest.raises(services.IssuanceFailed) as excinfo:
        issue(application)
    assert (excinfo.value.code, excinfo.value.status) == ("storage_failed", 503)
    assert "保管できなかったため" in str(excinfo.value.message)
    assert not IssuedDocument.objects.exists()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW
    assert AuditEntry.objects.filter(
        action="document.issue_failed", detail__code="storage_failed"
    ).exists()


def test_a_rolled_back_transaction_deletes_the_file(application, documents_root, monkeypatch):
    written: list[str] = []
    real_write = services.write_bytes

    def spy(storage, name, data):
        written.append(real_write(storage, name, data))
        assert (documents_root / written[-1]).is_file()  # the file exists before the row
        return written[-1]

    class Refuse(ApplicationHooks):
        def check_transition(self, application, to_status, outcome):
            raise Conflict("手数料が未納です。", code="fee_unpaid")

    monkeypatch.setattr(services, "write_bytes", spy)
    with application_hooks.override({"refuse": Refuse()}), pytest.raises(Conflict):
        issue(application)

    assert len(written) == 1
    assert stored_files(documents_root) == []
    assert not IssuedDocument.objects.exists()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW


def test_a_failing_commit_deletes_the_file(application, documents_root, monkeypatch):
    def broken_audit(**kwargs):
        if kwargs["action"] == "document.issued":
            raise RuntimeError("database went away")
        return real_audit(**kwargs)

    real_audit = services.audit_record
    monkeypatch.setattr(services, "audit_record", broken_audit)
    with pytest.raises(RuntimeError, match="went away"):
        issue(application)
    assert stored_files(documents_root) == []
    assert not IssuedDocument.objects.exists()


def test_issuing_inside_a_callers_transaction_is_refused_and_writes_nothing(
    application, documents_root
):
    # Only the outermost transaction can promise the row is committed (or see it roll back).
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        issue(application)
    assert stored_files(documents_root) == []
    assert not IssuedDocument.objects.exists()


def test_a_concurrent_issue_keeps_one_file(application, documents_root, monkeypatch):
    first = issue(application)
    real_current = services._current_document
    calls = {"n": 0}

    def stale_first_look(app, kind):
        calls["n"] += 1  # the check before signing misses the other request's document
        return None if calls["n"] == 1 else real_current(app, kind)

    monkeypatch.setattr(services, "_current_document", stale_first_look)
    again = issue(application)
    assert again.pk == first.pk
    assert stored_files(documents_root) == [first.storage_name]
    assert IssuedDocument.objects.count() == 1


@pytest.fixture
def resident(db):
    return User.objects.create_user(username="hanako@example.jp", password="x-y-z-123456")


@pytest.fixture
def resident_document(make_application, resident):
    return issue(make_application(applicant=resident))


def resident_download(resident, document):
    client = Client()
    client.force_login(resident)
    return client.get(f"/my/documents/{document.pk}/download/")


def integrity_entries(document) -> list[dict]:
    return [
        e.detail
        for e in AuditEntry.objects.filter(
            action="document.integrity_failed", target_id=str(document.pk)
        ).order_by("sequence")
    ]


def test_missing_file_is_refused_with_a_message_and_an_audit_entry(
    resident, resident_document, documents_root, caplog
):
    (documents_root / resident_document.storage_name).unlink()
    response = resident_download(resident, resident_document)
    assert response.status_code == 503
    page = response.content.decode()
    assert "文書をお渡しできません" in page
    assert "保管されている文書のファイルが見つかりません" in page
    assert integrity_entries(resident_document) == [
        {"code": "document_missing", "expected_sha256": resident_document.sha256}
    ]
    assert not AuditEntry.objects.filter(action="document.downloaded").exists()
    assert "documents.integrity_failed" in caplog.text


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="flipped-byte"),
        pytest.param(lambda data: data[:1000], id="truncated"),
        pytest.param(lambda data: data + b"%extra", id="appended"),
    ],
)
def test_bytes_that_differ_are_never_served(
    damage, staff_client, kakogawa_approver, resident, resident_document, documents_root
):
    path = documents_root / resident_document.storage_name
    original = path.read_bytes()
    path.write_bytes(damage(original))
    damaged_digest = hashlib.sha256(path.read_bytes()).hexdigest()

    response = resident_download(resident, resident_document)
    assert response.status_code == 503
    assert "発行時の内容と一致しない" in response.content.decode()
    staff = staff_client(kakogawa_approver).get(
        f"/staff/documents/{resident_document.pk}/download/"
    )
    assert staff.status_code == 503
    assert "発行時の内容と一致しない" in staff.content.decode()
    assert original not in (response.content, staff.content)
    entries = integrity_entries(resident_document)
    assert len(entries) == 2
    assert entries[0]["code"] == "document_corrupt"
    assert entries[0]["sha256"] == damaged_digest
    assert entries[0]["expected_size"] == len(original)
    assert not AuditEntry.objects.filter(action="document.downloaded").exists()


def test_verify_by_id_says_the_stored_file_cannot_be_checked(
    client, resident_document, documents_root
):
    path = documents_root / resident_document.storage_name
    path.write_bytes(b"%PDF-1.7 not what was issued")
    result = verify_id(resident_document.verification_id)
    assert result.verdict == Verdict.STORED_FILE_UNAVAILABLE
    assert result.outcome == "unchecked"
    response = client.get(f"/verify/{resident_document.verification_id}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-verdict="stored_file_unavailable"' in page
    assert "保管されている文書のファイルを確認できません" in page
    path.unlink()
    assert verify_id(resident_document.verification_id).verdict == Verdict.STORED_FILE_UNAVAILABLE
    codes = [e["code"] for e in integrity_entries(resident_document)]
    assert codes == ["document_corrupt", "document_corrupt", "document_missing"]


def test_a_storage_outage_is_a_503_not_a_500(resident, resident_document, monkeypatch):
    storage = document_storage()

    def unreachable(name, mode="rb"):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(storage, "open", unreachable)
    response = resident_download(resident, resident_document)
    assert response.status_code == 503
    assert "保管場所に接続できない" in response.content.decode()
    assert integrity_entries(resident_document) == [
        {
            "code": "storage_unavailable",
            "expected_sha256": resident_document.sha256,
            "error": "ConnectionError",
        }
    ]


def test_sweep_removes_only_old_unreferenced_files(application, documents_root):
    document = issue(application)
    old_orphan = documents_root / "282103" / "ab" / ("ab" + "0" * 30 + ".pdf")
    new_orphan = documents_root / "282103" / "cd" / ("cd" + "0" * 30 + ".pdf")
    for path in (old_orphan, new_orphan):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.7 left behind")
    two_hours_ago = time.time() - 7200
    os.utime(old_orphan, (two_hours_ago, two_hours_ago))
    referenced = documents_root / document.storage_name
    os.utime(referenced, (two_hours_ago, two_hours_ago))

    removed = document_sweep_orphans(older_than=timedelta(hours=1))

    assert removed == [old_orphan.relative_to(documents_root).as_posix()]
    assert stored_files(documents_root) == sorted(
        [document.storage_name, new_orphan.relative_to(documents_root).as_posix()]
    )
    assert AuditEntry.objects.filter(action="document.sweep", detail__count=1).exists()


def test_sweep_with_nothing_stored_yet(db, documents_root):
    assert document_sweep_orphans() == []


def test_check_command_reports_damaged_documents(make_application, documents_root):
    good = issue(make_application())
    bad = issue(make_application())
    out = io.StringIO()
    call_command("documents_storage", "check", "--signatures", stdout=out)
    assert out.getvalue().strip() == "checked 2 document(s), 0 failed"

    (documents_root / bad.storage_name).write_bytes(b"%PDF-1.7 damaged")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 of 2"):
        call_command("documents_storage", "check", stdout=out, stderr=err)
    assert err.getvalue().strip() == f"{bad.pk} {bad.verification_id}: document_corrupt"
    assert good.storage_name in stored_files(documents_root)


def settings_in_a_fresh_process(**env: str) -> subprocess.CompletedProcess[str]:
    script = (
        "import json, machi.settings as s; print(json.dumps(s.STORAGES['documents'], default=str))"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MACHI_DOCUMENTS_", "MACHI_MEDIA_ROOT", "MACHI_VAR_DIR"))
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_embedded_default_is_a_private_folder_under_var(tmp_path):
    result = settings_in_a_fresh_process(MACHI_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "BACKEND": "machi.files.storage.PrivateStorage",
        "OPTIONS": {
            "location": str(tmp_path / "files" / "documents"),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MACHI_DOCUMENTS_STORAGE": "s3"}, "MACHI_DOCUMENTS_S3_BUCKET must be set"),
        ({"MACHI_DOCUMENTS_STORAGE": "ftp"}, "must be 'filesystem' or 's3'"),
    ],
)
def test_a_misconfigured_storage_stops_the_start(env, message):
    result = settings_in_a_fresh_process(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_a_documents_folder_inside_static_files_is_refused(settings, tmp_path, application):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": local_documents_storage(tmp_path / "static" / "documents"),
    }
    with pytest.raises(ImproperlyConfigured, match="MACHI_DOCUMENTS_ROOT"):
        issue(application)
    assert not (tmp_path / "static").exists()
    assert not IssuedDocument.objects.exists()
