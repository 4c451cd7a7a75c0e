"""Certificates for issued documents: a TEST organisation CA and a TEST time-stamping authority.

Layout of ``settings.MACHI_DOCUMENTS_PKI_DIR`` (private keys 0600, the directory 0700)::

    authority/org-ca.pem  org-ca.key  org-ca.crl      "Machi Demo Organisation CA" (root)
    authority/tsa-root.pem  tsa-root.key  tsa-root.crl "Machi Demo TSA Root"
    authority/tsa.pem  tsa.key                         the TSA (EKU timeStamping, critical)
    signers/<municipality code>.pem                    certificate, its chain and key, one file

``authority/`` is built in a temporary directory and renamed into place, and each signer file
is replaced atomically, so concurrent first uses never mix a key with another's certificate.
Production replaces ``signers/<code>.pem`` with the municipality's real organisation
certificate (e.g. LGPKI), points ``MACHI_TSA_URL`` at a real TSA and lists the real roots in
``MACHI_DOCUMENTS_TRUST_ROOTS``; nothing here is then created automatically.

This module reads and stores the certificates; the test certificates themselves are built by
the one test-PKI builder (:mod:`machi.testing_pki.documents`), imported only when creating.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

CRL_REFRESH_BEFORE: Final = timedelta(days=7)
SIGNER_YEARS: Final = 3
_lock = threading.Lock()


class PkiError(Exception):
    """Certificates are missing or unusable (operator problem, not user-facing)."""


@dataclass(frozen=True)
class Credential:
    """A certificate with its private key and its issuers (nearest first)."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...] = ()


def head_title(*, name: str, kind: str) -> str:
    """``加古川市長``, ``稲美町長``, ``兵庫県知事``: the office that signs a body's documents."""
    return f"{name}知事" if kind == "prefecture" else f"{name}長"


def _now() -> datetime:
    return datetime.now(tz=UTC).replace(microsecond=0)


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    path.chmod(0o600)


