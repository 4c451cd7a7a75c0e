"""Deterministic bytes of a submission, for signing and hashing.

Format (version 1): UTF-8 JSON of ::

    {"answers": <cleaned>, "canonical": 1, "definition_version": "<id>"}

with keys sorted at every level, no whitespace (``","`` and ``":"`` separators), non-ASCII
characters written as themselves (not ``\\uXXXX``), and no NaN/Infinity. Strings are taken
verbatim: no Unicode normalisation, because legal names must stay as typed (reference §4)
and cleaning has already normalised what may be normalised. The same definition version and
cleaned answers therefore always give the same bytes, whatever the dict insertion order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

CANONICAL_VERSION = 1


def canonical_bytes(definition_version_id: str, cleaned: Mapping[str, Any]) -> bytes:
    """The canonical byte form of ``cleaned`` answers under a definition version."""
    document = {
        "answers": cleaned,
        "canonical": CANONICAL_VERSION,
        "definition_version": definition_version_id,
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
