"""The test URLs plus a stand-in for the documents app's issue view (built separately)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def _issue(request: HttpRequest, application_id: str) -> HttpResponse:
    return HttpResponse("issued")


documents = ([path("<uuid:application_id>/issue/", _issue, name="issue")], "documents-staff")

urlpatterns = [
    path("staff/documents/", include(documents)),
    path("", include("machi.cases.tests.urls")),
]
