"""Reads for online procedures: catalog search, procedure pages, applications by owner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from machi.core.exceptions import NotFound
from machi.core.japanese import search_key
from machi.core.models import User
from machi.core.selectors import visible_municipality_codes
from machi.procedures.formengine import FormDefinition, localize, summary
from machi.procedures.models import (
    Application,
    ApplicationStatus,
    CorrectionRequest,
    FormVersion,
    Procedure,
    ProcedureTemplate,
)


@dataclass(frozen=True)
class CatalogQuery:
    """What a resident searches the catalog by."""

    q: str = ""
    municipality_code: str = ""
    department_code: str = ""
    audience: str = ""
    life_event: str = ""


def procedure_search(*, query: CatalogQuery, published_only: bool = True) -> QuerySet[Procedure]:
    """Procedures matching every word of ``q`` however it was typed (kanji, kana, half-width).

    Each word is normalised with ``core.japanese.search_key``, the same function that built the
    procedure's ``search_text``, so じゅうみんひょう, ジュウミンヒョウ and ｼﾞｭｳﾐﾝﾋｮｳ all find 住民票.
    """
    queryset = Procedure.objects.filter(municipality__is_active=True)
    if published_only:
        queryset = queryset.filter(is_published=True)
    for word in query.q.replace("　", " ").split():
        key = search_key(word)
        if key:
            queryset = queryset.filter(search_text__contains=key)
    if query.municipality_code:
        queryset = queryset.filter(municipality_id=query.municipality_code)
    if query.department_code:
        queryset = queryset.filter(department__code=query.department_code)
    if query.audience:
        queryset = queryset.filter(Q(audience=query.audience) | Q(audience="anyone"))
    if query.life_event:
        # JSON "contains" differs between SQLite and PostgreSQL; the quoted key is exact on both.
        queryset = queryset.filter(life_events__icontains=f'"{query.life_event}"')
    return (
        queryset.select_related("municipality", "department")
        .annotate(current_form_number=_current_form_number())
        .order_by("municipality_id", "name_kana", "name")
    )


def _current_form_number() -> Subquery:
    """The newest published form version's number, in the same query (no query per row)."""
    return Subquery(
        FormVersion.objects.filter(procedure=OuterRef("pk"), published_at__isnull=False)
        .order_by("-number")
        .values("number")[:1]
    )


def procedure_get_public(*, municipality_code: str, slug: str) -> Procedure:
    """A published procedure by its public address, or ``NotFound``."""
    procedure = (
        Procedure.objects.select_related("municipality", "department")
        .filter(municipality_id=municipality_code, slug=slug, is_published=True)
        .first()
    )
    if procedure is None:
        raise NotFound(_("手続が見つかりません。"), code="procedure_not_found")
    return procedure


def procedure_list_for_staff(*, user: User, municipality_code: str = "") -> QuerySet[Procedure]:
    """Procedures of the municipalities the staff member belongs to."""
    codes = visible_municipality_codes(user, prefecture_wide=True)
    queryset = Procedure.objects.filter(municipality_id__in=codes)
    if municipality_code:
        queryset = queryset.filter(municipality_id=municipality_code)
    return queryset.select_related("municipality", "department").order_by(
        "municipality_id", "name_kana"
    )


def procedure_get_for_staff(*, user: User, procedure_id: int) -> Procedure:
    """One procedure the staff member may see, or ``NotFound``."""
    procedure = procedure_list_for_staff(user=user).filter(pk=procedure_id).first()
    if procedure is None:
        raise NotFound(_("手続が見つかりません。"), code="procedure_not_found")
    return procedure


def template_list() -> QuerySet[ProcedureTemplate]:
    """Templates published by any municipality of the installation (shared by design)."""
    return ProcedureTemplate.objects.select_related("municipality").order_by("name")


def application_list_for_applicant(*, user: User) -> QuerySet[Application]:
    """A resident's own applications, newest first (drafts included)."""
    return (
        Application.objects.filter(applicant=user)
        .exclude(status=ApplicationStatus.DRAFT, answers={})
        .select_related("procedure", "municipality")
        .order_by("-created_at")
    )


