"""Words for the audit codes identity writes, shown on the audit log page (監査ログ).

Registered from ``AppConfig.ready()`` into core's label registries
(:mod:`machi.core.audit_labels`): the app that writes a code names it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from machi.core.audit_labels import Label, register_labels

ACTIONS: dict[str, Label] = {
    "resident.sign_in": _("住民のサインイン"),
    "resident.sign_in_failed": _("住民のサインイン失敗"),
    "resident.verification_email_sent": _("確認メールの送信"),
    "resident.sign_up": _("住民の利用登録"),
    "resident.email_verified": _("メールアドレスの確認"),
    "resident.sign_out": _("住民のサインアウト"),
    "identity.card_link": _("マイナンバーカードの登録"),
    "identity.card_link_failed": _("マイナンバーカードの登録失敗"),
    "identity.card_unlink": _("マイナンバーカードの登録解除"),
    "identity.card_sign_in": _("カードでのサインイン"),
    "identity.card_sign_in_failed": _("カードでのサインイン失敗"),
    "identity.signature_verified": _("電子署名の検証成功"),
    "identity.signature_rejected": _("電子署名の検証失敗"),
    "identity.handoff_create": _("スマートフォンでの署名依頼の作成"),
    "identity.handoff_answered": _("スマートフォンからの署名の受信"),
    "identity.handoff_refused": _("スマートフォンからの署名の拒否"),
    "identity.passkey_register": _("パスキーの登録"),
    "identity.passkey_register_failed": _("パスキーの登録失敗"),
    "identity.passkey_delete": _("パスキーの削除"),
}

TARGETS: dict[str, Label] = {
    "resident": _("住民"),
    "card_link": _("カードの登録"),
    "passkey": _("パスキー"),
}


def install() -> None:
    """Register the labels (from the app's ``ready()``)."""
    register_labels(actions=ACTIONS, targets=TARGETS)
