"""Labels of the audit codes written by the domain apps, for the audit log page (監査ログ).

Kept here, beside the page that shows them, until each app registers its own in its
``AppConfig.ready()`` (``machi.core.audit_labels.register_labels``); web is the top layer, so
knowing every app's codes is allowed here.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from machi.core.audit_labels import Label, register_labels

ACTIONS: dict[str, Label] = {
    # procedures
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
    # cases
    "case.create": _("案件の作成"),
    "case.view": _("案件の閲覧"),
    "case.assign": _("担当者の割当て"),
    "case.note": _("案件へのメモ"),
    "case.start_review": _("審査の開始"),
    "case.request_correction": _("補正の依頼"),
    "case.approval.start": _("決裁の開始"),
    "case.approval.completed": _("決裁の完了"),
    "case.complete": _("案件の完了"),
    "case.withdraw": _("申請の取下げ"),
    "case.*": _("案件の操作"),
    "intake.submit": _("窓口での受付"),
    "intake.answers": _("窓口での申請内容の入力"),
    "intake.identity_check": _("窓口での本人確認"),
    "intake.paper_scan": _("申請書の取込み"),
    "approval_route.save": _("決裁ルートの保存"),
    "approval_route.reset": _("決裁ルートの初期化"),
    # documents
    "document.issued": _("文書の発行"),
    "document.issue_failed": _("文書の発行失敗"),
    "document.downloaded": _("文書のダウンロード"),
    "document.revoked": _("文書の失効"),
    "document_template.saved": _("文書テンプレートの保存"),
    "document_template.reset": _("文書テンプレートの初期化"),
    # payments
    "payment.*": _("決済"),
    "payment.webhook_rejected": _("決済通知の拒否"),
    "payment.webhook_unmatched": _("対応する決済のない通知"),
    "payment.reconciliation_export": _("決済の突合データの出力"),
    # identity
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
    # files
    "file.store": _("添付ファイルの保存"),
    "file.read": _("添付ファイルの閲覧"),
    "file.delete": _("添付ファイルの削除"),
    "file.sweep": _("不要な添付ファイルの削除"),
}

TARGETS: dict[str, Label] = {
    "application": _("申請"),
    "procedure": _("手続"),
    "procedure_template": _("手続テンプレート"),
    "issued_document": _("発行文書"),
    "payment": _("決済"),
    "payment_provider": _("決済事業者"),
    "payment_reconciliation": _("決済の突合"),
    "resident": _("住民"),
    "card_link": _("カードの登録"),
    "passkey": _("パスキー"),
    "stored_file": _("添付ファイル"),
}


def install() -> None:
    """Register the labels (from ``WebConfig.ready``)."""
    register_labels(actions=ACTIONS, targets=TARGETS)
