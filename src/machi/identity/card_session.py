"""Binding card challenges to the browser session that asked for them.

A signature is accepted only for a nonce issued to the same session, so another site cannot
make a visitor's browser sign in with the other site's card (login CSRF), for pages and API.
"""

from __future__ import annotations

from typing import Final

from django.contrib.auth import login
from django.http import HttpRequest

from machi.core.models import User
from machi.identity.models import CardLoginChallenge

SESSION_NONCES: Final = "identity.card_nonces"
SESSION_NONCES_KEPT: Final = 5
#: Card sign-in bypasses authenticate(); the session still needs a backend to reload the user.
MODEL_BACKEND: Final = "django.contrib.auth.backends.ModelBackend"
SESSION_AUTH_METHOD: Final = "identity.auth_method"


def remember_nonce(request: HttpRequest, challenge: CardLoginChallenge) -> None:
    """Bind a challenge to this browser session (the last few are kept)."""
    nonces = [n for n in request.session.get(SESSION_NONCES, []) if n != challenge.nonce]
    request.session[SESSION_NONCES] = [*nonces, challenge.nonce][-SESSION_NONCES_KEPT:]


def nonce_issued_here(request: HttpRequest, nonce: str) -> bool:
    """True when ``nonce`` was issued to this browser session."""
    return bool(nonce) and nonce in request.session.get(SESSION_NONCES, [])


def sign_in_with_card(request: HttpRequest, user: User) -> None:
    """Start the resident's session after a verified card sign-in."""
    login(request, user, backend=MODEL_BACKEND)
    request.session[SESSION_AUTH_METHOD] = "card"
