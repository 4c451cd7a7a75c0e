"""URLconf for payment tests: the site's URLs plus payments (and procedures) where not mounted yet.

The lead mounts ``payments.urls`` at ``payments/`` and ``payments.staff_urls`` at
``staff/payments/``; until then (or if done differently) the tests mount them here the same way.
The site's URLconf is included by name, so this module imports nothing above payments.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from ninja import NinjaAPI

from machi.core.exceptions import ApplicationError
from machi.payments.api import build_router


def _namespaces(patterns: list[Any]) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace:
                found.add(pattern.namespace)
            found |= _namespaces(list(pattern.url_patterns))
    return found


def _on_error(request: HttpRequest, exc: Any) -> HttpResponse:
    return JsonResponse(
        {"error": {"code": exc.code, "message": str(exc.message)}}, status=exc.status
    )


_mounted = _namespaces(list(get_resolver("machi.urls").url_patterns))
urlpatterns: list[URLPattern | URLResolver] = [path("", include("machi.urls"))]
if "payments" not in _mounted:
    urlpatterns.insert(0, path("payments/", include("machi.payments.urls")))
if "payments-staff" not in _mounted:
    urlpatterns.insert(0, path("staff/payments/", include("machi.payments.staff_urls")))
if "procedures" not in _mounted:
    urlpatterns.append(path("", include("machi.procedures.urls")))

# The JSON router on an API of its own (the lead mounts ``machi.payments.api.router``).
_api = NinjaAPI(urls_namespace="payments-test-api", docs_url=None)
_api.add_exception_handler(ApplicationError, _on_error)
_api.add_router("/", build_router())
urlpatterns.append(path("payments-test-api/", _api.urls))
