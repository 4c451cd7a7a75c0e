"""HTML forms of the procedures pages (catalog search, staff editing)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from machi.core.exceptions import ApplicationError
from machi.procedures.models import Audience, LifeEvent


class AccessibleForm(forms.Form):
    """Ties each field's error list to its input (aria-describedby, aria-invalid)."""

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name not in self.fields:
                continue
            bound = self[name]
            described_by = [f"{bound.auto_id}_error"]
            if self.fields[name].help_text:
                described_by.append(f"{bound.auto_id}_helptext")
            attrs = self.fields[name].widget.attrs
            attrs["aria-describedby"] = " ".join(described_by)
            attrs["aria-invalid"] = "true"

    def add_application_error(self, error: ApplicationError) -> None:
        """Show a service's error on the fields it names (or at the top of the form)."""
        placed = False
        for field, messages in error.field_errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
                placed = True
        if not placed:
            self.add_error(None, str(error.message))
        self.full_clean_aria()

    def full_clean_aria(self) -> None:
        """Re-tie error ids after errors were added outside ``full_clean``."""
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-describedby"] = f"{self[name].auto_id}_error"
                attrs["aria-invalid"] = "true"


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
        label=_("対象"), required=False, choices=[("", _("すべて")), *Audience.choices]
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
