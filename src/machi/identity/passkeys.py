"""Passkeys (WebAuthn): the relying party of a request, session binding and wire-format helpers.

The relying party ID (RP ID) is a host name. Browsers refuse IP addresses as RP IDs, so
passkeys work at ``http://localhost:8000/`` but not at ``http://127.0.0.1:8000/``. Without
``MACHI_WEBAUTHN_RP_ID`` the RP ID is the host of the request (already checked against
``ALLOWED_HOSTS``) and the expected origin the request's own; production sets
``MACHI_WEBAUTHN_RP_ID`` and ``MACHI_WEBAUTHN_ORIGINS``. Settings are read when used.

Challenges are stored server-side (:class:`~machi.identity.models.PasskeyChallenge`) and
bound to the browser session that asked for them, like card challenges, so another site
cannot make a visitor's browser finish a ceremony it started (login CSRF).
"""

from __future__ import annotations

import binascii
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from django.utils.crypto import salted_hmac
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from machi.core.exceptions import ApplicationError, InvalidInput
from machi.core.models import User

SESSION_CHALLENGES: Final = "identity.passkey_challenges"
SESSION_CHALLENGES_KEPT: Final = 5
USER_HANDLE_SALT: Final = "machi.identity.passkey-user-handle"
#: What browsers may report in ``response.transports`` (anything else is dropped).
KNOWN_TRANSPORTS: Final = frozenset(
    {"usb", "nfc", "ble", "internal", "hybrid", "cable", "smart-card"}
)


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: ``id`` (a host name), a display ``name`` and allowed origins."""

    id: str
    name: str
    origins: tuple[str, ...]


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def relying_party(request: HttpRequest) -> RelyingParty | None:
    """The relying party for this request, or None where passkeys cannot work here.

    None when the page was opened at an IP address (browsers refuse it as RP ID) or at a host
    that is neither the configured RP ID nor one of its subdomains.
    """
    host = request.get_host()
    domain, _port = split_domain_port(host)
    configured = str(getattr(settings, "MACHI_WEBAUTHN_RP_ID", "") or "").strip().lower()
    rp_id = configured or domain
    if not rp_id or not domain or _is_ip_address(rp_id) or _is_ip_address(domain):
        return None
    if domain != rp_id and not domain.endswith(f".{rp_id}"):
        return None
    origins = tuple(
        origin.rstrip("/") for origin in getattr(settings, "MACHI_WEBAUTHN_ORIGINS", []) or []
    ) or (f"{request.scheme}://{host}",)
    name = str(getattr(settings, "MACHI_WEBAUTHN_RP_NAME", "") or "Machi")
    return RelyingParty(id=rp_id, name=name, origins=origins)


def localhost_url(request: HttpRequest) -> str:
    """This page at ``localhost`` when it was opened at a loopback IP address (for the hint)."""
    if getattr(settings, "MACHI_WEBAUTHN_RP_ID", ""):
        return ""
    domain, port = split_domain_port(request.get_host())
    if domain.strip("[]") not in {"127.0.0.1", "::1"}:
        return ""
    if not validate_host("localhost", settings.ALLOWED_HOSTS):
        return ""
    authority = f"localhost:{port}" if port else "localhost"
    return f"{request.scheme}://{authority}{request.get_full_path()}"


def user_handle(user: User) -> bytes:
    """The WebAuthn ``user.id`` of an account: stable, opaque, no personal data (32 bytes)."""
    return salted_hmac(USER_HANDLE_SALT, str(user.pk), algorithm="sha256").digest()


# --- Errors ------------------------------------------------------------------------------------


class MalformedCredential(InvalidInput):
    """What the browser sent is not a WebAuthn credential Machi can read."""

    status = 400

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            _("パスキーの応答を読み取れませんでした。もう一度お試しください。"), code="malformed"
        )
        self.detail = detail


class PasskeyRejected(ApplicationError):
    """The credential was read but does not verify (signature, origin, RP ID, counter…)."""

    status = 400
    default_code = "passkey_rejected"

    def __init__(self, detail: str = "", *, message: str | Promise | None = None) -> None:
        super().__init__(message or _("パスキーを確認できませんでした。もう一度お試しください。"))
        self.detail = detail


class LockedOut(ApplicationError):
    """Too many failed sign-ins for this account from this address (django-axes)."""

    status = 429
    default_code = "locked_out"


class PasskeySignInFailed(ApplicationError):
    """A refused passkey sign-in; ``user`` is the account the passkey belongs to, when known."""

    def __init__(self, cause: ApplicationError, *, user: User | None) -> None:
        super().__init__(cause.message, code=cause.code, field_errors=cause.field_errors)
        self.status = cause.status
        self.user = user
        self.cause = cause


# --- Session binding ---------------------------------------------------------------------------


def remember_challenge(request: HttpRequest, *, ceremony: str, challenge: str) -> None:
    """Bind a challenge to this browser session (the last few per ceremony are kept)."""
    kept: dict[str, list[str]] = dict(request.session.get(SESSION_CHALLENGES, {}))
    earlier = [c for c in kept.get(ceremony, []) if c != challenge]
    kept[ceremony] = [*earlier, challenge][-SESSION_CHALLENGES_KEPT:]
    request.session[SESSION_CHALLENGES] = kept


def challenge_issued_here(request: HttpRequest, *, ceremony: str, challenge: str) -> bool:
    """True when ``challenge`` was issued to this browser session for ``ceremony``."""
    kept = request.session.get(SESSION_CHALLENGES, {})
    return bool(challenge) and challenge in kept.get(ceremony, [])


# --- Wire format -------------------------------------------------------------------------------


def _malformed(detail: str) -> MalformedCredential:
    return MalformedCredential(detail)


def _b64url_field(mapping: Mapping[str, Any], key: str) -> bytes:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise _malformed(f"{key} missing")
    try:
        return base64url_to_bytes(value)
    except (binascii.Error, ValueError) as exc:
        raise _malformed(f"{key} is not base64url") from exc


def credential_id_of(credential: Mapping[str, Any]) -> str:
    """The credential's id, normalised to unpadded base64url (from ``rawId``)."""
    return bytes_to_base64url(_b64url_field(credential, "rawId"))


