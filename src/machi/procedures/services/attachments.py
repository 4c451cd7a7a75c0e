"""Attachments of an application: safe storage (無害化), look-up for the form engine, serving."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from django.utils.translation import gettext as _

from machi.core.exceptions import NotFound
from machi.core.models import User
from machi.files.policy import SUPPORTED_TYPES, FilePolicy
from machi.files.selectors import file_get
from machi.files.services import file_response, file_store
from machi.procedures.formengine import (
    FileInfo,
)
from machi.procedures.models import (
    Application,
)
from machi.procedures.services.catalog import _definition

if TYPE_CHECKING:
    # Types only: files' rows are reached through its services and selectors.
    from machi.files.selectors import StoredFile


def _attachment_purpose(application: Application) -> str:
    # Files are tagged with their application so they can never be attached to another one.
    return f"application:{application.pk}"


def attachment_store(
    *, application: Application, path: str, upload: UploadedFile, actor: User | None
) -> StoredFile:
    """Make an uploaded attachment safe (無害化) and store it for this application's field."""
    definition = _definition(application)
    spec = definition.file_spec(path)
    allowed = frozenset(spec.accept) & SUPPORTED_TYPES if spec.accept else SUPPORTED_TYPES
    policy = FilePolicy(
        max_size=spec.max_size or FilePolicy().max_size, allowed_types=allowed or SUPPORTED_TYPES
    )
    return file_store(
        municipality_code=application.municipality_id,
        upload=upload,
        policy=policy,
        actor=actor,
        purpose=_attachment_purpose(application),
    )


def file_lookup_for(application: Application) -> Callable[[str], FileInfo | None]:
    """What the form engine asks about an attached file id: only this application's files count."""

    def lookup(file_id: str) -> FileInfo | None:
        try:
            stored = file_get(file_id=file_id, municipality_codes={application.municipality_id})
        except NotFound:
            return None
        if stored.purpose != _attachment_purpose(application):
            return None
        return FileInfo(
            content_type=stored.content_type, size=stored.size, name=stored.original_name
        )

    return lookup


def attachment_response(
    *, application: Application, file_id: str, actor: User | None, purpose: str
) -> FileResponse:
    """Serve one of the application's attachments (the caller has checked who may see it)."""
    stored = file_get(file_id=file_id, municipality_codes={application.municipality_id})
    if stored.purpose != _attachment_purpose(application):
        raise NotFound(_("ファイルが見つかりません。"), code="file_not_found")
    return file_response(stored_file=stored, actor=actor, purpose=purpose)
