"""Resident account pages: sign-up, e-mail verification, sign-in (password or card), account.

Thin: parse, call a service, render. Mounted by the project at ``/account/`` (namespace
``identity``). Card steps offer every signing client (:mod:`machi.identity.signing_clients`: demo card,
smartphone hand-off, the pasted signature for experts); none needs JavaScript.
Passkeys (WebAuthn, with a page script) are in :mod:`machi.identity.passkey_views`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Final
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from machi.core.exceptions import ApplicationError, Conflict, InvalidInput
from machi.core.models import User
from machi.core.sign_in_limits import account_failure_record, account_limit
from machi.identity import selectors, services
from machi.identity.card_session import nonce_issued_here, remember_nonce, sign_in_with_card
from machi.identity.forms import (
    AccessibleForm,
    CardSignatureForm,
    ResendVerificationForm,
    SignInForm,
    SignUpForm,
)
from machi.identity.models import CardLoginChallenge, ChallengePurpose
from machi.identity.passkeys import passkey_page_context
from machi.identity.signing_clients import (
    CardSignatureResult,
    SigningTask,
    chosen_client,
    session_handoff_ids,
    signing_panels,
    signing_receive,
)

ViewFunc = Callable[..., HttpResponse]

CHALLENGE_NOT_FOUND: Final = gettext_lazy(
    "確認用の文字列が見つかりません。最初からやり直してください。"
)


def resident_required(view: ViewFunc) -> ViewFunc:
    """Only signed-in residents (not staff) reach the account pages."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.is_resident(request.user):
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('identity:sign-in')}?{query}")
        return view(request, *args, **kwargs)

    return wrapper


