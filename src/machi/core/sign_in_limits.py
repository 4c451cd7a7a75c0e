"""A cap on failed sign-ins per account, whatever addresses they come from.

django-axes locks an account at one address (``AXES_LOCKOUT_PARAMETERS``) and django-ratelimit
caps each address's volume, so neither stops a guesser who spreads attempts over many
addresses. This counts failures per user name across all addresses (django-ratelimit's cache
counter, fixed window) and refuses the account for the rest of the window once
``MACHI_LOGIN_ACCOUNT_FAILURE_LIMIT`` failures were counted — the right password included.
The limit is higher than the per-address one, so a colleague mistyping at one desk is locked
there first, and a stranger needs many guesses before the owner is locked out too.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

GROUP = "machi.sign-in.account"


@dataclass(frozen=True)
class AccountLimit:
    """Whether an account is refused, and for how many more seconds."""

    locked: bool
    seconds_left: int = 0


def _rate(group: str, request: HttpRequest) -> str:
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return f"{int(settings.LOGIN_ACCOUNT_FAILURE_LIMIT)}/{minutes}m"


def _usage(request: HttpRequest, username: str, *, increment: bool) -> AccountLimit:
    account = unicodedata.normalize("NFKC", username).strip().casefold()
    usage = get_usage(
        request,
        group=GROUP,
        key=lambda group, req: account,
        rate=_rate,
        increment=increment,
    )
    if usage is None:  # RATELIMIT_ENABLE is off
        return AccountLimit(locked=False)
    locked = usage["count"] >= usage["limit"]
    return AccountLimit(locked=locked, seconds_left=int(usage["time_left"]) if locked else 0)


def account_limit(request: HttpRequest, *, username: str) -> AccountLimit:
    """Whether ``username`` already used up its failures in this window (counts nothing)."""
    return _usage(request, username, increment=False)


def account_failure_record(request: HttpRequest, *, username: str) -> AccountLimit:
    """Count one failed sign-in for ``username``; returns the state after counting it."""
    return _usage(request, username, increment=True)
