"""Reads of core data. Every staff query is scoped by ``visible_municipality_codes``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from machi.core import auth_cache

# Audit verification lives in core.audit_verify; re-exported here, where callers look for it.
from machi.core.audit_verify import AuditVerification as AuditVerification
from machi.core.audit_verify import ChainBreak as ChainBreak
from machi.core.audit_verify import audit_verify as audit_verify
from machi.core.auth_cache import RoleGrant as RoleGrant
from machi.core.exceptions import NotFound
from machi.core.models import (
    AuditEntry,
    Department,
    Membership,
    Municipality,
    MunicipalityKind,
    Role,
    User,
)


def municipality_list(
    *, prefecture_code: str | None = None, kind: str | None = None
) -> QuerySet[Municipality]:
    """Public directory of active tenants (prefecture first, then municipalities by code)."""
    queryset = Municipality.objects.filter(is_active=True)
    if prefecture_code:
        queryset = queryset.filter(Q(code=prefecture_code) | Q(prefecture_id=prefecture_code))
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.order_by("code")


def municipality_get(*, code: str) -> Municipality:
    """One active tenant by its code, or ``NotFound``."""
    try:
        return Municipality.objects.get(code=code, is_active=True)
    except Municipality.DoesNotExist as exc:
        raise NotFound(
            _("地方公共団体コード %(code)s は登録されていません。") % {"code": code},
            code="municipality_not_found",
        ) from exc


def membership_grants(user: User | None) -> tuple[RoleGrant, ...]:
    """The roles ``user`` holds (every membership, with its department), from the sign-in cache.

    No query within a request once loaded, and none per process until a membership, the user
    or a municipality changes (``core.auth_cache``). Inactive users hold none.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return ()
    return auth_cache.grants_for(user).memberships


