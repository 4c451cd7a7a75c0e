"""How an audit entry's link is computed. Shared by the writer and the verifier.

Each entry's link (``AuditEntry.entry_hash``) is an HMAC-SHA256, under a key from configuration
(``MACHI_AUDIT_KEY``, never stored in the database), over the canonical JSON of the entry's
content, which includes the previous entry's link. Someone who can write the database but does
not hold the key cannot recompute a chain after changing, removing or appending an entry.

``entry_digest`` is the plain SHA-256 of the first version (before migration 0004): kept only
to verify old rows while re-linking them, and for tests that play an attacker without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

GENESIS_HASH = "0" * 64


def _key_id(key: bytes) -> str:
    """A short public name for a key (a fingerprint, not the key), stored on each entry."""
    return "k" + hashlib.sha256(b"machi.audit-key-id\0" + key).hexdigest()[:12]


def audit_keys() -> dict[str, bytes]:
    """Every configured chain key by key id; the first one links new entries.

    ``MACHI_AUDIT_KEY`` is comma-separated so that after a rotation the old keys still verify
    the entries they linked (read on every call, so tests and rotations need no restart).
    """
    raw = str(getattr(settings, "MACHI_AUDIT_KEY", "") or "")
    keys = [part.strip().encode("utf-8") for part in raw.split(",") if part.strip()]
    if not keys:
        raise ImproperlyConfigured("MACHI_AUDIT_KEY is empty: the audit chain needs a key.")
    return {_key_id(key): key for key in keys}


def current_key() -> tuple[str, bytes]:
    """(key id, key) that links new entries."""
    key_id, key = next(iter(audit_keys().items()))
    return key_id, key


def canonical_content(
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
    key_id: str | None = None,
) -> bytes:
    """The canonical JSON bytes of every field of an entry and its predecessor's link."""
    payload: dict[str, Any] = {
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
    if key_id is not None:
        payload["key_id"] = key_id
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return canonical.encode("utf-8")


def entry_link(*, key: bytes, key_id: str, **fields: Any) -> str:
    """HMAC-SHA256 under ``key`` over the entry's canonical content (the keyed chain)."""
    content = canonical_content(key_id=key_id, **fields)
    return hmac.new(key, content, hashlib.sha256).hexdigest()


def entry_digest(**fields: Any) -> str:
    """Plain SHA-256 over the canonical content: the unkeyed chain of the first version."""
    return hashlib.sha256(canonical_content(**fields)).hexdigest()


ENTRY_FIELDS = (
    "chain",
    "sequence",
    "occurred_at",
    "actor_id",
    "actor_username",
    "municipality_code",
    "action",
    "target_type",
    "target_id",
    "purpose",
    "personal_data",
    "detail",
    "ip_address",
    "request_id",
    "prev_hash",
)


def entry_fields(entry: Any) -> dict[str, Any]:
    """The linked fields of an ``AuditEntry`` (or any object with the same attributes)."""
    return {name: getattr(entry, name) for name in ENTRY_FIELDS}


def link_matches(entry: Any, keys: dict[str, bytes]) -> bool | None:
    """True/False: the stored link is/isn't right; None: the entry's key is not configured."""
    key = keys.get(entry.key_id)
    if key is None:
        return None
    expected = entry_link(key=key, key_id=entry.key_id, **entry_fields(entry))
    return hmac.compare_digest(expected, entry.entry_hash)
