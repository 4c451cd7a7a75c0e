"""Reading issued PDFs back from the documents storage, checked; and sweeping orphaned files.

Every read (the resident's and staff's downloads, /verify/ by ID, ``documents_check``) goes
through ``document_read``: the bytes must be there and match the row's size and SHA-256, or
``DocumentUnavailable`` is raised (a clear message, an audit entry and an error log line;
never bytes that differ from what was issued, never a 500).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta
from typing import Final

from django.core.files.storage import Storage
from django.utils.translation import gettext_lazy as _

from machi.core.exceptions import ApplicationError
from machi.core.models import User
from machi.core.services import audit_record
from machi.documents.models import IssuedDocument
from machi.documents.storage import STORAGE_ALIAS, document_storage, remove_bytes

logger = logging.getLogger(__name__)

MISSING: Final = "document_missing"
CORRUPT: Final = "document_corrupt"
UNREADABLE: Final = "storage_unavailable"
SWEEP_BATCH: Final = 500

_CHUNK: Final = 1024 * 1024


class DocumentUnavailable(ApplicationError):
    """The stored PDF is missing, differs from what was issued, or the storage cannot be read."""

    status = 503
    default_code = UNREADABLE


MESSAGES: Final = {
    MISSING: _(
        "保管されている文書のファイルが見つかりません。担当課にお問い合わせください"
        "（発行の記録は残っています）。"
    ),
    CORRUPT: _(
        "保管されている文書のファイルが発行時の内容と一致しないため、お渡しできません。"
        "担当課にお問い合わせください。"
    ),
    UNREADABLE: _(
        "文書の保管場所に接続できないため、表示できません。時間をおいてもう一度お試しください。"
    ),
}


def _refuse(
    document: IssuedDocument, code: str, actor: User | None, detail: dict[str, object]
) -> DocumentUnavailable:
    logger.error(
        "documents.integrity_failed document=%s code=%s storage_name=%s detail=%s",
        document.pk,
        code,
        document.storage_name,
        detail,
    )
    audit_record(
        action="document.integrity_failed",
        actor=actor if actor is not None and actor.is_authenticated else None,
        municipality_code=document.municipality_id,
        target_type="issued_document",
        target_id=document.pk,
        detail={"code": code, "expected_sha256": document.sha256, **detail},
    )
    return DocumentUnavailable(MESSAGES[code], code=code)


def _read(storage: Storage, document: IssuedDocument) -> tuple[bytes, int, str]:
    """(the bytes if no longer than issued, the file's real size, its SHA-256)."""
    with storage.open(document.storage_name, "rb") as handle:
        # One byte more than recorded: a longer file is caught without holding all of it.
        data = bytes(handle.read(document.size + 1))
        digest = hashlib.sha256(data)
        size = len(data)
        if size > document.size:  # measured for the record only, never returned
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
            data = b""
    return data, size, digest.hexdigest()


def document_read(*, document: IssuedDocument, actor: User | None = None) -> bytes:
    """The PDF exactly as issued, or ``DocumentUnavailable`` (code ``document_missing``,
    ``document_corrupt`` or ``storage_unavailable``; recorded as ``document.integrity_failed``).
    """
    storage = document_storage()
    try:
        data, size, digest = _read(storage, document)
    except FileNotFoundError:
        raise _refuse(document, MISSING, actor, {}) from None
    except Exception as exc:  # a storage outage (network, credentials) must not be a 500
        logger.exception("documents.storage_read_failed document=%s", document.pk)
        raise _refuse(document, UNREADABLE, actor, {"error": type(exc).__name__}) from exc
    if size != document.size or digest != document.sha256:
        raise _refuse(
            document,
            CORRUPT,
            actor,
            {"size": size, "expected_size": document.size, "sha256": digest},
        )
    return data


def _walk(storage: Storage, directory: str = "") -> list[str]:
    """Every file name under ``directory``, relative to the storage's root."""
    folders, files = storage.listdir(directory)
    names = [f"{directory}/{name}" if directory else name for name in files]
    for folder in folders:
        names.extend(_walk(storage, f"{directory}/{folder}" if directory else folder))
    return names


def document_sweep_orphans(*, older_than: timedelta = timedelta(hours=1)) -> list[str]:
    """Remove stored PDFs that no ``IssuedDocument`` names and that are older than ``older_than``.

    They are left by a process killed between writing the file and committing its row. The
    grace period keeps the files of issues still in progress. Returns the names removed and
    records ``document.sweep`` when there were any.
    """
    storage = document_storage()
    cutoff = time.time() - older_than.total_seconds()
    try:
        names = _walk(storage)
    except FileNotFoundError:  # nothing stored yet
        return []
    known: set[str] = set()
    for start in range(0, len(names), SWEEP_BATCH):
        batch = names[start : start + SWEEP_BATCH]
        known.update(
            IssuedDocument.objects.filter(storage_name__in=batch).values_list(
                "storage_name", flat=True
            )
        )
    orphans = []
    for name in names:
        if name in known or storage.get_modified_time(name).timestamp() > cutoff:
            continue
        remove_bytes(storage, name)
        orphans.append(name)
    if orphans:
        audit_record(
            action="document.sweep",
            target_type="issued_document",
            detail={"count": len(orphans), "storage": STORAGE_ALIAS},
        )
    return orphans
