"""Checking the PAdES signatures of a PDF with pyHanko, without network access.

``validate_pdf`` works from synchronous code (views, services) and from code already inside
an event loop: pyHanko's synchronous validators call ``asyncio.run`` and fail in a running
loop, so there the work runs on a helper thread. Async callers may use
``async_validate_pdf`` directly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import SignatureCoverageLevel, async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from machi.documents.tsa import asn1_certificate

logger = logging.getLogger(__name__)


class PdfUnreadable(Exception):
    """Not a PDF pyHanko can read (garbage, truncated, encrypted…)."""


@dataclass(frozen=True)
class SignatureReport:
    """What one embedded signature says, in plain fields."""

    field_name: str
    intact: bool  # the signed bytes' digest matches (no "digest mismatch")
    valid: bool  # the CMS signature value is cryptographically correct
    trusted: bool  # the signer's certificate chains to a configured root
    unmodified: bool  # nothing but validation data was added after signing
    signer_subject: str = ""
    signer_common_name: str = ""
    signer_serial: str = ""
    signing_time: datetime | None = None
    timestamp_present: bool = False
    timestamp_ok: bool = False  # intact, valid and trusted
    timestamp_time: datetime | None = None
    tsa_name: str = ""
    subfilter: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.unmodified and self.timestamp_ok


def _name(certificate: Any) -> tuple[str, str]:
    """(RFC 4514 subject, common name) of an asn1crypto certificate."""
    parsed = x509.load_der_x509_certificate(certificate.dump())
    names = parsed.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    return parsed.subject.rfc4514_string(), common_name


def validation_context(
    *,
    trust_roots: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList] = (),
    other_certs: Sequence[x509.Certificate] = (),
    allow_fetching: bool = False,
) -> ValidationContext:
    """A pyHanko validation context from ``cryptography`` objects."""
    return ValidationContext(
        trust_roots=[asn1_certificate(c) for c in trust_roots],
        other_certs=[asn1_certificate(c) for c in other_certs],
        crls=[
            asn1_crl.CertificateList.load(c.public_bytes(serialization.Encoding.DER)) for c in crls
        ],
        allow_fetching=allow_fetching,
    )


def _unmodified(status: Any) -> bool:
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return True
    if status.coverage != SignatureCoverageLevel.ENTIRE_REVISION:
        return False
    level = status.modification_level
    return level in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES) and (
        status.docmdp_ok is not False
    )


async def async_validate_pdf(
    data: bytes, *, trust_roots: Sequence[x509.Certificate]
) -> list[SignatureReport]:
    """Reports for every (non-timestamp) signature of ``data``; ``PdfUnreadable`` if not a PDF."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = list(reader.embedded_regular_signatures)
    except Exception as exc:  # pyHanko raises many kinds of errors on garbage
        raise PdfUnreadable(str(exc)) from exc
    reports: list[SignatureReport] = []
    for embedded in signatures:
        field_name = str(embedded.field_name or "")
        try:
            context = validation_context(trust_roots=trust_roots)
            status = await async_validate_pdf_signature(
                embedded,
                signer_validation_context=context,
                ts_validation_context=context,
            )
        except Exception as exc:
            logger.info("signature validation failed", exc_info=True)
            reports.append(
                SignatureReport(
                    field_name=field_name,
                    intact=False,
                    valid=False,
                    trusted=False,
                    unmodified=False,
                    error=str(exc),
                )
            )
            continue
        subject, common_name = _name(status.signing_cert)
        timestamp = status.timestamp_validity
        tsa_name = ""
        if timestamp is not None:
            tsa_name = _name(timestamp.signing_cert)[1] or _name(timestamp.signing_cert)[0]
        subfilter = embedded.sig_object.get("/SubFilter")
        reports.append(
            SignatureReport(
                field_name=field_name,
                intact=bool(status.intact),
                valid=bool(status.valid),
                trusted=bool(status.trusted),
                unmodified=_unmodified(status),
                signer_subject=subject,
                signer_common_name=common_name,
                signer_serial=format(status.signing_cert.serial_number, "x"),
                signing_time=status.signer_reported_dt,
                timestamp_present=timestamp is not None,
                timestamp_ok=bool(
                    timestamp is not None
                    and timestamp.intact
                    and timestamp.valid
                    and timestamp.trusted
                ),
                timestamp_time=timestamp.timestamp if timestamp is not None else None,
                tsa_name=tsa_name,
                subfilter=str(subfilter or "").lstrip("/"),
            )
        )
    return reports


def validate_pdf(data: bytes, *, trust_roots: Sequence[x509.Certificate]) -> list[SignatureReport]:
    """Synchronous ``async_validate_pdf``, safe to call with or without a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(async_validate_pdf(data, trust_roots=trust_roots))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, async_validate_pdf(data, trust_roots=trust_roots)).result()
