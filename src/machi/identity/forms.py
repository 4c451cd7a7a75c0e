"""Forms of the resident account pages (sign-up, sign-in, card sign-in and linking)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from machi.core.forms import AccessibleForm


def _email_field() -> forms.EmailField:
    return forms.EmailField(
        label=_("メールアドレス"),
        max_length=150,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autocapitalize": "none"}),
        error_messages={
            "required": _("メールアドレスを入力してください。"),
            "invalid": _("メールアドレスの形式が正しくありません。"),
            "max_length": _("メールアドレスが長すぎます（150文字まで）。"),
        },
    )


class SignUpForm(AccessibleForm):
    """A resident account: e-mail address and password (checked by the password rules)."""

    email = _email_field()
    display_name = forms.CharField(
        label=_("表示名"),
        required=False,
        max_length=100,
        help_text=_("画面に表示する名前です（省略できます）。"),
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    password = forms.CharField(
        label=_("パスワード"),
        strip=False,
        help_text=_("8文字以上で、よく使われる語や数字だけのものは使えません。"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": _("パスワードを入力してください。")},
    )
    password_confirm = forms.CharField(
        label=_("パスワード（確認）"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": _("確認のため、もう一度パスワードを入力してください。")},
    )

    def clean_password_confirm(self) -> str:
        confirm: str = self.cleaned_data["password_confirm"]
        if self.cleaned_data.get("password") and confirm != self.cleaned_data["password"]:
            raise forms.ValidationError(_("パスワードが一致しません。"), code="password_mismatch")
        return confirm


class SignInForm(AccessibleForm):
    """Resident sign-in with e-mail address and password."""

    email = _email_field()
    password = forms.CharField(
        label=_("パスワード"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("パスワードを入力してください。")},
    )


class ResendVerificationForm(AccessibleForm):
    """Ask for the verification e-mail again."""

    email = _email_field()


class CardSignatureForm(AccessibleForm):
    """The simulator's card step: paste the signature and the 利用者証明用 certificate.

    The challenge's nonce travels in a hidden input the template renders from the *current*
    challenge (not a form field), so a re-shown form always carries a fresh one.
    """

    signature = forms.CharField(
        label=_("署名（Base64）"),
        help_text=_("カードで確認用の文字列に署名した結果を貼り付けてください。"),
        max_length=4096,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocapitalize": "none"}),
        error_messages={"required": _("署名を貼り付けてください。")},
    )
    certificate = forms.CharField(
        label=_("利用者証明用電子証明書（PEM）"),
        help_text=_("「-----BEGIN CERTIFICATE-----」から「-----END CERTIFICATE-----」までです。"),
        max_length=16384,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "autocapitalize": "none"}),
        error_messages={"required": _("電子証明書を貼り付けてください。")},
    )
