"""Card sign-in over the JSON API (mounted by the project at ``/api/v1/identity``).

1. ``POST /card-login/challenges`` returns a challenge; the card signs ``challenge`` (UTF-8)
   with its 利用者証明用 key.
2. ``POST /card-login`` with the nonce, the base64 signature and the certificate PEM signs the
   browser session in. The nonce must have been issued to the same session, so another site
   cannot sign a visitor in with someone else's card (login CSRF).

Smartphone signing hand-off (docs/signing-handoff.md), for the companion app; the one-time
token in the URL is the credential (no session, no CSRF token):

- ``GET /signing-requests/{token}`` — what to sign;
- ``POST /signing-requests/{token}/response`` — the signature and certificate, once.

Errors are ``ApplicationError``s (``CardVerificationError`` codes, ``challenge_*``,
``card_not_linked``…) rendered by the project's API error handler.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.throttling import AnonRateThrottle

from machi.core.auth import resident_api_auth
from machi.core.exceptions import InvalidInput
from machi.core.public_address import public_url
from machi.identity import services
from machi.identity.card_session import nonce_issued_here, remember_nonce, sign_in_with_card
from machi.identity.models import ChallengePurpose

router = Router(tags=["identity"])


class ChallengeOut(Schema):
    nonce: str = Field(description="Send back with the signature.")
    challenge: str = Field(description="The exact text to sign (UTF-8), e.g. machi-card-login:…")
    expires_at: datetime


class CardLoginIn(Schema):
    nonce: str = Field(min_length=1, max_length=64)
    signature: str = Field(
        min_length=1, max_length=4096, description="RSA PKCS#1 v1.5 SHA-256, base64"
    )
    certificate: str = Field(
        min_length=1, max_length=16384, description="利用者証明用電子証明書 (PEM)"
    )


class CardLoginOut(Schema):
    user_id: int
    display_name: str


@router.post("/card-login/challenges", response={201: ChallengeOut}, auth=resident_api_auth())
def card_login_challenge_api(request: HttpRequest) -> Status[ChallengeOut]:
    """Issue a one-time card sign-in challenge (valid 5 minutes) bound to this session."""
    challenge = services.card_login_challenge_issue(purpose=ChallengePurpose.LOGIN)
    remember_nonce(request, challenge)
    return Status(
        201,
        ChallengeOut(
            nonce=challenge.nonce, challenge=challenge.message, expires_at=challenge.expires_at
        ),
    )


@router.post(
    "/card-login",
    response=CardLoginOut,
    auth=resident_api_auth(),
    throttle=[AnonRateThrottle(str(settings.LOGIN_RATE_LIMIT))],
)
def card_login_api(request: HttpRequest, payload: CardLoginIn) -> CardLoginOut:
    """Verify the card's signature over the challenge and sign the session in."""
    if not nonce_issued_here(request, payload.nonce):
        raise InvalidInput(
            _("確認用の文字列が見つかりません。最初からやり直してください。"),
            code="challenge_invalid",
        )
    user = services.card_login_verify(
        nonce=payload.nonce,
        signature_b64=payload.signature,
        certificate_pem=payload.certificate,
    )
    sign_in_with_card(request, user)
    return CardLoginOut(user_id=user.pk, display_name=str(user))


# --- Smartphone signing hand-off ----------------------------------------------------------------

HANDOFF_PROTOCOL = "machi-signing-handoff/1"


class SigningRequestOut(Schema):
    protocol: str = Field(description=f"Always {HANDOFF_PROTOCOL!r}.")
    purpose: Literal["sign", "auth"] = Field(
        description="sign: 署名用電子証明書 (applications); auth: 利用者証明用電子証明書 (sign-in)."
    )
    data: str = Field(description="The exact bytes to sign, base64.")
    data_sha256: str = Field(description="SHA-256 of the bytes (hex).")
    algorithm: str = Field(description="Always RSASSA-PKCS1-v1_5-SHA256.")
    expires_at: datetime
    response_url: str = Field(description="Where to POST the signature.")


class SigningResponseIn(Schema):
    signature: str = Field(min_length=1, max_length=4096, description="base64")
    certificate: str = Field(
        min_length=1, max_length=16384, description="The card's certificate of the purpose (PEM)"
    )


class SigningResponseOut(Schema):
    status: Literal["accepted"]
    answered_at: datetime


@router.get(
    "/signing-requests/{token}",
    response=SigningRequestOut,
    auth=None,
    url_name="identity_signing_request",
    throttle=[AnonRateThrottle(str(settings.LOGIN_RATE_LIMIT))],
)
def signing_request_api(request: HttpRequest, token: str) -> SigningRequestOut:
    """The signing request behind a QR code: what to sign, with which certificate, until when."""
    handoff = services.handoff_open(token=token)
    return SigningRequestOut(
        protocol=HANDOFF_PROTOCOL,
        purpose="sign" if handoff.purpose == "sign" else "auth",
        data=base64.b64encode(bytes(handoff.data)).decode("ascii"),
        data_sha256=handoff.data_sha256,
        algorithm="RSASSA-PKCS1-v1_5-SHA256",
        expires_at=handoff.expires_at,
        response_url=public_url(
            reverse("api-v1:identity_signing_response", kwargs={"token": token})
        ),
    )


@router.post(
    "/signing-requests/{token}/response",
    response=SigningResponseOut,
    # The URL's one-time token is the credential; a request that carries a session cookie
    # still needs the CSRF token, as on every resident write.
    auth=resident_api_auth(),
    url_name="identity_signing_response",
    throttle=[AnonRateThrottle(str(settings.LOGIN_RATE_LIMIT))],
)
def signing_response_api(
    request: HttpRequest, token: str, payload: SigningResponseIn
) -> SigningResponseOut:
    """Answer the request once; the signature is verified now (refused: nothing changes)."""
    handoff = services.handoff_answer(
        token=token, signature_b64=payload.signature, certificate_pem=payload.certificate
    )
    return SigningResponseOut(status="accepted", answered_at=handoff.answered_at or timezone.now())