def _replace_atomically(path: Path, content: bytes, *, private: bool) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        tmp.chmod(0o600 if private else 0o644)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, or the one DER certificate."""
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def _load_key(data: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError("only RSA keys are supported")
    return key


class DocumentPki:
    """The certificates in one directory. ``auto_create`` makes missing ones on first use."""

    def __init__(self, directory: Path, *, auto_create: bool = False) -> None:
        self.directory = Path(directory)
        self.auto_create = auto_create

    @classmethod
    def from_settings(cls) -> DocumentPki:
        """The PKI in ``settings.MACHI_DOCUMENTS_PKI_DIR``; auto-created outside production."""
        return cls(Path(settings.MACHI_DOCUMENTS_PKI_DIR), auto_create=not settings.PRODUCTION)

    # --- paths -------------------------------------------------------------------------------
    @property
    def authority_dir(self) -> Path:
        return self.directory / "authority"

    @property
    def signers_dir(self) -> Path:
        return self.directory / "signers"

    @property
    def org_ca_path(self) -> Path:
        return self.authority_dir / "org-ca.pem"

    @property
    def tsa_root_path(self) -> Path:
        return self.authority_dir / "tsa-root.pem"

    @property
    def tsa_path(self) -> Path:
        return self.authority_dir / "tsa.pem"

    def signer_path(self, code: str) -> Path:
        if not code.isdigit():
            raise PkiError("municipality codes are digits")
        return self.signers_dir / f"{code}.pem"

    def exists(self) -> bool:
        return all(
            (self.authority_dir / name).exists()
            for name in ("org-ca.pem", "org-ca.key", "tsa-root.pem", "tsa.pem", "tsa.key")
        )

    # --- creation ----------------------------------------------------------------------------
    def init(self, *, valid_years: int = 10) -> bool:
        """Create both test roots, their CRLs and the TSA unless they exist. True if created."""
        if self.exists():
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        staging = Path(tempfile.mkdtemp(dir=self.directory, prefix=".authority-"))
        try:
            self._build_authority(staging, valid_years)
            staging.chmod(0o700)
            try:
                staging.rename(self.authority_dir)
            except OSError:
                if self.exists():  # another process won the race: use theirs
                    return False
                raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return True

    @staticmethod
    def _build_authority(staging: Path, valid_years: int) -> None:
        # The test PKI builder, imported only when test certificates may be made.
        from machi.testing_pki.documents import build_document_authority

        build_document_authority(staging, valid_years)

    def ensure(self) -> None:
        """Make sure the authority exists (creating it when allowed)."""
        if self.exists():
            return
        if not self.auto_create:
            raise PkiError(
                f"no document PKI in {self.directory}: run `python -m machi documents_pki init`"
            )
        with _lock:
            self.init()

    # --- loading -----------------------------------------------------------------------------
    def _load_pair(self, stem: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        self.ensure()
        try:
            certificate = x509.load_pem_x509_certificate(
                (self.authority_dir / f"{stem}.pem").read_bytes()
            )
            key = _load_key((self.authority_dir / f"{stem}.key").read_bytes())
        except (OSError, ValueError) as exc:
            raise PkiError(f"cannot read {stem} in {self.authority_dir}: {exc}") from exc
        return certificate, key

    def org_ca_certificate(self) -> x509.Certificate:
        self.ensure()
        return x509.load_pem_x509_certificate(self.org_ca_path.read_bytes())

    def tsa_root_certificate(self) -> x509.Certificate:
        self.ensure()
        return x509.load_pem_x509_certificate(self.tsa_root_path.read_bytes())

    def roots(self) -> list[x509.Certificate]:
        """The two test roots (organisation CA, TSA root)."""
        return [self.org_ca_certificate(), self.tsa_root_certificate()]

    def tsa(self) -> Credential:
        """The time-stamping authority's certificate, key and root."""
        certificate, key = self._load_pair("tsa")
        return Credential(certificate, key, (self.tsa_root_certificate(),))

    def crls(self) -> list[x509.CertificateRevocationList]:
        """Current CRLs of both roots, re-issued when close to their next update."""
        result: list[x509.CertificateRevocationList] = []
        for stem in ("org-ca", "tsa-root"):
            path = self.authority_dir / f"{stem}.crl"
            crl: x509.CertificateRevocationList | None = None
            if path.exists():
                crl = x509.load_pem_x509_crl(path.read_bytes())
            next_update = crl.next_update_utc if crl is not None else None
            if (next_update is None or next_update - _now() < CRL_REFRESH_BEFORE) and (
                (self.authority_dir / f"{stem}.key").exists()
            ):
                from machi.testing_pki.documents import document_crl

                certificate, key = self._load_pair(stem)
                crl = document_crl(certificate, key)
                _replace_atomically(
                    path, crl.public_bytes(serialization.Encoding.PEM), private=False
                )
            if crl is not None:
                result.append(crl)
        return result

    def signer(self, *, code: str, name: str, kind: str) -> Credential:
        """The organisation certificate of municipality ``code`` (created when allowed).

        A test certificate that expires within a day is renewed; a real one is used as is
        and expiry is reported by signing.
        """
        path = self.signer_path(code)
        if path.exists():
            credential = self._read_signer(path)
            expiring = credential.certificate.not_valid_after_utc - _now() < timedelta(days=1)
            issued_here = bool(credential.chain) and credential.chain[-1] == (
                self.org_ca_certificate() if self.exists() else None
            )
            if not (expiring and issued_here and self.auto_create):
                return credential
        elif not self.auto_create:
            raise PkiError(f"no organisation certificate for {code} in {self.signers_dir}")
        return self.issue_signer(code=code, name=name, kind=kind)

    def issue_signer(self, *, code: str, name: str, kind: str) -> Credential:
        """Issue (or replace) a test organisation certificate: ``CN=加古川市長, O=加古川市, C=JP``."""
        from machi.testing_pki.documents import issue_leaf

        org, org_key = self._load_pair("org-ca")
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                x509.NameAttribute(NameOID.COMMON_NAME, head_title(name=name, kind=kind)),
            ]
        )
        certificate, key = issue_leaf(org, org_key, subject, years=SIGNER_YEARS)
        self.signers_dir.mkdir(parents=True, exist_ok=True)
        self.signers_dir.chmod(0o700)
        _replace_atomically(
            self.signer_path(code),
            cert_pem(certificate) + cert_pem(org) + key_pem(key),
            private=True,
        )
        return Credential(certificate, key, (org,))

    @staticmethod
    def _read_signer(path: Path) -> Credential:
        try:
            data = path.read_bytes()
            certificates = load_certificates(data)
            key = _load_key(data)
        except (OSError, ValueError) as exc:
            raise PkiError(f"cannot read the organisation certificate {path}: {exc}") from exc
        if not certificates:
            raise PkiError(f"{path} holds no certificate")
        return Credential(certificates[0], key, tuple(certificates[1:]))


def configured_trust_roots() -> list[x509.Certificate]:
    """Roots trusted when verifying documents (``MACHI_DOCUMENTS_TRUST_ROOTS``).

    Empty setting: the test roots of the document PKI, outside production only (created when
    missing, so a fresh demo can verify what it issues).
    """
    paths = list(settings.MACHI_DOCUMENTS_TRUST_ROOTS)
    if paths:
        roots: list[x509.Certificate] = []
        for entry in paths:
            try:
                roots.extend(load_certificates(Path(entry).read_bytes()))
            except (OSError, ValueError) as exc:
                raise PkiError(f"cannot read trust root {entry}: {exc}") from exc
        return roots
    if settings.PRODUCTION:
        return []
    return DocumentPki.from_settings().roots()
