"""Who may do what with cases. Services enforce these; selectors and pages use them to show.

* Read (queue, case page, stats): 団体管理者, 担当者, 決裁者 and 窓口担当 of the municipality; the
  prefecture's 県管理者 reads every municipality of the prefecture but changes nothing.
* Handle (review, 補正, 起案, complete, 取下げ, assign): 担当者 and 団体管理者 of the municipality.
* Approve: whoever the route step names (a user, or a role, optionally within a department);
  代決 (deciding for an absent approver): 決裁者 and 団体管理者 of the municipality.
* Notes: handlers and approvers.
* Counter and paper intake: 窓口担当, 担当者 and 団体管理者.
* Approval routes: 団体管理者.
* Audit entries on the case page: 団体管理者 and 県管理者 (as the audit log itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from machi.core.models import Role, User
from machi.core.selectors import membership_grants, user_has_role, visible_municipality_codes

READER_ROLES: tuple[str, ...] = (
    Role.MUNICIPALITY_ADMIN,
    Role.CASE_HANDLER,
    Role.APPROVER,
    Role.COUNTER_CLERK,
)
HANDLER_ROLES: tuple[str, ...] = (Role.MUNICIPALITY_ADMIN, Role.CASE_HANDLER)
DELEGATE_ROLES: tuple[str, ...] = (Role.MUNICIPALITY_ADMIN, Role.APPROVER)
NOTE_ROLES: tuple[str, ...] = (Role.MUNICIPALITY_ADMIN, Role.CASE_HANDLER, Role.APPROVER)
INTAKE_ROLES: tuple[str, ...] = (Role.MUNICIPALITY_ADMIN, Role.CASE_HANDLER, Role.COUNTER_CLERK)
ROUTE_EDITOR_ROLES: tuple[str, ...] = (Role.MUNICIPALITY_ADMIN,)
AUDIT_READER_ROLES: tuple[str, ...] = (Role.MUNICIPALITY_ADMIN,)
# Roles an approval step can name (cases.services.routes); a step naming a user needs one too.
APPROVAL_ROLES: tuple[str, ...] = (Role.APPROVER, Role.MUNICIPALITY_ADMIN, Role.CASE_HANDLER)


@dataclass(frozen=True)
class CaseAccess:
    """What one user may do with cases, read once per request (see :func:`access_for`).

    The same rules as ``core.selectors.visible_municipality_codes``: an inactive user has no
    access, only memberships of active municipalities count, and a 県管理者 membership opens
    the prefecture's municipalities for reads (``prefecture_wide``) only.
    """

    user_id: int | None = None
    # (municipality code, role, department id) of every membership that counts.
    memberships: tuple[tuple[str, str, int | None], ...] = ()
    # Municipalities a 県管理者 membership opens for reading (the prefectures included).
    prefecture_codes: frozenset[str] = field(default_factory=frozenset)

    def codes(self, roles: Iterable[str], *, prefecture_wide: bool) -> set[str]:
        """Municipalities where the user holds one of ``roles``."""
        wanted = set(roles)
        found = {code for code, role, _department in self.memberships if role in wanted}
        if prefecture_wide:
            found |= self.prefecture_codes
        return found

    def has_role(
        self, municipality_code: str, roles: Iterable[str], *, prefecture_wide: bool
    ) -> bool:
        return municipality_code in self.codes(roles, prefecture_wide=prefecture_wide)

    @property
    def reader_codes(self) -> set[str]:
        return self.codes(READER_ROLES, prefecture_wide=True)

    @property
    def handler_codes(self) -> set[str]:
        return self.codes(HANDLER_ROLES, prefecture_wide=False)

    @property
    def intake_codes(self) -> set[str]:
        return self.codes(INTAKE_ROLES, prefecture_wide=False)

    @property
    def route_editor_codes(self) -> set[str]:
        return self.codes(ROUTE_EDITOR_ROLES, prefecture_wide=False)

    @property
    def may_approve(self) -> bool:
        """Whether any approval step could ask for this user (by role or by name)."""
        return any(role in APPROVAL_ROLES for _code, role, _department in self.memberships)

    @property
    def default_department_id(self) -> int | None:
        """The department a handler's queue opens on (their first 担当者 membership's)."""
        # ``memberships`` is in (municipality, membership id) order, as the queue always was.
        for _code, role, department in self.memberships:
            if role == Role.CASE_HANDLER and department is not None:
                return department
        return None


def access_for(user: User | None) -> CaseAccess:
    """The user's case access, from core's sign-in cache (no query once loaded): once per request.

    Pages pass the result to the selectors instead of asking ``reader_codes`` & co. again.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return CaseAccess()
    rows = tuple(
        (grant.municipality_code, grant.role, grant.department_id)
        for grant in membership_grants(user)
        if grant.municipality_active
    )
    opened: set[str] = set()
    if any(role == Role.PREFECTURE_ADMIN for _code, role, _department in rows):
        opened = visible_municipality_codes(
            user, roles=[Role.PREFECTURE_ADMIN], prefecture_wide=True
        )
    return CaseAccess(user_id=user.pk, memberships=rows, prefecture_codes=frozenset(opened))


def reader_codes(user: User | None) -> set[str]:
    """Municipalities whose cases ``user`` may read (prefecture admins: the whole prefecture)."""
    return visible_municipality_codes(user, roles=READER_ROLES, prefecture_wide=True)


def handler_codes(user: User | None) -> set[str]:
    """Municipalities whose cases ``user`` may process (never prefecture-wide)."""
    return visible_municipality_codes(user, roles=HANDLER_ROLES, prefecture_wide=False)


def intake_codes(user: User | None) -> set[str]:
    """Municipalities where ``user`` may register counter and paper applications."""
    return visible_municipality_codes(user, roles=INTAKE_ROLES, prefecture_wide=False)


def route_editor_codes(user: User | None) -> set[str]:
    """Municipalities whose approval routes ``user`` may edit."""
    return visible_municipality_codes(user, roles=ROUTE_EDITOR_ROLES, prefecture_wide=False)


def can_handle(user: User | None, municipality_code: str) -> bool:
    """Whether ``user`` may process cases of the municipality."""
    return user_has_role(
        user, municipality_code=municipality_code, roles=HANDLER_ROLES, prefecture_wide=False
    )


def can_note(user: User | None, municipality_code: str) -> bool:
    """Whether ``user`` may add internal notes to cases of the municipality."""
    return user_has_role(
        user, municipality_code=municipality_code, roles=NOTE_ROLES, prefecture_wide=False
    )


def can_delegate(user: User | None, municipality_code: str) -> bool:
    """Whether ``user`` may decide an approval step for an absent approver (代決)."""
    return user_has_role(
        user, municipality_code=municipality_code, roles=DELEGATE_ROLES, prefecture_wide=False
    )


def can_read_audit(user: User | None, municipality_code: str) -> bool:
    """Whether ``user`` may see the audit entries of the municipality's cases."""
    return user_has_role(
        user, municipality_code=municipality_code, roles=AUDIT_READER_ROLES, prefecture_wide=True
    )
