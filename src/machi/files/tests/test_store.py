"""file_store: kind by content, limits, private storage, audit, no orphans on failure."""

from __future__ import annotations

import hashlib
import io
import stat
from datetime import timedelta
from pathlib import Path

import pikepdf
import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.db import transaction
from django.urls import Resolver404, resolve
from PIL import Image

import machi.settings as project_settings
from machi.core.exceptions import NotFound
from machi.core.models import AuditEntry
from machi.files import services
from machi.files.exceptions import UnsafeFile
from machi.files.models import StoredFile
from machi.files.policy import JPEG, PDF, PNG, FilePolicy
from machi.files.services import file_store, file_sweep_orphans
from machi.files.storage import private_root, private_storage
from machi.files.tests import builders

pytestmark = pytest.mark.django_db

PURPOSE = "転入届の添付書類"


def _files_on_disk(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _store(municipality, data: bytes, name: str = "x.pdf", **kwargs) -> StoredFile:
    kwargs.setdefault("actor", None)
    kwargs.setdefault("purpose", PURPOSE)
    return file_store(municipality_code=municipality.code, upload=data, name=name, **kwargs)


def test_pdf_upload_is_sanitised_stored_and_audited(kakogawa, kakogawa_admin, private_root):
    upload = SimpleUploadedFile("申請書.pdf", builders.hostile_pdf(), content_type="text/html")
    stored = file_store(
        municipality_code=kakogawa.code, upload=upload, actor=kakogawa_admin, purpose=PURPOSE
    )
    stored.refresh_from_db()
    on_disk = (private_root / stored.storage_name).read_bytes()
    assert stored.municipality_id == kakogawa.code
    assert stored.original_name == "申請書.pdf"
    assert stored.content_type == PDF  # not the browser's text/html
    assert stored.sanitised_from_type == PDF
    assert stored.size == len(on_disk)
    assert stored.sha256 == hashlib.sha256(on_disk).hexdigest()
    assert stored.created_by == kakogawa_admin
    assert stored.purpose == PURPOSE
    assert {"javascript", "embedded_files", "launch", "xfa"} <= set(stored.removed_content)
    assert len(pikepdf.open(io.BytesIO(on_disk)).pages) == 2
    entry = AuditEntry.objects.get(action="file.store")
    assert entry.personal_data is True
    assert entry.purpose == PURPOSE
    assert entry.municipality_code == kakogawa.code
    assert entry.target_id == str(stored.pk)
    assert entry.actor_id == kakogawa_admin.pk
    assert entry.detail["sha256"] == stored.sha256
    assert "申請書" not in str(entry.detail)  # names stay out of the append-only log


def test_storage_name_is_random_and_never_from_the_upload(kakogawa):
    first = _store(kakogawa, builders.plain_pdf(), name="../../../etc/passwd.pdf")
    second = _store(kakogawa, builders.plain_pdf(), name="../../../etc/passwd.pdf")
    assert first.storage_name != second.storage_name
    for stored in (first, second):
        assert "passwd" not in stored.storage_name and ".." not in stored.storage_name
        assert stored.storage_name.endswith(".pdf")


@pytest.mark.parametrize(
    ("data", "expected_type", "expected_name"),
    [
        (builders.jpeg_with_gps(), JPEG, "x.jpg"),
        (builders.plain_png(), PNG, "x.png"),
    ],
    ids=["jpeg-named-pdf", "png-named-pdf"],
)
def test_kind_follows_content_not_name(kakogawa, private_root, data, expected_type, expected_name):
    upload = SimpleUploadedFile("x.pdf", data, content_type="application/pdf")
    stored = file_store(municipality_code=kakogawa.code, upload=upload, actor=None, purpose=PURPOSE)
    assert stored.content_type == expected_type
    assert stored.original_name == expected_name
    assert stored.storage_name.endswith(expected_name[1:])
    with Image.open(private_root / stored.storage_name) as image:
        assert image.get_format_mimetype() == expected_type
        assert not image.getexif()


def test_file_lies_outside_static_files_and_any_url(kakogawa, private_root):
    stored = _store(kakogawa, builders.plain_pdf())
    path = (private_root / stored.storage_name).resolve()
    assert path.is_file()
    assert not path.is_relative_to(Path(django_settings.STATIC_ROOT).resolve())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="no URL"):
        private_storage().url(stored.storage_name)
    assert finders.find(stored.storage_name) is None
    for prefix in ("/", "/media/", "/static/", "/files/", django_settings.MEDIA_URL or "/"):
        with pytest.raises(Resolver404):
            resolve(f"{prefix}{stored.storage_name}")


