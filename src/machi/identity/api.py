"""Card sign-in over the JSON API (mounted by the project at ``/api/v1/identity``).

1. ``POST /card-login/challenges`` returns a challenge; the card signs ``challenge`` (UTF-8)
   with its 利用者証明用 key.
2. ``POST /card-login`` with the nonce, the base64 signature and the certificate PEM signs the
   browser session in. The nonce must have been issued to the same session, so another site
   cannot sign a visitor in with someone else's card (login CSRF).

Errors are ``ApplicationError``s (``CardVerificationError`` codes, ``challenge_*``,
``card_not_linked``…) rendered by the project's API error handler.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.throttling import AnonRateThrottle

from machi.core.auth import resident_api_auth
from machi.core.exceptions import InvalidInput
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
