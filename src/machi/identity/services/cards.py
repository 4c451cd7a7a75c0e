"""Card sign-in and linking: one-time challenges signed with the 利用者証明用 key."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import ApplicationError, Conflict, Forbidden, InvalidInput, NotFound
from machi.core.models import User
from machi.core.services import audit_record
from machi.identity.models import (
    CHALLENGE_TTL,
    CardLink,
    CardLoginChallenge,
    ChallengePurpose,
)
from machi.identity.selectors import (
    card_link_find,
)
from machi.identity.verification import (
    CardVerificationError,
    VerifiedCertificate,
    verify_card_signature,
)

#: Used challenges are kept a day for investigation, then purged when new ones are issued.
CHALLENGE_RETENTION = timedelta(days=1)


# --- Card sign-in and linking ---------------------------------------------------------------------


def decode_signature(signature_b64: str) -> bytes:
    """The raw signature from base64 as pasted (line breaks and spaces are ignored)."""
    compact = "".join(signature_b64.split())
    try:
        signature = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CardVerificationError("malformed", detail="signature is not base64") from exc
    if not signature:
        raise CardVerificationError("malformed", detail="empty signature")
    return signature


@transaction.atomic
def card_login_challenge_issue(
    *, purpose: str = ChallengePurpose.LOGIN, user: User | None = None
) -> CardLoginChallenge:
    """A fresh one-time challenge (valid 5 minutes) for card sign-in or, with ``user``, linking.

    The card signs ``challenge.message``; ``challenge.nonce`` identifies it when sent back.
    """
    if purpose not in ChallengePurpose.values:
        raise InvalidInput(_("不明な用途です。"), code="invalid_purpose")
    if purpose == ChallengePurpose.LINK and user is None:
        raise Forbidden(_("カードを登録するにはサインインしてください。"))
    now = timezone.now()
    CardLoginChallenge.objects.filter(expires_at__lt=now - CHALLENGE_RETENTION).delete()
    return CardLoginChallenge.objects.create(
        nonce=secrets.token_urlsafe(24),
        purpose=purpose,
        user=user if purpose == ChallengePurpose.LINK else None,
        created_at=now,
        expires_at=now + CHALLENGE_TTL,
    )


def _challenge_consume(*, nonce: str, purpose: str, user: User | None = None) -> CardLoginChallenge:
    """Mark the challenge used, atomically: one conditional UPDATE, so only one caller wins.

    Deliberately its own statement (autocommit) rather than part of the caller's transaction:
    a challenge stays used even when the signature that came with it is then refused.
    """
    now = timezone.now()
    candidates = CardLoginChallenge.objects.filter(nonce=nonce, purpose=purpose)
    if purpose == ChallengePurpose.LINK:
        candidates = candidates.filter(user=user)
    if candidates.filter(consumed_at__isnull=True, expires_at__gt=now).update(consumed_at=now):
        return candidates.get()
    challenge = candidates.first()
    if challenge is None:
        raise InvalidInput(
            _("確認用の文字列が見つかりません。最初からやり直してください。"),
            code="challenge_invalid",
        )
    if challenge.consumed_at is not None:
        raise InvalidInput(
            _("この確認用の文字列は使用済みです。新しい文字列で最初からやり直してください。"),
            code="challenge_used",
        )
    raise InvalidInput(
        _(
            "確認用の文字列の有効期限（5分）が切れました。新しい文字列で最初からやり直してください。"
        ),
        code="challenge_expired",
    )


def _card_detail(verified: VerifiedCertificate | None, **extra: str) -> dict[str, str]:
    detail = dict(extra)
    if verified is not None:
        detail.update(
            issuer=verified.issuer,
            serial=verified.serial_hex,
            fingerprint_sha256=verified.fingerprint_sha256,
        )
    return detail


def card_login_verify(*, nonce: str, signature_b64: str, certificate_pem: str | bytes) -> User:
    """The resident whose linked card signed the login challenge ``nonce``.

    Checks the challenge (one use, 5 minutes), verifies the signature with the 利用者証明用
    certificate (purpose ``auth``) and finds the account linked to its (issuer, serial).
    Raises ``CardVerificationError``, ``InvalidInput`` (challenge), ``NotFound``
    (``card_not_linked``) or ``Forbidden`` (``account_unavailable``); every outcome is audited.
    """
    verified: VerifiedCertificate | None = None
    try:
        challenge = _challenge_consume(nonce=nonce, purpose=ChallengePurpose.LOGIN)
        verified = verify_card_signature(
            data=challenge.message.encode("utf-8"),
            signature=decode_signature(signature_b64),
            certificate_pem=certificate_pem,
            purpose="auth",
        )
        link = card_link_find(issuer=verified.issuer, serial=verified.serial_hex)
        if link is None:
            raise NotFound(
                _(
                    "このカードはまだアカウントに登録されていません。"
                    "メールアドレスとパスワードでサインインし、アカウントのページでカードを登録してください。"
                ),
                code="card_not_linked",
            )
        user = link.user
        if not user.is_active or user.is_staff:
            raise Forbidden(
                _("このアカウントではサインインできません。"), code="account_unavailable"
            )
    except ApplicationError as exc:
        audit_record(
            action="identity.card_sign_in_failed",
            target_type="user",
            detail=_card_detail(verified, code=exc.code, reason=getattr(exc, "detail", "")),
        )
        raise
    with transaction.atomic():
        CardLink.objects.filter(pk=link.pk).update(last_used_at=timezone.now())
        audit_record(
            action="identity.card_sign_in",
            actor=user,
            target_type="user",
            target_id=user.pk,
            detail=_card_detail(verified),
        )
    return user


def card_link(
    *, user: User, nonce: str, signature_b64: str, certificate_pem: str | bytes
) -> CardLink:
    """Link a card to the signed-in resident ``user``.

    The card must sign the link challenge issued to ``user`` (so the resident holds the card
    and knows its PIN) with its 利用者証明用 certificate. Linking the same card again returns
    the existing link; a card linked to another account is refused (``card_linked_elsewhere``).
    """
    verified: VerifiedCertificate | None = None
    try:
        if user.is_staff or not user.is_active:
            raise Forbidden(_("職員のアカウントにはカードを登録できません。"))
        challenge = _challenge_consume(nonce=nonce, purpose=ChallengePurpose.LINK, user=user)
        verified = verify_card_signature(
            data=challenge.message.encode("utf-8"),
            signature=decode_signature(signature_b64),
            certificate_pem=certificate_pem,
            purpose="auth",
        )
        existing = card_link_find(issuer=verified.issuer, serial=verified.serial_hex)
        if existing is not None and existing.user_id != user.pk:
            raise Conflict(
                _("このカードは別のアカウントに登録されています。"), code="card_linked_elsewhere"
            )
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                link = CardLink.objects.create(
                    user=user,
                    issuer=verified.issuer,
                    serial=verified.serial_hex,
                    subject=verified.subject[:500],
                    fingerprint_sha256=verified.fingerprint_sha256,
                    not_after=verified.not_after,
                )
                audit_record(
                    action="identity.card_link",
                    actor=user,
                    target_type="card_link",
                    target_id=link.pk,
                    detail=_card_detail(verified),
                )
        except IntegrityError as exc:  # linked concurrently by someone else
            raise Conflict(
                _("このカードは別のアカウントに登録されています。"), code="card_linked_elsewhere"
            ) from exc
    except ApplicationError as exc:
        audit_record(
            action="identity.card_link_failed",
            actor=user,
            target_type="user",
            target_id=user.pk,
            detail=_card_detail(verified, code=exc.code, reason=getattr(exc, "detail", "")),
        )
        raise
    return link


@transaction.atomic
def card_unlink(*, user: User, link_id: int) -> None:
    """Remove one of ``user``'s linked cards (e.g. a lost card)."""
    link = CardLink.objects.filter(pk=link_id, user=user).first()
    if link is None:
        raise NotFound(_("登録済みのカードが見つかりません。"), code="card_link_not_found")
    detail = {"issuer": link.issuer, "serial": link.serial}
    link.delete()
    audit_record(
        action="identity.card_unlink",
        actor=user,
        target_type="card_link",
        target_id=link_id,
        detail=detail,
    )
