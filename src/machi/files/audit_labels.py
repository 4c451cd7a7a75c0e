"""Words for the audit codes files writes, shown on the audit log page (監査ログ).

Registered from ``AppConfig.ready()`` into core's label registries
(:mod:`machi.core.audit_labels`): the app that writes a code names it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from machi.core.audit_labels import Label, register_labels

ACTIONS: dict[str, Label] = {
    "file.store": _("添付ファイルの保存"),
    "file.read": _("添付ファイルの閲覧"),
    "file.delete": _("添付ファイルの削除"),
    "file.sweep": _("不要な添付ファイルの削除"),
}

TARGETS: dict[str, Label] = {
    "stored_file": _("添付ファイル"),
}


def install() -> None:
    """Register the labels (from the app's ``ready()``)."""
    register_labels(actions=ACTIONS, targets=TARGETS)
