"""Who counts as signed-in staff: a password plus a verified second factor, or OIDC."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from ninja.security import SessionAuth

from machi.core.models import User

OIDC_BACKEND = "machi.core.oidc.StaffOIDCBackend"


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
