"""Sharing procedures between municipalities (横展開): templates, adoption, pulling updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from machi.core.exceptions import NotFound
from machi.core.models import User
from machi.core.services import audit_record
from machi.procedures.formengine import (
    FormDefinition,
    definition_diff,
)
from machi.procedures.models import (
    Procedure,
    ProcedureTemplate,
)
from machi.procedures.services.catalog import (
    PROCEDURE_FIELDS,
    _definition_hash,
    _require_editor,
    current_form_version,
    form_version_create,
    procedure_create,
    procedure_update,
)


def _snapshot(procedure: Procedure) -> dict[str, Any]:
    version = current_form_version(procedure)
    return {
        "procedure": {field: getattr(procedure, field) for field in PROCEDURE_FIELDS},
        "slug": procedure.slug,
        "form": version.definition if version else None,
    }


@transaction.atomic
def template_publish(*, actor: User | None, procedure: Procedure) -> ProcedureTemplate:
    """Publish (or republish, as a new version) a procedure as a template others can adopt."""
    _require_editor(actor, procedure.municipality_id)
    template = (
        ProcedureTemplate.objects.select_for_update()
        .filter(municipality_id=procedure.municipality_id, source=procedure)
        .first()
    )
    if template is None:
        template = ProcedureTemplate.objects.create(
            municipality_id=procedure.municipality_id,
            source=procedure,
            name=procedure.name,
            snapshot=_snapshot(procedure),
        )
    else:
        template.version += 1
        template.name = procedure.name
        template.snapshot = _snapshot(procedure)
        template.save()
    audit_record(
        action="template.publish",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure_template",
        target_id=template.pk,
        detail={"version": template.version},
    )
    return template


@transaction.atomic
def template_adopt(
    *,
    actor: User | None,
    template: ProcedureTemplate,
    municipality_code: str,
    department_code: str | None = None,
    slug: str | None = None,
) -> Procedure:
    """Create a municipality's own procedure from a template in one step (publishes its form)."""
    snapshot = template.snapshot
    procedure = procedure_create(
        actor=actor,
        municipality_code=municipality_code,
        slug=slug or snapshot["slug"],
        department_code=department_code,
        **{k: v for k, v in snapshot["procedure"].items() if k != "name"},
        name=snapshot["procedure"]["name"],
    )
    procedure.origin_template = template
    procedure.origin_template_version = template.version
    procedure.save(update_fields=["origin_template", "origin_template_version"])
    if snapshot.get("form"):
        form_version_create(
            actor=actor, procedure=procedure, definition=snapshot["form"], publish=True
        )
    audit_record(
        action="template.adopt",
        actor=actor,
        municipality_code=municipality_code,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"template": template.pk, "version": template.version},
    )
    return procedure


@dataclass(frozen=True)
class TemplateUpdate:
    """What pulling the newest template version would change."""

    from_version: int
    to_version: int
    procedure_changes: list[str]
    form_changes: list[str]

    @property
    def has_changes(self) -> bool:
        return bool(self.procedure_changes or self.form_changes)


def template_update_preview(*, procedure: Procedure) -> TemplateUpdate | None:
    """Differences between an adopted procedure and the newest version of its template."""
    template = procedure.origin_template
    if template is None or procedure.origin_template_version is None:
        return None
    if template.version <= procedure.origin_template_version:
        return TemplateUpdate(procedure.origin_template_version, template.version, [], [])
    new = template.snapshot
    procedure_changes = [
        _("%(field)s: 「%(old)s」→「%(new)s」")
        % {
            "field": getattr(Procedure._meta.get_field(f), "verbose_name", f),
            "old": getattr(procedure, f),
            "new": v,
        }
        for f, v in new["procedure"].items()
        if f in PROCEDURE_FIELDS and getattr(procedure, f) != v
    ]
    form_changes: list[str] = []
    current = current_form_version(procedure)
    if new.get("form"):
        if current is None:
            form_changes = [_("様式が追加されます。")]
        else:
            form_changes = definition_diff(current.form, FormDefinition.from_json(new["form"]))
    return TemplateUpdate(
        procedure.origin_template_version, template.version, procedure_changes, form_changes
    )


@transaction.atomic
def template_update_apply(
    *, actor: User | None, procedure: Procedure, keep_local: tuple[str, ...] = ("fee_yen",)
) -> Procedure:
    """Pull the newest template version into an adopted procedure.

    Fields in ``keep_local`` (the municipality's own adjustments, e.g. its fee) are kept.
    """
    template = procedure.origin_template
    if template is None:
        raise NotFound(_("この手続はテンプレートから作られていません。"))
    snapshot = template.snapshot
    values = {k: v for k, v in snapshot["procedure"].items() if k not in keep_local}
    procedure_update(actor=actor, procedure=procedure, **values)
    current = current_form_version(procedure)
    if snapshot.get("form") and (
        current is None or current.definition_sha256 != _definition_hash(snapshot["form"])
    ):
        form_version_create(
            actor=actor, procedure=procedure, definition=snapshot["form"], publish=True
        )
    procedure.origin_template_version = template.version
    procedure.save(update_fields=["origin_template_version"])
    return procedure
