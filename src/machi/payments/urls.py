"""Resident-facing payment URLs (the lead mounts them at ``payments/``)."""

from django.urls import path

from machi.payments import views

app_name = "payments"

urlpatterns = [
    path("pay/<uuid:application_id>/", views.pay, name="pay"),
    path("start/<uuid:application_id>/", views.start, name="start"),
    path("return/<uuid:payment_id>/", views.payment_return, name="return"),
    path("webhook/<slug:provider_id>/", views.webhook, name="webhook"),
    path("sandbox/<str:ref>/", views.sandbox_checkout, name="sandbox-checkout"),
    path("payjp/<uuid:payment_id>/", views.payjp_checkout, name="payjp-checkout"),
    path("payjp/<uuid:payment_id>/3ds/", views.payjp_tds_return, name="payjp-tds"),
]
