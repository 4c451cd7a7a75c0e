"""Staff console URLs for payments (the lead mounts them at ``staff/payments/``)."""

from django.urls import path

from machi.payments import staff_views

app_name = "payments-staff"

urlpatterns = [
    path("", staff_views.index, name="index"),
    path("export.csv", staff_views.export_csv, name="export"),
    path("cash/<uuid:application_id>/", staff_views.cash_record, name="cash"),
]
