"""URLconf for payment tests: the site's URLs plus payments (and procedures) where not mounted yet.

The lead mounts ``payments.urls`` at ``payments/`` and ``payments.staff_urls`` at
``staff/payments/``; until then (or if done differently) the tests mount them here the same way.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, include, path

from machi.urls import urlpatterns as site_patterns


def _namespaces(patterns: list[Any]) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace:
                found.add(pattern.namespace)
            found |= _namespaces(list(pattern.url_patterns))
        elif not isinstance(pattern, URLPattern):
            continue
    return found


_mounted = _namespaces(list(site_patterns))
urlpatterns: list[URLPattern | URLResolver] = list(site_patterns)
if "payments" not in _mounted:
    urlpatterns.insert(0, path("payments/", include("machi.payments.urls")))
if "payments-staff" not in _mounted:
    urlpatterns.insert(0, path("staff/payments/", include("machi.payments.staff_urls")))
if "procedures" not in _mounted:
    urlpatterns.append(path("", include("machi.procedures.urls")))
