"""Words for the audit codes documents writes, shown on the audit log page (監査ログ).

Registered from ``AppConfig.ready()`` into core's label registries
(:mod:`machi.core.audit_labels`): the app that writes a code names it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from machi.core.audit_labels import Label, register_labels

ACTIONS: dict[str, Label] = {
    "document.issued": _("文書の発行"),
    "document.issue_failed": _("文書の発行失敗"),
    "document.downloaded": _("文書のダウンロード"),
    "document.revoked": _("文書の失効"),
    "document.integrity_failed": _("保管文書の不一致・欠落"),
    "document.sweep": _("参照されない保管文書の削除"),
    "document_template.saved": _("文書テンプレートの保存"),
    "document_template.reset": _("文書テンプレートの初期化"),
}

TARGETS: dict[str, Label] = {
    "issued_document": _("発行文書"),
}


def install() -> None:
    """Register the labels (from the app's ``ready()``)."""
    register_labels(actions=ACTIONS, targets=TARGETS)
