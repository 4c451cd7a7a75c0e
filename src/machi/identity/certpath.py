"""Certification path validation with pyhanko-certvalidator (RFC 5280), for card certificates.

One place that turns ``cryptography`` certificates into a :class:`ValidationContext` and runs
the library's validator, from synchronous code with or without a running event loop (the
validator is async-only; inside a loop it runs on a helper thread, as in
:mod:`machi.documents.validation`). The library decides the chain, validity periods,
signatures, critical extensions and, when revocation information is given, revocation;
:mod:`machi.identity.verification` adds only the JPKI-specific checks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.path import ValidationPath

T = TypeVar("T")

RevocationMode = Literal["soft-fail", "hard-fail", "require"]


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion from synchronous code, inside a running loop or not."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def validate_path(
    certificate: x509.Certificate,
    *,
    trust_roots: Sequence[x509.Certificate],
    at: datetime,
    crls: Iterable[bytes] = (),
    ocsps: Iterable[bytes] = (),
    revocation_mode: RevocationMode = "soft-fail",
    time_tolerance: timedelta = timedelta(seconds=1),
) -> ValidationPath:
    """The validated path from a trust root to ``certificate`` at ``at``, offline.

    ``soft-fail`` without revocation information checks the path and validity only;
    ``hard-fail`` with ``crls``/``ocsps`` also requires the certificate not to be revoked
    according to current information. Raises the library's errors (``PathBuildingError``,
    ``ExpiredError``, ``NotYetValidError``, ``RevokedError``, ``InsufficientRevinfoError``,
    ``PathValidationError``…).
    """
    context = ValidationContext(
        trust_roots=[to_asn1(root) for root in trust_roots],
        moment=at,
        allow_fetching=False,
        crls=list(crls),
        ocsps=list(ocsps),
        revocation_mode=revocation_mode,
        time_tolerance=time_tolerance,
    )
    validator = CertificateValidator(to_asn1(certificate), validation_context=context)
    return run_sync(validator.async_validate_path())


def path_anchor(
    path: ValidationPath, candidates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    """The ``cryptography`` certificate among ``candidates`` that anchors ``path``."""
    root = getattr(path.trust_anchor.authority, "certificate", None)
    if root is None:  # a key-only anchor; Machi configures certificates
        return None
    for candidate in candidates:
        if candidate.public_bytes(Encoding.DER) == root.dump():
            return candidate
    return None
