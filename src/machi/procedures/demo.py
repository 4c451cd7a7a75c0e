"""Demo procedures: 加古川市's catalog with complete forms, shared as templates to 稲美町 (横展開).

Idempotent: procedures that exist are left as they are.
"""

from __future__ import annotations

from django.db import transaction

from machi.procedures import services
from machi.procedures.demo_catalog import PROCEDURES
from machi.procedures.demo_forms import FORMS
from machi.procedures.models import Procedure, ProcedureTemplate

HOME = "282103"  # 加古川市 builds the catalog
ADOPTERS = {"283819": ["juminhyo", "sodai-gomi", "inu-touroku", "risai-shomei"]}  # 稲美町


@transaction.atomic
def load_procedures_demo() -> int:
    """Create the demo catalog; return how many procedures were created."""
    created = 0
    for entry in PROCEDURES:
        if Procedure.objects.filter(municipality_id=HOME, slug=entry["slug"]).exists():
            continue
        values = {k: v for k, v in entry.items() if k not in ("slug", "name", "department", "form")}
        procedure = services.procedure_create(
            actor=None,
            municipality_code=HOME,
            slug=entry["slug"],
            name=entry["name"],
            department_code=entry.get("department"),
            is_published=True,
            **values,
        )
        form_key = entry.get("form")
        if form_key:
            services.form_version_create(
                actor=None, procedure=procedure, definition=FORMS[form_key], publish=True
            )
        created += 1
    for municipality_code, slugs in ADOPTERS.items():
        for slug in slugs:
            if Procedure.objects.filter(municipality_id=municipality_code, slug=slug).exists():
                continue
            source = Procedure.objects.get(municipality_id=HOME, slug=slug)
            template = ProcedureTemplate.objects.filter(source=source).first()
            if template is None:
                template = services.template_publish(actor=None, procedure=source)
            department = source.department.code if source.department else None
            adopted = services.template_adopt(
                actor=None,
                template=template,
                municipality_code=municipality_code,
                department_code=department,
            )
            services.procedure_update(actor=None, procedure=adopted, is_published=True)
            created += 1
    return created
