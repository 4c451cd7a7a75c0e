"""How an audit entry's hash is computed. Shared by the writer and the verifier."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def entry_digest(
    *,
    chain: str,
    sequence: int,
    occurred_at: datetime,
    actor_id: int | None,
    actor_username: str,
    municipality_code: str,
    action: str,
    target_type: str,
    target_id: str,
    purpose: str,
    personal_data: bool,
    detail: dict[str, Any],
    ip_address: str,
    request_id: str,
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical JSON form of every field of the entry and the previous hash."""
    payload = {
        "chain": chain,
        "sequence": sequence,
        # Canonical instant: UTC, microseconds, so SQLite and PostgreSQL read back the same text.
        "occurred_at": occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": actor_id,
        "actor_username": actor_username,
        "municipality_code": municipality_code,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "purpose": purpose,
        "personal_data": personal_data,
        "detail": detail,
        "ip_address": ip_address,
        "request_id": request_id,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
