"""Public document URLs; the project mounts them at the root (namespace ``documents``).

/verify/                         upload a PDF or enter a verification id
/verify/<id>/                    result for a verification id (the QR code's target)
/my/documents/<uuid>/download/   the applicant's own issued document
/tsa/                            Machi's built-in RFC 3161 time-stamping authority
"""

from __future__ import annotations

from django.urls import path

from machi.documents import views

app_name = "documents"

urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("verify/<str:verification_id>/", views.verify_by_id, name="verify-id"),
    path(
        "my/documents/<uuid:document_id>/download/",
        views.my_document_download,
        name="my-download",
    ),
    path("tsa/", views.tsa_endpoint, name="tsa"),
]
