"""Forms of the staff payments page."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PaymentDayForm(forms.Form):
    """Which municipality and day to show (GET)."""

    municipality = forms.ChoiceField(label=_("団体"))
    day = forms.DateField(
        label=_("日付"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("例: 2026-04-01"),
    )

    def __init__(self, *args: Any, municipalities: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["municipality"]).choices = municipalities
        if not self.is_bound:
            self.initial.setdefault("day", timezone.localdate())
            if municipalities:
                self.initial.setdefault("municipality", municipalities[0][0])
