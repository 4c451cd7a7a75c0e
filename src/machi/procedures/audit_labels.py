"""Words for the audit codes procedures writes, shown on the audit log page (監査ログ).

Registered from ``AppConfig.ready()`` into core's label registries
(:mod:`machi.core.audit_labels`): the app that writes a code names it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from machi.core.audit_labels import Label, register_labels

ACTIONS: dict[str, Label] = {
    "application.start": _("申請の作成開始"),
    "application.submit": _("申請の受付"),
    "application.*": _("申請の状態変更"),
    "procedure.create": _("手続の登録"),
    "procedure.update": _("手続の変更"),
    "form_version.create": _("申請フォームの版の作成"),
    "form_version.publish": _("申請フォームの公開"),
    "form_version.update": _("申請フォームの下書きの変更"),
    "template.adopt": _("手続テンプレートの採用"),
    "template.publish": _("手続テンプレートの公開"),
}

TARGETS: dict[str, Label] = {
    "application": _("申請"),
    "procedure": _("手続"),
    "procedure_template": _("手続テンプレート"),
}


def install() -> None:
    """Register the labels (from the app's ``ready()``)."""
    register_labels(actions=ACTIONS, targets=TARGETS)
