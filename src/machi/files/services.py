"""Writes for attachments: store (after 無害化), serve, delete, sweep. Every one is audited.

Bytes and rows are kept consistent this way:

* ``file_store`` sanitises first (outside any transaction it opens: with SQLite's IMMEDIATE
  transactions a long PDF rewrite must not hold the write lock), writes the bytes under a new
  random name, then inserts the row and the audit entry in one transaction. If that
  transaction fails, the bytes are removed before the error propagates. So a committed row
  always has its bytes (they were written before the commit).
* When ``file_store`` runs inside a caller's transaction that later rolls back, Django offers
  no rollback hook: the bytes stay as an unreferenced file. ``file_sweep_orphans`` removes
  such files once they are older than a grace period (run it hourly or daily).
* ``file_delete`` deletes the row in the transaction and the bytes only after commit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import time
import unicodedata
from datetime import timedelta
from urllib.parse import quote

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse
from django.utils.translation import gettext as _

from machi.core.exceptions import NotFound
from machi.core.models import User
from machi.core.selectors import municipality_get
from machi.core.services import audit_record
from machi.files.models import StoredFile
from machi.files.policy import DEFAULT_POLICY, KINDS, FilePolicy
from machi.files.sanitise import display_name, sanitise, too_large
from machi.files.storage import private_root, private_storage

logger = logging.getLogger(__name__)

TARGET_TYPE = "stored_file"
_READ_CHUNK = 64 * 1024
_PURPOSE_MAX_LENGTH = 80
# The sandbox keeps a PDF or image opened in the browser from running script or reaching out.
RESPONSE_CSP = "default-src 'none'; sandbox"


def _checked_purpose(purpose: str) -> str:
    purpose = purpose.strip()
    if not purpose or len(purpose) > _PURPOSE_MAX_LENGTH:
        raise ValueError(f"purpose must be 1–{_PURPOSE_MAX_LENGTH} characters.")
    return purpose


def _read_limited(upload: UploadedFile | bytes, *, max_size: int) -> bytes:
    """All bytes of ``upload``, refusing as soon as more than ``max_size`` have been read.

    The declared size (``UploadedFile.size``, Content-Length) is not trusted.
    """
    if isinstance(upload, bytes):
        if len(upload) > max_size:
            raise too_large(max_size)
        return upload
    buffer = bytearray()
    upload.seek(0)
    while chunk := upload.read(_READ_CHUNK):
        buffer += chunk
        if len(buffer) > max_size:
            raise too_large(max_size)
    return bytes(buffer)


def _write_durably(storage: Storage, name: str, data: bytes) -> str:
    """Save ``data`` under ``name`` (never overwriting) and flush it to disk."""
    saved = storage.save(name, ContentFile(data))
    fd = os.open(storage.path(saved), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return saved


def _remove_bytes(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:
        logger.exception("files.remove_failed storage_name=%s", name)


def file_store(
    *,
    municipality_code: str,
    upload: UploadedFile | bytes,
    name: str | None = None,
    policy: FilePolicy = DEFAULT_POLICY,
    actor: User | None,
    purpose: str,
) -> StoredFile:
    """Make an upload safe (無害化) and store it for ``municipality_code``.

    ``upload`` is a Django ``UploadedFile`` or raw bytes; ``name`` is the uploader's file
    name (default: ``upload.name``), used for display only. The kind is decided by content;
    images are re-encoded without metadata and PDFs rebuilt without active content (see
    ``machi.files.sanitise``). Raises ``UnsafeFile`` (an ``InvalidInput``) with code
    ``too_large``, ``empty``, ``type_not_allowed``, ``corrupt_image``, ``image_too_large``,
    ``encrypted_pdf`` or ``corrupt_pdf``; ``NotFound`` for an unknown municipality.
    Records ``file.store`` (personal data, ``purpose``) in the same transaction as the row.
    """
    purpose = _checked_purpose(purpose)
    municipality = municipality_get(code=municipality_code)
    data = _read_limited(upload, max_size=policy.max_size)
    if name is None:
        name = (upload.name or "") if isinstance(upload, UploadedFile) else ""
    sanitised = sanitise(data, policy=policy)
    kind = KINDS[sanitised.content_type]
    token = secrets.token_hex(16)
    storage = private_storage()
    storage_name = _write_durably(storage, f"{token[:2]}/{token}{kind.extension}", sanitised.data)
    try:
        with transaction.atomic():
            stored = StoredFile.objects.create(
                municipality=municipality,
                original_name=display_name(name, content_type=kind.content_type),
                content_type=kind.content_type,
                size=len(sanitised.data),
                sha256=hashlib.sha256(sanitised.data).hexdigest(),
                storage_name=storage_name,
                created_by=actor if actor is not None and actor.is_authenticated else None,
                purpose=purpose,
                sanitised_from_type=sanitised.source_type,
                removed_content=list(sanitised.removed),
            )
            # No file name in the append-only audit log: names often hold personal data.
            audit_record(
                action="file.store",
                actor=actor,
                municipality_code=municipality.code,
                target_type=TARGET_TYPE,
                target_id=str(stored.pk),
                purpose=purpose,
                personal_data=True,
                detail={
                    "content_type": stored.content_type,
                    "size": stored.size,
                    "sha256": stored.sha256,
                    "sanitised_from_type": stored.sanitised_from_type,
                    "removed": stored.removed_content,
                },
            )
    except BaseException:
        _remove_bytes(storage, storage_name)
        raise
    return stored


def content_disposition(name: str, *, as_attachment: bool = True) -> str:
    """A Content-Disposition value per RFC 6266: an ASCII ``filename`` plus UTF-8 ``filename*``."""
    disposition = "attachment" if as_attachment else "inline"
    stem, extension = os.path.splitext(name)
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    ascii_stem = re.sub(r"[^A-Za-z0-9._() -]", "", ascii_stem).strip(" .") or "download"
    fallback = ascii_stem + re.sub(r"[^A-Za-z0-9.]", "", extension)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_response(
    *,
    stored_file: StoredFile,
    actor: User | None,
    purpose: str,
    as_attachment: bool = True,
) -> FileResponse:
    """Serve a stored file's bytes, recording ``file.read`` (personal data, ``purpose``).

    Only pass a ``StoredFile`` from ``selectors.file_get`` with the user's visible codes.
    The response is never cached and never sniffed or scripted by the browser (nosniff and a
    sandboxing CSP, which the site-wide CSP middleware leaves in place).
    """
    purpose = _checked_purpose(purpose)
    storage = private_storage()
    try:
        handle = storage.open(stored_file.storage_name, "rb")
    except FileNotFoundError as exc:
        logger.error("files.missing_bytes file_id=%s", stored_file.pk)
        raise NotFound(_("ファイルが見つかりません。"), code="file_not_found") from exc
    try:
        audit_record(
            action="file.read",
            actor=actor,
            municipality_code=stored_file.municipality_id,
            target_type=TARGET_TYPE,
            target_id=str(stored_file.pk),
            purpose=purpose,
            personal_data=True,
            detail={"as_attachment": as_attachment},
        )
        response = FileResponse(handle, content_type=stored_file.content_type)
    except BaseException:
        handle.close()
        raise
    response["Content-Disposition"] = content_disposition(
        stored_file.original_name, as_attachment=as_attachment
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = RESPONSE_CSP
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@transaction.atomic
def file_delete(*, stored_file: StoredFile, actor: User | None, purpose: str) -> None:
    """Delete a stored file (e.g. an attachment of a draft): the row now, the bytes on commit.

    Callers decide whether the file may be deleted (drafts only). Records ``file.delete``.
    """
    purpose = _checked_purpose(purpose)
    storage = private_storage()
    storage_name = stored_file.storage_name
    file_id = str(stored_file.pk)
    municipality_code = stored_file.municipality_id
    stored_file.delete()
    audit_record(
        action="file.delete",
        actor=actor,
        municipality_code=municipality_code,
        target_type=TARGET_TYPE,
        target_id=file_id,
        purpose=purpose,
        personal_data=True,
        detail={"sha256": stored_file.sha256},
    )
    transaction.on_commit(lambda: _remove_bytes(storage, storage_name))


def file_sweep_orphans(*, older_than: timedelta = timedelta(hours=1)) -> list[str]:
    """Remove stored bytes that no ``StoredFile`` row refers to and that are older than
    ``older_than`` (left behind by rolled-back transactions or failed deletes).

    The grace period keeps files of transactions still in progress. Returns the names removed
    and records ``file.sweep`` when there were any.
    """
    root = private_root()
    if not root.is_dir():
        return []
    storage = private_storage()
    cutoff = time.time() - older_than.total_seconds()
    candidates: list[str] = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime <= cutoff:
            candidates.append(path.relative_to(root).as_posix())
    known: set[str] = set()
    for start in range(0, len(candidates), 500):
        batch = candidates[start : start + 500]
        known.update(
            StoredFile.objects.filter(storage_name__in=batch).values_list("storage_name", flat=True)
        )
    orphans = [name for name in candidates if name not in known]
    for name in orphans:
        _remove_bytes(storage, name)
    if orphans:
        audit_record(action="file.sweep", target_type=TARGET_TYPE, detail={"count": len(orphans)})
    return orphans
