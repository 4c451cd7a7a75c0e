"""Reads of issued documents and templates. Staff reads are scoped by municipality."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Final

from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from machi.core.exceptions import Forbidden, NotFound
from machi.core.models import Role, User
from machi.core.selectors import user_has_role, visible_municipality_codes
from machi.documents.defaults import DEFAULT_TEMPLATES, DefaultTemplate
from machi.documents.models import DocumentKind, DocumentTemplate, IssuedDocument
from machi.procedures.selectors import (
    application_get,
    application_get_for_applicant,
    procedure_get_for_staff,
)

if TYPE_CHECKING:
    from machi.procedures.selectors import Application, Procedure

# Who may issue, revoke and download documents of a municipality (決裁 and administration).
ISSUER_ROLES: Final = (Role.APPROVER, Role.MUNICIPALITY_ADMIN)
TEMPLATE_EDITOR_ROLES: Final = (Role.MUNICIPALITY_ADMIN,)
CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VERIFICATION_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{12}$")


def require_role(
    actor: User | None, municipality_code: str, roles: tuple[str, ...], message: str | Promise
) -> None:
    """``Forbidden`` unless ``actor`` holds one of ``roles`` in the municipality (None: a system job)."""
    if actor is not None and not user_has_role(
        actor, municipality_code=municipality_code, roles=roles, prefecture_wide=False
    ):
        raise Forbidden(message)


def normalize_verification_id(text: str) -> str | None:
    """``abcd-efgh-jkmn`` → ``ABCDEFGHJKMN``; Crockford's look-alikes (O→0, I/L→1) accepted.

    ``None`` when it cannot be a verification id.
    """
    cleaned = re.sub(r"[\s\-‐‑–—―ー－]", "", text or "").upper()
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    return cleaned if _VERIFICATION_ID.match(cleaned) else None


def document_get_by_verification_id(*, verification_id: str) -> IssuedDocument:
    """The document with this (public) verification id, or ``NotFound``."""
    normalized = normalize_verification_id(verification_id)
    document = None
    if normalized:
        document = (
            IssuedDocument.objects.select_related("municipality", "application__procedure")
            .filter(verification_id=normalized)
            .first()
        )
    if document is None:
        raise NotFound(_("この検証IDの文書は見つかりません。"), code="document_not_found")
    return document


def document_find_by_sha256(*, sha256: str) -> IssuedDocument | None:
    """The issued document whose exact bytes have this digest."""
    return (
        IssuedDocument.objects.select_related("municipality", "application__procedure")
        .filter(sha256=sha256)
        .first()
    )


def document_list_for_application(*, application: Application) -> QuerySet[IssuedDocument]:
    """Documents issued for one application, newest first."""
    return IssuedDocument.objects.filter(application=application).order_by("-created_at")


def document_get_for_applicant(
    *, document_id: str | uuid.UUID, user: User | None, session_ids: list[str]
) -> IssuedDocument:
    """A valid (not revoked) document of an application its applicant may see, or ``NotFound``."""
    try:
        wanted = uuid.UUID(str(document_id))
    except ValueError:
        wanted = None
    document = (
        IssuedDocument.objects.select_related("municipality").filter(pk=wanted).first()
        if wanted
        else None
    )
    if document is None:
        raise NotFound(_("文書が見つかりません。"), code="document_not_found")
    # Raises NotFound unless the application is the user's (or this session's) own.
    application_get_for_applicant(
        application_id=str(document.application_id), user=user, session_ids=session_ids
    )
    return document


def staff_can_see(user: User | None, municipality_code: str) -> bool:
    """Any role in the municipality (or its prefecture's admin) lets staff see it exists."""
    return municipality_code in visible_municipality_codes(user, prefecture_wide=True)


def document_get_for_staff(*, document_id: str | uuid.UUID, user: User) -> IssuedDocument:
    """A document of a municipality the staff member works for, or ``NotFound``."""
    try:
        wanted = uuid.UUID(str(document_id))
    except ValueError as exc:
        raise NotFound(_("文書が見つかりません。"), code="document_not_found") from exc
    document = (
        IssuedDocument.objects.select_related(
            "municipality", "application__procedure", "created_by", "revoked_by"
        )
        .filter(
            pk=wanted, municipality_id__in=visible_municipality_codes(user, prefecture_wide=True)
        )
        .first()
    )
    if document is None:
        raise NotFound(_("文書が見つかりません。"), code="document_not_found")
    return document


def application_get_for_staff(*, application_id: str | uuid.UUID, user: User) -> Application:
    """An application of a municipality the staff member works for, or ``NotFound``."""
    try:
        wanted = uuid.UUID(str(application_id))
        application = application_get(application_id=wanted)
    except (ValueError, NotFound) as exc:
        raise NotFound(_("申請が見つかりません。"), code="application_not_found") from exc
    if application.municipality_id not in visible_municipality_codes(user, prefecture_wide=True):
        raise NotFound(_("申請が見つかりません。"), code="application_not_found")
    return application


def procedure_get_for_template_editor(*, procedure_id: int, user: User) -> Procedure:
    """A procedure of a municipality the staff member works for, or ``NotFound``."""
    return procedure_get_for_staff(user=user, procedure_id=procedure_id)


def template_for(*, procedure: Procedure, kind: str) -> DocumentTemplate | DefaultTemplate:
    """The procedure's own template of ``kind``, or the built-in default."""
    template = DocumentTemplate.objects.filter(procedure=procedure, kind=kind).first()
    if template is not None:
        return template
    return DEFAULT_TEMPLATES[DocumentKind(kind)]


def templates_for_procedure(
    *, procedure: Procedure
) -> list[tuple[str, DocumentTemplate | DefaultTemplate, bool]]:
    """(kind, template, is_custom) for every kind, in a fixed order."""
    own = {t.kind: t for t in DocumentTemplate.objects.filter(procedure=procedure)}
    result: list[tuple[str, DocumentTemplate | DefaultTemplate, bool]] = []
    for kind in DocumentKind.values:
        if kind in own:
            result.append((kind, own[kind], True))
        else:
            result.append((kind, DEFAULT_TEMPLATES[DocumentKind(kind)], False))
    return result
