"""Verification of My Number card (JPKI) signatures: the code production relies on.

:func:`verify_card_signature` does what a 署名検証者 must (reference §1): the certification
path (issued directly by a pinned trust anchor, valid at the time) is validated by
pyhanko-certvalidator (:mod:`machi.identity.certpath`), revocation by the revocation checkers
(the CRL one on pyhanko-certvalidator too; fail closed), and only the JPKI-specific checks are
Machi's own: an RSA-2048+ end-entity key, the key usage and policy OIDs of the purpose, the
基本4情報 in the subjectAltName, and the signature itself. Trust anchors and CRL
sources come from settings, read at call time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from pyhanko_certvalidator.errors import (
    ExpiredError,
    NotYetValidError,
    PathBuildingError,
    PathError,
    PathValidationError,
)

from machi.core.exceptions import InvalidInput
from machi.identity import certpath, jpki
from machi.identity.revocation import RevocationStatus, check_revocation

logger = logging.getLogger(__name__)

Purpose = Literal["sign", "auth"]

MIN_RSA_BITS: Final = 2048

#: Extensions a card certificate may mark critical; any other critical one means "do not use".
_UNDERSTOOD_CRITICAL: Final = frozenset(
    {
        ExtensionOID.KEY_USAGE,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
    }
)

ERROR_MESSAGES: Final[dict[str, Promise]] = {
    "bad_signature": _(
        "電子署名が正しくありません。署名したデータが変更されたか、"
        "別のカードで署名された可能性があります。"
    ),
    "untrusted": _(
        "この電子証明書は、信頼できる認証局（公的個人認証サービス）が発行したものではありません。"
    ),
    "expired": _("電子証明書の有効期限が切れています。市区町村の窓口で更新してください。"),
    "not_yet_valid": _("電子証明書の有効期間がまだ始まっていません。"),
    "revoked": _(
        "この電子証明書は失効しています（引越しなどで住所や氏名が変わると失効します）。"
        "市区町村の窓口で再発行を受けてください。"
    ),
    "wrong_purpose": _("この電子証明書はこの用途には使えません。"),
    "revocation_unknown": _(
        "電子証明書が失効していないかを確認できませんでした。"
        "しばらくしてからもう一度お試しください。"
    ),
    "malformed": _("電子証明書または電子署名の形式が正しくありません。"),
}
WRONG_PURPOSE_MESSAGES: Final[dict[Purpose, Promise]] = {
    # What was expected: "sign" means the auth certificate was presented for signing.
    "sign": _(
        "利用者証明用電子証明書（サインイン用）では申請に署名できません。"
        "署名用電子証明書を使ってください。"
    ),
    "auth": _(
        "署名用電子証明書ではサインインできません。"
        "利用者証明用電子証明書（サインイン用）を使ってください。"
    ),
}


class CardVerificationError(InvalidInput):
    """A card signature or certificate was refused.

    ``code`` is one of ``bad_signature``, ``untrusted``, ``expired``, ``not_yet_valid``,
    ``revoked``, ``wrong_purpose``, ``revocation_unknown``, ``malformed``; ``message`` is the
    Japanese text for the resident; ``detail`` is a technical note for logs (never shown).
    """

    default_code = "malformed"

    def __init__(
        self, code: str, message: str | Promise | None = None, *, detail: str = ""
    ) -> None:
        if code not in ERROR_MESSAGES:
            raise ValueError(f"unknown card verification error code {code!r}")
        super().__init__(message or ERROR_MESSAGES[code], code=code)
        self.detail = detail

    def __repr__(self) -> str:
        return f"CardVerificationError({self.code!r}, detail={self.detail!r})"


@dataclass(frozen=True)
class VerifiedCertificate:
    """A certificate whose signature checked out, with what a relying party records.

    ``name``, ``birth_date``, ``sex`` and ``address`` (基本4情報, verbatim) are set for signing
    certificates only; user-authentication certificates identify a person by
    ``(issuer, serial_hex)`` alone.
    """

    purpose: Purpose
    certificate_pem: str
    subject: str
    issuer: str
    serial: int
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    verified_at: datetime
    revocation: RevocationStatus
    name: str | None = None
    birth_date: date | None = None
    birth_date_raw: str = ""
    sex: str | None = None
    address: str | None = None

    @property
    def serial_hex(self) -> str:
        """Serial number as lowercase hex (how Machi stores and compares it)."""
        return f"{self.serial:x}"


# --- Configuration ------------------------------------------------------------------------------


def default_trust_anchor_paths() -> list[Path]:
    """The test CA certificates in ``MACHI_CARD_CA_DIR``, outside production only."""
    if settings.PRODUCTION:
        return []  # production must name J-LIS's certificates explicitly
    directory = Path(settings.MACHI_CARD_CA_DIR)
    files = (directory / jpki.SIGN_CA_CERT_FILE, directory / jpki.AUTH_CA_CERT_FILE)
    return [path for path in files if path.exists()]


def _load_certificates(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]  # J-LIS publishes .cer files in DER


def trust_anchors() -> list[x509.Certificate]:
    """CA certificates trusted to issue cards (``MACHI_CARD_TRUST_ANCHORS`` or the default).

    A configured file that is missing or not a CA certificate is a deployment error and raises
    ``ImproperlyConfigured`` rather than silently trusting less.
    """
    configured = [Path(p) for p in settings.MACHI_CARD_TRUST_ANCHORS]
    paths = configured or default_trust_anchor_paths()
    anchors: list[x509.Certificate] = []
    for path in paths:
        try:
            certificates = _load_certificates(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"MACHI_CARD_TRUST_ANCHORS: cannot read {path}: {exc}"
            ) from exc
        for certificate in certificates:
            try:
                constraints = certificate.extensions.get_extension_for_class(
                    x509.BasicConstraints
                ).value
            except x509.ExtensionNotFound:
                constraints = None
            if constraints is None or not constraints.ca:
                raise ImproperlyConfigured(
                    f"MACHI_CARD_TRUST_ANCHORS: {path} holds a certificate that is not a CA"
                )
            anchors.append(certificate)
    return anchors


# --- Parsing ------------------------------------------------------------------------------------

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def parse_certificate(certificate_pem: str | bytes) -> x509.Certificate:
    """One certificate from PEM (pasted text is fine: CRLF, indentation) or DER bytes."""
    data = certificate_pem.encode("utf-8") if isinstance(certificate_pem, str) else certificate_pem
    try:
        if b"-----BEGIN" in data:
            blocks = _PEM_BLOCK.findall(data.replace(b"\r\n", b"\n"))
            if len(blocks) != 1:
                raise ValueError("expected exactly one PEM certificate")
            lines = [line.strip() for line in blocks[0].split(b"\n")]
            return x509.load_pem_x509_certificate(b"\n".join(line for line in lines if line))
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CardVerificationError("malformed", detail=f"certificate: {exc}") from exc


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


# --- Checks -------------------------------------------------------------------------------------


def _validated_anchor(certificate: x509.Certificate, at: datetime) -> x509.Certificate:
    """The trust anchor of ``certificate``'s validated path at ``at`` (pyhanko-certvalidator).

    The library checks the path to a configured anchor (signatures, names, basic constraints,
    critical extensions) and every validity period; revocation is checked afterwards by the
    revocation checkers. JPKI is a one-tier hierarchy: a path longer than anchor → leaf is
    refused.
    """
    anchors = trust_anchors()
    try:
        path = certpath.validate_path(certificate, trust_roots=anchors, at=at)
    except ExpiredError as exc:
        raise CardVerificationError(
            "expired", detail=f"notAfter {certificate.not_valid_after_utc.isoformat()}: {exc}"
        ) from exc
    except NotYetValidError as exc:
        raise CardVerificationError(
            "not_yet_valid",
            detail=f"notBefore {certificate.not_valid_before_utc.isoformat()}: {exc}",
        ) from exc
    except (PathBuildingError, PathValidationError) as exc:
        raise CardVerificationError(
            "untrusted", detail=f"{certificate.issuer.rfc4514_string()}: {exc}"
        ) from exc
    except PathError as exc:
        raise CardVerificationError("untrusted", detail=str(exc)) from exc
    anchor = certpath.path_anchor(path, anchors)
    if anchor is None or path.pkix_len != 1:
        raise CardVerificationError("untrusted", detail="not issued directly by a trust anchor")
    return anchor


def _check_purpose(certificate: x509.Certificate, purpose: Purpose) -> None:
    """Key usage and certificate policy must say ``purpose``; the other purpose is refused."""
    other: Purpose = "auth" if purpose == "sign" else "sign"
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            raise CardVerificationError("wrong_purpose", detail="leaf is a CA certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise CardVerificationError("malformed", detail="no keyUsage") from exc
    try:
        policies = certificate.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound as exc:
        raise CardVerificationError("untrusted", detail="no certificatePolicies") from exc
    policy_ids = {info.policy_identifier for info in policies}
    wanted = jpki.SIGN_POLICIES if purpose == "sign" else jpki.AUTH_POLICIES
    unwanted = jpki.AUTH_POLICIES if purpose == "sign" else jpki.SIGN_POLICIES
    # A 署名用 certificate carries nonRepudiation, a 利用者証明用 one must not.
    looks_like_other = bool(policy_ids & unwanted) or (
        usage.content_commitment if purpose == "auth" else not usage.content_commitment
    )
    if looks_like_other:
        raise CardVerificationError(
            "wrong_purpose",
            WRONG_PURPOSE_MESSAGES[purpose],
            detail=f"{other} certificate presented for {purpose}",
        )
    if not usage.digital_signature:
        raise CardVerificationError("wrong_purpose", detail="keyUsage lacks digitalSignature")
    if not policy_ids & wanted:
        raise CardVerificationError(
            "untrusted",
            detail=f"policy {sorted(p.dotted_string for p in policy_ids)} not accepted",
        )


def _check_extensions(certificate: x509.Certificate) -> None:
    for extension in certificate.extensions:
        if extension.critical and extension.oid not in _UNDERSTOOD_CRITICAL:
            raise CardVerificationError(
                "malformed", detail=f"unknown critical extension {extension.oid.dotted_string}"
            )


def _check_signature(public_key: rsa.RSAPublicKey, data: bytes, signature: bytes) -> None:
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise CardVerificationError("bad_signature", detail="RSA PKCS#1 v1.5 SHA-256") from exc


def verify_card_signature(
    *,
    data: bytes,
    signature: bytes,
    certificate_pem: str | bytes,
    purpose: Purpose,
    at: datetime | None = None,
) -> VerifiedCertificate:
    """Verify a card signature over ``data`` (RSA PKCS#1 v1.5 with SHA-256).

    ``purpose`` is ``"sign"`` (署名用: applications; returns the 基本4情報) or ``"auth"``
    (利用者証明用: sign-in challenges). ``at`` defaults to now. Raises
    :class:`CardVerificationError` with a stable ``code`` on any failure.
    """
    when = at or timezone.now()
    certificate = parse_certificate(certificate_pem)
    try:
        public_key = certificate.public_key()
    except ValueError as exc:  # unsupported key type
        raise CardVerificationError("malformed", detail=f"public key: {exc}") from exc
    if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < MIN_RSA_BITS:
        raise CardVerificationError("untrusted", detail="leaf key is not RSA-2048 or larger")
    anchor = _validated_anchor(certificate, when)
    _check_extensions(certificate)
    _check_purpose(certificate, purpose)
    _check_signature(public_key, data, signature)

    items: jpki.BasicFourItems | None = None
    if purpose == "sign":
        try:
            items = jpki.basic_four_items_from_certificate(certificate)
        except ValueError as exc:
            raise CardVerificationError("malformed", detail=f"subjectAltName: {exc}") from exc
        if items is None:
            raise CardVerificationError("malformed", detail="signing certificate lacks 4 items")

    status = check_revocation(certificate, anchor, at=when)
    if status.state == "revoked":
        raise CardVerificationError(
            "revoked", detail=f"{status.method} {status.source}: {status.reason}"
        )
    if status.state != "good":
        logger.warning("card revocation status unknown: %s", status.detail)
        raise CardVerificationError("revocation_unknown", detail=status.detail)

    return VerifiedCertificate(
        purpose=purpose,
        certificate_pem=certificate.public_bytes(Encoding.PEM).decode("ascii"),
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        serial=certificate.serial_number,
        fingerprint_sha256=certificate_fingerprint(certificate),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        verified_at=when,
        revocation=status,
        name=items.name if items else None,
        birth_date=items.birth_date if items else None,
        birth_date_raw=items.birth_date_raw if items else "",
        sex=items.sex if items else None,
        address=items.address if items else None,
    )
