"""The documents TSA client, offered to ``core`` for audit checkpoints.

Registered into ``core.audit_checkpoints.audit_timestampers`` from ``DocumentsConfig.ready``:
the same RFC 3161 client as for documents (``MACHI_TSA_URL``, or the built-in TSA when empty),
and the same trust roots (``MACHI_DOCUMENTS_TRUST_ROOTS``) to verify the tokens.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from asn1crypto import cms
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus

from machi.core.audit_checkpoints import TimestampInvalid
from machi.documents import tsa
from machi.documents.pki import configured_trust_roots
from machi.documents.validation import validation_context

T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion, with or without a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class DocumentsTimeStamper:
    """``AuditTimeStamper`` over ``machi.documents.tsa``."""

    def describe(self) -> str:
        return tsa.tsa_description()

    def timestamp(self, digest: bytes) -> bytes:
        token = _run(tsa.timestamper().async_timestamp(digest, "sha256"))
        return bytes(token.dump())

    def verify(self, token: bytes, digest: bytes) -> None:
        try:
            signed_data = cms.ContentInfo.load(token)["content"]
            context = validation_context(trust_roots=configured_trust_roots())
            kwargs = _run(
                validate_tst_signed_data(
                    signed_data, context, lambda algorithm: digest if algorithm == "sha256" else b""
                )
            )
            status = TimestampSignatureStatus(**kwargs)
        except Exception as exc:  # pyHanko and asn1crypto raise many kinds on bad tokens
            raise TimestampInvalid(f"the time-stamp token cannot be validated ({exc})") from exc
        if not status.intact:
            raise TimestampInvalid("the time-stamp token does not cover this checkpoint's digest")
        if not status.valid:
            raise TimestampInvalid("the time-stamp token's signature is invalid")
        if not status.trusted:
            raise TimestampInvalid("the time-stamping authority is not trusted")
