"""Revocation checking for card certificates: a small registry of pluggable checkers.

Checkers are consulted in ``priority`` order (lowest first); the first one that gives a
definite answer (``good`` or ``revoked``) decides. When none can, the status is ``unknown`` and
verification fails closed (``revocation_unknown``): a certificate whose status nobody could
establish is never accepted.

Built in: :class:`CrlRevocationChecker`, reading the CRLs listed in ``MACHI_CARD_CRL_SOURCES`` and
leaving the decision to pyhanko-certvalidator.
Plugins: subclass :class:`RevocationChecker` (or :class:`OcspRevocationChecker`, which does
everything but the transport), then either list its dotted path in
``MACHI_CARD_REVOCATION_CHECKERS`` or register an instance in :data:`revocation_checker_registry`
(by its ``name``; :func:`register_revocation_checker` does that) at start-up.
J-LIS revocation information may only be used by registered 署名検証者 (公的個人認証法 §17).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar, Final, Literal
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string
from pyhanko_certvalidator.errors import PathError, PathValidationError, RevokedError

from machi.core.registry import Registry
from machi.identity import certpath, jpki

logger = logging.getLogger(__name__)

RevocationState = Literal["good", "revoked", "unknown"]

CRL_FETCH_TIMEOUT_SECONDS: Final = 10
CRL_FETCH_CACHE_SECONDS: Final = 300
CRL_MAX_BYTES: Final = 256 * 1024 * 1024  # J-LIS's full CRL is large; refuse anything absurd
#: Evidence this small is stored verbatim with a signature (OCSP responses); larger only by hash.
EVIDENCE_INLINE_MAX_BYTES: Final = 64 * 1024
#: Clock difference tolerated between Machi and a revocation source.
CLOCK_SKEW: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class RevocationStatus:
    """What one checker found out about a certificate at a point in time.

    ``this_update``/``next_update`` are those of the CRL or OCSP response used, and
    ``evidence_sha256`` identifies it, so the answer can be shown again later (after a move
    revokes the certificate, the evidence taken at reception proves it was good then).
    """

    state: RevocationState
    method: str
    source: str = ""
    this_update: datetime | None = None
    next_update: datetime | None = None
    revoked_at: datetime | None = None
    reason: str = ""
    evidence_sha256: str = ""
    evidence: bytes = b""
    detail: str = ""


class RevocationChecker(ABC):
    """Base class of revocation checkers.

    Subclasses set ``name`` (recorded with the evidence) and ``priority`` (lower runs first)
    and implement :meth:`check`. ``check`` must not raise for expected trouble (source down,
    stale data): return ``state="unknown"`` with a ``detail`` instead. Exceptions are caught,
    logged and treated as unknown anyway, so a broken plugin can only make verification fail
    closed. Instances are shared between requests: keep them free of per-request state.
    """

    name: ClassVar[str] = "custom"
    priority: ClassVar[int] = 100

    @abstractmethod
    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, *, at: datetime
    ) -> RevocationStatus:
        """The status of ``certificate`` (issued by ``issuer``) at ``at``."""

    def unknown(self, detail: str, *, source: str = "") -> RevocationStatus:
        return RevocationStatus(state="unknown", method=self.name, source=source, detail=detail)


# --- CRL ---------------------------------------------------------------------------------------


def default_crl_sources() -> list[str]:
    """The test CA's CRLs in ``MACHI_CARD_CA_DIR`` (development only; none in production)."""
    if settings.PRODUCTION:
        return []
    directory = Path(settings.MACHI_CARD_CA_DIR)
    files = (directory / jpki.SIGN_CA_CRL_FILE, directory / jpki.AUTH_CA_CRL_FILE)
    return [str(path) for path in files if path.exists()]


def configured_crl_sources() -> list[str]:
    """``MACHI_CARD_CRL_SOURCES``, or the development default when it is empty."""
    return list(settings.MACHI_CARD_CRL_SOURCES) or default_crl_sources()


