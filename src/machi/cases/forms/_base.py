"""What the case forms share: choices, the date message, the lock version field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
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


class PlainSelect(forms.Select):
    """A ``<select>`` built in Python with the same HTML as Django's.

    Django's widget renders a template per option; the queue's filters have hundreds of
    options (procedures, staff) on every page, which made the template most of the time.
    Flat choices only (no option groups).
    """

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)
        selected = set(self.format_value(value))
        options = []
        for option_value, option_label in self.choices:
            key = "" if option_value is None else str(option_value)
            mark = " selected" if key in selected else ""
            options.append(f'<option value="{escape(key)}"{mark}>{escape(option_label)}</option>')
        return mark_safe(  # noqa: S308 - every value and label is escaped above
            f'<select name="{escape(name)}"{flatatt(final)}>\n  '
            + "\n\n  ".join(options)
            + "\n\n</select>"
        )
