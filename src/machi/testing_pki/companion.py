"""What a smartphone companion app does with a signing hand-off request (the demo's stand-in).

:func:`answer_request` is the app's logic without the transport: given the request JSON
(``GET`` of the QR code's URL) and a card, it returns the JSON to ``POST`` to
``response_url``. :func:`run` adds the HTTP for ``python -m machi card companion <url>``.
See docs/signing-handoff.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from machi.testing_pki.cards import CardAuthorityError, CardFile

PROTOCOL = "machi-signing-handoff/1"
TIMEOUT_SECONDS = 15


class CompanionError(Exception):
    """The request could not be answered (shown by the command)."""


def answer_request(request: dict[str, Any], card: CardFile) -> dict[str, str]:
    """The response body for ``request``, signed with ``card``'s key of the asked purpose."""
    if request.get("protocol") != PROTOCOL:
        raise CompanionError(f"not a {PROTOCOL} request")
    purpose = request.get("purpose")
    if purpose not in ("sign", "auth"):
        raise CompanionError(f"unknown purpose {purpose!r}")
    try:
        data = base64.b64decode(str(request["data"]), validate=True)
    except (KeyError, ValueError) as exc:
        raise CompanionError("request has no base64 data") from exc
    # A real app shows the resident what they sign and checks the hash it was told.
    if hashlib.sha256(data).hexdigest() != request.get("data_sha256"):
        raise CompanionError("data does not match data_sha256")
    signature = card.sign_for(purpose, data)
    return {
        "signature": base64.b64encode(signature).decode("ascii"),
        "certificate": card.certificate_pem(purpose),
    }


def _call(url: str, body: dict[str, str] | None = None) -> dict[str, Any]:
    if urlsplit(url).scheme not in ("http", "https"):
        raise CompanionError(f"not an http(s) URL: {url}")
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            parsed: dict[str, Any] = json.loads(response.read())
            return parsed
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        raise CompanionError(f"HTTP {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CompanionError(str(exc)) from exc


def run(url: str, card_path: Any) -> dict[str, Any]:
    """Fetch the request at ``url``, sign it with the card file and post the answer."""
    try:
        card = CardFile.load(card_path)
    except CardAuthorityError as exc:
        raise CompanionError(str(exc)) from exc
    request = _call(url)
    return _call(str(request["response_url"]), answer_request(request, card))
