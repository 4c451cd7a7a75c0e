"""Test URLconf: the project's URLs plus the document pages where the lead mounts them."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("machi.documents.urls")),
    path("staff/documents/", include("machi.documents.staff_urls")),
    path("", include("machi.urls")),
]
