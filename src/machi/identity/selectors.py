"""Reads of identity data: resident accounts, linked cards, passkeys and signature evidence."""

from __future__ import annotations

import unicodedata

from django.db.models import QuerySet
from django.utils import timezone

from machi.core.models import User
from machi.identity.models import (
    CardLink,
    CardLoginChallenge,
    CertificateEvidence,
    Passkey,
    ResidentProfile,
    SigningHandoff,
)


def normalize_email(email: str) -> str:
    """How Machi stores and compares e-mail addresses: NFKC (full-width typing), trimmed, lower."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def is_resident(user: object) -> bool:
    """True for a signed-in, active, non-staff account."""
    return isinstance(user, User) and user.is_authenticated and user.is_active and not user.is_staff


def resident_get_by_email(*, email: str) -> User | None:
    """The resident account with this e-mail address, if any (never a staff account)."""
    return User.objects.filter(username=normalize_email(email), is_staff=False).first()


def resident_email_verified(*, user: User) -> bool:
    """True once the resident opened the link of the verification e-mail."""
    profile = ResidentProfile.objects.filter(user=user).first()
    return profile is not None and profile.email_verified


def card_link_list(*, user: User) -> QuerySet[CardLink]:
    """Cards linked to ``user``, newest first."""
    return CardLink.objects.filter(user=user).order_by("-linked_at")


def card_link_find(*, issuer: str, serial: str) -> CardLink | None:
    """The link of a user-authentication certificate by (issuer DN, hex serial)."""
    return CardLink.objects.select_related("user").filter(issuer=issuer, serial=serial).first()


def certificate_evidence_list(*, target_type: str, target_id: str) -> QuerySet[CertificateEvidence]:
    """Signature evidence recorded for one target (e.g. an application), newest first."""
    return CertificateEvidence.objects.filter(target_type=target_type, target_id=str(target_id))


def passkey_list(*, user: User) -> QuerySet[Passkey]:
    """The resident's passkeys, newest first."""
    return Passkey.objects.filter(user=user).order_by("-created_at")


def passkey_find(*, credential_id: str) -> Passkey | None:
    """The passkey with this credential id (unpadded base64url), with its account."""
    return Passkey.objects.select_related("user").filter(credential_id=credential_id).first()


def handoff_get(*, handoff_id: int) -> SigningHandoff | None:
    """A smartphone signing hand-off by id (the browser keeps the id in its session)."""
    return SigningHandoff.objects.filter(pk=handoff_id).first()


def card_challenge_open(*, nonce: str, purpose: str) -> CardLoginChallenge | None:
    """The unused, unexpired card challenge ``nonce`` (to keep it while a hand-off is pending)."""
    return CardLoginChallenge.objects.filter(
        nonce=nonce, purpose=purpose, consumed_at__isnull=True, expires_at__gt=timezone.now()
    ).first()
