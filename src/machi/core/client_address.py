"""The client's address, the one answer used by rate limits, lockouts and the audit log.

Behind ``MACHI_PROXY_COUNT`` reverse proxies, each proxy appends the address it saw to
``X-Forwarded-For``; the entry the outermost trusted proxy wrote is the client. Entries further
left were written by the client itself and are never trusted. Without proxies the peer
(``REMOTE_ADDR``) is the client. django-ratelimit (``RATELIMIT_IP_META_KEY``) and django-axes
(``AXES_CLIENT_IP_CALLABLE``) both call :func:`client_ip`, so a limit and a lockout always count
the same client.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The client's IP address, honouring ``MACHI_PROXY_COUNT`` (read per call)."""
    peer = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "MACHI_PROXY_COUNT", 0) or 0)
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            address = _valid(forwarded[-proxies])
            if address is not None:
                return address
    return _valid(peer) or peer or "0.0.0.0"  # noqa: S104 (a placeholder, never bound)
