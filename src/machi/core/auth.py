"""Who is calling: signed-in staff (password + second factor, or OIDC), and API clients.

Two ways to call the resident API (``/api/v1/``):

* the browser session cookie — every write (POST, PUT, PATCH, DELETE) that carries the session
  cookie must also carry the CSRF token (``X-CSRFToken`` header from the ``csrftoken`` cookie),
  so another site cannot post in a resident's name (``ResidentSessionAuth``);
* an explicit API credential for programs (kiosks, LINE mini-apps): ``Authorization: Bearer
  <token>``, a signed token issued to a signed-in resident by ``POST /api/v1/tokens``. A browser
  never sends it by itself, so it needs no CSRF token (``ApiTokenAuth``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial, wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.middleware import OTPMiddleware, is_verified
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth
from ninja.security.base import AuthBase
from ninja.utils import check_csrf

from machi.core import auth_cache
from machi.core.exceptions import Forbidden
from machi.core.models import User

OIDC_BACKEND = "machi.core.oidc.StaffOIDCBackend"


def session_user(request: HttpRequest) -> User | AnonymousUser:
    """The user a request's session names, with ``otp_device`` and ``is_verified()`` set.

    What Django's ``auth.get_user`` and django-otp's middleware do, from ``core.auth_cache``
    instead of three queries: the session's backend must still be configured, the session's
    hash must match the user's (a password change ends every other session), and the OTP device
    must be a confirmed one of this user. A deactivated account is anonymous whatever backend
    signed it in, from the next request on, in every process.
    """
    user: User | AnonymousUser = _session_user(request) or AnonymousUser()
    user.otp_device = None  # type: ignore[union-attr]
    user.is_verified = partial(is_verified, user)  # type: ignore[union-attr]
    if isinstance(user, User):
        persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
        if persistent_id:
            persistent_id = OTPMiddleware._normalize_persistent_id(str(persistent_id))
            device = auth_cache.device_for(user, persistent_id)
            if device is None or device.user_id != user.pk or not device.confirmed:
                del request.session[DEVICE_ID_SESSION_KEY]
            else:
                user.otp_device = device  # type: ignore[attr-defined]
    return user


def _session_user(request: HttpRequest) -> User | None:
    session = request.session
    try:
        user_id = User._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = auth_cache.user_for(user_id)
    if user is None or not user.is_active:
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    current_hash = user.get_session_auth_hash()
    if session_hash and constant_time_compare(session_hash, current_hash):
        return user
    if session_hash and any(
        constant_time_compare(session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    ):
        # Signed before a SECRET_KEY rotation: keep the sign-in under the new key (as Django).
        session.cycle_key()
        session[HASH_SESSION_KEY] = current_hash
        return user
    session.flush()
    return None


def is_verified_staff(request: HttpRequest) -> bool:
    """True when the request's user is active staff who passed the second factor.

    TOTP is required for password sign-in; an OIDC sign-in carries the municipality
    identity provider's own multi-factor policy.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return False
    if request.session.get(BACKEND_SESSION_KEY) == OIDC_BACKEND:
        return True
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def staff_user(request: HttpRequest) -> User:
    """The verified staff user of a request already checked by ``StaffSessionAuth``."""
    user = request.user
    if not isinstance(user, User):  # only reachable if a view forgot its staff check
        raise PermissionDenied
    return user


class StaffSessionAuth(SessionAuth):
    """Session cookie of verified staff (CSRF checked on writes, as for the console)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if is_verified_staff(request):
            return request.user
        return None


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only verified staff (password + TOTP, or OIDC) reach the console; others sign in first."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_verified_staff(request):
            return redirect(f"{reverse('web:staff-login')}?next={request.get_full_path()}")
        return view(request, *args, **kwargs)

    return wrapper


# --- The resident API: session (CSRF-checked writes) or an explicit API token ------------------

API_TOKEN_SALT = "machi.core.api-token"  # noqa: S105 (a signing namespace, not a secret)
API_TOKEN_PREFIX = "machi1."  # noqa: S105 (marks Machi's tokens, not a secret)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class ApiToken:
    """A bearer token and when it stops working."""

    token: str
    expires_at: datetime


def _token_fingerprint(user: User) -> str:
    # Changes with the password: changing it (or an admin resetting it) revokes every token.
    return user.get_session_auth_hash()[:24]


def api_token_issue(*, user: User) -> ApiToken:
    """A signed API token for ``user`` (a resident: staff keep the second factor of a session).

    Nothing is stored: the token carries the user id and a fingerprint of the password, signed
    with ``SECRET_KEY``; it expires after ``MACHI_API_TOKEN_SECONDS``.
    """
    if user.is_staff:
        raise Forbidden(
            _("職員のアカウントにはAPIトークンを発行できません。"), code="token_staff_refused"
        )
    value = signing.dumps({"u": user.pk, "f": _token_fingerprint(user)}, salt=API_TOKEN_SALT)
    lifetime = timedelta(seconds=int(settings.MACHI_API_TOKEN_SECONDS))
    return ApiToken(token=API_TOKEN_PREFIX + value, expires_at=timezone.now() + lifetime)


def api_token_user(token: str) -> User | None:
    """The active resident a token was issued to, or None (forged, expired, revoked)."""
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    try:
        data = signing.loads(
            token.removeprefix(API_TOKEN_PREFIX),
            salt=API_TOKEN_SALT,
            max_age=int(settings.MACHI_API_TOKEN_SECONDS),
        )
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = auth_cache.user_for(data["u"])
    if user is None or not user.is_active or user.is_staff:
        return None
    if not constant_time_compare(str(data.get("f")), _token_fingerprint(user)):
        return None
    return user


class ApiTokenAuth(HttpBearer):
    """``Authorization: Bearer machi1.…``: a program acting for one resident (no CSRF needed).

    A request that sends a bearer token is judged by the token alone: a bad one is refused
    (401), never silently treated as anonymous or as the browser session.
    """

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_user(token)
        if user is None:
            raise AuthenticationError
        request.user = user
        return user


@dataclass(frozen=True)
class SessionCaller:
    """``request.auth`` of a session-cookie (or cookie-less anonymous) caller; always truthy."""

    user: User | AnonymousUser

    def __bool__(self) -> bool:
        return True


class ResidentSessionAuth(AuthBase):
    """The browser session (signed in or not); writes that carry the session cookie need CSRF.

    A write without the session cookie is anonymous and can act for nobody. Every response
    carries the ``csrftoken`` cookie so a script on Machi's own pages (or an app that keeps
    cookies) can echo it in ``X-CSRFToken``.
    """

    openapi_type = "apiKey"
    openapi_in = "cookie"

    def __init__(self) -> None:
        self.openapi_name = settings.SESSION_COOKIE_NAME
        super().__init__()

    def __call__(self, request: HttpRequest) -> Any:
        get_token(request)
        with_session = settings.SESSION_COOKIE_NAME in request.COOKIES
        if request.method in UNSAFE_METHODS and with_session and check_csrf(request) is not None:
            raise Forbidden(_("CSRFトークンが確認できませんでした。"), code="csrf_failed")
        return SessionCaller(user=request.user)


def resident_api_auth() -> list[Any]:
    """The ``auth=`` of resident endpoints: an API token first, else the CSRF-checked session."""
    return [ApiTokenAuth(), ResidentSessionAuth()]
