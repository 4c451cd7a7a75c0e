"""Values every page template needs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from machi.core.auth import is_verified_staff


def platform(request: HttpRequest) -> dict[str, Any]:
    """Site name, the languages offered and whether the visitor is signed-in staff."""
    return {
        "site_name": settings.MACHI_SITE_NAME,
        "languages_offered": settings.LANGUAGES,
        "is_verified_staff": is_verified_staff(request),
    }
