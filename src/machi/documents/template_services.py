"""Writes for document templates: the wording of each kind of document per procedure (団体管理者)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from machi.core.exceptions import InvalidInput
from machi.core.models import User
from machi.core.services import audit_record
from machi.documents.models import DocumentKind, DocumentTemplate
from machi.documents.rendering import RenderError, compile_template, render_text
from machi.documents.selectors import TEMPLATE_EDITOR_ROLES, require_role

if TYPE_CHECKING:
    from machi.procedures.selectors import Procedure


SAMPLE_CONTEXT: dict[str, Any] = {
    "municipality": {"name": "加古川市", "code": "282103", "head_title": "加古川市長"},
    "procedure": {"name": "見本の手続"},
    "receipt_number": "2026-000001",
    "applicant_name": "加古川 花子",
    "applicant_address": "兵庫県加古川市加古川町北在家2000",
    "issue_date": "令和8年4月1日",
    "submitted_date": "令和8年3月25日",
    "fee_yen": 300,
    "answers": {},
    "display": {},
    "rows": [{"step": "申請者", "label": "氏名", "display": "加古川 花子"}],
    "note": "",
    "verification_id": "0000-0000-0000",
}


def _check_template(title: str, body: str) -> None:
    errors: dict[str, list[str]] = {}
    for field, source in (("title", title), ("body", body)):
        try:
            compile_template(source)
            render_text(source, SAMPLE_CONTEXT)
        except RenderError as exc:
            errors[field] = [_("テンプレートに誤りがあります: %(error)s") % {"error": exc}]
    if not title.strip():
        errors.setdefault("title", []).append(_("表題を入力してください。"))
    if not body.strip():
        errors.setdefault("body", []).append(_("本文を入力してください。"))
    if errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=errors)


@transaction.atomic
def document_template_save(
    *, procedure: Procedure, kind: str, title: str, body: str, actor: User | None
) -> DocumentTemplate:
    """Set the procedure's own wording for ``kind`` (団体管理者 of its municipality)."""
    if kind not in DocumentKind.values:
        raise InvalidInput(_("文書の種類が正しくありません。"), code="invalid_kind")
    require_role(
        actor,
        procedure.municipality_id,
        TEMPLATE_EDITOR_ROLES,
        _("この団体の文書テンプレートを編集する権限がありません。"),
    )
    _check_template(title, body)
    template, _created = DocumentTemplate.objects.update_or_create(
        procedure=procedure,
        kind=kind,
        defaults={
            "municipality_id": procedure.municipality_id,
            "title": title.strip(),
            "body": body.replace("\r\n", "\n").strip(),
            "updated_by": actor if actor is not None and actor.is_authenticated else None,
        },
    )
    audit_record(
        action="document_template.saved",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"kind": kind},
    )
    return template


@transaction.atomic
def document_template_reset(*, procedure: Procedure, kind: str, actor: User | None) -> None:
    """Drop the procedure's own wording for ``kind``: the built-in default applies again."""
    require_role(
        actor,
        procedure.municipality_id,
        TEMPLATE_EDITOR_ROLES,
        _("この団体の文書テンプレートを編集する権限がありません。"),
    )
    deleted, _rows = DocumentTemplate.objects.filter(procedure=procedure, kind=kind).delete()
    if deleted:
        audit_record(
            action="document_template.reset",
            actor=actor,
            municipality_code=procedure.municipality_id,
            target_type="procedure",
            target_id=procedure.pk,
            detail={"kind": kind},
        )