def application_get_for_applicant(
    *, application_id: str, user: User | None, session_ids: list[str]
) -> Application:
    """An application its applicant may see: their own, or an anonymous one started in this session."""
    try:
        wanted = uuid.UUID(str(application_id))
    except ValueError:
        wanted = None
    valid_session_ids = [i for i in session_ids if _is_uuid(i)]
    condition = Q(pk__in=valid_session_ids, applicant__isnull=True)
    if user is not None and user.is_authenticated:
        condition |= Q(applicant=user)
    application = None
    if wanted is not None:
        application = (
            Application.objects.select_related("procedure", "municipality", "form_version")
            .filter(condition, pk=wanted)
            .first()
        )
    if application is None:
        raise NotFound(_("申請が見つかりません。"), code="application_not_found")
    return application


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def application_get(*, application_id: uuid.UUID | str) -> Application:
    """One application with what pages about it show (municipality, procedure, form, applicant).

    For other apps' internal use after their own permission check; not scoped to a user.
    """
    try:
        return Application.objects.select_related(
            "municipality", "procedure", "form_version", "applicant"
        ).get(pk=application_id)
    except Application.DoesNotExist as exc:
        raise NotFound(_("申請が見つかりません。")) from exc


# --- Corrections (補正) -------------------------------------------------------------------------


@dataclass(frozen=True)
class EditableField:
    """A field staff flagged for correction, in the applicant's words."""

    path: str  # "step.field" (a top-level field of a step)
    step: str
    label: str  # 「請求の内容：使用目的」 (step title：field label)
    is_file: bool


def _field_label(definition: FormDefinition, path: str, language: str) -> str:
    step_key, _dot, _key = path.partition(".")
    try:
        title = localize(definition.step(step_key).title, language)
    except KeyError:
        return path
    return f"{title}：{definition.label_for(path, language)}"


def correction_editable_fields(
    application: Application, *, language: str | None = None
) -> list[EditableField]:
    """The fields the open correction request lets the applicant change, in form order."""
    correction = (
        CorrectionRequest.objects.filter(application=application, answered_at__isnull=True)
        .order_by("-requested_at", "-id")
        .first()
    )
    if correction is None or application.status != ApplicationStatus.CORRECTION_REQUESTED:
        return []
    definition = application.form_version.form
    language = language or get_language() or "ja"
    flagged = set(correction.fields)
    return [
        EditableField(
            path=f"{step.key}.{item.key}",
            step=step.key,
            label=_field_label(definition, f"{step.key}.{item.key}", language),
            is_file=item.type == "file",
        )
        for step in definition.steps
        for item in step.fields
        if f"{step.key}.{item.key}" in flagged
    ]


@dataclass(frozen=True)
class CorrectionChange:
    """One flagged field of an answered correction: its value before and after, as text."""

    answered_at: datetime
    label: str
    before: str
    after: str
    changed: bool
    new_signature: bool


def _display(definition: FormDefinition, path: str, value: Any, language: str) -> str:
    step_key, _dot, key = path.partition(".")
    rows = summary(definition, {step_key: {key: value}}, language=language)
    if not rows:
        return str(value)
    if len(rows) == 1 and rows[0].path == path:
        return rows[0].display
    # A group: one line per item field (「子ども 1：氏名 山田 花子」).
    return "\n".join(f"{row.label} {row.display}" for row in rows)


def correction_diff(
    application: Application, *, language: str | None = None
) -> list[CorrectionChange]:
    """Before and after of every flagged field of every answered correction, newest first."""
    definition = application.form_version.form
    language = language or get_language() or "ja"
    changes: list[CorrectionChange] = []
    answered = CorrectionRequest.objects.filter(
        application=application, answered_at__isnull=False
    ).order_by("-answered_at", "-id")
    for correction in answered:
        for change in correction.changes:
            path = str(change.get("path", ""))
            if definition.field_at(path) is None:
                continue
            before, after = change.get("before"), change.get("after")
            changes.append(
                CorrectionChange(
                    answered_at=correction.answered_at or correction.requested_at,
                    label=_field_label(definition, path, language),
                    before=_display(definition, path, before, language),
                    after=_display(definition, path, after, language),
                    changed=before != after,
                    new_signature=bool(correction.signature_evidence_id),
                )
            )
    return changes