def visible_municipality_codes(
    user: User | None,
    *,
    roles: Iterable[str] | None = None,
    prefecture_wide: bool,
) -> set[str]:
    """Codes of the municipalities whose records ``user`` may see.

    A membership counts when its role is in ``roles`` (any role when ``roles`` is None) and its
    municipality is active. With ``prefecture_wide``, a 県管理者 (prefecture admin) membership on
    a prefecture also opens every active municipality of that prefecture: the prefecture sees
    across municipalities only where the caller says the role allows it. Answered from the
    sign-in cache (``core.auth_cache``): no query per call.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    grants = auth_cache.grants_for(user)
    role_set = set(roles) if roles is not None else None
    codes: set[str] = set()
    for grant in grants.memberships:
        if not grant.municipality_active:
            continue
        if role_set is None or grant.role in role_set:
            codes.add(grant.municipality_code)
        if prefecture_wide and grant.role == Role.PREFECTURE_ADMIN:
            codes.add(grant.municipality_code)
            codes.update(grants.prefecture_members.get(grant.municipality_code, ()))
    return codes


# Where the 県管理者 (prefecture admin) may write in a member municipality. Everywhere else the
# prefecture reads across its municipalities but writes only in its own tenant.
PREFECTURE_WRITE_RULES: dict[str, str] = {
    "municipality.create": "onboarding: register a municipality of its prefecture",
    "membership.grant.municipality_admin": (
        "onboarding: give a member municipality its first 団体管理者 (municipality admin)"
    ),
}


def user_has_role(
    user: User | None, *, municipality_code: str, roles: Iterable[str], prefecture_wide: bool
) -> bool:
    """Whether ``user`` holds one of ``roles`` in the municipality.

    ``prefecture_wide`` has no default: pass True for reads, and for writes only where
    ``PREFECTURE_WRITE_RULES`` names the write; the prefecture writes nowhere else.
    """
    return municipality_code in visible_municipality_codes(
        user, roles=roles, prefecture_wide=prefecture_wide
    )


def user_memberships(*, user: User) -> QuerySet[Membership]:
    """The signed-in user's own roles, for the console's navigation."""
    return Membership.objects.filter(user=user).select_related("municipality", "department")


def department_list(*, user: User, municipality_code: str | None = None) -> QuerySet[Department]:
    """Departments of the municipalities the user belongs to (prefecture admins: all of theirs)."""
    codes = visible_municipality_codes(user, prefecture_wide=True)
    queryset = Department.objects.filter(municipality_id__in=codes)
    if municipality_code:
        queryset = queryset.filter(municipality_id=municipality_code)
    return queryset.select_related("municipality").order_by("municipality_id", "code")


def public_department_list(*, municipality_code: str) -> QuerySet[Department]:
    """Departments of one municipality, as shown to residents (names and phone numbers)."""
    return Department.objects.filter(municipality_id=municipality_code).order_by("code")


STAFF_DIRECTORY_ROLES = (Role.MUNICIPALITY_ADMIN,)


def membership_list(*, user: User, municipality_code: str | None = None) -> QuerySet[Membership]:
    """Staff and their roles in the municipalities the user administers (personal data).

    The caller records the access in the audit log (``services.audit_record``).
    """
    codes = visible_municipality_codes(user, roles=STAFF_DIRECTORY_ROLES, prefecture_wide=True)
    queryset = Membership.objects.filter(municipality_id__in=codes)
    if municipality_code:
        queryset = queryset.filter(municipality_id=municipality_code)
    return queryset.select_related("user", "municipality", "department").order_by(
        "municipality_id", "user__username", "role"
    )


AUDIT_READER_ROLES = (Role.MUNICIPALITY_ADMIN,)


@dataclass(frozen=True)
class AuditFilter:
    """What an admin searches the audit log by."""

    action: str = ""
    actor_username: str = ""
    municipality_code: str = ""
    target_type: str = ""
    target_id: str = ""
    personal_data_only: bool = False
    since: datetime | None = None
    until: datetime | None = None
    receipt_number: str = ""


# The entry that gives an application its 受付番号 (procedures records it at submission). The
# log is append-only, so it maps a receipt number to its application for every later search.
RECEIPT_ACTION = "application.submit"


def audit_search(*, user: User, filters: AuditFilter) -> QuerySet[AuditEntry]:
    """Audit entries of the municipalities the user administers, newest first.

    Platform-wide entries (no municipality) are visible to prefecture admins only.
    """
    codes = visible_municipality_codes(user, roles=AUDIT_READER_ROLES, prefecture_wide=True)
    scope = Q(municipality_code__in=codes)
    if any(grant.role == Role.PREFECTURE_ADMIN for grant in membership_grants(user)):
        scope |= Q(municipality_code="")
    queryset = AuditEntry.objects.filter(scope)
    if filters.action:
        queryset = queryset.filter(action__startswith=filters.action)
    if filters.actor_username:
        queryset = queryset.filter(actor_username=filters.actor_username)
    if filters.municipality_code:
        queryset = queryset.filter(municipality_code=filters.municipality_code)
    if filters.target_type:
        queryset = queryset.filter(target_type=filters.target_type)
    if filters.target_id:
        queryset = queryset.filter(target_id=filters.target_id)
    if filters.personal_data_only:
        queryset = queryset.filter(personal_data=True)
    if filters.receipt_number:
        # Everything about the application (before and after submission) and any entry that
        # names the number itself; the receipt entry is looked up within the caller's scope.
        receipted = AuditEntry.objects.filter(
            scope, action=RECEIPT_ACTION, detail__receipt_number=filters.receipt_number
        ).values("target_id")
        queryset = queryset.filter(
            Q(target_type="application", target_id__in=receipted)
            | Q(detail__receipt_number=filters.receipt_number)
        )
    if filters.since:
        queryset = queryset.filter(occurred_at__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(occurred_at__lt=filters.until)
    return queryset.order_by("-id")


def municipality_kinds() -> list[tuple[str, str]]:
    """Kinds of tenant, for forms and the API."""
    return [(str(value), str(label)) for value, label in MunicipalityKind.choices]
