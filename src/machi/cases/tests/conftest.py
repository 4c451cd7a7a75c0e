"""Fixtures for the cases app: URLs with the case pages, private files per test, personas."""

from __future__ import annotations

from pathlib import Path

import pytest

from machi.cases.tests.helpers import make_procedure, member
from machi.core.models import Role


@pytest.fixture(autouse=True)
def _cases_settings(settings, tmp_path: Path) -> None:
    settings.ROOT_URLCONF = "machi.cases.tests.urls"
    settings.MACHI_PRIVATE_FILES_ROOT = tmp_path / "private"


@pytest.fixture
def shimin(kakogawa, departments):
    return departments["kakogawa"]


@pytest.fixture
def procedure(kakogawa, shimin):
    return make_procedure(kakogawa, department=shimin)


@pytest.fixture
def approver(kakogawa, shimin):
    return member("kakogawa-approver", kakogawa, Role.APPROVER, department=shimin)


@pytest.fixture
def approver2(kakogawa, shimin):
    return member("kakogawa-kacho", kakogawa, Role.APPROVER, department=shimin)


@pytest.fixture
def handler2(kakogawa, shimin):
    return member("kakogawa-handler2", kakogawa, Role.CASE_HANDLER, department=shimin)


@pytest.fixture
def counter_clerk(kakogawa, shimin):
    return member("kakogawa-counter", kakogawa, Role.COUNTER_CLERK, department=shimin)


@pytest.fixture
def kobe_handler(kobe):
    return member("kobe-handler", kobe, Role.CASE_HANDLER)
