"""Resident account pages; the project mounts them at ``/account/`` (namespace ``identity``)."""

from __future__ import annotations

from django.urls import path

from machi.identity import passkey_views, views

app_name = "identity"

urlpatterns = [
    path("", views.account, name="account"),
    path("sign-up/", views.sign_up, name="sign-up"),
    path("sign-up/done/", views.sign_up_done, name="sign-up-done"),
    path("verify/resend/", views.verify_email_resend, name="verify-email-resend"),
    path("verify/<str:token>/", views.verify_email, name="verify-email"),
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-in/card/", views.card_sign_in, name="card-sign-in"),
    path(
        "sign-in/passkey/options/",
        passkey_views.sign_in_options,
        name="passkey-sign-in-options",
    ),
    path("sign-in/passkey/verify/", passkey_views.sign_in_verify, name="passkey-sign-in-verify"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("cards/link/", views.card_link, name="card-link"),
    path("signing/handoffs/<int:pk>/status/", views.handoff_status, name="handoff-status"),
    path("cards/<int:pk>/unlink/", views.card_unlink, name="card-unlink"),
    path(
        "passkeys/register/options/",
        passkey_views.register_options,
        name="passkey-register-options",
    ),
    path(
        "passkeys/register/verify/",
        passkey_views.register_verify,
        name="passkey-register-verify",
    ),
    path("passkeys/<int:pk>/delete/", passkey_views.delete, name="passkey-delete"),
]
