"""Demo catalog: real procedure types of a Japanese city (names, legal basis, fees as commonly set).

Legal bases follow the デジタル庁「行政手続等の悉皆調査」; fees are typical city fees, not any one
city's official table. The catalog is data (``demo_data/catalog.json``); procedures with a
``form`` have their form in ``demo_data/forms/<form>.json`` (see ``demo_forms``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load_catalog() -> list[dict[str, Any]]:
    """The demo procedures in catalog order."""
    text = resources.files("machi.procedures.demo_data").joinpath("catalog.json").read_text("utf-8")
    procedures: list[dict[str, Any]] = json.loads(text)
    return procedures


PROCEDURES: list[dict[str, Any]] = load_catalog()
