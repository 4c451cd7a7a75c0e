"""Complete demo forms (schema 1) for the demo catalog's online procedures.

The forms are data: ``demo_data/forms/<key>.json``, keyed by file name (the catalog's
``form`` value). Edit the JSON; the form editor's export produces the same shape.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load_forms() -> dict[str, dict[str, Any]]:
    """Every demo form by key, read from the package data."""
    folder = resources.files("machi.procedures.demo_data.forms")
    forms: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".json"):
            forms[entry.name.removesuffix(".json")] = json.loads(entry.read_text("utf-8"))
    return forms


FORMS: dict[str, dict[str, Any]] = load_forms()
