"""Identity models: resident profiles, card links, sign-in challenges and signature evidence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Final

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from machi.core.models import TimeStampedModel

#: A challenge must be signed and sent back within this time.
CHALLENGE_TTL: Final = timedelta(minutes=5)


class ResidentProfile(TimeStampedModel):
    """What Machi knows about a resident account beyond ``core.User`` (``is_staff=False``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("利用者"),
        on_delete=models.CASCADE,
        related_name="resident_profile",
    )
    email_verified_at = models.DateTimeField(_("メールアドレス確認日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("住民アカウント")
        verbose_name_plural = _("住民アカウント")

    def __str__(self) -> str:
        return str(self.user)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class ChallengePurpose(models.TextChoices):
    LOGIN = "login", _("カードでサインイン")
    LINK = "link", _("カードの登録")


class CardLoginChallenge(models.Model):
    """A one-time nonce the card signs with its 利用者証明用 key (5 minutes, one use).

    The resident signs :attr:`message`, which names the purpose, so a signature made to link
    a card can never be replayed to sign in and vice versa. ``consumed_at`` is set by a single
    conditional UPDATE, so two concurrent attempts cannot both use one challenge.
    """

    nonce = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=10, choices=ChallengePurpose.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="For link challenges: the signed-in resident the card will be linked to.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("カード認証チャレンジ")
        verbose_name_plural = _("カード認証チャレンジ")

    def __str__(self) -> str:
        return f"{self.purpose}:{self.nonce[:8]}…"

    @property
    def message(self) -> str:
        """The exact text the card signs (its UTF-8 bytes)."""
        return challenge_message(purpose=self.purpose, nonce=self.nonce)


def challenge_message(*, purpose: str, nonce: str) -> str:
    """``machi-card-login:<nonce>`` or ``machi-card-link:<nonce>``: no spaces, never a dash first."""
    return f"machi-card-{purpose}:{nonce}"


class CardLink(models.Model):
    """A resident's card, known by its 利用者証明用 certificate's (issuer, serial).

    The user-authentication certificate carries no 基本4情報, so the link is what says whose
    card it is. A renewed card has a new serial and must be linked again.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("利用者"),
        on_delete=models.CASCADE,
        related_name="card_links",
    )
    issuer = models.CharField(_("発行者"), max_length=500)
    serial = models.CharField(_("シリアル番号"), max_length=64, help_text="Lowercase hex.")
    subject = models.CharField(_("主体者"), max_length=500, blank=True)
    fingerprint_sha256 = models.CharField(max_length=64)
    not_after = models.DateTimeField(_("有効期限"))
    linked_at = models.DateTimeField(_("登録日時"), default=timezone.now)
    last_used_at = models.DateTimeField(_("最終利用日時"), null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-linked_at"]
        verbose_name = _("登録済みカード")
        verbose_name_plural = _("登録済みカード")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["issuer", "serial"], name="card_link_issuer_serial")
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.serial}"


class EvidencePurpose(models.TextChoices):
    SIGN = "sign", _("署名用電子証明書")
    AUTH = "auth", _("利用者証明用電子証明書")


class CertificateEvidence(models.Model):
    """Proof that a card signature was valid when Machi received it (append-only).

    Keeps the certificate, the signature, the hash of the signed data and the revocation
    information used (e.g. the CRL's thisUpdate and hash). A 転出届 signed before a move shows
    as revoked once the move is processed; this record shows it was good at reception.
    ``target_type``/``target_id`` name what was signed (e.g. an application) without a
    foreign key, so any app can record evidence.
    """

    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=80)
    municipality_code = models.CharField(max_length=6, blank=True)
    purpose = models.CharField(max_length=10, choices=EvidencePurpose.choices)
    signed_data_sha256 = models.CharField(max_length=64, blank=True)
    signature = models.BinaryField(blank=True, default=b"")
    certificate_pem = models.TextField()
    subject = models.CharField(max_length=500)
    issuer = models.CharField(max_length=500)
    serial = models.CharField(max_length=64, help_text="Lowercase hex.")
    fingerprint_sha256 = models.CharField(max_length=64)  # no query selects by it
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    # 基本4情報 verbatim from the signing certificate (empty for user-authentication ones).
    holder_name = models.CharField(_("氏名"), max_length=200, blank=True)
    holder_birth_date = models.DateField(_("生年月日"), null=True, blank=True)
    holder_birth_date_raw = models.CharField(max_length=9, blank=True)
    holder_sex = models.CharField(_("性別"), max_length=1, blank=True)
    holder_address = models.CharField(_("住所"), max_length=600, blank=True)
    revocation_method = models.CharField(max_length=40)
    revocation_source = models.CharField(max_length=500, blank=True)
    revocation_this_update = models.DateTimeField(null=True, blank=True)
    revocation_next_update = models.DateTimeField(null=True, blank=True)
    revocation_evidence_sha256 = models.CharField(max_length=64, blank=True)
    revocation_evidence = models.BinaryField(
        blank=True, default=b"", help_text="The OCSP response or CRL itself when small."
    )
    verified_at = models.DateTimeField()
    # Not indexed: no query selects by it; users are deactivated, not deleted.
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-id"]
        verbose_name = _("電子署名の検証記録")
        verbose_name_plural = _("電子署名の検証記録")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["target_type", "target_id"], name="evidence_target")
        ]

    def __str__(self) -> str:
        return f"{self.target_type}:{self.target_id} / {self.serial}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValidationError(_("電子署名の検証記録は変更できません。"))
        super().save(*args, **kwargs)


class PasskeyCeremony(models.TextChoices):
    REGISTER = "register", _("パスキーの登録")
    AUTHENTICATE = "authenticate", _("パスキーでサインイン")


class PasskeyChallenge(models.Model):
    """A WebAuthn challenge kept server-side: 5 minutes, one use (like :class:`CardLoginChallenge`).

    ``challenge`` is the base64url text the browser echoes in clientDataJSON. ``consumed_at`` is
    set by one conditional UPDATE, so an assertion can never be verified twice.
    """

    challenge = models.CharField(max_length=128, unique=True)
    ceremony = models.CharField(max_length=20, choices=PasskeyCeremony.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="For registration: the signed-in resident the passkey will belong to.",
    )
    rp_id = models.CharField(max_length=253)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("パスキー認証チャレンジ")
        verbose_name_plural = _("パスキー認証チャレンジ")

    def __str__(self) -> str:
        return f"{self.ceremony}:{self.challenge[:8]}…"


class Passkey(models.Model):
    """A resident's WebAuthn credential (passkey): the public key and what the RP must remember.

    ``credential_id`` is base64url (as browsers send it). ``sign_count`` only ever grows; many
    synced passkeys always report 0, in which case the one-time challenge alone stops replays.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("利用者"),
        on_delete=models.CASCADE,
        related_name="passkeys",
    )
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField(help_text="COSE_Key of the credential.")
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    user_handle = models.CharField(
        max_length=128, help_text="base64url WebAuthn user.id (no personal data)."
    )
    aaguid = models.CharField(max_length=36, blank=True)
    backed_up = models.BooleanField(default=False)
    name = models.CharField(_("名前"), max_length=100)
    created_at = models.DateTimeField(_("登録日時"), default=timezone.now)
    last_used_at = models.DateTimeField(_("最終利用日時"), null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        verbose_name = _("パスキー")
        verbose_name_plural = _("パスキー")

    def __str__(self) -> str:
        return f"{self.user} / {self.name}"


class SigningHandoff(models.Model):
    """A signing request handed to a smartphone app (docs/signing-handoff.md).

    The browser shows a QR code with a one-time URL; the app fetches :attr:`data`, signs it
    with the card and posts the signature back. Only the hash of the URL's token is stored.
    ``answered_at`` and ``used_at`` are set by conditional UPDATEs, so a request is answered
    once and its answer is used for one submission or sign-in only.
    """

    token_sha256 = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=4)  # "sign" (署名用) or "auth" (利用者証明用)
    data = models.BinaryField()
    data_sha256 = models.CharField(max_length=64)
    #: What the signature is for, e.g. ("procedures.application", <id>) or ("identity.login", nonce)
    target_type = models.CharField(max_length=50)
    target_id = models.CharField(max_length=64)
    municipality_code = models.CharField(max_length=6, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    signature = models.BinaryField(default=b"", blank=True)
    certificate_pem = models.TextField(blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("スマートフォンでの署名依頼")
        verbose_name_plural = _("スマートフォンでの署名依頼")

    def __str__(self) -> str:
        return f"{self.purpose}:{self.target_type}:{self.target_id}"
