"""Forms of the staff pages for procedures."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from machi.procedures.form_editing import FIELD_TYPES
from machi.procedures.forms import AccessibleForm
from machi.procedures.procedure_fields import PROCEDURE_EDITABLE_FIELDS
from machi.procedures.states import AssuranceLevel, Audience, Channel, LifeEvent, PaymentTiming

if TYPE_CHECKING:
    from machi.procedures.models import Procedure

ONLINE_CHANNELS = [(c.value, c.label) for c in (Channel.ONLINE, Channel.COUNTER, Channel.POST)]


class ProcedureForm(AccessibleForm):
    """Catalog fields of a procedure."""

    municipality = forms.ChoiceField(label=_("団体"))
    slug = forms.SlugField(
        label=_("URL名"),
        max_length=80,
        help_text=_("半角英数字とハイフン。例: juminhyo"),
        error_messages={"invalid": _("半角英数字とハイフンで入力してください。")},
    )
    name = forms.CharField(label=_("手続名"), max_length=200)
    name_kana = forms.CharField(label=_("手続名（かな）"), max_length=400, required=False)
    name_en = forms.CharField(label=_("手続名（英語）"), max_length=300, required=False)
    department = forms.ChoiceField(label=_("担当課"), required=False)
    description = forms.CharField(
        label=_("説明"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    description_easy = forms.CharField(
        label=_("説明（やさしい日本語）"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    description_en = forms.CharField(
        label=_("説明（英語）"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    audience = forms.ChoiceField(
        label=pgettext_lazy("procedure audience", "対象"), choices=Audience.choices
    )
    legal_basis = forms.CharField(label=_("根拠法令"), max_length=300, required=False)
    assurance_level = forms.ChoiceField(label=_("本人確認"), choices=AssuranceLevel.choices)
    fee_yen = forms.IntegerField(label=_("手数料（円）"), min_value=0, initial=0)
    fee_per_copy = forms.BooleanField(label=_("1通ごとの手数料"), required=False)
    fee_note = forms.CharField(label=_("手数料の説明"), max_length=300, required=False)
    payment_timing = forms.ChoiceField(
        label=_("支払いの時期"), choices=PaymentTiming.choices, initial=PaymentTiming.NONE
    )
    standard_processing_days = forms.IntegerField(
        label=_("標準処理期間（日）"), min_value=0, required=False
    )
    annual_case_count = forms.IntegerField(label=_("年間取扱件数"), min_value=0, required=False)
    channels = forms.MultipleChoiceField(
        label=_("受付方法"), choices=ONLINE_CHANNELS, widget=forms.CheckboxSelectMultiple
    )
    life_events = forms.MultipleChoiceField(
        label=_("ライフイベント"),
        choices=LifeEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    keywords = forms.CharField(label=_("キーワード"), max_length=500, required=False)
    attachments_note = forms.CharField(
        label=_("添付書類"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    is_published = forms.BooleanField(label=_("公開"), required=False)

    SERVICE_FIELDS = PROCEDURE_EDITABLE_FIELDS

    def __init__(
        self,
        *args: Any,
        municipalities: list[str],
        departments: list[tuple[str, str]],
        procedure: Procedure | None = None,
        **kwargs: Any,
    ) -> None:
        if procedure is not None:
            # Also when POST data is bound: disabled fields (municipality, slug) take their
            # value from ``initial``, never from the submitted data.
            kwargs.setdefault(
                "initial",
                {
                    **{f: getattr(procedure, f) for f in self.SERVICE_FIELDS},
                    "municipality": procedure.municipality_id,
                    "slug": procedure.slug,
                    "department": procedure.department.code if procedure.department else "",
                    "is_published": procedure.is_published,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["municipality"].choices = [(c, c) for c in municipalities]  # type: ignore[attr-defined]
        self.fields["department"].choices = [("", _("なし")), *departments]  # type: ignore[attr-defined]
        if procedure is not None:
            self.fields["slug"].disabled = True
            self.fields["municipality"].disabled = True

    def service_values(self) -> dict[str, Any]:
        """The cleaned values the services take as catalog fields."""
        values = {f: self.cleaned_data[f] for f in self.SERVICE_FIELDS}
        values["fee_yen"] = values["fee_yen"] or 0
        return values


class FieldAddForm(AccessibleForm):
    """Add one field to the form (no code needed)."""

    step = forms.ChoiceField(label=_("ステップ"))
    key = forms.CharField(
        label=_("項目ID"), max_length=40, help_text=_("半角英小文字・数字・_。例: purpose")
    )
    field_type = forms.ChoiceField(
        label=_("項目の種類"),
        choices=[
            ("text", _("1行の文字")),
            ("textarea", _("複数行の文字")),
            ("number", _("数値")),
            ("date", _("日付（和暦も可）")),
            ("choice", _("選択（1つ）")),
            ("multichoice", _("選択（複数）")),
            ("checkbox", _("チェック（同意など）")),
            ("email", _("メールアドレス")),
            ("phone", _("電話番号")),
            ("postal_code", _("郵便番号")),
            ("name", _("氏名（ふりがな付き）")),
            ("address", _("住所（郵便番号から補完）")),
            ("my_number", _("個人番号")),
            ("corporate_number", _("法人番号")),
            ("file", _("ファイル添付")),
        ],
    )
    label_ja = forms.CharField(label=_("見出し（日本語）"), max_length=200)
    label_en = forms.CharField(label=_("見出し（英語）"), max_length=200, required=False)
    label_easy = forms.CharField(
        label=_("見出し（やさしい日本語）"), max_length=200, required=False
    )
    help_ja = forms.CharField(label=_("説明文"), max_length=500, required=False)
    required = forms.BooleanField(label=_("必須にする"), required=False)
    options_text = forms.CharField(
        label=_("選択肢"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("1行に1つ。「値|表示名」の形でも書けます。"),
    )

    def __init__(self, *args: Any, steps: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["step"].choices = steps  # type: ignore[attr-defined]

    def clean_field_type(self) -> str:
        value: str = self.cleaned_data["field_type"]
        if value not in FIELD_TYPES:
            raise forms.ValidationError(_("項目の種類を選んでください。"))
        return value


class StepAddForm(AccessibleForm):
    """Add a step (page) to the form."""

    key = forms.CharField(label=_("ステップID"), max_length=40)
    title_ja = forms.CharField(label=_("ステップの見出し（日本語）"), max_length=200)
    title_en = forms.CharField(label=_("ステップの見出し（英語）"), max_length=200, required=False)


class FormImportForm(AccessibleForm):
    """Import a whole form definition as JSON."""

    definition = forms.CharField(
        label=_("様式定義（JSON）"), widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"})
    )

    def clean_definition(self) -> dict[str, Any]:
        try:
            data = json.loads(self.cleaned_data["definition"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("JSONとして読み取れません（%(line)s行目付近）。") % {"line": exc.lineno}
            ) from exc
        if not isinstance(data, dict):
            raise forms.ValidationError(_("様式定義はJSONオブジェクトでなければなりません。"))
        return data


class TemplateAdoptForm(AccessibleForm):
    """Adopt a template as this municipality's own procedure."""

    template = forms.TypedChoiceField(label=_("テンプレート"), coerce=int)
    municipality = forms.ChoiceField(label=_("導入する団体"))
    department = forms.ChoiceField(label=_("担当課"), required=False)
    slug = forms.SlugField(label=_("URL名（空欄ならテンプレートと同じ）"), required=False)

    def __init__(
        self,
        *args: Any,
        templates: list[tuple[int, str]],
        municipalities: list[str],
        departments: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = templates  # type: ignore[attr-defined]
        self.fields["municipality"].choices = [(c, c) for c in municipalities]  # type: ignore[attr-defined]
        self.fields["department"].choices = [("", _("なし")), *departments]  # type: ignore[attr-defined]