def parse_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL in PEM or DER."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def _fetch_url(url: str) -> bytes:
    """GET a CRL over HTTP(S), cached briefly so a burst of sign-ins fetches it once."""
    key = f"machi.identity.crl:{hashlib.sha256(url.encode()).hexdigest()}"
    cached = cache.get(key)
    if isinstance(cached, bytes):
        return cached
    request = urllib.request.Request(url, headers={"User-Agent": "Machi card verifier"})  # noqa: S310 (scheme checked by the caller)
    with urllib.request.urlopen(request, timeout=CRL_FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
        data: bytes = response.read(CRL_MAX_BYTES + 1)
    if len(data) > CRL_MAX_BYTES:
        raise ValueError(f"CRL at {url} is larger than {CRL_MAX_BYTES} bytes")
    cache.set(key, data, CRL_FETCH_CACHE_SECONDS)
    return data


def read_crl_source(source: str) -> bytes:
    """The bytes of a CRL source: an ``http(s)://`` URL or a file path."""
    scheme = urlsplit(source).scheme.lower()
    if scheme in {"http", "https"}:
        return _fetch_url(source)
    if scheme and len(scheme) > 1:  # "C:" on Windows is a path, anything else is not allowed
        raise ValueError(f"unsupported CRL source scheme {scheme!r}")
    return Path(source).read_bytes()


class CrlRevocationChecker(RevocationChecker):
    """Revocation by the issuer's CRLs, decided by pyhanko-certvalidator (RFC 5280 §6.3).

    Reads every configured source (the transport is Machi's: files or HTTP, cached), gives
    the CRLs of the certificate's issuer to the library in ``hard-fail`` mode and maps its
    verdict: revoked, good, or — for a missing, stale, out-of-scope or wrongly signed CRL —
    ``unknown`` (never ``good``). The freshest CRL the library could rely on is the evidence.
    """

    name = "crl"
    priority = 100

    def __init__(self, sources: list[str] | None = None) -> None:
        # None: read MACHI_CARD_CRL_SOURCES at each check, so changed settings apply at once.
        self._sources = sources

    def sources(self) -> list[str]:
        return list(self._sources) if self._sources is not None else configured_crl_sources()

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, *, at: datetime
    ) -> RevocationStatus:
        sources = self.sources()
        if not sources:
            return self.unknown("no CRL source configured")
        problems: list[str] = []
        loaded: list[tuple[x509.CertificateRevocationList, bytes, str]] = []
        issuer_der = issuer.subject.public_bytes()
        for source in sources:
            try:
                crl = parse_crl(read_crl_source(source))
            except (OSError, ValueError) as exc:
                problems.append(f"{source}: {exc}")
                continue
            if crl.issuer.public_bytes() == issuer_der:  # other CAs' CRLs are not for us
                loaded.append((crl, crl.public_bytes(Encoding.DER), source))
        if not loaded:
            return self.unknown("; ".join(problems) or "no CRL of this issuer")
        revoked: RevokedError | None = None
        try:
            certpath.validate_path(
                certificate,
                trust_roots=[issuer],
                at=at,
                crls=[der for _crl, der, _source in loaded],
                revocation_mode="hard-fail",
                time_tolerance=CLOCK_SKEW,
            )
        except RevokedError as exc:
            revoked = exc
        except (PathError, PathValidationError, ValueError) as exc:
            return self.unknown("; ".join([*problems, f"CRL: {exc}"]))
        best = self._evidence(loaded, issuer, at)
        if best is None:  # the library relied on a CRL we cannot name: do not claim one
            return self.unknown("no current CRL of this issuer to record")
        crl, der, source = best
        good = RevocationStatus(
            state="good",
            method=self.name,
            source=source,
            this_update=crl.last_update_utc,
            next_update=crl.next_update_utc,
            evidence_sha256=hashlib.sha256(der).hexdigest(),
            evidence=der if len(der) <= EVIDENCE_INLINE_MAX_BYTES else b"",
        )
        if revoked is None:
            return good
        entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
        reason = ""
        revoked_at = None
        if entry is not None:
            revoked_at = entry.revocation_date_utc
            with contextlib.suppress(x509.ExtensionNotFound):
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
        return replace(
            good, state="revoked", revoked_at=revoked_at, reason=reason, detail=str(revoked)
        )

    @staticmethod
    def _evidence(
        loaded: list[tuple[x509.CertificateRevocationList, bytes, str]],
        issuer: x509.Certificate,
        at: datetime,
    ) -> tuple[x509.CertificateRevocationList, bytes, str] | None:
        """The freshest of the issuer's CRLs that is signed by it and current at ``at``."""
        current = [
            item
            for item in loaded
            if item[0].is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
            and item[0].last_update_utc <= at + CLOCK_SKEW
            and item[0].next_update_utc is not None
            and item[0].next_update_utc > at
        ]
        return max(current, key=lambda item: item[0].last_update_utc, default=None)


