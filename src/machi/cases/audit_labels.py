"""Words for the audit codes cases writes, shown on the audit log page (監査ログ).

Registered from ``AppConfig.ready()`` into core's label registries
(:mod:`machi.core.audit_labels`): the app that writes a code names it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from machi.core.audit_labels import Label, register_labels

ACTIONS: dict[str, Label] = {
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
}

TARGETS: dict[str, Label] = {}


def install() -> None:
    """Register the labels (from the app's ``ready()``)."""
    register_labels(actions=ACTIONS, targets=TARGETS)
