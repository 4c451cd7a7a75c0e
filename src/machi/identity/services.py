"""Writes of identity data: resident accounts, card and passkey sign-in, signature evidence.

Every sign-in, link and recorded signature goes to the audit log. Refusals are audited too,
outside the transaction of the refused change, so the record survives the rollback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json_dict
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from machi.core.exceptions import ApplicationError, Conflict, Forbidden, InvalidInput, NotFound
from machi.core.models import User
from machi.core.services import audit_record
from machi.identity.models import (
    CHALLENGE_TTL,
    CardLink,
    CardLoginChallenge,
    CertificateEvidence,
    ChallengePurpose,
    Passkey,
    PasskeyCeremony,
    PasskeyChallenge,
    ResidentProfile,
)
from machi.identity.passkeys import (
    LockedOut,
    PasskeyRejected,
    PasskeySignInFailed,
    RelyingParty,
    client_data_challenge,
    credential_id_of,
    transports_of,
    user_handle,
    user_handle_of,
)
from machi.identity.selectors import (
    card_link_find,
    normalize_email,
    passkey_find,
    passkey_list,
    resident_email_verified,
)
from machi.identity.verification import (
    CardVerificationError,
    VerifiedCertificate,
    verify_card_signature,
)

EMAIL_VERIFICATION_SALT = "machi.identity.email-verification"
#: Used challenges are kept a day for investigation, then purged when new ones are issued.
CHALLENGE_RETENTION = timedelta(days=1)


# --- Signature evidence -------------------------------------------------------------------------


def _evidence_fields(verified: VerifiedCertificate) -> dict[str, Any]:
    status = verified.revocation
    return {
        "purpose": verified.purpose,
        "certificate_pem": verified.certificate_pem,
        "subject": verified.subject,
        "issuer": verified.issuer,
        "serial": verified.serial_hex,
        "fingerprint_sha256": verified.fingerprint_sha256,
        "not_before": verified.not_before,
        "not_after": verified.not_after,
        "holder_name": verified.name or "",
        "holder_birth_date": verified.birth_date,
        "holder_birth_date_raw": verified.birth_date_raw,
        "holder_sex": verified.sex or "",
        "holder_address": verified.address or "",
        "revocation_method": status.method,
        "revocation_source": status.source[:500],
        "revocation_this_update": status.this_update,
        "revocation_next_update": status.next_update,
        "revocation_evidence_sha256": status.evidence_sha256,
        "revocation_evidence": status.evidence,
        "verified_at": verified.verified_at,
    }


def signature_record(
    *,
    data: bytes,
    signature: bytes,
    certificate_pem: str | bytes,
    target_type: str,
    target_id: str | int,
    municipality_code: str = "",
    actor: User | None = None,
    purpose: str = "",
    at: datetime | None = None,
) -> CertificateEvidence:
    """Verify a 署名用 card signature over ``data`` and keep the evidence for ``target``.

    ``target_type``/``target_id`` name what was signed (e.g. ``"procedures.application"`` and
    its id). Raises :class:`CardVerificationError` (audited as ``identity.signature_rejected``)
    when the signature cannot be accepted. ``purpose`` is the audit log's 利用目的.
    """
    try:
        verified = verify_card_signature(
            data=data, signature=signature, certificate_pem=certificate_pem, purpose="sign", at=at
        )
    except CardVerificationError as exc:
        audit_record(
            action="identity.signature_rejected",
            actor=actor,
            municipality_code=municipality_code,
            target_type=target_type,
            target_id=target_id,
            purpose=purpose,
            detail={"code": exc.code, "detail": exc.detail},
        )
        raise
    return signature_evidence_record(
        verified=verified,
        reference=str(target_id),
        target_type=target_type,
        municipality_code=municipality_code,
        actor=actor,
        data=data,
        signature=signature,
        purpose=purpose,
    )


@transaction.atomic
def signature_evidence_record(
    *,
    verified: VerifiedCertificate,
    reference: str,
    target_type: str = "application",
    municipality_code: str = "",
    actor: User | None = None,
    data: bytes | None = None,
    signature: bytes = b"",
    purpose: str = "",
) -> CertificateEvidence:
    """Keep the evidence of a certificate the caller already verified.

    For callers that run :func:`verify_card_signature` themselves. ``reference`` is the opaque
    id of what was signed. Pass ``data`` and ``signature`` too when the caller does not store
    them elsewhere: with them the record alone proves the signature.
    """
    evidence = CertificateEvidence.objects.create(
        target_type=target_type,
        target_id=reference,
        municipality_code=municipality_code,
        signed_data_sha256=hashlib.sha256(data).hexdigest() if data is not None else "",
        signature=signature,
        recorded_by=actor if actor is not None and actor.is_authenticated else None,
        **_evidence_fields(verified),
    )
    audit_record(
        action="identity.signature_verified",
        actor=actor,
        municipality_code=municipality_code,
        target_type=target_type,
        target_id=reference,
        purpose=purpose,
        personal_data=verified.purpose == "sign",  # the 基本4情報 were read from the certificate
        detail={
            "evidence_id": evidence.pk,
            "serial": evidence.serial,
            "fingerprint_sha256": evidence.fingerprint_sha256,
            "revocation_method": evidence.revocation_method,
            "revocation_this_update": (
                evidence.revocation_this_update.isoformat()
                if evidence.revocation_this_update
                else ""
            ),
        },
    )
    return evidence


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


# --- Resident accounts ----------------------------------------------------------------------------


@transaction.atomic
def resident_sign_up(*, email: str, password: str, display_name: str = "") -> User:
    """Create a resident account (``is_staff=False``); the e-mail address is its user name.

    The account can sign in once the address is verified (:func:`resident_email_verify`).
    Raises ``InvalidInput`` (field errors on ``email``/``password``) or ``Conflict``
    (``email_taken``; callers should not reveal that to the visitor).
    """
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(
            _("入力内容に誤りがあります。"),
            field_errors={"email": [_("メールアドレスの形式が正しくありません。")]},
        ) from exc
    if len(email) > User._meta.get_field("username").max_length:  # type: ignore[operator]
        raise InvalidInput(
            _("入力内容に誤りがあります。"),
            field_errors={"email": [_("メールアドレスが長すぎます（150文字まで）。")]},
        )
    if User.objects.filter(username=email).exists():
        raise Conflict(_("このメールアドレスは登録済みです。"), code="email_taken")
    user = User(username=email, email=email, display_name=display_name.strip(), is_staff=False)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            _("パスワードが条件を満たしていません。"),
            field_errors={"password": [str(m) for m in exc.messages]},
        ) from exc
    user.set_password(password)
    user.save()
    ResidentProfile.objects.create(user=user)
    audit_record(action="resident.sign_up", actor=user, target_type="user", target_id=user.pk)
    return user


def email_verification_token(*, user: User) -> str:
    """A signed, timestamped token for the verification link (bound to the current address)."""
    return signing.dumps({"u": user.pk, "e": user.email}, salt=EMAIL_VERIFICATION_SALT)


def resident_verification_email_send(*, user: User, build_url: Callable[[str], str]) -> None:
    """Send the verification e-mail; ``build_url(token)`` makes the absolute link."""
    url = build_url(email_verification_token(user=user))
    hours = int(settings.MACHI_EMAIL_VERIFICATION_SECONDS) // 3600
    body = _(
        "Machi の住民アカウントの登録を受け付けました。\n\n"
        "次のリンクを開いて、メールアドレスを確認してください（%(hours)s時間有効）。\n"
        "%(url)s\n\n"
        "このメールに心当たりがない場合は、何もせずに削除してください。"
    ) % {"url": url, "hours": hours}
    send_mail(_("【Machi】メールアドレスの確認"), body, None, [user.email])
    audit_record(
        action="resident.verification_email_sent",
        actor=None,
        target_type="user",
        target_id=user.pk,
    )


def resident_existing_account_notice_send(*, email: str, sign_in_url: str) -> None:
    """Tell the owner of an address that someone tried to sign up with it again.

    Sign-up shows the same page either way, so the form cannot be used to find out who has
    an account; the owner learns it from their own mailbox.
    """
    body = _(
        "このメールアドレスで Machi の住民アカウントの登録が申し込まれましたが、"
        "このアドレスはすでに登録されています。\n\n"
        "サインインはこちら: %(url)s\n\n"
        "心当たりがない場合は、このメールを削除してください。"
    ) % {"url": sign_in_url}
    send_mail(_("【Machi】アカウントは登録済みです"), body, None, [normalize_email(email)])


@transaction.atomic
def resident_email_verify(*, token: str) -> User:
    """Confirm the address of the account named in a verification link's ``token``.

    Raises ``InvalidInput`` with code ``link_expired`` or ``link_invalid``.
    """
    try:
        payload = signing.loads(
            token, salt=EMAIL_VERIFICATION_SALT, max_age=settings.MACHI_EMAIL_VERIFICATION_SECONDS
        )
    except signing.SignatureExpired as exc:
        raise InvalidInput(
            _("確認用リンクの有効期限が切れています。確認メールを再送してください。"),
            code="link_expired",
        ) from exc
    except signing.BadSignature as exc:
        raise InvalidInput(
            _("確認用リンクが正しくありません。メールに記載されたリンクをそのまま開いてください。"),
            code="link_invalid",
        ) from exc
    user = User.objects.filter(pk=payload.get("u"), is_staff=False).first()
    if user is None or user.email != payload.get("e"):
        raise InvalidInput(
            _("確認用リンクが正しくありません。メールに記載されたリンクをそのまま開いてください。"),
            code="link_invalid",
        )
    profile, _created = ResidentProfile.objects.get_or_create(user=user)
    if profile.email_verified_at is None:
        profile.email_verified_at = timezone.now()
        profile.save(update_fields=["email_verified_at", "updated_at"])
        audit_record(
            action="resident.email_verified", actor=user, target_type="user", target_id=user.pk
        )
    return user


def resident_sign_in_record(
    *, user: User | None, email: str, succeeded: bool, method: str = "password", reason: str = ""
) -> None:
    """Record a resident sign-in attempt (password; card sign-ins are audited by the service)."""
    detail = {"email": normalize_email(email), "method": method}
    if reason:
        detail["reason"] = reason
    audit_record(
        action="resident.sign_in" if succeeded else "resident.sign_in_failed",
        actor=user if succeeded else None,
        target_type="user",
        target_id=user.pk if user is not None else "",
        detail=detail,
    )


def resident_sign_out_record(*, user: User) -> None:
    """Record that a resident signed out."""
    audit_record(action="resident.sign_out", actor=user, target_type="user", target_id=user.pk)


# --- Passkeys (WebAuthn) --------------------------------------------------------------------------

#: How long the browser's passkey prompt may stay open (a hint; the challenge lasts 5 minutes).
PASSKEY_PROMPT_MS = 120_000


@dataclass(frozen=True)
class PasskeyOptions:
    """What ``navigator.credentials.create()``/``get()`` needs (``public_key``, JSON-ready)."""

    challenge: str
    public_key: dict[str, Any]


def _passkey_challenge_issue(*, ceremony: str, rp: RelyingParty, user: User | None = None) -> bytes:
    now = timezone.now()
    PasskeyChallenge.objects.filter(expires_at__lt=now - CHALLENGE_RETENTION).delete()
    raw = secrets.token_bytes(32)
    PasskeyChallenge.objects.create(
        challenge=bytes_to_base64url(raw),
        ceremony=ceremony,
        user=user,
        rp_id=rp.id,
        created_at=now,
        expires_at=now + CHALLENGE_TTL,
    )
    return raw


def _passkey_challenge_consume(
    *, challenge: str, ceremony: str, user: User | None = None
) -> PasskeyChallenge:
    """Mark the challenge used with one conditional UPDATE (autocommit), as for card challenges."""
    now = timezone.now()
    candidates = PasskeyChallenge.objects.filter(challenge=challenge, ceremony=ceremony)
    if ceremony == PasskeyCeremony.REGISTER:
        candidates = candidates.filter(user=user)
    if candidates.filter(consumed_at__isnull=True, expires_at__gt=now).update(consumed_at=now):
        return candidates.get()
    found = candidates.first()
    if found is None:
        raise InvalidInput(
            _("パスキーの確認を始めた記録が見つかりません。最初からやり直してください。"),
            code="challenge_invalid",
        )
    if found.consumed_at is not None:
        raise InvalidInput(
            _("この確認は使用済みです。最初からやり直してください。"), code="challenge_used"
        )
    raise InvalidInput(
        _("パスキーの確認の有効期限（5分）が切れました。最初からやり直してください。"),
        code="challenge_expired",
    )


def _passkey_owner_check(user: User) -> None:
    if user.is_staff or not user.is_active:
        raise Forbidden(_("このアカウントではパスキーを使えません。"), code="account_unavailable")
    if not resident_email_verified(user=user):
        raise Forbidden(
            _("パスキーを使うには、先にメールアドレスの確認を済ませてください。"),
            code="email_unverified",
        )


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = [
        AuthenticatorTransport(t)
        for t in passkey.transports or []
        if t in {m.value for m in AuthenticatorTransport}
    ]
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id), transports=transports or None
    )


@transaction.atomic
def passkey_registration_options(*, user: User, rp: RelyingParty) -> PasskeyOptions:
    """Options to create a passkey for the signed-in resident ``user`` (verified e-mail).

    A discoverable credential with user verification: the passkey alone signs in.
    Passkeys the resident already has are excluded, so one authenticator is not added twice.
    """
    _passkey_owner_check(user)
    raw = _passkey_challenge_issue(ceremony=PasskeyCeremony.REGISTER, rp=rp, user=user)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.email or user.get_username(),
        user_id=user_handle(user),
        user_display_name=user.display_name or user.email or user.get_username(),
        challenge=raw,
        timeout=PASSKEY_PROMPT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(p) for p in passkey_list(user=user)],
    )
    return PasskeyOptions(
        challenge=bytes_to_base64url(raw), public_key=options_to_json_dict(options)
    )


def _passkey_default_name() -> str:
    return _("パスキー（%(date)s 登録）") % {"date": timezone.localdate().isoformat()}


def passkey_register(
    *, user: User, rp: RelyingParty, credential: Mapping[str, Any], name: str = ""
) -> Passkey:
    """Verify the attestation of a new passkey for ``user`` and keep its public key.

    The challenge must be one issued to ``user`` (one use, 5 minutes). Attestation is not
    required ("none"): Machi trusts the resident, not the authenticator's maker. Raises
    ``ApplicationError`` (``email_unverified``, ``challenge_*``, ``malformed``,
    ``passkey_rejected``, ``passkey_registered``); every outcome is audited.
    """
    try:
        _passkey_owner_check(user)
        challenge = _passkey_challenge_consume(
            challenge=client_data_challenge(credential),
            ceremony=PasskeyCeremony.REGISTER,
            user=user,
        )
        try:
            verified = verify_registration_response(
                credential=dict(credential),
                expected_challenge=base64url_to_bytes(challenge.challenge),
                expected_rp_id=challenge.rp_id,
                expected_origin=list(rp.origins),
                require_user_verification=True,
            )
        except Exception as exc:  # the library raises many kinds on forged or broken input
            raise PasskeyRejected(str(exc)[:300]) from exc
        credential_id = bytes_to_base64url(verified.credential_id)
        registered = Conflict(_("このパスキーは登録済みです。"), code="passkey_registered")
        if Passkey.objects.filter(credential_id=credential_id).exists():
            raise registered
        try:
            with transaction.atomic():
                passkey = Passkey.objects.create(
                    user=user,
                    credential_id=credential_id,
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    transports=transports_of(credential),
                    user_handle=bytes_to_base64url(user_handle(user)),
                    aaguid=str(verified.aaguid),
                    backed_up=verified.credential_backed_up,
                    name=" ".join(name.split())[:100] or _passkey_default_name(),
                )
                audit_record(
                    action="identity.passkey_register",
                    actor=user,
                    target_type="passkey",
                    target_id=passkey.pk,
                    detail={"name": passkey.name, "aaguid": passkey.aaguid},
                )
        except IntegrityError as exc:  # registered concurrently
            raise registered from exc
    except ApplicationError as exc:
        audit_record(
            action="identity.passkey_register_failed",
            actor=user,
            target_type="user",
            target_id=user.pk,
            detail={"code": exc.code, "reason": getattr(exc, "detail", "")},
        )
        raise
    return passkey


@transaction.atomic
def passkey_authentication_options(*, rp: RelyingParty) -> PasskeyOptions:
    """Options to sign in with any passkey of this site (discoverable: no e-mail asked).

    Nothing about accounts is sent, so the options cannot tell whether an address has one.
    """
    raw = _passkey_challenge_issue(ceremony=PasskeyCeremony.AUTHENTICATE, rp=rp)
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=raw,
        timeout=PASSKEY_PROMPT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return PasskeyOptions(
        challenge=bytes_to_base64url(raw), public_key=options_to_json_dict(options)
    )


def passkey_authenticate(
    *,
    rp: RelyingParty,
    credential: Mapping[str, Any],
    is_locked: Callable[[User], bool] = lambda user: False,
) -> User:
    """The resident whose passkey produced this assertion.

    Checks the challenge (one use, 5 minutes), finds the passkey by credential id, refuses a
    locked-out account (``is_locked``), verifies origin, RP ID, user verification, signature
    and that the signature counter went up, then stores the new counter. Audited as
    ``resident.sign_in``/``resident.sign_in_failed`` (method ``passkey``), like password
    sign-ins. Raises :class:`PasskeySignInFailed`, whose ``user`` is the passkey's account
    when one was found (so the caller can count the failure towards a lockout).
    """
    passkey: Passkey | None = None
    user: User | None = None
    try:
        challenge = _passkey_challenge_consume(
            challenge=client_data_challenge(credential), ceremony=PasskeyCeremony.AUTHENTICATE
        )
        passkey = passkey_find(credential_id=credential_id_of(credential))
        if passkey is None:
            raise NotFound(
                _(
                    "このパスキーは登録されていません。"
                    "メールアドレスとパスワードでサインインし、アカウントのページでパスキーを追加してください。"
                ),
                code="passkey_unknown",
            )
        user = passkey.user
        if is_locked(user):
            raise LockedOut(
                _(
                    "サインインの失敗が続いたため、このアカウントのサインインを一時的に停止しました。"
                    "時間をおいてからもう一度お試しください。"
                )
            )
        handle = user_handle_of(credential)
        if handle is not None and bytes_to_base64url(handle) != passkey.user_handle:
            raise PasskeyRejected("userHandle is not the passkey's account")
        try:
            verified = verify_authentication_response(
                credential=dict(credential),
                expected_challenge=base64url_to_bytes(challenge.challenge),
                expected_rp_id=challenge.rp_id,
                expected_origin=list(rp.origins),
                credential_public_key=bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except Exception as exc:  # the library raises many kinds on forged or broken input
            raise PasskeyRejected(str(exc)[:300]) from exc
        _passkey_owner_check(user)
        with transaction.atomic():
            # Conditional on the counter read above: of two racing assertions one wins.
            updated = Passkey.objects.filter(pk=passkey.pk, sign_count=passkey.sign_count).update(
                sign_count=verified.new_sign_count,
                backed_up=verified.credential_backed_up,
                last_used_at=timezone.now(),
            )
            if not updated:
                raise PasskeyRejected("signature counter changed concurrently")
            audit_record(
                action="resident.sign_in",
                actor=user,
                target_type="user",
                target_id=user.pk,
                detail={"email": user.email, "method": "passkey", "passkey_id": passkey.pk},
            )
    except ApplicationError as exc:
        audit_record(
            action="resident.sign_in_failed",
            target_type="user",
            target_id=user.pk if user is not None else "",
            detail={
                "email": user.email if user is not None else "",
                "method": "passkey",
                "reason": exc.code,
                "detail": getattr(exc, "detail", ""),
                "passkey_id": passkey.pk if passkey is not None else "",
            },
        )
        raise PasskeySignInFailed(exc, user=user) from exc
    return user


@transaction.atomic
def passkey_delete(*, user: User, passkey_id: int) -> None:
    """Remove one of ``user``'s passkeys (e.g. a lost phone)."""
    passkey = Passkey.objects.filter(pk=passkey_id, user=user).first()
    if passkey is None:
        raise NotFound(_("登録済みのパスキーが見つかりません。"), code="passkey_not_found")
    detail = {"name": passkey.name, "aaguid": passkey.aaguid}
    passkey.delete()
    audit_record(
        action="identity.passkey_delete",
        actor=user,
        target_type="passkey",
        target_id=passkey_id,
        detail=detail,
    )
