"""Fixtures for payment tests: procedures with fees, applications, applicant clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from machi.core.models import Municipality
from machi.payments.providers import get_provider
from machi.payments.providers.sandbox import SandboxProvider
from machi.procedures.models import (
    Application,
    ApplicationStatus,
    FormVersion,
    PaymentTiming,
    Procedure,
)

SITE = "http://testserver"
DEFINITION: dict[str, Any] = {
    "schema": 1,
    "steps": [
        {
            "key": "request",
            "title": {"ja": "請求の内容"},
            "fields": [
                {
                    "key": "copies",
                    "type": "number",
                    "label": {"ja": "通数"},
                    "required": True,
                    "min": 1,
                    "max": 10,
                },
                {"key": "welfare", "type": "checkbox", "label": {"ja": "生活保護を受けている"}},
            ],
        }
    ],
}


@pytest.fixture(autouse=True)
def _payment_settings(settings: Any) -> Iterator[None]:
    settings.MACHI_PAYMENT_PROVIDER = "sandbox"
    settings.MACHI_PAYMENT_SANDBOX_SECRET = "test-sandbox-secret"
    settings.MACHI_PAYMENT_SANDBOX_ENABLED = True
    yield


@pytest.fixture
def sandbox() -> SandboxProvider:
    provider = get_provider("sandbox")
    assert isinstance(provider, SandboxProvider)
    return provider


@pytest.fixture
def make_procedure(kakogawa: Municipality) -> Callable[..., Procedure]:
    counter = {"n": 0}

    def make(
        *,
        timing: str = PaymentTiming.BEFORE_SUBMISSION,
        fee: int = 300,
        per_copy: bool = True,
        municipality: Municipality | None = None,
        **extra: Any,
    ) -> Procedure:
        counter["n"] += 1
        procedure = Procedure.objects.create(
            municipality=municipality or kakogawa,
            slug=f"juminhyo-{counter['n']}",
            name="住民票の写しの交付請求",
            fee_yen=fee,
            fee_per_copy=per_copy,
            payment_timing=timing,
            channels=["online", "counter"],
            is_published=True,
            **extra,
        )
        FormVersion.objects.create(
            procedure=procedure,
            number=1,
            definition=DEFINITION,
            definition_sha256="0" * 64,
            published_at=timezone.now(),
        )
        return procedure

    return make


@pytest.fixture
def make_application() -> Callable[..., Application]:
    counter = {"n": 0}

    def make(
        procedure: Procedure,
        *,
        answers: dict[str, Any] | None = None,
        status: str = ApplicationStatus.DRAFT,
        channel: str = "online",
    ) -> Application:
        counter["n"] += 1
        submitted = status != ApplicationStatus.DRAFT
        return Application.objects.create(
            municipality_id=procedure.municipality_id,
            procedure=procedure,
            form_version=procedure.form_versions.get(),
            channel=channel,
            answers=answers if answers is not None else {"request": {"copies": "2"}},
            cleaned={"request": {"copies": 2, "welfare": False}} if submitted else {},
            status=status,
            fee_yen=procedure.fee_yen,
            receipt_number=f"2026-{counter['n']:06d}" if submitted else None,
            submitted_at=timezone.now() if submitted else None,
        )

    return make


@pytest.fixture
def applicant_client() -> Callable[[Application], Client]:
    """A browser session that started ``application`` anonymously (its applicant)."""

    def make(application: Application) -> Client:
        client = Client()
        session = client.session
        session["machi_applications"] = [str(application.pk)]
        session.save()
        return client

    return make