# --- OCSP plugin base -------------------------------------------------------------------------


class OcspRevocationChecker(RevocationChecker, ABC):
    """Base for an OCSP checker: builds the request and validates the response.

    Subclasses implement only :meth:`fetch`, the transport (J-LIS's responder is reached
    through the platform operator's connection, not the public internet). The response must
    be signed by the issuer itself or by a responder certificate the issuer issued with the
    ``OCSPSigning`` extended key usage, name the certificate asked about and be current at
    ``at`` (``nextUpdate`` when present, otherwise ``thisUpdate`` within ``max_age``).
    """

    name = "ocsp"
    priority = 50
    #: How old a response without nextUpdate may be. J-LIS refreshes OCSP every 15 minutes.
    max_age: ClassVar[timedelta] = timedelta(minutes=15)
    #: Hash for the CertID; SHA-1 is what most responders (J-LIS included ⚠) expect.
    cert_id_hash: ClassVar[type[hashes.HashAlgorithm]] = hashes.SHA1
    send_nonce: ClassVar[bool] = True

    @abstractmethod
    def fetch(
        self, request_der: bytes, *, certificate: x509.Certificate, issuer: x509.Certificate
    ) -> bytes | None:
        """Send the DER OCSP request, return the DER response (``None`` when unreachable)."""

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, *, at: datetime
    ) -> RevocationStatus:
        builder = ocsp.OCSPRequestBuilder().add_certificate(
            certificate, issuer, self.cert_id_hash()
        )
        nonce = secrets.token_bytes(16)
        if self.send_nonce:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        request = builder.build()
        raw = self.fetch(request.public_bytes(Encoding.DER), certificate=certificate, issuer=issuer)
        if raw is None:
            return self.unknown("OCSP responder unreachable")
        try:
            response = ocsp.load_der_ocsp_response(raw)
        except ValueError as exc:
            return self.unknown(f"unparseable OCSP response: {exc}")
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return self.unknown(f"OCSP responder said {response.response_status.name}")
        problem = self._response_problem(response, request, certificate, issuer, at, nonce)
        if problem:
            return self.unknown(problem)
        good = RevocationStatus(
            state="good",
            method=self.name,
            this_update=response.this_update_utc,
            next_update=response.next_update_utc,
            evidence_sha256=hashlib.sha256(raw).hexdigest(),
            evidence=raw if len(raw) <= EVIDENCE_INLINE_MAX_BYTES else b"",
        )
        status = response.certificate_status
        if status == ocsp.OCSPCertStatus.GOOD:
            return good
        if status == ocsp.OCSPCertStatus.REVOKED:
            revoked_at = response.revocation_time_utc
            if revoked_at is not None and revoked_at > at:
                return good  # revoked only after the time asked about
            reason = response.revocation_reason.value if response.revocation_reason else ""
            return replace(good, state="revoked", revoked_at=revoked_at, reason=reason)
        return replace(good, state="unknown", detail="OCSP status unknown")

    def _response_problem(
        self,
        response: ocsp.OCSPResponse,
        request: ocsp.OCSPRequest,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
        nonce: bytes,
    ) -> str:
        """Why the response cannot be relied on, or ``""``."""
        if (
            response.serial_number != certificate.serial_number
            or response.issuer_key_hash != request.issuer_key_hash
            or response.issuer_name_hash != request.issuer_name_hash
        ):
            return "OCSP response is about another certificate"
        signer = self._responder(response, issuer)
        if signer is None:
            return "OCSP response is not signed by the issuer or its delegated responder"
        if not _signature_valid(
            signer.public_key(),
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        ):
            return "OCSP response signature does not verify"
        if response.this_update_utc > at + CLOCK_SKEW:
            return "OCSP response is from the future"
        next_update = response.next_update_utc
        if next_update is not None and next_update <= at:
            return "OCSP response is stale"
        if next_update is None and response.this_update_utc + self.max_age < at:
            return "OCSP response is too old"
        if self.send_nonce:
            try:
                echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
            except x509.ExtensionNotFound:
                echoed = None  # many responders (pre-signed responses) do not echo nonces
            if echoed is not None and echoed != nonce:
                return "OCSP nonce mismatch (replayed response?)"
        return ""

    @staticmethod
    def _responder(
        response: ocsp.OCSPResponse, issuer: x509.Certificate
    ) -> x509.Certificate | None:
        """The certificate whose key must have signed ``response``."""
        issuer_key_hash = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
        if response.responder_name == issuer.subject or response.responder_key_hash == (
            issuer_key_hash
        ):
            return issuer
        for candidate in response.certificates:
            if response.responder_name is not None and candidate.subject != response.responder_name:
                continue
            try:
                candidate.verify_directly_issued_by(issuer)
                usage = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
                continue
            if ExtendedKeyUsageOID.OCSP_SIGNING in usage:
                return candidate
        return None


