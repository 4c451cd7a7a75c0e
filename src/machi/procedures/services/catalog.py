"""Catalog writes: procedures, their form versions and parsing of form definitions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict, Forbidden, InvalidInput
from machi.core.japanese import kana_reading, search_key
from machi.core.models import Department, Role, User
from machi.core.selectors import municipality_get, user_has_role
from machi.core.services import audit_record
from machi.procedures.formengine import (
    DefinitionError,
    FormDefinition,
)
from machi.procedures.models import (
    Application,
    AssuranceLevel,
    Channel,
    FormVersion,
    LifeEvent,
    Procedure,
)
from machi.procedures.procedure_fields import PROCEDURE_EDITABLE_FIELDS

EDITOR_ROLES = (Role.MUNICIPALITY_ADMIN,)
# The one list of editable catalog fields, shared with the staff form.
PROCEDURE_FIELDS = PROCEDURE_EDITABLE_FIELDS


def _require_editor(actor: User | None, municipality_code: str) -> None:
    if actor is not None and not user_has_role(
        actor, municipality_code=municipality_code, roles=EDITOR_ROLES, prefecture_wide=False
    ):
        raise Forbidden(_("この団体の手続を編集する権限がありません。"))


def procedure_search_text(procedure: Procedure) -> str:
    """The normalised text a catalog search matches (names, readings, keywords, life events)."""
    events = " ".join(str(LifeEvent(e).label) for e in procedure.life_events if e in LifeEvent)
    parts = [
        procedure.name,
        procedure.name_kana,
        kana_reading(procedure.name),
        procedure.name_en,
        procedure.keywords,
        kana_reading(procedure.keywords),
        events,
        kana_reading(events),
    ]
    return " ".join(search_key(part) for part in parts if part)


def _validate_procedure_values(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    channels = values.get("channels", [])
    if not isinstance(channels, list) or any(c not in Channel.values for c in channels):
        errors["channels"] = [_("受付方法の値が正しくありません。")]
    events = values.get("life_events", [])
    if not isinstance(events, list) or any(e not in LifeEvent.values for e in events):
        errors["life_events"] = [_("ライフイベントの値が正しくありません。")]
    if "assurance_level" in values and values["assurance_level"] not in AssuranceLevel.values:
        errors["assurance_level"] = [_("本人確認の水準が正しくありません。")]
    if "name" in values and not str(values["name"]).strip():
        errors["name"] = [_("手続名を入力してください。")]
    if errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=errors)


@transaction.atomic
def procedure_create(
    *,
    actor: User | None,
    municipality_code: str,
    slug: str,
    name: str,
    department_code: str | None = None,
    is_published: bool = False,
    **values: Any,
) -> Procedure:
    """Add a procedure to a municipality's catalog (団体管理者)."""
    municipality = municipality_get(code=municipality_code)
    _require_editor(actor, municipality.code)
    unknown = set(values) - set(PROCEDURE_FIELDS)
    if unknown:
        raise InvalidInput(_("不明な項目があります: %(f)s") % {"f": ", ".join(sorted(unknown))})
    _validate_procedure_values({"name": name, **values})
    department = None
    if department_code:
        department = Department.objects.filter(
            municipality=municipality, code=department_code
        ).first()
        if department is None:
            raise InvalidInput(
                _("担当課が見つかりません。"),
                field_errors={"department": [_("担当課が見つかりません。")]},
            )
    procedure = Procedure(
        municipality=municipality,
        slug=slug,
        name=name.strip(),
        department=department,
        is_published=is_published,
        **values,
    )
    procedure.search_text = procedure_search_text(procedure)
    try:
        with transaction.atomic():
            procedure.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(_("URL名 %(slug)s は使われています。") % {"slug": slug}) from exc
    audit_record(
        action="procedure.create",
        actor=actor,
        municipality_code=municipality.code,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"slug": slug},
    )
    return procedure


@transaction.atomic
def procedure_update(*, actor: User | None, procedure: Procedure, **values: Any) -> Procedure:
    """Change catalog fields of a procedure (団体管理者)."""
    _require_editor(actor, procedure.municipality_id)
    unknown = set(values) - set(PROCEDURE_FIELDS) - {"is_published", "department_code"}
    if unknown:
        raise InvalidInput(_("不明な項目があります: %(f)s") % {"f": ", ".join(sorted(unknown))})
    _validate_procedure_values(values)
    if "department_code" in values:
        code = values.pop("department_code")
        procedure.department = (
            Department.objects.filter(municipality_id=procedure.municipality_id, code=code).first()
            if code
            else None
        )
    for field, value in values.items():
        setattr(procedure, field, value)
    procedure.search_text = procedure_search_text(procedure)
    procedure.save()
    audit_record(
        action="procedure.update",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"fields": sorted(values)},
    )
    return procedure


def _definition_hash(definition: dict[str, Any]) -> str:
    canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_definition(definition: Any) -> FormDefinition:
    """Parse a form definition or raise ``InvalidInput`` listing every problem."""
    if not isinstance(definition, dict):
        raise InvalidInput(
            _("様式定義はJSONオブジェクトでなければなりません。"),
            field_errors={"definition": [_("様式定義はJSONオブジェクトでなければなりません。")]},
        )
    try:
        return FormDefinition.from_json(definition)
    except DefinitionError as exc:
        messages = [str(m) for m in exc.errors]
        raise InvalidInput(
            _("様式定義に誤りがあります。"), field_errors={"definition": messages}
        ) from exc


@transaction.atomic
def form_version_create(
    *, actor: User | None, procedure: Procedure, definition: dict[str, Any], publish: bool = False
) -> FormVersion:
    """Save a new version of a procedure's form; optionally publish it at once."""
    _require_editor(actor, procedure.municipality_id)
    parsed = parse_definition(definition)
    normalised = parsed.to_json()
    Procedure.objects.select_for_update().filter(pk=procedure.pk).first()
    last = procedure.form_versions.order_by("-number").first()
    version = FormVersion.objects.create(
        procedure=procedure,
        number=(last.number + 1) if last else 1,
        definition=normalised,
        definition_sha256=_definition_hash(normalised),
        created_by=actor,
        published_at=timezone.now() if publish else None,
    )
    audit_record(
        action="form_version.publish" if publish else "form_version.create",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"version": version.number},
    )
    return version


@transaction.atomic
def form_version_publish(*, actor: User | None, form_version: FormVersion) -> FormVersion:
    """Publish a draft form version; applications already started keep their own version."""
    _require_editor(actor, form_version.procedure.municipality_id)
    if form_version.published_at is None:
        form_version.published_at = timezone.now()
        form_version.save(update_fields=["published_at"])
        audit_record(
            action="form_version.publish",
            actor=actor,
            municipality_code=form_version.procedure.municipality_id,
            target_type="procedure",
            target_id=form_version.procedure_id,
            detail={"version": form_version.number},
        )
    return form_version


def current_form_version(procedure: Procedure) -> FormVersion | None:
    """The newest published form version of a procedure."""
    return procedure.form_versions.filter(published_at__isnull=False).order_by("-number").first()


def _definition(application: Application) -> FormDefinition:
    return application.form_version.form
