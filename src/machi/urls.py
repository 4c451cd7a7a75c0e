"""URL map: portal at /, staff console at /staff/, JSON API at /api/v1/, health at /healthz."""

from __future__ import annotations

from django.conf import settings
from django.urls import include, path, re_path

from machi.api import api, api_not_found
from machi.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", include("machi.identity.urls")),
    path("staff/procedures/", include("machi.procedures.staff_urls")),
    path("staff/cases/", include("machi.cases.staff_urls")),
    path("staff/documents/", include("machi.documents.staff_urls")),
    path("payments/", include("machi.payments.urls")),
    path("staff/payments/", include("machi.payments.staff_urls")),
    path("", include("machi.documents.urls")),
    path("", include("machi.procedures.urls")),
    path("", include("machi.web.urls")),
]

if settings.OIDC_ENABLED:
    urlpatterns.insert(0, path("oidc/", include("mozilla_django_oidc.urls")))

handler404 = "machi.web.errors.not_found"
handler500 = "machi.web.errors.server_error"
handler403 = "machi.web.errors.forbidden"
handler400 = "machi.web.errors.bad_request"
