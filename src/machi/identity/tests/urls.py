"""Test URLconf: the project's URLs plus the identity pages and API where the lead mounts them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from ninja import NinjaAPI

from machi.core.exceptions import ApplicationError
from machi.identity.api import router

test_api = NinjaAPI(urls_namespace="identity-test-api", docs_url=None, openapi_url=None)
test_api.add_router("/identity", router, url_name_prefix="identity-test")


@test_api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    # The same shape as machi.api's handler.
    return JsonResponse(
        {"error": {"code": exc.code, "message": str(exc.message), "fields": exc.field_errors}},
        status=exc.status,
    )


urlpatterns = [
    path("account/", include("machi.identity.urls")),
    path("test-api/v1/", test_api.urls),
    path("", include("machi.urls")),
]