def client_data_challenge(credential: Mapping[str, Any]) -> str:
    """The challenge the browser put in ``response.clientDataJSON`` (base64url text)."""
    response = credential.get("response")
    if not isinstance(response, Mapping):
        raise _malformed("response missing")
    try:
        client_data = json.loads(_b64url_field(response, "clientDataJSON"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _malformed("clientDataJSON is not JSON") from exc
    challenge = client_data.get("challenge") if isinstance(client_data, dict) else None
    if not isinstance(challenge, str) or not challenge or len(challenge) > 128:
        raise _malformed("clientDataJSON has no challenge")
    return challenge


def user_handle_of(credential: Mapping[str, Any]) -> bytes | None:
    """The ``response.userHandle`` of an assertion, when the authenticator sent one."""
    response = credential.get("response")
    if not isinstance(response, Mapping) or not response.get("userHandle"):
        return None
    return _b64url_field(response, "userHandle")


def transports_of(credential: Mapping[str, Any]) -> list[str]:
    """The known transports of a new credential, as hints for later sign-ins."""
    response = credential.get("response")
    values = response.get("transports") if isinstance(response, Mapping) else None
    if not isinstance(values, list):
        return []
    return sorted({v for v in values if isinstance(v, str) and v in KNOWN_TRANSPORTS})


# --- Pages ---------------------------------------------------------------------------------------


def passkey_page_context(request: HttpRequest) -> dict[str, Any]:
    """What a page with passkey buttons needs: availability, the localhost hint, JS messages."""
    available = relying_party(request) is not None
    return {
        "available": available,
        "localhost_url": "" if available else localhost_url(request),
        "messages": {
            "working": _("パスキーを確認しています…"),
            "cancelled": _(
                "パスキーの操作が取り消されたか、時間切れになりました。もう一度お試しください。"
            ),
            "exists": _("この認証器のパスキーは、すでに登録されています。"),
            "failed": _("パスキーの操作に失敗しました。もう一度お試しください。"),
            "network": _("通信に失敗しました。接続を確認して、もう一度お試しください。"),
            "unexpected": _(
                "処理できませんでした。ページを再読み込みして、もう一度お試しください。"
            ),
        },
    }
