"""Staff document pages; the project mounts them at ``/staff/documents/`` (``documents-staff``)."""

from __future__ import annotations

from django.urls import path

from machi.documents import staff_views

app_name = "documents-staff"

urlpatterns = [
    path("applications/<uuid:application_id>/issue/", staff_views.issue, name="issue"),
    path("<uuid:document_id>/", staff_views.detail, name="detail"),
    path("<uuid:document_id>/download/", staff_views.download, name="download"),
    path("<uuid:document_id>/revoke/", staff_views.revoke, name="revoke"),
    path("procedures/<int:procedure_id>/templates/", staff_views.templates, name="templates"),
]
