"""Locking, for the apps that act on an application (cases, documents, payments)."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict
from machi.procedures.models import (
    Application,
)


def application_lock(
    *, application_id: uuid.UUID | str, expected_lock_version: int | None = None
) -> Application:
    """Lock the application row for this transaction, check the version the user saw, bump it.

    The one way another app writes "I changed this application": a stale writer gets
    「他の職員が更新しました」 (``stale_application``) and nothing is changed.
    """
    locked = Application.objects.select_for_update().get(pk=application_id)
    if expected_lock_version is not None and locked.lock_version != expected_lock_version:
        raise Conflict(
            _("この申請は他の職員が更新しました。画面を読み込み直してください。"),
            code="stale_application",
        )
    Application.objects.filter(pk=locked.pk).update(
        lock_version=F("lock_version") + 1, updated_at=timezone.now()
    )
    locked.refresh_from_db(fields=["lock_version", "updated_at"])
    return locked


def application_get_for_update(*, application_id: uuid.UUID | str) -> Application:
    """The application row, locked until the end of the caller's transaction (no version bump).

    For work that must not race another writer of the same application (a payment being
    created, a document being issued) but does not itself change the application.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("application_get_for_update needs a transaction")
    return (
        Application.objects.select_for_update(of=("self",))
        .select_related("municipality", "procedure", "form_version", "applicant")
        .get(pk=application_id)
    )
