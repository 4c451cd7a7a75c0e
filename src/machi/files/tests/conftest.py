"""Fixtures for the files app: a private root per test, under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "private"
    settings.MACHI_PRIVATE_FILES_ROOT = root
    settings.STATIC_ROOT = tmp_path / "static"
    return root
