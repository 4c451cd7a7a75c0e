"""``load-demo``: refused under production settings; prints one host everywhere."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from machi.core.models import AuditEntry, Municipality, User
from machi.web.management.commands.load_demo import PRODUCTION_REFUSAL

pytestmark = pytest.mark.django_db


def _row_counts() -> dict[str, int]:
    # Unmanaged models (django-rq's dashboard entry) have no table to count.
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.managed
    }


def test_load_demo_is_refused_in_production_and_creates_nothing(settings, tmp_path):
    settings.PRODUCTION = True
    settings.MACHI_CARD_CA_DIR = tmp_path / "card-ca"
    settings.MACHI_DOCUMENTS_PKI_DIR = tmp_path / "documents-pki"
    settings.MACHI_PRIVATE_FILES_ROOT = tmp_path / "private"
    before = _row_counts()

    with pytest.raises(CommandError) as refused:
        call_command("load_demo", stdout=io.StringIO())

    assert str(refused.value) == PRODUCTION_REFUSAL
    assert refused.value.returncode == 1  # what `python -m machi load-demo` exits with
    assert "本番設定（MACHI_PRODUCTION=1）ではデモデータを読み込めません。" in PRODUCTION_REFUSAL
    assert "load-demo refuses to run with production settings" in PRODUCTION_REFUSAL
    assert _row_counts() == before
    assert User.objects.count() == 0
    assert Municipality.objects.count() == 0
    assert AuditEntry.objects.count() == 0
    assert list(tmp_path.iterdir()) == []  # no test CA, no document PKI, no card files


@pytest.fixture
def demo_paths(settings, tmp_path):
    settings.MACHI_CARD_CA_DIR = tmp_path / "card-ca"
    settings.MACHI_DOCUMENTS_PKI_DIR = tmp_path / "documents-pki"
    settings.MACHI_PRIVATE_FILES_ROOT = tmp_path / "private"
    settings.VAR_DIR = tmp_path
    return settings


def _printed_urls(text: str) -> list[str]:
    return [word.strip("`()") for word in text.split() if word.startswith(("http://", "https://"))]


def test_load_demo_prints_the_public_base_url_and_the_venv_python(demo_paths):
    demo_paths.MACHI_PUBLIC_BASE_URL = "http://localhost:8123"
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    text = out.getvalue()

    urls = _printed_urls(text)
    assert urls[:5] == [
        "http://localhost:8123/",
        "http://localhost:8123/staff/",
        "http://localhost:8123/api/v1/openapi.json",
        "http://localhost:8123/healthz",
        "http://localhost:8123/verify/",
    ]
    assert {url.split("/")[2] for url in urls} == {"localhost:8123"}
    assert (
        "  Passkeys (パスキー) work at http://localhost:8123/ (open every page at this host, localhost)"
        in text.splitlines()
    )
    commands = [line.strip(" `") for line in text.splitlines() if "-m machi" in line]
    assert commands and all(c.split(" -m machi")[0].endswith(".venv/bin/python") for c in commands)


def test_load_demo_base_url_option_is_still_accepted_and_warns_about_ip_hosts(demo_paths):
    demo_paths.MACHI_PUBLIC_BASE_URL = "http://localhost:8123"
    out = io.StringIO()
    call_command("load_demo", base_url="http://127.0.0.1:8124/", stdout=out)
    text = out.getvalue()

    assert {url.split("/")[2] for url in _printed_urls(text)} == {"127.0.0.1:8124"}
    assert (
        "  Passkeys (パスキー) need a host name, not 127.0.0.1: run `make demo HOST=localhost`"
        in text.splitlines()
    )
