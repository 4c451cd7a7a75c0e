"""HTML forms of the procedures pages (catalog search, staff editing)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from machi.core.forms import AccessibleForm
from machi.procedures.models import Audience, LifeEvent


class CatalogSearchForm(AccessibleForm):
    """Search of the procedure catalog (手続の検索), GET without JavaScript."""

    q = forms.CharField(
        label=_("キーワード"),
        required=False,
        max_length=100,
        help_text=_(
            "例: じゅうみんひょう、住民票、転出。ひらがな・カタカナ・漢字のどれでも探せます。"
        ),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    municipality = forms.ChoiceField(label=_("団体"), required=False)
    department = forms.ChoiceField(label=_("担当課"), required=False)
    audience = forms.ChoiceField(
        label=pgettext_lazy("procedure audience", "対象"),
        required=False,
        choices=[("", _("すべて")), *Audience.choices],
    )
    life_event = forms.ChoiceField(
        label=_("ライフイベント"), required=False, choices=[("", _("すべて")), *LifeEvent.choices]
    )

    def __init__(
        self,
        *args: Any,
        municipalities: list[tuple[str, str]],
        departments: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        municipality_field = self.fields["municipality"]
        if isinstance(municipality_field, forms.ChoiceField):
            municipality_field.choices = [("", _("すべて")), *municipalities]
        department_field = self.fields["department"]
        if isinstance(department_field, forms.ChoiceField):
            department_field.choices = [("", _("すべて")), *departments]
