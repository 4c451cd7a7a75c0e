"""Words for the audit log's codes: what was done (``action``) and to what (``target_type``).

Audit entries keep stable codes (``application.submit``, ``procedure``); people read labels.
Each app registers labels for the codes it writes (from ``AppConfig.ready()``), so core never
needs to know the higher apps. A code may also be registered as a group, ``"payment.*"``: an
action without its own label then reads as the group's label followed by the code.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from machi.core.registry import Registry

Label = str | Promise

action_labels: Registry[Label] = Registry(
    "core.audit_action_labels", description="labels of audit actions (code → words)"
)
target_labels: Registry[Label] = Registry(
    "core.audit_target_labels", description="labels of audit target types (code → words)"
)

CORE_ACTIONS: dict[str, Label] = {
    "municipality.create": _("団体の登録"),
    "department.create": _("課の登録"),
    "staff.create": _("職員アカウントの作成"),
    "membership.grant": _("役割の付与"),
    "auth.sign_in": _("職員のサインイン"),
    "auth.sign_in_failed": _("職員のサインイン失敗"),
    "staff_directory.view": _("職員名簿の閲覧"),
    "audit.search": _("監査ログの検索"),
    "audit.checkpoint": _("監査ログのチェックポイント"),
    "api_token.issue": _("APIトークンの発行"),
}
CORE_TARGETS: dict[str, Label] = {
    "municipality": _("団体"),
    "department": _("課"),
    "membership": _("役割"),
    "user": _("利用者アカウント"),
}


def register_labels(*, actions: dict[str, Label], targets: dict[str, Label]) -> None:
    """Register an app's labels (idempotent for the same objects; a clash is refused)."""
    for code, label in actions.items():
        action_labels.register(code, label)
    for code, label in targets.items():
        target_labels.register(code, label)


def action_label(code: str) -> str:
    """The words for an action code, or the code itself when no app labelled it."""
    if code in action_labels:
        return str(action_labels.get(code))
    prefix = code
    while "." in prefix:
        prefix = prefix.rsplit(".", 1)[0]
        group = f"{prefix}.*"
        if group in action_labels:
            return f"{action_labels.get(group)}（{code}）"
    return code


def target_label(code: str) -> str:
    """The words for a target type, or the code itself."""
    return str(target_labels.get(code)) if code in target_labels else code


register_labels(actions=CORE_ACTIONS, targets=CORE_TARGETS)
