"""`make demo`'s data: every state of a case, signed documents that /verify/ accepts, idempotent."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from machi.cases.models import Case
from machi.core.selectors import audit_verify
from machi.documents.models import IssuedDocument
from machi.documents.services import document_read
from machi.documents.verification import verify_id, verify_upload
from machi.procedures.models import Application, ApplicationStatus, FormVersion, Procedure

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path):
    settings.MACHI_CARD_CA_DIR = tmp_path / "card-ca"
    settings.MACHI_DOCUMENTS_PKI_DIR = tmp_path / "documents-pki"
    settings.MACHI_PRIVATE_FILES_ROOT = tmp_path / "private"
    settings.VAR_DIR = tmp_path
    call_command("load_demo", quiet=True)


def test_demo_catalog_has_real_procedures_with_complete_forms(demo):
    kakogawa = Procedure.objects.filter(municipality_id="282103")
    assert kakogawa.count() >= 30
    with_forms = kakogawa.filter(form_versions__published_at__isnull=False).distinct()
    assert with_forms.count() >= 8
    assert with_forms.filter(assurance_level="card_signature").exists()
    assert with_forms.filter(fee_yen__gt=0).exists()
    # 横展開: 稲美町 adopted templates from 加古川市
    assert Procedure.objects.filter(
        municipality_id="283819", origin_template__isnull=False
    ).exists()


def test_demo_has_cases_in_every_state_and_verifiable_documents(demo):
    states = set(Application.objects.values_list("status", flat=True))
    for status in (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.CORRECTION_REQUESTED,
        ApplicationStatus.APPROVING,
        ApplicationStatus.COMPLETED,
        ApplicationStatus.WITHDRAWN,
    ):
        assert status in states, status
    assert Case.objects.count() == Application.objects.exclude(status="draft").count()
    documents = list(IssuedDocument.objects.all())
    assert documents
    for document in documents:
        assert verify_id(document.verification_id).ok
        assert verify_upload(document_read(document=document)).ok


def test_demo_loads_again_without_changes(demo):
    counts = (
        Procedure.objects.count(),
        FormVersion.objects.count(),
        Application.objects.count(),
        IssuedDocument.objects.count(),
    )
    call_command("load_demo", quiet=True)
    assert (
        Procedure.objects.count(),
        FormVersion.objects.count(),
        Application.objects.count(),
        IssuedDocument.objects.count(),
    ) == counts
    assert audit_verify().ok
