"""``{% application_sections place application %}``: what higher apps add to application pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from machi.procedures.extensions import render_sections
from machi.procedures.models import Application

register = template.Library()


@register.simple_tag(takes_context=True)
def application_sections(
    context: template.Context, place: str, application: Application
) -> SafeString:
    """Render the sections registered for ``place`` (see ``procedures.extensions``)."""
    page_context: dict[str, Any] = {str(key): value for key, value in context.flatten().items()}
    return render_sections(
        place, request=context.get("request"), application=application, page_context=page_context
    )
