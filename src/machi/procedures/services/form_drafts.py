"""The form editor's draft: one unpublished version that edits replace until it is published."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from machi.core.models import User
from machi.core.services import audit_record
from machi.procedures.models import FormVersion, Procedure
from machi.procedures.services.catalog import (
    _definition_hash,
    _require_editor,
    form_version_create,
    parse_definition,
)


@transaction.atomic
def form_version_save_draft(
    *, actor: User | None, procedure: Procedure, definition: dict[str, Any]
) -> FormVersion:
    """Save the editor's working form: replace the unpublished draft, or start a new one.

    Published versions never change (applications keep the version they were started on), so
    an edit after publication makes a new draft version.
    """
    _require_editor(actor, procedure.municipality_id)
    normalised = parse_definition(definition).to_json()
    Procedure.objects.select_for_update().filter(pk=procedure.pk).first()
    latest = procedure.form_versions.order_by("-number").first()
    if latest is None or latest.published_at is not None:
        return form_version_create(actor=actor, procedure=procedure, definition=normalised)
    latest.definition = normalised
    latest.definition_sha256 = _definition_hash(normalised)
    latest.save(update_fields=["definition", "definition_sha256", "updated_at"])
    audit_record(
        action="form_version.update",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"version": latest.number, "sha256": latest.definition_sha256},
    )
    return latest
