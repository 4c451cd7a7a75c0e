"""The TEST organisation CA and time-stamping authority for issued documents.

Built with :mod:`.builder` (the same builder as the card authority). :class:`machi.documents.
pki.DocumentPki` calls these only when it may create test certificates (outside production, or
``documents_pki init``); production installs real certificates and never reaches this module.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from machi.testing_pki import builder

ORG_CA_NAME: Final = "Machi Demo Organisation CA"
TSA_ROOT_NAME: Final = "Machi Demo TSA Root"
TSA_NAME: Final = "Machi Demo Time-Stamping Authority"
TEST_ORGANISATION: Final = "Machi (TEST ONLY - not for real documents)"
CRL_DAYS: Final = 90


def _test_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue_leaf(
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    subject: x509.Name,
    *,
    years: int,
    time_stamping: bool = False,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A signing (or, with ``time_stamping``, TSA) certificate, never outliving its issuer."""
    start = builder.now()
    end = min(start + timedelta(days=365 * years), issuer.not_valid_after_utc)
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True)
    ]
    if time_stamping:
        extensions.append((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True))
    return builder.issue_leaf(
        issuer,
        issuer_key,
        subject,
        start=start - timedelta(days=1),
        end=end,
        usage=builder.key_usage(digital_signature=True, non_repudiation=True),
        extensions=extensions,
    )


def document_crl(
    issuer: x509.Certificate, key: rsa.RSAPrivateKey
) -> x509.CertificateRevocationList:
    """An empty CRL of a test root, valid for ``CRL_DAYS``."""
    start = builder.now()
    return builder.build_crl(
        issuer,
        key,
        this_update=start - timedelta(minutes=5),
        next_update=start + timedelta(days=CRL_DAYS),
        number=int(start.timestamp()),
    )


def build_document_authority(staging: Path, valid_years: int) -> None:
    """Write both test roots, the TSA and the roots' CRLs into ``staging``."""
    org, org_key = builder.self_signed_ca(_test_name(ORG_CA_NAME), years=valid_years)
    tsa_root, tsa_root_key = builder.self_signed_ca(_test_name(TSA_ROOT_NAME), years=valid_years)
    tsa, tsa_key = issue_leaf(
        tsa_root, tsa_root_key, _test_name(TSA_NAME), years=valid_years, time_stamping=True
    )
    for stem, certificate, key in (
        ("org-ca", org, org_key),
        ("tsa-root", tsa_root, tsa_root_key),
        ("tsa", tsa, tsa_key),
    ):
        (staging / f"{stem}.pem").write_bytes(builder.cert_pem(certificate))
        builder.write_private(staging / f"{stem}.key", builder.key_pem(key))
    for stem, certificate, key in (("org-ca", org, org_key), ("tsa-root", tsa_root, tsa_root_key)):
        (staging / f"{stem}.crl").write_bytes(
            document_crl(certificate, key).public_bytes(serialization.Encoding.PEM)
        )
