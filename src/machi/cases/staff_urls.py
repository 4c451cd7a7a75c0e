"""Staff console URLs for case processing (included at /staff/cases/)."""

from django.urls import path

from machi.cases import staff_views

app_name = "cases-staff"

urlpatterns = [
    path("", staff_views.queue, name="queue"),
    path("bulk/", staff_views.bulk, name="bulk"),
    path("stats/", staff_views.stats, name="stats"),
    path("routes/", staff_views.routes, name="routes"),
    path("routes/<int:procedure_id>/", staff_views.route_edit, name="route-edit"),
    path("counter/", staff_views.counter_start, name="counter-start"),
    path("paper/", staff_views.paper_start, name="paper-start"),
    path("intake/<uuid:application_id>/", staff_views.intake_fill, name="intake-fill"),
    path(
        "intake/<uuid:application_id>/confirm/",
        staff_views.intake_confirm,
        name="intake-confirm",
    ),
    path("<uuid:application_id>/", staff_views.case_detail, name="detail"),
    path(
        "<uuid:application_id>/files/<uuid:file_id>/",
        staff_views.case_file,
        name="file",
    ),
    path(
        "<uuid:application_id>/<slug:action>/",
        staff_views.case_action,
        name="action",
    ),
]
