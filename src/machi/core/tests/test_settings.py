"""Every MACHI_* variable the code reads is documented in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def test_every_environment_variable_is_documented():
    used: set[str] = set()
    for path in (ROOT / "src" / "machi").rglob("*.py"):
        if "tests" in path.parts:
            continue
        used.update(re.findall(r"""["'](MACHI_[A-Z0-9_]+)["']""", path.read_text(encoding="utf-8")))
    documented = set(
        re.findall(r"^(MACHI_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    # Names used only as Django setting names (not environment variables) are not listed.
    settings_only = {"MACHI_PREFECTURE_CODE_SETTING", "MACHI_SITE_NAME"}
    missing = sorted(used - documented - settings_only)
    assert not missing, f"document these in .env.example: {missing}"


def test_every_variable_the_makefile_and_env_example_set_is_read():
    """No obsolete setting lingers: what `make demo` and .env.example set, the code reads."""
    used: set[str] = set()
    for path in (ROOT / "src" / "machi").rglob("*.py"):
        if "tests" not in path.parts:
            used.update(re.findall(r"MACHI_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
    makefile = set(re.findall(r"\b(MACHI_[A-Z0-9_]+)=", (ROOT / "Makefile").read_text()))
    documented = set(
        re.findall(r"^(MACHI_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    assert sorted(makefile - used) == []
    assert sorted(documented - used) == []
