"""Forms: public verification, and the staff pages (issue, revoke, templates)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from machi.documents.models import DocumentKind
from machi.identity.forms import AccessibleForm


class DocumentForm(AccessibleForm):
    """Help texts are announced with their input too (aria-describedby)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if field.help_text and not field.widget.is_hidden:
                field.widget.attrs.setdefault("aria-describedby", f"{self[name].auto_id}_helptext")


class VerifyUploadForm(DocumentForm):
    pdf = forms.FileField(
        label=_("PDFファイル"),
        help_text=_("Machi で発行された電子文書（PDF）を選んでください。"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
        error_messages={
            "required": _("確認するPDFファイルを選んでください。"),
            "empty": _("ファイルが空です。"),
            "invalid": _("ファイルを受け取れませんでした。もう一度選んでください。"),
        },
    )


class VerifyIdForm(DocumentForm):
    verification_id = forms.CharField(
        label=_("検証ID"),
        max_length=40,
        help_text=_("文書の下部に印刷された12文字の英数字です（例: ABCD-EFGH-JKMN）。"),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        error_messages={"required": _("検証IDを入力してください。")},
    )


class IssueForm(DocumentForm):
    kind = forms.ChoiceField(
        label=_("発行する文書"),
        choices=DocumentKind.choices,
        error_messages={"required": _("文書の種類を選んでください。")},
    )
    note = forms.CharField(
        label=_("理由・備考"),
        required=False,
        max_length=2000,
        help_text=_("文書に記載されます（却下の理由、許可の条件など）。"),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class RevokeForm(DocumentForm):
    reason = forms.CharField(
        label=_("取消しの理由"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("取消しの理由を入力してください。")},
    )


class TemplateForm(DocumentForm):
    title = forms.CharField(
        label=_("表題"),
        max_length=200,
        error_messages={"required": _("表題を入力してください。")},
    )
    body = forms.CharField(
        label=_("本文"),
        help_text=_(
            "使える差し込み項目: {{ applicant_name }}（申請者名）、{{ receipt_number }}（受付番号）、"
            "{{ issue_date }}（発行日・和暦）、{{ submitted_date }}（申請日）、"
            "{{ procedure.name }}、{{ municipality.name }}、{{ municipality.head_title }}、"
            "{{ note }}（理由・備考）、{{ display.ステップ.項目 }}（入力内容）。"
            "入力内容の一覧は rows（row.label と row.display）を for タグで繰り返します。"
        ),
        widget=forms.Textarea(attrs={"rows": 12}),
        error_messages={"required": _("本文を入力してください。")},
    )
