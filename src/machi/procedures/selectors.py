"""Reads for online procedures: catalog search, procedure pages, applications by owner."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from machi.core.exceptions import NotFound
from machi.core.japanese import search_key
from machi.core.models import User
from machi.core.selectors import visible_municipality_codes
from machi.procedures import search
from machi.procedures.formengine import FormDefinition, localize, summary
from machi.procedures.models import (
    Application,
    ApplicationStatus,
    Channel,
    CorrectionRequest,
    FormVersion,
    Procedure,
    ProcedureTemplate,
)
from machi.procedures.search import grams_are_exact, key_grams


@dataclass(frozen=True)
class CatalogQuery:
    """What a resident searches the catalog by."""

    q: str = ""
    municipality_code: str = ""
    department_code: str = ""
    audience: str = ""
    life_event: str = ""


@dataclass(frozen=True)
class CatalogEntry:
    """One search result: only what the catalog page and the API list show."""

    id: int
    municipality_code: str
    municipality_name: str
    slug: str
    name: str
    name_kana: str
    name_en: str
    description: str
    department: str | None
    audience: str
    legal_basis: str
    assurance_level: str
    fee_yen: int
    fee_per_copy: bool
    standard_processing_days: int | None
    annual_case_count: int | None
    channels: list[str]
    life_events: list[str]
    form_version: int | None = None

    @property
    def url(self) -> str:
        return f"/procedures/{self.municipality_code}/{self.slug}/"

    @property
    def offers_online(self) -> bool:
        return Channel.ONLINE in self.channels


# What a result needs (no search_text, grams or long texts): these columns as they are, and
# three under other names (``values()`` may not reuse a field's name for an expression).
_ENTRY_FIELDS = (
    "id",
    "slug",
    "name",
    "name_kana",
    "name_en",
    "description",
    "audience",
    "legal_basis",
    "assurance_level",
    "fee_yen",
    "fee_per_copy",
    "standard_processing_days",
    "annual_case_count",
    "channels",
    "life_events",
)
_ENTRY_RENAMED = {
    "municipality_code": F("municipality_id"),
    "municipality_name": F("municipality__name"),
    "department_name": F("department__name"),
}


def _matching(queryset: QuerySet[Procedure], q: str) -> QuerySet[Procedure]:
    """Procedures whose ``search_text`` contains the key of every word of ``q``.

    On PostgreSQL the GIN index on ``search_grams`` finds them (exactly, for keys of one or two
    characters; longer keys are confirmed with the substring test); elsewhere the substring test
    alone (``LIKE``), which is what both amount to.
    """
    postgresql = connections[queryset.db].vendor == "postgresql"
    for word in q.replace("　", " ").split():
        key = search_key(word)
        if not key:
            continue
        if postgresql:
            queryset = queryset.filter(search_grams__holds_all=key_grams(key))
            if grams_are_exact(key):
                continue
        queryset = queryset.filter(search_text__contains=key)
    return queryset


def procedure_search(
    *, query: CatalogQuery, published_only: bool = True
) -> QuerySet[Procedure, dict[str, Any]]:
    """Procedures matching every word of ``q`` however it was typed (kanji, kana, half-width).

    Each word is normalised with ``core.japanese.search_key``, the same function that built the
    procedure's ``search_text``, so じゅうみんひょう, ジュウミンヒョウ and ｼﾞｭｳﾐﾝﾋｮｳ all find 住民票.
    Rows are ``values()`` of the columns a result shows (turn a page of them into entries with
    :func:`catalog_entries`); ordered by municipality, reading and name.
    """
    queryset = _matching(Procedure.objects.filter(municipality__is_active=True), query.q)
    if published_only:
        queryset = queryset.filter(is_published=True)
    if query.municipality_code:
        queryset = queryset.filter(municipality_id=query.municipality_code)
    if query.department_code:
        queryset = queryset.filter(department__code=query.department_code)
    if query.audience:
        queryset = queryset.filter(Q(audience=query.audience) | Q(audience="anyone"))
    if query.life_event:
        # JSON "contains" differs between SQLite and PostgreSQL; the quoted key is exact on both.
        queryset = queryset.filter(life_events__icontains=f'"{query.life_event}"')
    return queryset.order_by("municipality_id", "name_kana", "name").values(
        *_ENTRY_FIELDS, **_ENTRY_RENAMED
    )


def _query_keys(q: str) -> list[str]:
    keys = (search_key(word) for word in q.replace("　", " ").split())
    return [key for key in keys if key]


# Attempts before the database answers instead (the catalog changing under every attempt: a
# bulk load in progress).
_INDEX_ATTEMPTS = 3


def catalog_page(*, query: CatalogQuery, offset: int, limit: int) -> list[CatalogEntry]:
    """The published entries ``offset`` to ``offset + limit`` of ``query``, with form numbers.

    The same entries, in the same order, as that slice of :func:`procedure_search`. A search by
    words and municipality only is answered by this process's ``search.CatalogIndex`` (one- and
    two-character keys such as 税 or み match thousands of rows: the database would sort or walk
    them all for a page of 50), used only while the catalog version is the index's (read first,
    so whatever the index holds is at least as new as what the database has now). One statement
    when the page's entries were shown before, one more for the rows of those that were not
    (with their form numbers and the version), one more to rebuild the index after any change
    of the catalog. Other filters go to the database.
    """
    if query.department_code or query.audience or query.life_event:
        return _database_page(query, offset, limit)
    using = Procedure.objects.db
    keys = _query_keys(query.q)
    index = search.catalog_index(using)
    for _attempt in range(_INDEX_ATTEMPTS):
        if index is None or index.version != search.catalog_version(using):
            index = search.build_catalog_index(using)  # at least as new as the version read
        ids = index.search(
            keys=keys, municipality_code=query.municipality_code, offset=offset, limit=limit
        )
        missing = [pk for pk in ids if pk not in index.entries]
        if missing:
            entries = _entries_if_current(using, missing, index.version)
            if entries is None:
                index = None
                continue
            index.entries.update((entry.id, entry) for entry in entries)
        return [index.entries[pk] for pk in ids]
    return _database_page(query, offset, limit)


def _database_page(query: CatalogQuery, offset: int, limit: int) -> list[CatalogEntry]:
    page = procedure_search(query=query)[offset : offset + limit]
    return catalog_entries(page, with_form_version=True)


def _entries_if_current(
    using: str, ids: list[int], version: str | None
) -> list[CatalogEntry] | None:
    """The entries of ``ids``, or ``None`` if the catalog is no longer at ``version``.

    One statement reads the rows, their newest published form numbers (a subquery per row: at
    most one page of rows) and the version, so all are of one snapshot.
    """
    newest_form = Subquery(
        FormVersion.objects.filter(procedure=OuterRef("pk"), published_at__isnull=False)
        .order_by("-number")
        .values("number")[:1]
    )
    rows = list(
        Procedure.objects.using(using)
        .filter(pk__in=ids)
        .order_by()
        .values(
            *_ENTRY_FIELDS,
            **_ENTRY_RENAMED,
            newest_form=newest_form,
            catalog_version=RawSQL(search.CATALOG_VERSION_SQL, ()),  # noqa: S611 - constant
        )
    )
    if len(rows) != len(ids) or rows[0]["catalog_version"] != version:
        return None  # changed since (a listed procedure may even be gone)
    entries = []
    for row in rows:
        del row["catalog_version"]
        entries.append(_entry(row, row.pop("newest_form")))
    return entries


def catalog_entries(
    rows: Iterable[dict[str, Any]], *, with_form_version: bool = False
) -> list[CatalogEntry]:
    """Entries for a page of :func:`procedure_search` rows.

    ``with_form_version`` adds each one's newest published form number, in one query for the
    whole page (not a subquery per row).
    """
    rows = list(rows)
    numbers: dict[int, int] = {}
    if with_form_version and rows:
        numbers = dict(
            FormVersion.objects.filter(
                procedure_id__in=[row["id"] for row in rows], published_at__isnull=False
            )
            .values("procedure_id")
            .annotate(newest=Max("number"))
            .values_list("procedure_id", "newest")
            .order_by()
        )
    return [_entry(row, numbers.get(row["id"])) for row in rows]


def _entry(row: dict[str, Any], form_version: int | None) -> CatalogEntry:
    values = dict(row)
    values["department"] = values.pop("department_name")
    return CatalogEntry(**values, form_version=form_version)


def catalog_entry(procedure: Procedure) -> CatalogEntry:
    """The entry of one procedure (fetched with its ``municipality`` and ``department``)."""
    version = (
        FormVersion.objects.filter(procedure=procedure, published_at__isnull=False)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    row = {name: getattr(procedure, name) for name in _ENTRY_FIELDS}
    row["municipality_code"] = procedure.municipality_id
    row["municipality_name"] = procedure.municipality.name
    row["department_name"] = procedure.department.name if procedure.department else None
    return _entry(row, version)


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
    answered = list(
        CorrectionRequest.objects.filter(
            application=application, answered_at__isnull=False
        ).order_by("-answered_at", "-id")
    )
    if not answered:
        return []
    definition = application.form_version.form
    language = language or get_language() or "ja"
    changes: list[CorrectionChange] = []
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


# --- For other apps (after their own permission checks) ---------------------------------------


def applications_in_status(
    *,
    statuses: Iterable[str] | None = None,
    excluding: Iterable[str] | None = None,
    municipality_code: str | None = None,
) -> QuerySet[Application]:
    """Applications by status (e.g. every submitted one, for cases' backfill), oldest first."""
    queryset = Application.objects.all()
    if statuses is not None:
        queryset = queryset.filter(status__in=list(statuses))
    if excluding is not None:
        queryset = queryset.exclude(status__in=list(excluding))
    if municipality_code:
        queryset = queryset.filter(municipality_id=municipality_code)
    return queryset.select_related("municipality", "procedure", "form_version").order_by(
        "created_at", "id"
    )


def application_get_visible(
    *, application_id: uuid.UUID | str, municipality_codes: Iterable[str]
) -> Application:
    """An application of one of ``municipality_codes`` (the staff member's), or ``NotFound``."""
    try:
        wanted = uuid.UUID(str(application_id))
    except ValueError as exc:
        raise NotFound(_("申請が見つかりません。"), code="application_not_found") from exc
    application = (
        Application.objects.select_related("municipality", "procedure", "form_version")
        .filter(pk=wanted, municipality_id__in=list(municipality_codes))
        .first()
    )
    if application is None:
        raise NotFound(_("申請が見つかりません。"), code="application_not_found")
    return application


def procedure_get_visible(*, procedure_id: int, municipality_codes: Iterable[str]) -> Procedure:
    """A procedure of one of ``municipality_codes``, or ``NotFound``."""
    procedure = (
        Procedure.objects.select_related("municipality")
        .filter(pk=procedure_id, municipality_id__in=list(municipality_codes))
        .first()
    )
    if procedure is None:
        raise NotFound(_("手続が見つかりません。"), code="procedure_not_found")
    return procedure


def procedure_list(
    *, department_id: int | None = None, municipality_code: str | None = None
) -> QuerySet[Procedure]:
    """Procedures (published or not), optionally of one department or municipality."""
    queryset = Procedure.objects.all()
    if department_id is not None:
        queryset = queryset.filter(department_id=department_id)
    if municipality_code:
        queryset = queryset.filter(municipality_id=municipality_code)
    return queryset.order_by("municipality_id", "pk")
