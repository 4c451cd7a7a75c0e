"""Staff console URLs for procedures (included at /staff/procedures/)."""

from django.urls import path

from machi.procedures import staff_views

app_name = "procedures-staff"

urlpatterns = [
    path("", staff_views.procedure_list, name="list"),
    path("new/", staff_views.procedure_create, name="create"),
    path("templates/", staff_views.template_list, name="templates"),
    path("<int:procedure_id>/", staff_views.procedure_edit, name="edit"),
    path("<int:procedure_id>/form/", staff_views.form_editor, name="form"),
    path("<int:procedure_id>/form/preview/", staff_views.form_preview, name="preview"),
    path("<int:procedure_id>/form/export/", staff_views.form_export, name="export"),
    path(
        "<int:procedure_id>/template/publish/",
        staff_views.template_publish,
        name="template-publish",
    ),
    path(
        "<int:procedure_id>/template/update/",
        staff_views.template_update_apply,
        name="template-update",
    ),
]
