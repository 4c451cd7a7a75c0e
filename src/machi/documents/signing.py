"""Signing a rendered PDF: PAdES B-LT with pyHanko.

* ``/SubFilter /ETSI.CAdES.detached``, SHA-256, a certification (DocMDP: no changes) signature
  made with the municipality's organisation certificate;
* an RFC 3161 signature time stamp (B-T) from ``tsa.timestamper()``;
* the certificates and CRLs needed to validate both, embedded in the DSS (B-LT), collected
  offline from the document PKI (``allow_fetching`` only in production, for real CAs).

Before returning, the signed file is validated again with the configured trust roots: a
signature or time stamp that would not verify is never handed out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from machi.documents import tsa
from machi.documents.pki import Credential, DocumentPki, configured_trust_roots
from machi.documents.tsa import asn1_certificate, asn1_private_key
from machi.documents.validation import validate_pdf, validation_context

logger = logging.getLogger(__name__)


class _ExpectedOfflineWarning(logging.Filter):
    """Revocation data comes from the document PKI, not the network: this warning is expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_ExpectedOfflineWarning())

SIGNATURE_FIELD = "MachiSignature"
PADES_LEVEL = "B-LT"


class SigningFailed(Exception):
    """The PDF could not be signed (certificate, key or pyHanko problem)."""


class TimestampFailed(Exception):
    """The time-stamping authority did not answer with a valid time stamp."""


@dataclass(frozen=True)
class SignedPdf:
    data: bytes
    sha256: str
    signer_subject: str
    signer_serial: str
    signed_at: datetime
    timestamp_at: datetime
    tsa_name: str
    level: str = PADES_LEVEL


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


async def _check_tsa(timestamper: TimeStamper, context: ValidationContext) -> None:
    async for _path in timestamper.validation_paths(context):
        pass


def sign_pdf(
    pdf: bytes,
    *,
    credential: Credential,
    pki: DocumentPki,
    reason: str,
    location: str,
) -> SignedPdf:
    """Sign and time-stamp ``pdf``; ``SigningFailed`` / ``TimestampFailed`` say which step failed.

    Safe with or without a running event loop: pyHanko's synchronous calls use ``asyncio.run``,
    which fails inside one (an ASGI worker, a browser test), so there the work runs on a helper
    thread (it touches no database).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _sign_pdf(pdf, credential=credential, pki=pki, reason=reason, location=location)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            _sign_pdf, pdf, credential=credential, pki=pki, reason=reason, location=location
        ).result()


def _sign_pdf(
    pdf: bytes,
    *,
    credential: Credential,
    pki: DocumentPki,
    reason: str,
    location: str,
) -> SignedPdf:
    try:
        trust_roots = configured_trust_roots()
        crls = pki.crls() if pki.exists() else []
    except Exception as exc:
        raise SigningFailed(f"trust roots or CRLs unavailable: {exc}") from exc
    context = validation_context(
        trust_roots=trust_roots,
        crls=crls,
        other_certs=list(credential.chain),
        allow_fetching=bool(settings.PRODUCTION),
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1_certificate(credential.certificate),
        signing_key=asn1_private_key(credential.key),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_certificate(c) for c in credential.chain]
        ),
    )
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        use_pades_lta=False,
        validation_context=context,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        reason=reason,
        location=location,
    )
    try:
        timestamper = tsa.timestamper()
        # The TSA answers and its certificate chains to a trusted root (else say so clearly).
        asyncio.run(_check_tsa(timestamper, context))
    except Exception as exc:
        raise TimestampFailed(f"time-stamping authority unusable: {exc}") from exc
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        output = signers.PdfSigner(metadata, signer, timestamper=timestamper).sign_pdf(writer)
    except Exception as exc:
        if _caused_by(exc, TimestampRequestError):
            raise TimestampFailed(str(exc)) from exc
        raise SigningFailed(str(exc)) from exc
    data = output.getvalue()

    reports = validate_pdf(data, trust_roots=trust_roots)
    if len(reports) != 1:
        raise SigningFailed("the signed PDF does not hold exactly one signature")
    report = reports[0]
    if not (report.intact and report.valid and report.trusted and report.unmodified):
        raise SigningFailed(f"the new signature does not verify: {report}")
    if not report.timestamp_ok or report.timestamp_time is None:
        raise TimestampFailed(f"the signature time stamp does not verify: {report}")
    return SignedPdf(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        signer_subject=report.signer_subject,
        signer_serial=report.signer_serial,
        signed_at=report.signing_time or report.timestamp_time,
        timestamp_at=report.timestamp_time,
        tsa_name=report.tsa_name,
    )
