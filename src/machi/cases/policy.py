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

from machi.core.models import Role, User
from machi.core.selectors import user_has_role, visible_municipality_codes

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
