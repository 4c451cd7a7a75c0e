"""Core endpoints of the JSON API: the municipality directory and the staff's own scope."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from machi.core import selectors, services
from machi.core.audit_labels import action_label, target_label
from machi.core.auth import ResidentSessionAuth, StaffSessionAuth, api_token_issue, staff_user
from machi.core.exceptions import Forbidden, InvalidInput, NotAuthenticated
from machi.core.models import AuditEntry, Department, Municipality, MunicipalityKind, Role, User
from machi.core.pagination import PageQuery, page_slice
from machi.core.validators import is_valid_local_government_code, normalize_digits

public_router = Router(tags=["municipalities"])
staff_router = Router(tags=["staff"], auth=StaffSessionAuth())


class MunicipalityOut(Schema):
    code: str = Field(description="全国地方公共団体コード (6 digits, last is the check digit)")
    name: str
    name_kana: str
    name_en: str
    kind: str
    prefecture_code: str | None = None

    @staticmethod
    def resolve_prefecture_code(obj: Municipality) -> str | None:
        return obj.prefecture_id


class MunicipalityIn(Schema):
    code: str = Field(min_length=6, max_length=6, examples=["282103"])
    name: str = Field(min_length=1, max_length=100)
    name_kana: str = Field(min_length=1, max_length=200)
    name_en: str = ""
    kind: MunicipalityKind
    prefecture_code: str | None = None


class MunicipalityFilter(Schema):
    prefecture: str | None = None
    kind: MunicipalityKind | None = None


def _checked_code(code: str) -> str:
    code = normalize_digits(code)
    if not is_valid_local_government_code(code):
        raise InvalidInput(
            _("地方公共団体コード %(code)s は正しくありません（6桁・検査数字）。") % {"code": code},
            code="invalid_municipality_code",
            field_errors={
                "code": [_("6桁の数字で、最後の検査数字が正しいコードを入力してください。")]
            },
        )
    return code


@public_router.get("/municipalities", response=list[MunicipalityOut], auth=None)
def municipality_list_api(
    request: HttpRequest, filters: Query[MunicipalityFilter]
) -> QuerySet[Municipality]:
    """The prefecture and municipalities that use this installation."""
    prefecture = _checked_code(filters.prefecture) if filters.prefecture else None
    return selectors.municipality_list(
        prefecture_code=prefecture, kind=filters.kind.value if filters.kind else None
    )


@public_router.get("/municipalities/{code}", response=MunicipalityOut, auth=None)
def municipality_get_api(request: HttpRequest, code: str) -> Municipality:
    """One tenant by its 全国地方公共団体コード."""
    return selectors.municipality_get(code=_checked_code(code))


@staff_router.post("/municipalities", response={201: MunicipalityOut})
def municipality_create_api(request: HttpRequest, payload: MunicipalityIn) -> Status[Municipality]:
    """Onboard a municipality (県管理者 of its prefecture only)."""
    user = staff_user(request)
    code = _checked_code(payload.code)
    parent = _checked_code(payload.prefecture_code) if payload.prefecture_code else None
    allowed_on = parent or code
    if not selectors.user_has_role(
        user, municipality_code=allowed_on, roles=[Role.PREFECTURE_ADMIN], prefecture_wide=False
    ):
        raise Forbidden(_("団体を登録できるのは都道府県の県管理者だけです。"))
    municipality = services.municipality_create(
        code=code,
        name=payload.name,
        name_kana=payload.name_kana,
        name_en=payload.name_en,
        kind=payload.kind.value,
        prefecture_code=parent,
        actor=user,
    )
    return Status(201, municipality)


class CsrfTokenOut(Schema):
    csrf_token: str = Field(description="Echo in the `X-CSRFToken` header of session writes.")


@public_router.get("/csrf-token", response=CsrfTokenOut, auth=None)
def csrf_token_api(request: HttpRequest) -> CsrfTokenOut:
    """The CSRF token for writes with the session cookie (also set as the ``csrftoken`` cookie)."""
    return CsrfTokenOut(csrf_token=get_token(request))


class ApiTokenOut(Schema):
    token: str = Field(description="Send as `Authorization: Bearer <token>`; no CSRF token needed.")
    expires_at: datetime


@public_router.post("/tokens", response={201: ApiTokenOut}, auth=ResidentSessionAuth())
def api_token_issue_api(request: HttpRequest) -> Status[ApiTokenOut]:
    """An API token for the signed-in resident (kiosks, LINE mini-apps), from a session + CSRF.

    The token stops working when it expires or when the resident's password changes.
    """
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise NotAuthenticated(_("サインインが必要です。"))
    issued = api_token_issue(user=user)
    services.audit_record(
        action="api_token.issue",
        actor=user,
        target_type="user",
        target_id=user.pk,
        detail={"expires_at": issued.expires_at.isoformat()},
    )
    return Status(201, ApiTokenOut(token=issued.token, expires_at=issued.expires_at))


class MembershipBrief(Schema):
    municipality_code: str
    municipality_name: str
    role: str
    role_label: str


class MeOut(Schema):
    username: str
    display_name: str
    memberships: list[MembershipBrief]


@staff_router.get("/me", response=MeOut)
def me_api(request: HttpRequest) -> MeOut:
    """The signed-in staff member and their roles."""
    user = staff_user(request)
    return MeOut(
        username=user.username,
        display_name=user.display_name,
        memberships=[
            MembershipBrief(
                municipality_code=m.municipality_id,
                municipality_name=m.municipality.name,
                role=m.role,
                role_label=str(Role(m.role).label),
            )
            for m in selectors.user_memberships(user=user)
        ],
    )


class DepartmentOut(Schema):
    id: int
    municipality_code: str
    code: str
    name: str
    name_kana: str
    phone: str

    @staticmethod
    def resolve_municipality_code(obj: Department) -> str:
        return obj.municipality_id


class DepartmentIn(Schema):
    municipality_code: str
    code: str = Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(min_length=1, max_length=100)
    name_kana: str = ""
    phone: str = ""


class TenantFilter(Schema):
    municipality: str | None = None


@staff_router.get("/departments", response=list[DepartmentOut])
def department_list_api(request: HttpRequest, filters: Query[TenantFilter]) -> QuerySet[Department]:
    """Departments of the municipalities the staff member belongs to."""
    return selectors.department_list(
        user=staff_user(request), municipality_code=filters.municipality
    )


@staff_router.post("/departments", response={201: DepartmentOut})
def department_create_api(request: HttpRequest, payload: DepartmentIn) -> Status[Department]:
    """Add a department (団体管理者)."""
    department = services.department_create(
        actor=staff_user(request),
        municipality_code=_checked_code(payload.municipality_code),
        code=payload.code,
        name=payload.name,
        name_kana=payload.name_kana,
        phone=payload.phone,
    )
    return Status(201, department)


class MembershipOut(Schema):
    municipality_code: str
    username: str
    display_name: str
    email: str
    role: str
    department: str | None


@staff_router.get("/memberships", response=list[MembershipOut])
def membership_list_api(request: HttpRequest, filters: Query[TenantFilter]) -> list[MembershipOut]:
    """Staff directory of the municipalities the caller administers (personal data: audited)."""
    user = staff_user(request)
    rows = list(selectors.membership_list(user=user, municipality_code=filters.municipality))
    for code in sorted({m.municipality_id for m in rows}):
        services.audit_record(
            action="staff_directory.view",
            actor=user,
            municipality_code=code,
            target_type="membership",
            purpose="staff administration",
            personal_data=True,
            detail={"count": sum(1 for m in rows if m.municipality_id == code)},
        )
    return [
        MembershipOut(
            municipality_code=m.municipality_id,
            username=m.user.username,
            display_name=m.user.display_name,
            email=m.user.email,
            role=m.role,
            department=m.department.name if m.department else None,
        )
        for m in rows
    ]


class AuditOut(Schema):
    id: int
    sequence: int
    occurred_at: datetime
    actor_username: str
    municipality_code: str
    action: str
    action_label: str
    target_type: str
    target_label: str
    target_id: str
    purpose: str
    personal_data: bool

    @staticmethod
    def resolve_action_label(obj: AuditEntry) -> str:
        return action_label(obj.action)

    @staticmethod
    def resolve_target_label(obj: AuditEntry) -> str:
        return target_label(obj.target_type)


class AuditQuery(PageQuery):
    receipt_number: str = Field("", max_length=32, description="受付番号, e.g. 2026-000123")
    action: str = ""
    actor: str = ""
    municipality: str = ""
    target_type: str = ""
    target_id: str = ""
    personal_data: bool = False
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(100, ge=1, le=500)  # offset: PageQuery's bounds


@staff_router.get("/audit", response=list[AuditOut])
def audit_list_api(request: HttpRequest, query: Query[AuditQuery]) -> list[AuditEntry]:
    """Search the audit log of the municipalities the caller administers."""
    user = staff_user(request)
    filters = selectors.AuditFilter(
        action=query.action,
        actor_username=query.actor,
        municipality_code=query.municipality,
        target_type=query.target_type,
        target_id=query.target_id,
        personal_data_only=query.personal_data,
        since=query.since,
        until=query.until,
        receipt_number=query.receipt_number.strip(),
    )
    page = page_slice(limit=query.limit, offset=query.offset)
    return list(selectors.audit_search(user=user, filters=filters)[page])
