"""requirements/*.txt (``make lock``) pin exactly what pyproject.toml pins, with hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked(name: str) -> dict[str, str]:
    """name → version of every package in a lock file."""
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    pins = {}
    for line in text.splitlines():
        match = LOCK_LINE.match(line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def pinned(requirements: list[str]) -> dict[str, str]:
    """name → version of pyproject requirements, each of which must be an exact pin."""
    pins = {}
    for line in requirements:
        requirement = Requirement(line)
        (spec,) = requirement.specifier  # exactly one specifier …
        assert spec.operator == "==", f"{line}: pin it exactly"  # … and an exact one
        pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def test_runtime_lock_has_every_runtime_pin_at_its_version():
    lock = locked("runtime.txt")
    for name, version in pinned(PYPROJECT["project"]["dependencies"]).items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"


def test_dev_lock_has_every_pin_at_its_version():
    lock = locked("dev.txt")
    wanted = pinned(PYPROJECT["project"]["dependencies"])
    wanted |= pinned(PYPROJECT["project"]["optional-dependencies"]["dev"])
    for name, version in wanted.items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"


def test_dev_lock_keeps_the_runtime_versions():
    runtime, dev = locked("runtime.txt"), locked("dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_extras_are_locked_too():
    # psycopg[binary] needs psycopg-binary at the same version.
    lock = locked("runtime.txt")
    assert lock["psycopg-binary"] == lock["psycopg"]


def test_every_locked_package_has_a_hash():
    for name in ("runtime.txt", "dev.txt"):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / "requirements" / name).read_text())
        packages = [block for block in blocks if LOCK_LINE.match(block)]
        assert packages
        assert [b.split()[0] for b in packages if "--hash=sha256:" not in b] == []
