"""Signed-and-time-stamped documents per second, where the time goes, and the raw signing cost.

``measure`` runs ``machi.documents.benchmark.documents_per_second`` (each document: render the
PDF, sign PAdES B-LT with the municipality's certificate, time-stamp with the built-in TSA,
verify, store and complete the application in one transaction) with timers wrapped around its
steps for the breakdown, then signs the last rendered PDF again and again with pyHanko alone:
same certificate, TSA and signature settings, keys and certificates loaded once, no
verification, no database. That rate is the raw cost of the same cryptographic work.

Needs Django set up against the bench database (it writes applications and documents).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

# (key, label): the steps timed per document, outermost first; indented = part of the one above
STEPS = (
    ("issue", "`document_issue`, all of it"),
    ("render", "render the PDF (template, fpdf2, Japanese font subset, QR code)"),
    ("sign", "sign (`documents.signing.sign_pdf`)"),
    ("pyhanko", "  pyHanko: signature + time stamp + B-LT validation data"),
    ("timestamp", "    of which the built-in TSA's time stamp token"),
    ("tsa_check", "  check the TSA's certificate path (before signing)"),
    ("verify", "  verify the signed file again (`validate_pdf`)"),
    ("sign_rest", "  load the certificate, key, trust roots and CRLs; build contexts"),
    ("store", "store the document + complete the application (one transaction)"),
    ("issue_rest", "the rest: permission check, look-ups, verification id"),
)


class _Timers:
    """Seconds per step, per document (the document counter moves on every ``issue`` call)."""

    def __init__(self) -> None:
        self.documents: list[dict[str, float]] = []
        self.last_pdf = b""

    def add(self, step: str, seconds: float) -> None:
        if self.documents:
            self.documents[-1][step] = self.documents[-1].get(step, 0.0) + seconds


def _wrap(timers: _Timers, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        if step == "issue":
            timers.documents.append({})
        begin = time.perf_counter()
        try:
            result = function(*args, **kwargs)
        finally:
            timers.add(step, time.perf_counter() - begin)
        if step == "render":
            timers.last_pdf = result[1]
        return result

    return timed


def _wrap_async(timers: _Timers, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
    async def timed(*args: Any, **kwargs: Any) -> Any:
        begin = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            timers.add(step, time.perf_counter() - begin)

    return timed


@contextlib.contextmanager
def _instrumented(timers: _Timers) -> Iterator[None]:
    """Timers around the steps of ``document_issue`` (module attributes, restored after)."""
    from pyhanko.sign import signers
    from pyhanko.sign.timestamps import DummyTimeStamper

    from machi.documents import benchmark, services, signing

    patches: list[tuple[Any, str, Any]] = [
        (benchmark, "document_issue", _wrap(timers, "issue", benchmark.document_issue)),
        (services, "_render", _wrap(timers, "render", services._render)),
        (services, "_sign", _wrap(timers, "sign", services._sign)),
        (services, "_store", _wrap(timers, "store", services._store)),
        (signing, "validate_pdf", _wrap(timers, "verify", signing.validate_pdf)),
        (signing, "_check_tsa", _wrap_async(timers, "tsa_check", signing._check_tsa)),
        (
            signers.PdfSigner,
            "sign_pdf",
            _wrap(timers, "pyhanko", signers.PdfSigner.sign_pdf),
        ),
        (
            DummyTimeStamper,
            "async_timestamp",
            _wrap_async(timers, "timestamp", DummyTimeStamper.async_timestamp),
        ),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _new in patches]
    try:
        for owner, name, new in patches:
            setattr(owner, name, new)
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _breakdown(documents: list[dict[str, float]]) -> dict[str, float]:
    """Mean milliseconds per document of each step (and the derived "rest" steps)."""
    totals: dict[str, float] = defaultdict(float)
    for steps in documents:
        steps = dict(steps)
        steps["sign_rest"] = steps.get("sign", 0.0) - sum(
            steps.get(key, 0.0) for key in ("pyhanko", "tsa_check", "verify")
        )
        steps["issue_rest"] = steps.get("issue", 0.0) - sum(
            steps.get(key, 0.0) for key in ("render", "sign", "store")
        )
        for key, seconds in steps.items():
            totals[key] += seconds
    return {key: totals[key] * 1000 / len(documents) for key, _label in STEPS}


def raw_signing(pdf: bytes, municipality_code: str, seconds: float) -> dict[str, Any]:
    """pyHanko alone on a pre-rendered PDF: what ``sign_pdf`` asks of it, nothing else.

    Same certificate and chain, same built-in TSA, same signature settings (PAdES, SHA-256,
    certification, B-LT validation data from the same trust roots and CRLs); certificate, key,
    roots and CRLs are loaded once; a fresh validation context per document (as ``sign_pdf``);
    no TSA check, no verification afterwards, no database.
    """
    from django.conf import settings
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from machi.core.models import Municipality
    from machi.documents import tsa
    from machi.documents.pki import DocumentPki, configured_trust_roots
    from machi.documents.signing import SIGNATURE_FIELD
    from machi.documents.tsa import asn1_certificate, asn1_private_key
    from machi.documents.validation import validate_pdf, validation_context

    municipality = Municipality.objects.get(code=municipality_code)
    pki = DocumentPki.from_settings()
    credential = pki.signer(code=municipality.code, name=municipality.name, kind=municipality.kind)
    trust_roots = configured_trust_roots()
    crls = pki.crls()
    timestamper = tsa.timestamper()
    signer = signers.SimpleSigner(
        signing_cert=asn1_certificate(credential.certificate),
        signing_key=asn1_private_key(credential.key),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_certificate(c) for c in credential.chain]
        ),
    )

    def sign_once() -> bytes:
        metadata = signers.PdfSignatureMetadata(
            field_name=SIGNATURE_FIELD,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=True,
            use_pades_lta=False,
            validation_context=validation_context(
                trust_roots=trust_roots,
                crls=crls,
                other_certs=list(credential.chain),
                allow_fetching=bool(settings.PRODUCTION),
            ),
            certify=True,
            docmdp_permissions=fields.MDPPerm.NO_CHANGES,
            reason=f"{municipality.name} が発行する文書",
            location=municipality.name,
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        output = signers.PdfSigner(metadata, signer, timestamper=timestamper).sign_pdf(writer)
        return bytes(output.getvalue())

    first = sign_once()  # warm-up; and proof that the raw signature is a valid one
    reports = validate_pdf(first, trust_roots=trust_roots)
    if not (len(reports) == 1 and reports[0].valid and reports[0].timestamp_ok):
        raise RuntimeError(f"the raw pyHanko signature does not verify: {reports}")
    durations: list[float] = []
    deadline = time.perf_counter() + seconds
    while not durations or time.perf_counter() < deadline:
        begin = time.perf_counter()
        sign_once()
        durations.append(time.perf_counter() - begin)
    # one verification alone, for scale (sign_pdf verifies every document it signs)
    begin = time.perf_counter()
    validate_pdf(first, trust_roots=trust_roots)
    verify_ms = (time.perf_counter() - begin) * 1000
    ordered = sorted(durations)
    return {
        "documents": len(durations),
        "per_second": len(durations) / sum(durations),
        "p50_ms": statistics.median(durations) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
        "verify_ms": verify_ms,
        "pdf_bytes": len(pdf),
    }


def measure(seconds: float, municipality_code: str, raw_seconds: float) -> dict[str, Any]:
    """Documents per second through the service (with a breakdown), then raw pyHanko."""
    from machi.documents.benchmark import documents_per_second

    timers = _Timers()
    warmup = 1
    with _instrumented(timers):
        result = documents_per_second(seconds, municipality_code=municipality_code, warmup=warmup)
    counted = timers.documents[warmup:]
    if len(counted) != result["documents"] or not timers.last_pdf:
        raise RuntimeError(
            f"timed {len(counted)} documents, documents_per_second counted {result['documents']}"
        )
    result["breakdown_ms"] = _breakdown(counted)
    result["raw"] = raw_signing(timers.last_pdf, municipality_code, raw_seconds)
    return result
