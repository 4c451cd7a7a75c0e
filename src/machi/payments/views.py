"""Resident pages for paying a fee, the providers' webhooks and the sandbox checkout page.

Start and return pages are for the applicant only (their own application, or an anonymous one
started in this browser session). The webhook endpoint is CSRF-exempt and trusts nothing until
the provider adapter has verified the signature or token.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from machi.core.exceptions import ApplicationError, NotFound
from machi.core.models import User
from machi.payments import selectors, services
from machi.payments.models import OPEN_STATUSES, Payment, PaymentStatus
from machi.payments.providers import WebhookVerificationError, get_provider
from machi.payments.providers.payjp import PayjpProvider
from machi.payments.providers.sandbox import DECLINE_CODES, SandboxProvider
from machi.procedures.selectors import application_get_for_applicant

if TYPE_CHECKING:
    from machi.procedures.selectors import Application

logger = logging.getLogger(__name__)
SESSION_APPLICATIONS_KEY = "machi_applications"


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _session_ids(request: HttpRequest) -> list[str]:
    return list(request.session.get(SESSION_APPLICATIONS_KEY, []))


def _not_found(request: HttpRequest, message: Any) -> HttpResponse:
    return render(request, "web/portal/not_found.html", {"message": message}, status=404)


def _application(request: HttpRequest, application_id: Any) -> Application:
    return application_get_for_applicant(
        application_id=str(application_id), user=_user(request), session_ids=_session_ids(request)
    )


def _payment(request: HttpRequest, payment_id: Any) -> Payment:
    return selectors.payment_get_for_applicant(
        payment_id=str(payment_id), user=_user(request), session_ids=_session_ids(request)
    )


def _problem(request: HttpRequest, exc: ApplicationError, application: Application) -> HttpResponse:
    return render(
        request,
        "payments/problem.html",
        {"message": exc.message, "application": application},
        status=exc.status,
    )


@require_GET
def pay(request: HttpRequest, application_id: Any) -> HttpResponse:
    """The fee statement of an application and the button that starts paying it."""
    try:
        application = _application(request, application_id)
    except NotFound as exc:
        return _not_found(request, exc.message)
    summary = selectors.payment_summary(application)
    return render(
        request,
        "payments/pay.html",
        {
            "application": application,
            "summary": summary,
            "can_start": selectors.payment_can_start(application),
        },
    )


@require_POST
def start(request: HttpRequest, application_id: Any) -> HttpResponse:
    """Open (or reuse) the application's payment and send the payer to the provider."""
    try:
        application = _application(request, application_id)
    except NotFound as exc:
        return _not_found(request, exc.message)
    try:
        payment = services.payment_start(application=application, actor=_user(request))
    except ApplicationError as exc:
        return _problem(request, exc, application)
    if payment.status in OPEN_STATUSES and payment.redirect_url:
        return redirect(payment.redirect_url)
    return redirect("payments:return", payment_id=payment.pk)


@require_GET
def payment_return(request: HttpRequest, payment_id: Any) -> HttpResponse:
    """Where the provider sends the payer back: shows the outcome; submits when paid first.

    The outcome is read from the provider (never from the query string); for procedures paid
    before submission a successful payment submits the application and shows its receipt.
    """
    try:
        payment = _payment(request, payment_id)
    except NotFound as exc:
        return _not_found(request, exc.message)
    outcome = services.payment_return(payment=payment, actor=_user(request))
    payment = outcome.payment
    application = payment.application
    if outcome.submitted:
        return redirect("procedures:done", application_id=application.pk)
    return render(
        request,
        "payments/return.html",
        {
            "payment": payment,
            "application": application,
            "paid": outcome.paid,
            "pending": payment.status in OPEN_STATUSES,
            "cancelled": payment.status in (PaymentStatus.CANCELLED, PaymentStatus.EXPIRED),
            "failed": payment.status == PaymentStatus.FAILED,
            "failure_text": selectors.failure_text(payment.failure_code),
            "before_submission": outcome.before_submission,
            "needs_signature": outcome.needs_signature,
            "submit_error": outcome.submit_error,
            "can_retry": selectors.payment_can_start(application),
        },
    )


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, provider_id: str) -> HttpResponse:
    """A provider's webhook: 400 (logged, audited, nothing changed) unless authenticated."""
    try:
        result = services.webhook_receive(
            provider_id=provider_id, headers=request.headers, body=request.body
        )
    except NotFound:
        return JsonResponse({"error": "unknown_provider"}, status=404)
    except WebhookVerificationError:
        return JsonResponse({"error": "invalid_signature"}, status=400)
    except services.ProviderUnavailable:
        return JsonResponse({"error": "retry_later"}, status=503)
    return JsonResponse({"received": True, "result": result})


