"""The documents TSA as the audit checkpoints' time-stamper (``core.audit_timestampers``)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import pytest
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from machi.core.audit_checkpoints import TimestampInvalid, audit_timestampers, token_info
from machi.documents import tsa
from machi.documents.audit_timestamps import DocumentsTimeStamper

DIGEST = hashlib.sha256(b"checkpoint").digest()


def test_documents_registers_its_tsa_for_audit_checkpoints():
    assert isinstance(audit_timestampers.get("tsa"), DocumentsTimeStamper)


def test_token_over_the_digest_verifies_and_another_digest_does_not():
    stamper = DocumentsTimeStamper()
    token = stamper.timestamp(DIGEST)
    assert token_info(token).imprint == DIGEST
    stamper.verify(token, DIGEST)
    with pytest.raises(TimestampInvalid, match=r"^the time-stamp token does not cover"):
        stamper.verify(token, hashlib.sha256(b"other").digest())


def test_token_is_validated_at_its_own_time():
    # Signed by the real TSA key, but claiming a time before its certificate was valid: refused,
    # although the certificate is valid now (so validation happens at the token's time, which
    # also keeps old checkpoints verifiable after the TSA certificate has expired).
    local = tsa.local_timestamper()
    backdated = DummyTimeStamper(
        tsa_cert=local.tsa_cert,
        tsa_key=local.tsa_key,
        certs_to_embed=SimpleCertificateStore.from_certs(local.certs_to_embed),
        fixed_dt=datetime(2001, 1, 1, tzinfo=UTC),
    )
    token = bytes(asyncio.run(backdated.async_timestamp(DIGEST, "sha256")).dump())
    assert token_info(token).gen_time == datetime(2001, 1, 1, tzinfo=UTC)
    with pytest.raises(TimestampInvalid):
        DocumentsTimeStamper().verify(token, DIGEST)
