"""What the case forms share: choices, the date message, the lock version field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from machi.core.forms import AccessibleForm

Choices = list[tuple[str, Any]]
DATE_ERROR = _("日付を YYYY-MM-DD の形で入力してください。")


def _set_choices(form: forms.Form, name: str, choices: Choices) -> None:
    field = form.fields[name]
    if isinstance(field, forms.ChoiceField):
        field.choices = choices


class LockedForm(AccessibleForm):
    """A workflow form carrying the application's ``lock_version`` the user saw."""

    lock_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
