"""Smartphone signing hand-off: one-time requests a companion app answers (docs/signing-handoff.md).

The browser starts a request (:func:`handoff_create`) and shows its URL as a QR code; the app
fetches it and posts the signature (:func:`handoff_answer`, verified at once with the same
verifier as every card signature); the browser then takes the answer once
(:func:`handoff_take`) for the submission or sign-in, which verifies it again.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Final

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import ApplicationError, Conflict, InvalidInput, NotFound
from machi.core.models import User
from machi.core.services import audit_record
from machi.identity.models import SigningHandoff
from machi.identity.services.cards import decode_signature
from machi.identity.verification import CardVerificationError, verify_card_signature

#: How long a hand-off request can be answered and its answer used.
HANDOFF_TTL: Final = timedelta(minutes=10)
#: Finished or expired requests are kept a day for investigation, then purged.
HANDOFF_RETENTION: Final = timedelta(days=1)
PURPOSES: Final = ("sign", "auth")


class HandoffExpired(InvalidInput):
    """The request's time is up (HTTP 410 on the API)."""

    status = 410
    default_code = "handoff_expired"


def handoff_data_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _expired() -> HandoffExpired:
    return HandoffExpired(
        _("この署名依頼の有効期限（10分）が切れました。画面でもう一度やり直してください。"),
        code="handoff_expired",
    )


@transaction.atomic
def handoff_create(
    *,
    purpose: str,
    data: bytes,
    target_type: str,
    target_id: str,
    municipality_code: str = "",
    user: User | None = None,
) -> tuple[SigningHandoff, str]:
    """A new request to sign ``data``; returns it with the one-time token of its URL."""
    if purpose not in PURPOSES:
        raise InvalidInput(_("不明な用途です。"), code="invalid_purpose")
    now = timezone.now()
    SigningHandoff.objects.filter(expires_at__lt=now - HANDOFF_RETENTION).delete()
    token = secrets.token_urlsafe(32)
    handoff = SigningHandoff.objects.create(
        token_sha256=token_hash(token),
        purpose=purpose,
        data=data,
        data_sha256=handoff_data_hash(data),
        target_type=target_type,
        target_id=str(target_id),
        municipality_code=municipality_code,
        user=user if user is not None and user.is_authenticated else None,
        created_at=now,
        expires_at=now + HANDOFF_TTL,
    )
    audit_record(
        action="identity.handoff_create",
        actor=handoff.user,
        municipality_code=municipality_code,
        target_type=target_type,
        target_id=str(target_id),
        detail={"handoff_id": handoff.pk, "purpose": purpose, "data_sha256": handoff.data_sha256},
    )
    return handoff, token


def handoff_open(*, token: str) -> SigningHandoff:
    """The request behind ``token`` while it can still be answered.

    Raises ``NotFound`` (``handoff_unknown``), :class:`HandoffExpired` or ``Conflict``
    (``handoff_answered``: the request was answered already; a replay).
    """
    handoff = SigningHandoff.objects.filter(token_sha256=token_hash(token)).first()
    if handoff is None:
        raise NotFound(_("この署名依頼は見つかりません。"), code="handoff_unknown")
    if handoff.answered_at is not None:
        raise Conflict(_("この署名依頼にはすでに署名が届いています。"), code="handoff_answered")
    if handoff.expires_at <= timezone.now():
        raise _expired()
    return handoff


def handoff_answer(*, token: str, signature_b64: str, certificate_pem: str) -> SigningHandoff:
    """Accept the app's signature for the request behind ``token`` (once).

    The signature is verified now, over the request's bytes, with the certificate of the
    request's purpose; a refused answer changes nothing (the request stays open until it
    expires). Every outcome is audited.
    """
    handoff: SigningHandoff | None = None
    try:
        handoff = handoff_open(token=token)
        signature = decode_signature(signature_b64)
        verified = verify_card_signature(
            data=bytes(handoff.data),
            signature=signature,
            certificate_pem=certificate_pem,
            purpose="sign" if handoff.purpose == "sign" else "auth",
        )
        with transaction.atomic():
            now = timezone.now()
            answered = SigningHandoff.objects.filter(
                pk=handoff.pk, answered_at__isnull=True, expires_at__gt=now
            ).update(answered_at=now, signature=signature, certificate_pem=verified.certificate_pem)
            if not answered:  # answered (or expired) between the read and now
                raise Conflict(
                    _("この署名依頼にはすでに署名が届いています。"), code="handoff_answered"
                )
            audit_record(
                action="identity.handoff_answered",
                actor=handoff.user,
                municipality_code=handoff.municipality_code,
                target_type=handoff.target_type,
                target_id=handoff.target_id,
                detail={
                    "handoff_id": handoff.pk,
                    "serial": verified.serial_hex,
                    "fingerprint_sha256": verified.fingerprint_sha256,
                },
            )
    except ApplicationError as exc:
        audit_record(
            action="identity.handoff_refused",
            actor=handoff.user if handoff is not None else None,
            municipality_code=handoff.municipality_code if handoff is not None else "",
            target_type=handoff.target_type if handoff is not None else "signing_handoff",
            target_id=handoff.target_id if handoff is not None else "",
            detail={
                "handoff_id": handoff.pk if handoff is not None else "",
                "code": exc.code,
                "detail": exc.detail if isinstance(exc, CardVerificationError) else "",
            },
        )
        raise
    handoff.refresh_from_db()
    return handoff


def handoff_take(
    *, handoff_id: int, target_type: str, target_id: str, data: bytes
) -> tuple[bytes, str] | None:
    """The answer to hand-off ``handoff_id`` for this target and these bytes, once.

    ``None`` while no answer has come. Refused (``InvalidInput``) when the request belongs to
    another target, the bytes to sign have changed since (the answers were edited), it was
    used already, or it expired.
    """
    handoff = SigningHandoff.objects.filter(
        pk=handoff_id, target_type=target_type, target_id=str(target_id)
    ).first()
    if handoff is None:
        raise InvalidInput(
            _("この署名依頼は見つかりません。もう一度やり直してください。"), code="handoff_unknown"
        )
    if handoff.data_sha256 != handoff_data_hash(data):
        raise InvalidInput(
            _("署名したあとで内容が変わりました。もう一度署名してください。"),
            code="handoff_stale",
        )
    now = timezone.now()
    if handoff.used_at is not None:
        raise InvalidInput(
            _("この署名はすでに使われました。もう一度署名してください。"), code="handoff_used"
        )
    if handoff.expires_at <= now:
        raise _expired()
    if handoff.answered_at is None:
        return None
    taken = SigningHandoff.objects.filter(pk=handoff.pk, used_at__isnull=True).update(used_at=now)
    if not taken:
        raise InvalidInput(
            _("この署名はすでに使われました。もう一度署名してください。"), code="handoff_used"
        )
    return bytes(handoff.signature), handoff.certificate_pem