def _signature_valid(
    public_key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    if algorithm is None:
        return False
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


# --- Registry ---------------------------------------------------------------------------------

#: Checkers added by code (an OCSP adapter, a test), by name, besides the configured ones.
revocation_checker_registry: Registry[RevocationChecker] = Registry(
    "identity.revocation_checkers",
    description="Card certificate revocation checkers (CRL built in; OCSP plugin base)",
)


def register_revocation_checker(checker: RevocationChecker) -> RevocationChecker:
    """Add ``checker`` to the ones consulted (a thin wrapper over the registry, by its name)."""
    return revocation_checker_registry.register(
        checker.name, checker, order=checker.priority, replace=True
    )


def unregister_revocation_checker(checker: RevocationChecker) -> None:
    """Remove a checker added with :func:`register_revocation_checker`."""
    registry = revocation_checker_registry
    if checker.name in registry and registry.get(checker.name) is checker:
        registry.unregister(checker.name)


def revocation_checkers() -> list[RevocationChecker]:
    """Configured (``MACHI_CARD_REVOCATION_CHECKERS``) plus registered checkers, by priority."""
    configured: list[RevocationChecker] = []
    for path in settings.MACHI_CARD_REVOCATION_CHECKERS:
        checker_class = import_string(path)
        configured.append(checker_class())
    return sorted([*configured, *revocation_checker_registry], key=lambda checker: checker.priority)


def check_revocation(
    certificate: x509.Certificate, issuer: x509.Certificate, *, at: datetime
) -> RevocationStatus:
    """Ask the checkers in turn; the first definite answer wins, otherwise ``unknown``."""
    details: list[str] = []
    names: list[str] = []
    for checker in revocation_checkers():
        names.append(checker.name)
        try:
            status = checker.check(certificate, issuer, at=at)
        except Exception:
            # A failing plugin must not let a certificate through: treat it as "no answer".
            logger.exception("revocation checker %s failed", checker.name)
            details.append(f"{checker.name}: error")
            continue
        if status.state in ("good", "revoked"):
            return status
        details.append(f"{checker.name}: {status.detail}")
    return RevocationStatus(
        state="unknown",
        method="+".join(names) or "none",
        detail="; ".join(details) or "no revocation checker configured",
    )
