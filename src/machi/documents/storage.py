"""Where issued PDFs live: the ``documents`` storage of ``settings.STORAGES``.

Embedded default: ``machi.files.storage.PrivateStorage`` in ``MACHI_DOCUMENTS_ROOT`` (files
0600, folders 0700, no URL). Production may set ``MACHI_DOCUMENTS_STORAGE=s3``: an
S3-compatible bucket through django-storages. Either way the bytes are written under a new
random name before the row that names them is committed, and read back only through
``services.document_read``, which checks size and SHA-256 against the row.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Final

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

from machi.files.storage import refuse_public_overlap

logger = logging.getLogger(__name__)

STORAGE_ALIAS: Final = "documents"


def document_storage() -> Storage:
    """The configured storage for issued documents (a local folder is checked to be private)."""
    storage = storages[STORAGE_ALIAS]
    if isinstance(storage, FileSystemStorage):
        refuse_public_overlap(Path(storage.location), setting="MACHI_DOCUMENTS_ROOT")
    return storage


def new_storage_name(municipality_code: str) -> str:
    """``<municipality>/<2 hex>/<32 hex>.pdf``: random, so names reveal nothing and never clash."""
    token = secrets.token_hex(16)
    return f"{municipality_code}/{token[:2]}/{token}.pdf"


def write_bytes(storage: Storage, name: str, data: bytes) -> str:
    """Save ``data`` under ``name`` (never overwriting); flushed to disk for a local folder."""
    saved = storage.save(name, ContentFile(data))
    if isinstance(storage, FileSystemStorage):
        fd = os.open(storage.path(saved), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return saved


def remove_bytes(storage: Storage, name: str) -> None:
    """Delete a stored file; a failure is logged (an orphan costs space, not correctness)."""
    try:
        storage.delete(name)
    except Exception:  # any backend error: the caller's outcome must not change because of it
        logger.exception("documents.remove_failed storage_name=%s", name)
