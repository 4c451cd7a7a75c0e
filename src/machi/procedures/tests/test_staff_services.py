"""Staff write services of procedures: who may write, and the audited draft replace."""

from __future__ import annotations

import copy

import pytest

from machi.core.exceptions import Forbidden, InvalidInput
from machi.core.models import AuditEntry
from machi.procedures import services
from machi.procedures.models import FormVersion, Procedure, ProcedureTemplate
from machi.procedures.tests.conftest import SIMPLE_FORM

pytestmark = pytest.mark.django_db


def _state():
    return (
        list(Procedure.objects.order_by("pk").values_list("pk", "name", "is_published", "fee_yen")),
        list(
            FormVersion.objects.order_by("pk").values_list(
                "pk", "definition_sha256", "published_at"
            )
        ),
        list(ProcedureTemplate.objects.order_by("pk").values_list("pk", "version")),
        AuditEntry.objects.count(),
    )


WRITES = {
    "procedure_create": lambda actor, procedure, template: services.procedure_create(
        actor=actor, municipality_code="282103", slug="pref-made", name="県が作る手続"
    ),
    "procedure_update": lambda actor, procedure, template: services.procedure_update(
        actor=actor, procedure=procedure, name="県が変えた名前"
    ),
    "form_version_create": lambda actor, procedure, template: services.form_version_create(
        actor=actor, procedure=procedure, definition=SIMPLE_FORM, publish=True
    ),
    "form_version_publish": lambda actor, procedure, template: services.form_version_publish(
        actor=actor,
        form_version=FormVersion.objects.get(procedure=procedure, published_at__isnull=True),
    ),
    "form_version_save_draft": lambda actor, procedure, template: services.form_version_save_draft(
        actor=actor, procedure=procedure, definition=SIMPLE_FORM
    ),
    "template_publish": lambda actor, procedure, template: services.template_publish(
        actor=actor, procedure=procedure
    ),
    "template_adopt": lambda actor, procedure, template: services.template_adopt(
        actor=actor, template=template, municipality_code="281000", slug="adopted"
    ),
    "template_update_apply": lambda actor, procedure, template: services.template_update_apply(
        actor=actor, procedure=procedure
    ),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_the_prefecture_admin_is_refused_on_every_procedures_write(
    write, simple_procedure, kakogawa_admin, prefecture_admin, kobe
):
    template = services.template_publish(actor=kakogawa_admin, procedure=simple_procedure)
    adopted = services.template_adopt(
        actor=None, template=template, municipality_code="281000", slug="from-template"
    )
    target = adopted if write == "template_update_apply" else simple_procedure
    if write == "form_version_publish":
        # The draft to publish exists before the refusal is measured.
        FormVersion.objects.create(
            procedure=target, number=8, definition=SIMPLE_FORM, definition_sha256="x"
        )
    before = _state()
    with pytest.raises(Forbidden):
        WRITES[write](prefecture_admin, target, template)
    assert _state() == before


def test_the_municipality_admin_replaces_a_draft_with_an_audit_entry(
    simple_procedure, kakogawa_admin
):
    changed = copy.deepcopy(SIMPLE_FORM)
    changed["steps"][0]["title"]["ja"] = "申込の内容"
    draft = services.form_version_save_draft(
        actor=kakogawa_admin, procedure=simple_procedure, definition=changed
    )
    assert (draft.number, draft.published_at) == (2, None)  # v1 is published: a new version
    changed["steps"][0]["title"]["ja"] = "申込の内容（改）"
    replaced = services.form_version_save_draft(
        actor=kakogawa_admin, procedure=simple_procedure, definition=changed
    )
    assert replaced.pk == draft.pk
    replaced.refresh_from_db()
    assert replaced.definition["steps"][0]["title"]["ja"] == "申込の内容（改）"
    assert replaced.definition_sha256 == services._definition_hash(replaced.definition)
    assert FormVersion.objects.filter(procedure=simple_procedure).count() == 2
    entry = AuditEntry.objects.order_by("-id").first()
    assert (entry.action, entry.target_id, entry.detail) == (
        "form_version.update",
        str(simple_procedure.pk),
        {"version": 2, "sha256": replaced.definition_sha256},
    )


def test_a_bad_definition_replaces_nothing(simple_procedure, kakogawa_admin):
    draft = services.form_version_save_draft(
        actor=kakogawa_admin, procedure=simple_procedure, definition=SIMPLE_FORM
    )
    sha = draft.definition_sha256
    audit = AuditEntry.objects.count()
    with pytest.raises(InvalidInput):
        services.form_version_save_draft(
            actor=kakogawa_admin, procedure=simple_procedure, definition={"schema": 1, "steps": []}
        )
    draft.refresh_from_db()
    assert draft.definition_sha256 == sha
    assert AuditEntry.objects.count() == audit
