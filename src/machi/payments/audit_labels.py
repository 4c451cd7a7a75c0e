"""Words for the audit codes payments writes, shown on the audit log page (監査ログ).

Registered from ``AppConfig.ready()`` into core's label registries
(:mod:`machi.core.audit_labels`): the app that writes a code names it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from machi.core.audit_labels import Label, register_labels

ACTIONS: dict[str, Label] = {
    "payment.*": _("決済"),
    "payment.webhook_rejected": _("決済通知の拒否"),
    "payment.webhook_unmatched": _("対応する決済のない通知"),
    "payment.reconciliation_export": _("決済の突合データの出力"),
}

TARGETS: dict[str, Label] = {
    "payment": _("決済"),
    "payment_provider": _("決済事業者"),
    "payment_reconciliation": _("決済の突合"),
}


def install() -> None:
    """Register the labels (from the app's ``ready()``)."""
    register_labels(actions=ACTIONS, targets=TARGETS)
