"""The one X.509 builder of the test PKI: keys, self-signed test CAs, leaves and CRLs.

Both test hierarchies use it: the simulated JPKI card authority (:mod:`.cards`) and the
document-signing organisation CA and TSA (:mod:`.documents`). Everything it makes carries a
TEST ONLY marking chosen by the caller; production code never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_SIZE: Final = 2048


def now() -> datetime:
    return datetime.now(tz=UTC).replace(microsecond=0)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def write_private(path: Path, content: bytes) -> None:
    """Write a file readable by its owner only (private keys, card files)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    path.chmod(0o600)  # the file may have existed with wider permissions


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def load_rsa_key(data: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("only RSA keys are supported")
    return key


def key_usage(
    *, digital_signature: bool = False, non_repudiation: bool = False, ca: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def self_signed_ca(
    name: x509.Name, *, years: int, key: rsa.RSAPrivateKey | None = None
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A one-tier test root: CA, pathLen 0, keyCertSign + cRLSign, valid from yesterday."""
    key = key or new_key()
    start = now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - timedelta(days=1))
        .not_valid_after(start + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def issue_leaf(
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    subject: x509.Name,
    *,
    start: datetime,
    end: datetime,
    usage: x509.KeyUsage,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    key: rsa.RSAPrivateKey | None = None,
    subject_key_identifier: bool = True,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """An end-entity certificate of ``issuer`` with ``usage`` (critical) and ``extensions``."""
    key = key or new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if subject_key_identifier:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256()), key


def build_crl(
    issuer: x509.Certificate,
    key: rsa.RSAPrivateKey,
    *,
    this_update: datetime,
    next_update: datetime,
    number: int,
    revoked: Iterable[x509.RevokedCertificate] = (),
) -> x509.CertificateRevocationList:
    """A CRL of ``issuer`` listing ``revoked``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(key, hashes.SHA256())
