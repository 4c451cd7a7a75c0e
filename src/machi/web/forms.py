"""Forms of the staff console."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from machi.core.forms import AccessibleForm


class StaffSignInForm(AccessibleForm):
    """Password and TOTP code (二要素認証) on one page."""

    username = forms.CharField(
        label=_("ユーザー名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
        error_messages={"required": _("ユーザー名を入力してください。")},
    )
    password = forms.CharField(
        label=_("パスワード"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("パスワードを入力してください。")},
    )
    otp_token = forms.CharField(
        label=_("確認コード（6桁）"),
        help_text=_("認証アプリに表示される6桁の数字です。"),
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9０-９]*",
            }
        ),
        error_messages={
            "required": _("確認コードを入力してください。"),
            "min_length": _("確認コードは6桁の数字です。"),
            "max_length": _("確認コードは6桁の数字です。"),
        },
    )

    def clean_otp_token(self) -> str:
        token: str = unicodedata.normalize("NFKC", self.cleaned_data["otp_token"]).strip()
        if not token.isdigit():
            raise forms.ValidationError(_("確認コードは6桁の数字です。"), code="otp_format")
        return token


class AuditSearchForm(AccessibleForm):
    """Search of the audit log (監査ログ検索)."""

    receipt_number = forms.CharField(
        label=_("受付番号"),
        required=False,
        max_length=32,
        help_text=_("申請ごとの記録をすべて表示します（例: 2026-000123）。"),
    )

    action = forms.CharField(label=_("操作"), required=False, max_length=80)
    actor = forms.CharField(label=_("操作した職員（ユーザー名）"), required=False, max_length=150)
    municipality = forms.ChoiceField(label=_("団体"), required=False)
    target_type = forms.CharField(label=_("対象の種類"), required=False, max_length=80)
    target_id = forms.CharField(label=_("対象ID"), required=False, max_length=80)
    personal_data = forms.BooleanField(label=_("個人情報へのアクセスのみ"), required=False)
    since = forms.DateField(
        label=_("開始日"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("日付を YYYY-MM-DD の形で入力してください。")},
    )
    until = forms.DateField(
        label=_("終了日"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("日付を YYYY-MM-DD の形で入力してください。")},
    )

    def clean_receipt_number(self) -> str:
        # Full-width digits and hyphens as typed from a paper receipt are the same number.
        value: str = unicodedata.normalize("NFKC", self.cleaned_data["receipt_number"])
        return value.strip().replace("ー", "-").replace("−", "-")

    def __init__(self, *args: Any, municipality_choices: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        municipality_field = self.fields["municipality"]
        if isinstance(municipality_field, forms.ChoiceField):
            municipality_field.choices = [("", _("すべて")), *municipality_choices]
