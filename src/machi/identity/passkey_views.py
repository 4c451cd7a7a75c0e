"""Passkey (WebAuthn) endpoints: JSON for the page script, plus the no-JS removal form.

The page script (``static/identity/passkeys.js``) fetches options, calls
``navigator.credentials.create()``/``get()`` and posts the result back. Every JSON endpoint
is a CSRF-protected POST (the script sends ``X-CSRFToken``) and answers errors as
``{"error": {"code": ..., "message": ...}}`` with a Japanese message for the resident.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, Final

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from machi.core.exceptions import ApplicationError, InvalidInput, NotAuthenticated
from machi.core.models import User
from machi.identity import selectors, services
from machi.identity.card_session import MODEL_BACKEND, SESSION_AUTH_METHOD
from machi.identity.models import PasskeyCeremony
from machi.identity.passkeys import (
    LockedOut,
    MalformedCredential,
    PasskeyRejected,
    PasskeySignInFailed,
    RelyingParty,
    challenge_issued_here,
    client_data_challenge,
    relying_party,
    remember_challenge,
)
from machi.identity.views import _login_rate, _resident, resident_required, safe_next_url

JsonView = Callable[..., JsonResponse]

#: Largest JSON body accepted (a credential with a long attestation is a few kilobytes).
MAX_BODY_BYTES: Final = 64 * 1024


class TooManyRequests(ApplicationError):
    """Too many attempts from one address or account in a short time (django-ratelimit)."""

    status = 429
    default_code = "rate_limited"


def _error(exc: ApplicationError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": exc.code, "message": str(exc.message)}}, status=exc.status
    )


def _json_view(view: JsonView) -> JsonView:
    """Turn ``ApplicationError`` into the JSON error shape; never cache the answers."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except ApplicationError as exc:
            return _error(exc)

    return never_cache(wrapper)


def _json_resident_required(view: JsonView) -> JsonView:
    """Like ``resident_required``, but a JSON 401 instead of a redirect."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if not selectors.is_resident(request.user):
            raise NotAuthenticated(
                _("サインインの有効期限が切れました。もう一度サインインしてください。")
            )
        return view(request, *args, **kwargs)

    return wrapper


def _rate_limited(key: str) -> Callable[[JsonView], JsonView]:
    """MACHI_LOGIN_RATE_LIMIT per ``key`` (as the pages), answered in JSON rather than HTML."""

    def decorate(view: JsonView) -> JsonView:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            if getattr(request, "limited", False):
                raise TooManyRequests(
                    _("短時間に操作が集中しています。しばらく待ってから、もう一度お試しください。")
                )
            return view(request, *args, **kwargs)

        limited: JsonView = ratelimit(key=key, rate=_login_rate, method="POST", block=False)(
            wrapper
        )
        return limited

    return decorate


def _body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_BODY_BYTES:
        raise MalformedCredential("body too large")
    try:
        data = json.loads(request.body or b"{}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedCredential("body is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedCredential("body is not a JSON object")
    return data


def _credential(data: dict[str, Any]) -> dict[str, Any]:
    credential = data.get("credential")
    if not isinstance(credential, dict):
        raise MalformedCredential("credential missing")
    return credential


def _relying_party(request: HttpRequest) -> RelyingParty:
    rp = relying_party(request)
    if rp is None:
        raise InvalidInput(
            _(
                "このアドレスではパスキーを使えません。IP アドレス（127.0.0.1 など）ではなく、"
                "localhost などのホスト名でページを開いてください。"
            ),
            code="passkeys_unavailable",
        )
    return rp


def _check_issued_here(request: HttpRequest, ceremony: str, credential: dict[str, Any]) -> None:
    if not challenge_issued_here(
        request, ceremony=ceremony, challenge=client_data_challenge(credential)
    ):
        raise InvalidInput(
            _("パスキーの確認を始めた記録が見つかりません。最初からやり直してください。"),
            code="challenge_invalid",
        )


# --- Adding and removing passkeys (signed-in residents) -----------------------------------------


@require_POST
@_json_view
@_json_resident_required
@_rate_limited("user")
def register_options(request: HttpRequest) -> JsonResponse:
    """Options for ``navigator.credentials.create()`` (a one-time challenge, 5 minutes)."""
    options = services.passkey_registration_options(
        user=_resident(request), rp=_relying_party(request)
    )
    remember_challenge(request, ceremony=PasskeyCeremony.REGISTER, challenge=options.challenge)
    return JsonResponse({"publicKey": options.public_key})


@require_POST
@_json_view
@_json_resident_required
@_rate_limited("user")
def register_verify(request: HttpRequest) -> JsonResponse:
    """Verify the new credential (``{"credential": ..., "name": ...}``) and keep it."""
    rp = _relying_party(request)
    data = _body(request)
    credential = _credential(data)
    _check_issued_here(request, PasskeyCeremony.REGISTER, credential)
    name = data.get("name")
    passkey = services.passkey_register(
        user=_resident(request),
        rp=rp,
        credential=credential,
        name=name if isinstance(name, str) else "",
    )
    messages.success(
        request,
        _("パスキー「%(name)s」を登録しました。次回からパスキーでサインインできます。")
        % {"name": passkey.name},
    )
    return JsonResponse(
        {
            "passkey": {"id": passkey.pk, "name": passkey.name},
            "redirect": reverse("identity:account"),
        },
        status=201,
    )


@require_POST
@resident_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a passkey (a plain form: works without JS)."""
    try:
        services.passkey_delete(user=_resident(request), passkey_id=pk)
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("パスキーを削除しました。"))
    return redirect("identity:account")


