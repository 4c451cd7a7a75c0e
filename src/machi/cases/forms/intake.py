"""Forms of counter (書かない窓口) and paper intake, with the 和暦 date field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from machi.cases.forms._base import Choices, _set_choices
from machi.cases.models import ConfirmationMethod, IdentityDocument
from machi.cases.services import IdentityCheck
from machi.core.forms import AccessibleForm
from machi.core.japanese import PREFECTURES, JapaneseDataError, parse_japanese_date


class JapaneseDateField(forms.Field):
    """A date typed as on the resident form: 和暦 (昭和60年4月12日, S60.4.12) or western.

    Parsed by ``core.japanese.parse_japanese_date``, the resident form engine's parser, so the
    counter accepts what the resident form accepts, with the same messages.
    """

    widget = forms.TextInput
    max_length = 30

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", _("例: 昭和60年4月12日、S60.4.12 または 1985-04-12"))
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        return {**super().widget_attrs(widget), "maxlength": str(self.max_length)}

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, dt.date):
            return value
        text = str(value or "").strip()
        if not text:
            return None
        try:
            return parse_japanese_date(text[: self.max_length])
        except JapaneseDataError as exc:
            raise forms.ValidationError(str(exc.message), code=exc.code) from None

    def prepare_value(self, value: Any) -> Any:
        return value.isoformat() if isinstance(value, dt.date) else value


# --- Counter and paper intake ------------------------------------------------------------------


class CounterStartForm(AccessibleForm):
    """書かない窓口 step 1: the procedure and the identity check (本人確認)."""

    procedure = forms.ChoiceField(
        label=_("手続"), error_messages={"required": _("手続を選んでください。")}
    )
    document = forms.ChoiceField(
        label=_("確認した本人確認書類"),
        choices=[(d.value, str(d.label)) for d in IdentityDocument],
        widget=forms.RadioSelect,
        error_messages={"required": _("確認した書類を選んでください。")},
    )
    document_note = forms.CharField(
        label=_("書類の名称（その他のとき）"), required=False, max_length=100
    )
    family_name = forms.CharField(
        label=_("氏名（姓）— 書類で確認したとおり"),
        max_length=100,
        error_messages={"required": _("書類で確認した氏名を入力してください。")},
    )
    given_name = forms.CharField(label=_("氏名（名）"), required=False, max_length=100)
    family_kana = forms.CharField(label=_("フリガナ（セイ）"), required=False, max_length=100)
    given_kana = forms.CharField(label=_("フリガナ（メイ）"), required=False, max_length=100)
    birth_date = JapaneseDateField(
        label=_("生年月日 — 書類で確認したとおり"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "input-medium"}),
        error_messages={"required": _("書類で確認した生年月日を入力してください。")},
    )
    postal_code = forms.CharField(label=_("郵便番号"), required=False, max_length=8)
    prefecture = forms.ChoiceField(label=_("都道府県"), required=False)
    city = forms.CharField(label=_("市区町村"), required=False, max_length=100)
    town = forms.CharField(label=_("町名・大字"), required=False, max_length=100)
    street = forms.CharField(label=_("丁目・番地・号"), required=False, max_length=100)
    building = forms.CharField(label=_("建物名・部屋番号"), required=False, max_length=100)
    contact_email = forms.EmailField(
        label=_("お知らせを送るメールアドレス（任意）"),
        required=False,
        error_messages={"invalid": _("メールアドレスの形式が正しくありません。")},
    )

    def __init__(self, *args: Any, procedures: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "procedure", [("", _("選んでください")), *procedures])
        _set_choices(
            self, "prefecture", [("", _("選んでください")), *[(p, p) for p in PREFECTURES]]
        )

    def identity(self) -> IdentityCheck:
        data = self.cleaned_data
        return IdentityCheck(
            document=data["document"],
            document_note=data.get("document_note") or "",
            family_name=data["family_name"],
            given_name=data.get("given_name") or "",
            family_kana=data.get("family_kana") or "",
            given_kana=data.get("given_kana") or "",
            birth_date=data.get("birth_date"),
            postal_code=data.get("postal_code") or "",
            prefecture=data.get("prefecture") or "",
            city=data.get("city") or "",
            town=data.get("town") or "",
            street=data.get("street") or "",
            building=data.get("building") or "",
        )


class PaperStartForm(AccessibleForm):
    """Paper step 1: the procedure and the scanned application."""

    procedure = forms.ChoiceField(
        label=_("手続"), error_messages={"required": _("手続を選んでください。")}
    )
    scan = forms.FileField(
        label=_("紙の申請書のスキャン（PDF・JPEG・PNG）"),
        error_messages={"required": _("スキャンしたファイルを選んでください。")},
    )
    contact_email = forms.EmailField(
        label=_("お知らせを送るメールアドレス（任意）"),
        required=False,
        error_messages={"invalid": _("メールアドレスの形式が正しくありません。")},
    )

    def __init__(self, *args: Any, procedures: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "procedure", [("", _("選んでください")), *procedures])


class CounterConfirmForm(AccessibleForm):
    """How the resident confirmed the printed or on-screen summary."""

    method = forms.ChoiceField(
        label=_("本人による確認の方法"),
        choices=[
            (
                ConfirmationMethod.TABLET_SIGNATURE.value,
                str(ConfirmationMethod.TABLET_SIGNATURE.label),
            ),
            (
                ConfirmationMethod.SIGNED_SUMMARY_SCAN.value,
                str(ConfirmationMethod.SIGNED_SUMMARY_SCAN.label),
            ),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": _("本人確認の方法を選んでください。")},
    )
    resident_confirmed = forms.BooleanField(
        label=_("本人が画面で内容を確認し、タブレットに署名しました"), required=False
    )
    confirmation_name = forms.CharField(label=_("署名した氏名"), required=False, max_length=200)
    confirmation_scan = forms.FileField(
        label=_("署名した控えのスキャン（控えに署名してもらったとき）"), required=False
    )


class PaperConfirmForm(AccessibleForm):
    matches_paper = forms.BooleanField(
        label=_("入力した内容が紙の申請書と一致することを確認しました"),
        error_messages={"required": _("紙の申請書と照合したことを確認してください。")},
    )