def _sandbox() -> SandboxProvider:
    provider = get_provider("sandbox")
    if not isinstance(provider, SandboxProvider):
        raise NotFound(_("お支払いが見つかりません。"))
    return provider


def _decline_choices() -> list[tuple[str, str]]:
    return [(code, selectors.failure_text(code)) for code in DECLINE_CODES]


@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: HttpRequest, ref: str) -> HttpResponse:
    """The sandbox provider's hosted checkout page (test payments, no money moves)."""
    try:
        provider = _sandbox()
    except NotFound as exc:
        return _not_found(request, exc.message)
    tx = provider.checkout_get(ref)
    if tx is None:
        return _not_found(request, _("お支払いが見つかりません。"))
    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        if outcome not in ("pay", "decline", "cancel"):
            return render(
                request,
                "payments/sandbox_checkout.html",
                {"tx": tx, "decline_codes": _decline_choices()},
                status=400,
            )
        result = provider.complete(
            ref, outcome=outcome, failure_code=request.POST.get("failure_code", "")
        )
        if result is not None:
            completed, headers, body = result
            try:  # the same entry point, and signature check, as a real provider's webhook
                services.webhook_receive(provider_id=provider.id, headers=headers, body=body)
            except (WebhookVerificationError, services.ProviderUnavailable):
                logger.exception("sandbox webhook was not accepted")
            return redirect(completed.cancel_url if outcome == "cancel" else completed.return_url)
    return render(
        request,
        "payments/sandbox_checkout.html",
        {
            "tx": tx,
            "decline_codes": _decline_choices(),
            "open": tx.status == PaymentStatus.PENDING,
        },
    )


@csp_update(  # type: ignore[arg-type]
    {
        "script-src": ["https://js.pay.jp"],
        "frame-src": ["https://js.pay.jp"],
        "connect-src": ["https://api.pay.jp"],
        "form-action": ["https://api.pay.jp"],
    }
)
@require_http_methods(["GET", "POST"])
def payjp_checkout(request: HttpRequest, payment_id: Any) -> HttpResponse:
    """PAY.JP card entry: payjp.js (PAY.JP's own script) turns the card into a token."""
    try:
        payment = _payment(request, payment_id)
    except NotFound as exc:
        return _not_found(request, exc.message)
    provider = get_provider(payment.provider)
    if not isinstance(provider, PayjpProvider):
        return _not_found(request, _("お支払いが見つかりません。"))
    if payment.status not in OPEN_STATUSES or payment.provider_ref:
        return redirect("payments:return", payment_id=payment.pk)
    error = ""
    if request.method == "POST":
        try:
            payment = services.payment_confirm_card(
                payment=payment, token=request.POST.get("payjp-token", "")
            )
        except ApplicationError as exc:
            error = str(exc.message)
        else:
            if payment.status in OPEN_STATUSES and payment.redirect_url.startswith("https://"):
                return redirect(payment.redirect_url)  # PAY.JP's 3-D Secure
            return redirect("payments:return", payment_id=payment.pk)
    return render(
        request,
        "payments/payjp_checkout.html",
        {"payment": payment, "public_key": provider.public_key, "error": error},
        status=400 if error else 200,
    )


@require_GET
def payjp_tds_return(request: HttpRequest, payment_id: Any) -> HttpResponse:
    """Back from PAY.JP's 3-D Secure: finish the charge, then show the outcome."""
    try:
        payment = _payment(request, payment_id)
    except NotFound as exc:
        return _not_found(request, exc.message)
    try:
        services.payment_finish_authentication(payment=payment)
    except ApplicationError:
        logger.warning("3-D Secure finish failed", extra={"payment": str(payment.pk)})
    return redirect("payments:return", payment_id=payment.pk)
