"""Template filters for amounts of money."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def yen(value: object) -> str:
    """``1200`` → ``1,200円`` (negative amounts, e.g. exemptions, keep their sign)."""
    try:
        amount = int(str(value))
    except (TypeError, ValueError):
        return ""
    return _("%(amount)s円") % {"amount": f"{amount:,}"}
