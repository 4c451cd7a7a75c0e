"""Signature evidence: verify a 署名用 card signature and keep what proves it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.db import transaction

from machi.core.models import User
from machi.core.services import audit_record
from machi.identity.models import (
    CertificateEvidence,
)
from machi.identity.verification import (
    CardVerificationError,
    VerifiedCertificate,
    verify_card_signature,
)

# --- Signature evidence -------------------------------------------------------------------------


def _evidence_fields(verified: VerifiedCertificate) -> dict[str, Any]:
    status = verified.revocation
    return {
        "purpose": verified.purpose,
        "certificate_pem": verified.certificate_pem,
        "subject": verified.subject,
        "issuer": verified.issuer,
        "serial": verified.serial_hex,
        "fingerprint_sha256": verified.fingerprint_sha256,
        "not_before": verified.not_before,
        "not_after": verified.not_after,
        "holder_name": verified.name or "",
        "holder_birth_date": verified.birth_date,
        "holder_birth_date_raw": verified.birth_date_raw,
        "holder_sex": verified.sex or "",
        "holder_address": verified.address or "",
        "revocation_method": status.method,
        "revocation_source": status.source[:500],
        "revocation_this_update": status.this_update,
        "revocation_next_update": status.next_update,
        "revocation_evidence_sha256": status.evidence_sha256,
        "revocation_evidence": status.evidence,
        "verified_at": verified.verified_at,
    }


def signature_record(
    *,
    data: bytes,
    signature: bytes,
    certificate_pem: str | bytes,
    target_type: str,
    target_id: str | int,
    municipality_code: str = "",
    actor: User | None = None,
    purpose: str = "",
    at: datetime | None = None,
) -> CertificateEvidence:
    """Verify a 署名用 card signature over ``data`` and keep the evidence for ``target``.

    ``target_type``/``target_id`` name what was signed (e.g. ``"procedures.application"`` and
    its id). Raises :class:`CardVerificationError` (audited as ``identity.signature_rejected``)
    when the signature cannot be accepted. ``purpose`` is the audit log's 利用目的.
    """
    try:
        verified = verify_card_signature(
            data=data, signature=signature, certificate_pem=certificate_pem, purpose="sign", at=at
        )
    except CardVerificationError as exc:
        audit_record(
            action="identity.signature_rejected",
            actor=actor,
            municipality_code=municipality_code,
            target_type=target_type,
            target_id=target_id,
            purpose=purpose,
            detail={"code": exc.code, "detail": exc.detail},
        )
        raise
    return signature_evidence_record(
        verified=verified,
        reference=str(target_id),
        target_type=target_type,
        municipality_code=municipality_code,
        actor=actor,
        data=data,
        signature=signature,
        purpose=purpose,
    )


@transaction.atomic
def signature_evidence_record(
    *,
    verified: VerifiedCertificate,
    reference: str,
    target_type: str = "application",
    municipality_code: str = "",
    actor: User | None = None,
    data: bytes | None = None,
    signature: bytes = b"",
    purpose: str = "",
) -> CertificateEvidence:
    """Keep the evidence of a certificate the caller already verified.

    For callers that run :func:`verify_card_signature` themselves. ``reference`` is the opaque
    id of what was signed. Pass ``data`` and ``signature`` too when the caller does not store
    them elsewhere: with them the record alone proves the signature.
    """
    evidence = CertificateEvidence.objects.create(
        target_type=target_type,
        target_id=reference,
        municipality_code=municipality_code,
        signed_data_sha256=hashlib.sha256(data).hexdigest() if data is not None else "",
        signature=signature,
        recorded_by=actor if actor is not None and actor.is_authenticated else None,
        **_evidence_fields(verified),
    )
    audit_record(
        action="identity.signature_verified",
        actor=actor,
        municipality_code=municipality_code,
        target_type=target_type,
        target_id=reference,
        purpose=purpose,
        personal_data=verified.purpose == "sign",  # the 基本4情報 were read from the certificate
        detail={
            "evidence_id": evidence.pk,
            "serial": evidence.serial,
            "fingerprint_sha256": evidence.fingerprint_sha256,
            "revocation_method": evidence.revocation_method,
            "revocation_this_update": (
                evidence.revocation_this_update.isoformat()
                if evidence.revocation_this_update
                else ""
            ),
        },
    )
    return evidence
