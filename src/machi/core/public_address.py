"""Absolute URLs at the installation's one public address, ``MACHI_PUBLIC_BASE_URL``.

Links that leave the request (mails, printed documents, QR codes, payment return addresses)
must not be built from the request's ``Host`` header: a forged header would put someone else's
site into a mail that Machi sends (password-reset style poisoning). Read per call, so tests and
``make demo`` can change the setting.
"""

from __future__ import annotations

from django.conf import settings


def public_url(path: str) -> str:
    """``path`` (a site path, e.g. what ``reverse()`` returns) at ``MACHI_PUBLIC_BASE_URL``."""
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"a site path starting with one '/' is needed, not {path!r}")
    return f"{str(settings.MACHI_PUBLIC_BASE_URL).rstrip('/')}{path}"
