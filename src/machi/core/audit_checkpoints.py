"""Checkpoints of the audit log: every chain head, hashed together and time-stamped (RFC 3161).

``checkpoint_create`` (``python -m machi audit-checkpoint``, meant for a cron job or a systemd
timer) reads every ``AuditChainHead`` (chain, sequence, link), hashes them with the previous
checkpoint's digest into one SHA-256 digest, asks the configured time-stamping authority for a
token over that digest and stores it all append-only. ``verify-audit`` re-checks each token and
that every chain still holds each checkpointed entry; ``audit-export`` writes them for the
prefecture to keep (format: ``docs/decisions/0002-*``).

The TSA client is contributed by a higher app through ``audit_timestampers`` (``documents``
registers its RFC 3161 client: ``MACHI_TSA_URL``, or the built-in TSA when empty), so ``core``
needs no import of it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from asn1crypto import cms, tsp
from django.db import IntegrityError, transaction
from django.utils import timezone

from machi.core.audit_chain import GENESIS_HASH
from machi.core.exceptions import Conflict
from machi.core.models import AuditChainHead, AuditCheckpoint
from machi.core.registry import Registry

CHECKPOINT_FORMAT = "machi-audit-checkpoint/1"
EXPORT_FORMAT = "machi-audit-checkpoints/1"
TIMESTAMPER_ID = "tsa"


class TimestampInvalid(Exception):
    """A checkpoint's token is not a valid, trusted time stamp over its digest (says why)."""


class AuditTimeStamper(Protocol):
    """An RFC 3161 client and verifier for checkpoint digests."""

    def describe(self) -> str:
        """The TSA's name or URL, stored with each checkpoint."""
        ...

    def timestamp(self, digest: bytes) -> bytes:
        """A DER TimeStampToken (CMS ContentInfo) whose imprint is ``digest`` (SHA-256)."""
        ...

    def verify(self, token: bytes, digest: bytes) -> None:
        """Raise ``TimestampInvalid`` unless ``token`` is intact, valid and trusted for ``digest``."""
        ...


audit_timestampers: Registry[AuditTimeStamper] = Registry(
    "core.audit_timestampers",
    description="RFC 3161 time-stamping of audit checkpoints (documents registers 'tsa').",
)


def timestamper() -> AuditTimeStamper:
    return audit_timestampers.get(TIMESTAMPER_ID)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checkpoint_digest(
    *, number: int, created_at: datetime, previous_digest: str, heads: list[list[Any]]
) -> str:
    """SHA-256 (hex) of the canonical JSON of a checkpoint; the TSA's token is over these bytes."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "number": number,
        "created_at": _instant(created_at),
        "previous_digest": previous_digest,
        "heads": heads,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    imprint: bytes
    algorithm: str
    gen_time: datetime


def token_info(token: bytes) -> TokenInfo:
    """The message imprint and time inside a DER TimeStampToken (no signature check)."""
    try:
        content = cms.ContentInfo.load(token, strict=True)
        tst_info = content["content"]["encap_content_info"]["content"].parsed
        if not isinstance(tst_info, tsp.TSTInfo):
            raise TypeError("not a TSTInfo")
        imprint = tst_info["message_imprint"]
        return TokenInfo(
            imprint=bytes(imprint["hashed_message"].native),
            algorithm=str(imprint["hash_algorithm"]["algorithm"].native),
            gen_time=tst_info["gen_time"].native,
        )
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError… on garbage
        raise TimestampInvalid(f"not an RFC 3161 time-stamp token ({exc})") from exc


def checkpoint_create(*, now: datetime | None = None) -> AuditCheckpoint:
    """Take, time-stamp and store a checkpoint of every chain head; returns it.

    The TSA is asked outside any transaction (it may be slow); a checkpoint taken concurrently
    with the same number makes this one fail with ``Conflict`` (run it again).
    """
    from machi.core.services import audit_record  # services imports models; keep this light

    created_at = now or timezone.now()
    heads = [
        [chain, sequence, link]
        for chain, sequence, link in AuditChainHead.objects.order_by("chain").values_list(
            "chain", "last_sequence", "last_hash"
        )
    ]
    last = AuditCheckpoint.objects.order_by("-number").first()
    number = (last.number + 1) if last is not None else 1
    previous_digest = last.digest if last is not None else GENESIS_HASH
    digest = checkpoint_digest(
        number=number, created_at=created_at, previous_digest=previous_digest, heads=heads
    )
    stamper = timestamper()
    token = stamper.timestamp(bytes.fromhex(digest))
    info = token_info(token)
    if info.imprint != bytes.fromhex(digest):
        raise TimestampInvalid("the TSA answered with a token over another digest")
    try:
        with transaction.atomic():
            checkpoint = AuditCheckpoint.objects.create(
                number=number,
                created_at=created_at,
                previous_digest=previous_digest,
                heads=heads,
                digest=digest,
                token=token,
                tsa=stamper.describe()[:200],
                timestamped_at=info.gen_time,
            )
            audit_record(
                action="audit.checkpoint",
                target_type="audit_checkpoint",
                target_id=number,
                detail={"digest": digest, "chains": len(heads)},
            )
    except IntegrityError as exc:
        raise Conflict(f"audit checkpoint {number} was taken concurrently") from exc
    return checkpoint


def checkpoint_as_dict(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """One checkpoint in the export format (token as base64 of its DER bytes)."""
    return {
        "number": checkpoint.number,
        "created_at": _instant(checkpoint.created_at),
        "previous_digest": checkpoint.previous_digest,
        "heads": [
            {"chain": chain, "sequence": sequence, "link": link}
            for chain, sequence, link in checkpoint.heads
        ],
        "digest": checkpoint.digest,
        "tsa": checkpoint.tsa,
        "timestamped_at": _instant(checkpoint.timestamped_at),
        "token": base64.b64encode(bytes(checkpoint.token)).decode("ascii"),
    }


def checkpoints_export(*, since: int = 1) -> dict[str, Any]:
    """Every checkpoint numbered ``since`` or later, as the JSON document ``audit-export`` writes."""
    checkpoints = AuditCheckpoint.objects.filter(number__gte=since).order_by("number")
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _instant(timezone.now()),
        "checkpoints": [checkpoint_as_dict(c) for c in checkpoints],
    }


def checkpoint_from_dict(data: dict[str, Any]) -> AuditCheckpoint:
    """An exported checkpoint as an unsaved ``AuditCheckpoint`` (for ``verify-audit --against``)."""
    try:
        return AuditCheckpoint(
            number=int(data["number"]),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            previous_digest=str(data["previous_digest"]),
            heads=[[str(h["chain"]), int(h["sequence"]), str(h["link"])] for h in data["heads"]],
            digest=str(data["digest"]),
            token=base64.b64decode(str(data["token"]), validate=True),
            tsa=str(data.get("tsa", "")),
            timestamped_at=datetime.fromisoformat(str(data["timestamped_at"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an exported audit checkpoint: {exc}") from exc
