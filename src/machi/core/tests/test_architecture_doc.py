"""docs/architecture.md lists every registry in one table, and only registries that exist."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import machi
from machi.core.registry import all_registries

DOC = Path(__file__).resolve().parents[4] / "docs" / "architecture.md"
SECTION = "## Extension points (registries)"


def _import_every_module() -> None:
    """Registries are module-level objects: make sure every module that may define one ran."""
    for module in pkgutil.walk_packages(machi.__path__, prefix="machi."):
        name = module.name
        if ".tests" in name or ".migrations" in name or name.endswith("__main__"):
            continue
        importlib.import_module(name)


def _documented() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOC.name} has no section {SECTION!r}"
    table = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines():
        match = re.match(r"\|\s*`([a-z_]+\.[a-z_]+)`\s*\|\s*`([a-zA-Z_.]+)`\s*\|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_the_registry_table_matches_the_code():
    _import_every_module()
    in_code = {name for name in all_registries() if not name.startswith("test.")}
    documented = _documented()
    assert sorted(set(documented) - in_code) == [], "documented but not in the code"
    assert sorted(in_code - set(documented)) == [], "in the code but not in docs/architecture.md"


def test_each_documented_registry_lives_where_the_table_says():
    _import_every_module()
    registries = all_registries()
    for name, where in _documented().items():
        module_name, _, attribute = where.rpartition(".")
        module = importlib.import_module(module_name)
        assert getattr(module, attribute) is registries[name], f"{name} is not {where}"