def _resident(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # only reachable if a view forgot resident_required
        raise PermissionDenied
    return user


def safe_next_url(request: HttpRequest, target: str) -> str:
    """``target`` when it is a URL of this site, else the account page."""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("identity:account")


def _safe_next(request: HttpRequest) -> str:
    return safe_next_url(request, request.POST.get("next") or request.GET.get("next") or "")


def _login_rate(group: str, request: HttpRequest) -> str:
    """Sign-in attempts allowed per client address (MACHI_LOGIN_RATE_LIMIT, as for staff)."""
    return str(settings.LOGIN_RATE_LIMIT)


def _form_error(form: AccessibleForm, message: str | Promise) -> None:
    """A page-level error, also on the unbound card form (a client other than paste posted)."""
    if not hasattr(form, "cleaned_data"):
        form.cleaned_data = {}  # add_error() expects a cleaned form; nothing was cleaned
    form.add_error(None, str(message))


def _show_service_error(form: AccessibleForm, exc: ApplicationError) -> None:
    if exc.field_errors:
        form.add_field_errors(exc.field_errors)
    else:
        _form_error(form, exc.message)


# --- Sign-up and e-mail verification --------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_login_rate, method="POST", block=True)
def sign_up(request: HttpRequest) -> HttpResponse:
    """Create a resident account; a verification link is sent by e-mail."""
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.resident_sign_up(
                    email=data["email"],
                    password=data["password"],
                    display_name=data["display_name"],
                )
            except Conflict:
                # Same page as a new sign-up: the form must not reveal who has an account.
                services.resident_existing_account_notice_send(email=data["email"])
                return redirect("identity:sign-up-done")
            except InvalidInput as exc:
                _show_service_error(form, exc)
            else:
                services.resident_verification_email_send(user=user)
                return redirect("identity:sign-up-done")
    return render(request, "identity/sign_up.html", {"form": form}, status=status)


@require_GET
def sign_up_done(request: HttpRequest) -> HttpResponse:
    """ "Check your mailbox"."""
    return render(request, "identity/sign_up_done.html")


@require_GET
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the verification e-mail."""
    try:
        services.resident_email_verify(token=token)
    except InvalidInput as exc:
        return render(
            request,
            "identity/verify_email.html",
            {"ok": False, "message": exc.message, "code": exc.code},
            status=400,
        )
    return render(request, "identity/verify_email.html", {"ok": True})


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_login_rate, method="POST", block=True)
def verify_email_resend(request: HttpRequest) -> HttpResponse:
    """Send the verification e-mail again (same answer whether or not the address is known)."""
    form = ResendVerificationForm(request.POST or None, initial={"email": request.GET.get("email")})
    if request.method == "POST" and form.is_valid():
        user = selectors.resident_get_by_email(email=form.cleaned_data["email"])
        if user is not None and not selectors.resident_email_verified(user=user):
            services.resident_verification_email_send(user=user)
        return redirect("identity:sign-up-done")
    status = 400 if request.method == "POST" else 200
    return render(request, "identity/verify_email_resend.html", {"form": form}, status=status)


# --- Sign-in and sign-out ---------------------------------------------------------------------------


# One message for every refusal: an unknown address, a wrong password, a staff account or an
# address not yet verified all read alike, so the page never tells a guesser that a password
# was right (the "password oracle"). The resend link is offered on every refusal instead.
SIGN_IN_REFUSED: Final = gettext_lazy("メールアドレスまたはパスワードが違います。")


def _account(email: str) -> str:
    # Residents' counter of the per-account cap, apart from staff user names.
    return f"resident:{email}"


def _locked_out(request: HttpRequest) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "identity/locked_out.html", {"minutes": minutes}, status=429)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_login_rate, method="POST", block=True)
def sign_in(request: HttpRequest) -> HttpResponse:
    """Resident sign-in with e-mail and password, limited as staff sign-in is.

    Per client address: MACHI_LOGIN_RATE_LIMIT (django-ratelimit) and the lockout after
    MACHI_LOGIN_FAILURE_LIMIT failures (django-axes, keyed by the address and the client's IP).
    Per account from every address: MACHI_LOGIN_ACCOUNT_FAILURE_LIMIT failures lock it for the
    cool-off time, the right password included (:mod:`machi.core.sign_in_limits`).
    """
    if request.method == "GET" and selectors.is_resident(request.user):
        return redirect("identity:account")
    form = SignInForm(request.POST or None)
    status = 200
    refused_email = ""
    if request.method == "POST":
        status = 400
        if form.is_valid():
            email = selectors.normalize_email(form.cleaned_data["email"])
            if account_limit(request, username=_account(email)).locked:
                return _locked_out(request)
            # The e-mail address is the user name: axes counts failures per (address, IP).
            user = authenticate(request, username=email, password=form.cleaned_data["password"])
            if getattr(request, "axes_locked_out", False):
                return _locked_out(request)
            if not isinstance(user, User) or user.is_staff:
                services.resident_sign_in_record(
                    user=None, email=email, succeeded=False, reason="password"
                )
                if account_failure_record(request, username=_account(email)).locked:
                    return _locked_out(request)
                form.add_error(None, str(SIGN_IN_REFUSED))
                refused_email = email
            elif not selectors.resident_email_verified(user=user):
                # The password was right: no guess, so not counted; the page reads the same.
                services.resident_sign_in_record(
                    user=user, email=email, succeeded=False, reason="email_unverified"
                )
                form.add_error(None, str(SIGN_IN_REFUSED))
                refused_email = email
            else:
                login(request, user)
                services.resident_sign_in_record(user=user, email=email, succeeded=True)
                return HttpResponseRedirect(_safe_next(request))
    return render(
        request,
        "identity/sign_in.html",
        {
            "form": form,
            "next": request.GET.get("next", request.POST.get("next", "")),
            "refused_email": refused_email,
            "passkey": passkey_page_context(request),
        },
        status=status,
    )


def _pasted(request: HttpRequest) -> bool:
    """True when the expert paste form was used (also for clients that post no choice)."""
    return chosen_client(request) == "paste"


def _card_task(challenge: CardLoginChallenge, *, user: User | None) -> SigningTask:
    """The card step of sign-in or linking: sign the challenge text with the 利用者証明用 key."""
    linking = challenge.purpose == ChallengePurpose.LINK
    return SigningTask(
        purpose="auth",
        data=challenge.message.encode("utf-8"),
        target_type="identity.card_link" if linking else "identity.card_login",
        target_id=challenge.nonce,
        action_label=gettext_lazy("登録する") if linking else gettext_lazy("サインインする"),
        user=user,
    )


@dataclass
class _CardStep:
    """What the card step of a page got: a signature to verify, or the challenge to keep."""

    signature: CardSignatureResult | None = None
    challenge: CardLoginChallenge | None = None


def _card_step(
    request: HttpRequest, form: CardSignatureForm, *, purpose: str, user: User | None
) -> _CardStep:
    """Obtain the card signature of a posted card step from the chosen signing client.

    Errors go onto ``form``. While a smartphone hand-off is pending the same challenge is
    kept (the phone signs its text); otherwise the page shows a fresh one.
    """
    nonce = request.POST.get("nonce", "")
    if not nonce_issued_here(request, nonce):
        _form_error(form, CHALLENGE_NOT_FOUND)
        return _CardStep()
    if _pasted(request):
        if not form.is_valid():
            return _CardStep()
        try:
            signature = services.decode_signature(form.cleaned_data["signature"])
        except ApplicationError as exc:
            _show_service_error(form, exc)
            return _CardStep()
        return _CardStep(
            CardSignatureResult(signature, form.cleaned_data["certificate"], "paste"),
        )
    challenge = selectors.card_challenge_open(nonce=nonce, purpose=purpose)
    if challenge is None:
        _form_error(form, CHALLENGE_NOT_FOUND)
        return _CardStep()
    try:
        obtained = signing_receive(request, _card_task(challenge, user=user))
    except ApplicationError as exc:
        _show_service_error(form, exc)
        keep = exc.code == "handoff_pending"
        return _CardStep(challenge=challenge if keep else None)
    return _CardStep(obtained, challenge if obtained is None else None)


def _card_page_context(
    request: HttpRequest, challenge: CardLoginChallenge | None, *, purpose: str, user: User | None
) -> dict[str, Any]:
    """The challenge (fresh unless kept) and the signing panels for it."""
    if challenge is None:
        challenge = services.card_login_challenge_issue(purpose=purpose, user=user)
        remember_nonce(request, challenge)
    return {
        "challenge": challenge,
        "signing_panels": signing_panels(request, _card_task(challenge, user=user)),
        "signing_client": chosen_client(request),
    }


@require_http_methods(["GET", "POST"])
# GET counts too: each page view stores a challenge.
@ratelimit(key="ip", rate=_login_rate, method=["GET", "POST"], block=True)
def card_sign_in(request: HttpRequest) -> HttpResponse:
    """Sign in with the card: sign the challenge with the 利用者証明用 certificate.

    The signature comes from a signing client (demo card, smartphone, pasted); whichever it
    is, :func:`services.card_login_verify` verifies it.
    """
    form = CardSignatureForm(
        request.POST if request.method == "POST" and _pasted(request) else None
    )
    status = 200
    kept: CardLoginChallenge | None = None
    if request.method == "POST":
        status = 400
        step = _card_step(request, form, purpose=ChallengePurpose.LOGIN, user=None)
        kept = step.challenge
        if step.signature is not None:
            try:
                user = services.card_login_verify(
                    nonce=request.POST.get("nonce", ""),
                    signature_b64=step.signature.signature_b64,
                    certificate_pem=step.signature.certificate_pem,
                )
            except ApplicationError as exc:
                _show_service_error(form, exc)
            else:
                sign_in_with_card(request, user)
                return HttpResponseRedirect(_safe_next(request))
        elif kept is not None and not form.errors:
            status = 200  # a hand-off was started: show its QR code
    # Otherwise a fresh challenge: a refused attempt has used up the old one.
    return render(
        request,
        "identity/card_sign_in.html",
        {
            "form": form,
            "signing_form": form,
            "next": request.GET.get("next", request.POST.get("next", "")),
            **_card_page_context(request, kept, purpose=ChallengePurpose.LOGIN, user=None),
        },
        status=status,
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Sign out and return to the sign-in page."""
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        services.resident_sign_out_record(user=user)
    logout(request)
    return redirect("identity:sign-in")


# --- Account -------------------------------------------------------------------------------------


def _account_page(
    request: HttpRequest,
    form: CardSignatureForm | None = None,
    *,
    status: int = 200,
    challenge: CardLoginChallenge | None = None,
) -> HttpResponse:
    user = _resident(request)
    form = form or CardSignatureForm()
    return render(
        request,
        "identity/account.html",
        {
            "links": selectors.card_link_list(user=user),
            "form": form,
            "signing_form": form,
            "passkeys": selectors.passkey_list(user=user),
            "passkey": passkey_page_context(request),
            "email_verified": selectors.resident_email_verified(user=user),
            **_card_page_context(request, challenge, purpose=ChallengePurpose.LINK, user=user),
        },
        status=status,
    )


@require_GET
@resident_required
def account(request: HttpRequest) -> HttpResponse:
    """The resident's account: linked cards and linking a new one."""
    return _account_page(request)


@require_POST
@resident_required
@ratelimit(key="user", rate=_login_rate, method="POST", block=True)
def card_link(request: HttpRequest) -> HttpResponse:
    """Link a card by signing the account page's challenge (with any signing client)."""
    user = _resident(request)
    form = CardSignatureForm(request.POST if _pasted(request) else None)
    step = _card_step(request, form, purpose=ChallengePurpose.LINK, user=user)
    if step.signature is not None:
        try:
            services.card_link(
                user=user,
                nonce=request.POST.get("nonce", ""),
                signature_b64=step.signature.signature_b64,
                certificate_pem=step.signature.certificate_pem,
            )
        except ApplicationError as exc:
            _show_service_error(form, exc)
        else:
            messages.success(
                request, _("カードを登録しました。次回からカードでサインインできます。")
            )
            return redirect("identity:account")
    waiting = step.challenge is not None and not form.errors
    return _account_page(request, form, status=200 if waiting else 400, challenge=step.challenge)


@require_POST
@resident_required
def card_unlink(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a linked card."""
    try:
        services.card_unlink(user=_resident(request), link_id=pk)
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("カードの登録を解除しました。"))
    return redirect("identity:account")


@require_GET
def handoff_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Whether the phone has answered this session's hand-off ``pk`` (for handoff.js; reads only)."""
    if pk not in session_handoff_ids(request):
        return JsonResponse({"error": {"code": "handoff_unknown"}}, status=404)
    handoff = selectors.handoff_get(handoff_id=pk)
    if handoff is None:
        return JsonResponse({"error": {"code": "handoff_unknown"}}, status=404)
    return JsonResponse(
        {
            "answered": handoff.answered_at is not None,
            "expired": handoff.expires_at <= timezone.now(),
        }
    )
