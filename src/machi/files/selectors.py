"""Reads of stored attachments, always scoped to the municipalities the caller may see."""

from __future__ import annotations

import uuid
from collections.abc import Set

from django.utils.translation import gettext as _

from machi.core.exceptions import NotFound
from machi.files.models import StoredFile


def _not_found() -> NotFound:
    return NotFound(_("ファイルが見つかりません。"), code="file_not_found")


def file_get(*, file_id: uuid.UUID | str, municipality_codes: Set[str]) -> StoredFile:
    """The file ``file_id`` if it belongs to one of ``municipality_codes``, else ``NotFound``.

    Pass the codes the user may see (``core.selectors.visible_municipality_codes``). Another
    municipality's file and a file that does not exist look the same to the caller.
    """
    try:
        pk = file_id if isinstance(file_id, uuid.UUID) else uuid.UUID(str(file_id))
    except ValueError as exc:
        raise _not_found() from exc
    if not municipality_codes:
        raise _not_found()
    try:
        return StoredFile.objects.get(pk=pk, municipality_id__in=set(municipality_codes))
    except StoredFile.DoesNotExist as exc:
        raise _not_found() from exc
