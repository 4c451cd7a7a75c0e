"""Fixtures of lower apps used by the web tests (web is above them all)."""

from machi.procedures.tests.conftest import resident, shimin, simple_procedure  # noqa: F401
