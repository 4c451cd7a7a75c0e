"""Forms of the staff payments page."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from machi.core.forms import AccessibleForm


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


class CashPaymentForm(AccessibleForm):
    """窓口での現金納付の記録: the amount received and the counter's receipt number."""

    amount_yen = forms.IntegerField(
        label=_("受け取った金額（円）"), min_value=0, max_value=10_000_000
    )
    receipt_number = forms.CharField(
        label=_("領収書番号"), max_length=40, help_text=_("例: R-2026-0001")
    )
