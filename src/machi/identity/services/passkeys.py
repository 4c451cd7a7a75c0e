"""Passkeys (WebAuthn): registration, sign-in and removal."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
    Passkey,
    PasskeyCeremony,
    PasskeyChallenge,
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
    passkey_find,
    passkey_list,
    resident_email_verified,
)
from machi.identity.services.cards import CHALLENGE_RETENTION

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