def test_default_private_root_is_outside_static_root():
    default = Path(project_settings.MACHI_PRIVATE_FILES_ROOT).resolve()
    static = Path(project_settings.STATIC_ROOT).resolve()
    assert not default.is_relative_to(static) and not static.is_relative_to(default)


def test_private_root_inside_static_root_is_refused(settings, tmp_path):
    settings.MACHI_PRIVATE_FILES_ROOT = Path(settings.STATIC_ROOT) / "uploads"
    with pytest.raises(ImproperlyConfigured):
        private_root()


class _CountingBytesIO(io.BytesIO):
    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_size_limit_is_checked_while_reading_not_from_declared_size(kakogawa, private_root):
    stream = _CountingBytesIO(b"%PDF-1.7\n" + b"0" * 5_000_000)
    upload = InMemoryUploadedFile(stream, "file", "small.pdf", PDF, size=100, charset=None)
    with pytest.raises(UnsafeFile) as caught:
        file_store(
            municipality_code=kakogawa.code,
            upload=upload,
            policy=FilePolicy(max_size=200_000),
            actor=None,
            purpose=PURPOSE,
        )
    assert caught.value.code == "too_large"
    assert "195.3 KB" not in str(caught.value.message)
    assert stream.bytes_read < 200_000 + 2 * 64 * 1024
    assert not _files_on_disk(private_root)


def test_too_large_message_names_the_limit(kakogawa):
    with pytest.raises(UnsafeFile) as caught:
        _store(kakogawa, b"x" * (10 * 1024 * 1024 + 1))
    assert caught.value.code == "too_large"
    assert str(caught.value.message) == (
        "ファイルが大きすぎます。10 MB 以下のファイルを選んでください。"
    )


def test_flate_bomb_pdf_is_refused_and_nothing_is_stored(kakogawa, private_root):
    bomb = builders.flate_bomb_pdf()
    with pytest.raises(UnsafeFile) as caught:
        _store(kakogawa, bomb, name="bomb.pdf")
    assert caught.value.code == "pdf_too_large_decompressed"
    assert caught.value.status == 422
    assert not StoredFile.objects.exists()
    assert not AuditEntry.objects.filter(action="file.store").exists()
    assert not _files_on_disk(private_root)


def test_empty_upload_is_refused(kakogawa, private_root):
    with pytest.raises(UnsafeFile) as caught:
        file_store(
            municipality_code=kakogawa.code,
            upload=SimpleUploadedFile("empty.pdf", b""),
            actor=None,
            purpose=PURPOSE,
        )
    assert caught.value.code == "empty"
    assert not StoredFile.objects.exists()
    assert not _files_on_disk(private_root)


@pytest.mark.parametrize(
    "data",
    [b"<html><script>alert(1)</script></html>", b"MZ\x90\x00" + b"\x00" * 100],
    ids=["html", "exe"],
)
def test_refused_upload_leaves_nothing(kakogawa, private_root, data):
    with pytest.raises(UnsafeFile) as caught:
        _store(kakogawa, data, name="x.pdf")
    assert caught.value.code == "type_not_allowed"
    assert not StoredFile.objects.exists()
    assert not AuditEntry.objects.filter(action="file.store").exists()
    assert not _files_on_disk(private_root)


def test_unknown_municipality_is_not_found(db):
    with pytest.raises(NotFound):
        file_store(
            municipality_code="999999", upload=builders.plain_pdf(), actor=None, purpose=PURPOSE
        )


def test_purpose_is_required(kakogawa):
    with pytest.raises(ValueError):
        _store(kakogawa, builders.plain_pdf(), purpose="  ")


def test_failed_transaction_leaves_no_file(kakogawa, private_root, monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("audit database unavailable")

    monkeypatch.setattr(services, "audit_record", broken_audit)
    with pytest.raises(RuntimeError):
        _store(kakogawa, builders.plain_pdf())
    assert not StoredFile.objects.exists()
    assert not _files_on_disk(private_root)


def test_outer_rollback_orphan_is_swept_and_live_files_kept(kakogawa, private_root):
    kept = _store(kakogawa, builders.plain_pdf())
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = _store(kakogawa, builders.plain_png())
        raise RuntimeError("caller's later step failed")
    assert not StoredFile.objects.filter(pk=rolled_back.pk).exists()
    assert len(_files_on_disk(private_root)) == 2  # the orphan, until swept

    assert file_sweep_orphans() == []  # younger than the grace period: kept
    removed = file_sweep_orphans(older_than=timedelta(0))
    assert removed == [rolled_back.storage_name]
    assert _files_on_disk(private_root) == [private_root / kept.storage_name]
    assert AuditEntry.objects.filter(action="file.sweep").count() == 1