# --- Signing in --------------------------------------------------------------------------------------


@require_POST
@_json_view
@_rate_limited("ip")
def sign_in_options(request: HttpRequest) -> JsonResponse:
    """Options for ``navigator.credentials.get()``: any passkey of this site (no e-mail)."""
    options = services.passkey_authentication_options(rp=_relying_party(request))
    remember_challenge(request, ceremony=PasskeyCeremony.AUTHENTICATE, challenge=options.challenge)
    return JsonResponse({"publicKey": options.public_key})


def _axes_credentials(user: User) -> dict[str, str]:
    # The e-mail address is the user name: the same (address, IP) counter as password sign-in.
    return {"username": user.get_username()}


@require_POST
@_json_view
@_rate_limited("ip")
def sign_in_verify(request: HttpRequest) -> JsonResponse:
    """Verify the assertion (``{"credential": ..., "next": ...}``) and sign the resident in."""
    rp = _relying_party(request)
    data = _body(request)
    credential = _credential(data)
    _check_issued_here(request, PasskeyCeremony.AUTHENTICATE, credential)
    try:
        user = services.passkey_authenticate(
            rp=rp,
            credential=credential,
            is_locked=lambda u: AxesProxyHandler.is_locked(request, _axes_credentials(u)),
        )
    except PasskeySignInFailed as exc:
        # Only a passkey that does not verify counts towards the lockout (as a wrong password
        # does); an expired challenge or an unverified address is no guess.
        if exc.user is not None and isinstance(exc.cause, PasskeyRejected):
            user_login_failed.send(
                sender=__name__, credentials=_axes_credentials(exc.user), request=request
            )
            if getattr(request, "axes_locked_out", False):
                # Answer in JSON ourselves: AxesMiddleware would swap in an HTML page.
                request.axes_locked_out = False  # type: ignore[attr-defined]
                raise LockedOut(
                    _(
                        "サインインの失敗が続いたため、このアカウントのサインインを一時的に停止しました。"
                        "時間をおいてからもう一度お試しください。"
                    )
                ) from exc
        raise
    login(request, user, backend=MODEL_BACKEND)
    request.session[SESSION_AUTH_METHOD] = "passkey"
    next_url = data.get("next")
    return JsonResponse(
        {"redirect": safe_next_url(request, next_url if isinstance(next_url, str) else "")}
    )
