"""Resident URLs of online procedures (included at the site root)."""

from django.urls import path

from machi.procedures import apply_views, correction_views, views

app_name = "procedures"

urlpatterns = [
    path("procedures/", views.catalog, name="catalog"),
    path("procedures/<str:code>/<slug:slug>/", views.procedure_detail, name="detail"),
    path("procedures/<str:code>/<slug:slug>/start/", apply_views.start, name="start"),
    path("apply/resume/<str:token>/", apply_views.resume, name="resume"),
    path("apply/<uuid:application_id>/review/", apply_views.review, name="review"),
    path("apply/<uuid:application_id>/done/", apply_views.done, name="done"),
    path("apply/<uuid:application_id>/<str:step>/", apply_views.step, name="step"),
    path("my/applications/", apply_views.my_applications, name="my-applications"),
    path(
        "my/applications/<uuid:application_id>/",
        apply_views.my_application,
        name="my-application",
    ),
    path(
        "my/applications/<uuid:application_id>/delete/",
        apply_views.draft_delete,
        name="draft-delete",
    ),
    path(
        "my/applications/<uuid:application_id>/withdraw/",
        apply_views.withdraw,
        name="withdraw",
    ),
    path(
        "my/applications/<uuid:application_id>/correction/",
        correction_views.correction,
        name="correction",
    ),
    path(
        "my/applications/<uuid:application_id>/correction/sign/",
        correction_views.correction_sign,
        name="correction-sign",
    ),
    path(
        "my/applications/<uuid:application_id>/files/<str:file_id>/",
        apply_views.attachment,
        name="attachment",
    ),
]
