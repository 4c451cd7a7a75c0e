"""Parsed form definitions, kept per form version so a definition is parsed once per process.

A published form version never changes, and a draft one changes only together with its
``definition_sha256``: the key (version id, hash) therefore always names one parsed form.
``FormDefinition`` is immutable, so the same object is shared by every request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

from machi.procedures.formengine.definition import FormDefinition

MAX_CACHED = 512

_lock = threading.Lock()
_parsed: OrderedDict[Hashable, FormDefinition] = OrderedDict()


def cached_definition(key: Hashable, data: Mapping[str, Any]) -> FormDefinition:
    """The parsed form for ``key`` (parsing ``data`` the first time); least recently used out."""
    with _lock:
        found = _parsed.get(key)
        if found is not None:
            _parsed.move_to_end(key)
            return found
    parsed = FormDefinition.from_json(data)
    with _lock:
        _parsed[key] = parsed
        _parsed.move_to_end(key)
        while len(_parsed) > MAX_CACHED:
            _parsed.popitem(last=False)
    return parsed


def clear() -> None:
    """Forget every parsed form (tests)."""
    with _lock:
        _parsed.clear()
