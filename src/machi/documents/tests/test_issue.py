"""Issuing: render, sign (PAdES B-LT), time-stamp, store and complete, all or nothing."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess

import pikepdf
import pytest

from machi.core.exceptions import ApplicationError, Conflict, Forbidden, InvalidInput
from machi.core.models import AuditEntry
from machi.documents import services
from machi.documents.models import DocumentStatus, DocumentTemplate, IssuedDocument
from machi.documents.pki import configured_trust_roots
from machi.documents.tests.conftest import pdf_of
from machi.documents.validation import validate_pdf
from machi.procedures.extensions import ApplicationHooks, application_hooks
from machi.procedures.models import ApplicationOutcome, ApplicationStatus

pytestmark = pytest.mark.django_db


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa/"


def test_issue_signs_timestamps_stores_and_completes(application, kakogawa_approver):
    document = services.document_issue(
        application=application, actor=kakogawa_approver, kind="certificate"
    )

    application.refresh_from_db()
    assert application.status == ApplicationStatus.COMPLETED
    assert application.outcome == ApplicationOutcome.ISSUED
    assert document.status == DocumentStatus.ISSUED
    assert document.municipality_id == "282103"
    assert document.created_by == kakogawa_approver
    assert len(document.verification_id) == 12
    assert document.signer_subject == "CN=加古川市長,O=加古川市,C=JP"
    assert document.pades_level == "B-LT"
    assert document.title == "住民票の写しの交付請求 交付証明書"
    data = pdf_of(document)
    assert data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() == document.sha256
    assert document.size == len(data)

    (report,) = validate_pdf(data, trust_roots=configured_trust_roots())
    assert report.intact and report.valid and report.trusted and report.unmodified
    assert report.timestamp_ok and report.timestamp_time == document.timestamp_at
    assert report.subfilter == "ETSI.CAdES.detached"
    assert report.signer_common_name == "加古川市長"
    assert report.tsa_name == "Machi Demo Time-Stamping Authority"
    entry = AuditEntry.objects.get(action="document.issued", target_id=str(document.pk))
    assert entry.detail["verification_id"] == document.verification_id
    assert entry.municipality_code == "282103"
    assert AuditEntry.objects.filter(action="application.completed").count() == 1


def test_b_lt_embeds_certificates_and_crls(application, kakogawa_approver):
    document = services.document_issue(application=application, actor=None, kind="permit")
    with pikepdf.open(__import__("io").BytesIO(pdf_of(document))) as pdf:
        dss = pdf.Root.DSS
        assert len(dss.Certs) >= 3  # signer, organisation CA, TSA (+ TSA root)
        assert len(dss.CRLs) == 2
        signature = pdf.Root.AcroForm.Fields[0].V
        assert signature.SubFilter == "/ETSI.CAdES.detached"
        assert "/Perms" in pdf.Root  # certification signature (DocMDP)
    application.refresh_from_db()
    assert application.outcome == ApplicationOutcome.GRANTED


def test_each_kind_has_a_default_template(make_application):
    for kind, outcome in (
        ("permit", ApplicationOutcome.GRANTED),
        ("certificate", ApplicationOutcome.ISSUED),
        ("notice", ApplicationOutcome.REJECTED),
    ):
        application = make_application()
        document = services.document_issue(application=application, actor=None, kind=kind)
        application.refresh_from_db()
        assert application.outcome == outcome
        assert document.kind == kind


def test_issuing_twice_is_idempotent(application, kakogawa_admin):
    first = services.document_issue(application=application, actor=kakogawa_admin, kind="notice")
    second = services.document_issue(application=application, actor=kakogawa_admin, kind="notice")
    assert first.pk == second.pk
    assert IssuedDocument.objects.count() == 1
    assert AuditEntry.objects.filter(action="document.issued").count() == 1


def test_completed_application_with_the_same_outcome_gets_its_document(make_application):
    application = make_application(
        status=ApplicationStatus.COMPLETED, outcome=ApplicationOutcome.ISSUED
    )
    lock_version = application.lock_version
    document = services.document_issue(application=application, actor=None, kind="certificate")
    application.refresh_from_db()
    assert document.kind == "certificate"
    assert application.lock_version == lock_version  # no second transition

    with pytest.raises(Conflict) as excinfo:
        services.document_issue(application=application, actor=None, kind="notice")
    assert excinfo.value.code == "outcome_mismatch"


def test_drafts_and_withdrawn_applications_cannot_get_documents(make_application):
    for status in (ApplicationStatus.DRAFT, ApplicationStatus.WITHDRAWN):
        with pytest.raises(Conflict) as excinfo:
            services.document_issue(
                application=make_application(status=status), actor=None, kind="permit"
            )
        assert excinfo.value.code == "not_issuable"
    assert not IssuedDocument.objects.exists()


def test_unknown_kind_is_invalid(application):
    with pytest.raises(InvalidInput):
        services.document_issue(application=application, actor=None, kind="passport")


def test_failing_tsa_leaves_nothing_half_done(settings, application, kakogawa_approver):
    settings.MACHI_TSA_URL = closed_port_url()
    before = (application.status, application.lock_version)

    with pytest.raises(ApplicationError) as excinfo:
        services.document_issue(application=application, actor=kakogawa_approver, kind="permit")

    assert excinfo.value.code == "timestamp_failed"
    assert excinfo.value.status == 503
    application.refresh_from_db()
    assert (application.status, application.lock_version) == before
    assert application.outcome == ""
    assert not IssuedDocument.objects.exists()
    assert AuditEntry.objects.filter(action="document.issue_failed").exists()
    assert not AuditEntry.objects.filter(action="application.completed").exists()

    # The TSA is back: staff retry and it works.
    settings.MACHI_TSA_URL = ""
    document = services.document_issue(
        application=application, actor=kakogawa_approver, kind="permit"
    )
    assert document.status == DocumentStatus.ISSUED


def test_signing_failure_leaves_nothing(settings, tmp_path, application):
    settings.PRODUCTION = True  # nothing is created automatically in production
    settings.MACHI_DOCUMENTS_PKI_DIR = tmp_path / "empty"
    settings.MACHI_DOCUMENTS_TRUST_ROOTS = []
    with pytest.raises(ApplicationError) as excinfo:
        services.document_issue(application=application, actor=None, kind="certificate")
    assert excinfo.value.code == "signing_failed"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW
    assert not IssuedDocument.objects.exists()


def test_timestamp_over_http(settings, http_tsa, application):
    settings.MACHI_TSA_URL = http_tsa
    document = services.document_issue(application=application, actor=None, kind="certificate")
    (report,) = validate_pdf(pdf_of(document), trust_roots=configured_trust_roots())
    assert report.timestamp_ok


def test_tsa_refusal_is_a_timestamp_failure(settings, serve_tsa, application):
    from machi.documents import tsa

    settings.MACHI_TSA_URL = serve_tsa(lambda query: tsa._rejection("system_failure", "down"))
    with pytest.raises(ApplicationError) as excinfo:
        services.document_issue(application=application, actor=None, kind="certificate")
    assert excinfo.value.code == "timestamp_failed"
    assert not IssuedDocument.objects.exists()


def test_tsa_answering_garbage_is_a_timestamp_failure(settings, serve_tsa, application):
    settings.MACHI_TSA_URL = serve_tsa(lambda query: b"\x30\x03garbage")
    with pytest.raises(ApplicationError) as excinfo:
        services.document_issue(application=application, actor=None, kind="certificate")
    assert excinfo.value.code == "timestamp_failed"


def test_a_refused_transition_rolls_the_document_back(application):
    class Refuse(ApplicationHooks):
        def check_transition(self, application, to_status, outcome):
            raise Conflict("手数料が未納です。", code="fee_unpaid")

    with application_hooks.override({"refuse": Refuse()}), pytest.raises(Conflict):
        services.document_issue(application=application, actor=None, kind="certificate")
    assert not IssuedDocument.objects.exists()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW


def test_only_approvers_and_admins_of_the_municipality_issue(
    application, kakogawa_handler, kobe_admin, kobe_approver, prefecture_admin
):
    for actor in (kakogawa_handler, kobe_admin, kobe_approver, prefecture_admin):
        with pytest.raises(Forbidden):
            services.document_issue(application=application, actor=actor, kind="certificate")
    assert not IssuedDocument.objects.exists()


def test_custom_template_and_answers_appear_in_the_text(application, kakogawa_admin, procedure):
    services.document_template_save(
        procedure=procedure,
        kind="certificate",
        title="{{ procedure.name }}（写し）",
        body="{{ applicant_name }} 様の使用目的：{{ display.request.purpose }}／{{ answers.request.copies }}通",
        actor=kakogawa_admin,
    )
    document = services.document_issue(application=application, actor=None, kind="certificate")
    assert document.title == "住民票の写しの交付請求（写し）"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"],  # noqa: S607
        input=pdf_of(document),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "加古川 花子 様の使用目的：就職のため／1通" in text
    assert "加古川市長" in text
    assert document.display_verification_id in text


def test_broken_template_is_refused_and_nothing_stored(application, procedure):
    DocumentTemplate.objects.create(
        municipality=procedure.municipality,
        procedure=procedure,
        kind="permit",
        title="許可書",
        body="{% if %}",
    )
    with pytest.raises(InvalidInput) as excinfo:
        services.document_issue(application=application, actor=None, kind="permit")
    assert excinfo.value.code == "render_failed"
    assert not IssuedDocument.objects.exists()


def test_template_save_validates_and_needs_an_admin(procedure, kakogawa_admin, kakogawa_approver):
    with pytest.raises(InvalidInput) as excinfo:
        services.document_template_save(
            procedure=procedure,
            kind="permit",
            title="許可書",
            body="{% for %}",
            actor=kakogawa_admin,
        )
    assert "body" in excinfo.value.field_errors
    with pytest.raises(Forbidden):
        services.document_template_save(
            procedure=procedure, kind="permit", title="許可書", body="本文", actor=kakogawa_approver
        )
    # No model attributes reachable: only plain data is in the context.
    services.document_template_save(
        procedure=procedure,
        kind="permit",
        title="許可書",
        body="[{{ application.applicant.password }}]",
        actor=kakogawa_admin,
    )
    services.document_template_reset(procedure=procedure, kind="permit", actor=kakogawa_admin)
    assert not DocumentTemplate.objects.exists()


def test_pdf_embeds_a_japanese_font(application):
    document = services.document_issue(application=application, actor=None, kind="certificate")
    import io

    with pikepdf.open(io.BytesIO(pdf_of(document))) as pdf:
        fonts = pdf.pages[0].Resources.Font
        embedded = []
        for _name, font in fonts.items():
            for descendant in font.get("/DescendantFonts", []):
                descriptor = descendant.FontDescriptor
                embedded.append("/FontFile2" in descriptor or "/FontFile3" in descriptor)
            assert "/ToUnicode" in font  # text can be extracted and searched
        assert embedded and all(embedded)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"],  # noqa: S607
        input=pdf_of(document),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "交付証明書" in text
    assert "加古川 花子 様" in text
    assert "令和" in text


def test_the_link_in_the_pdf_follows_the_public_base_url(settings, client, application):
    """Issued on another port, the document's own link (annotation = QR payload) verifies it."""
    import io
    from urllib.parse import urlsplit

    settings.MACHI_PUBLIC_BASE_URL = "http://127.0.0.1:8765"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    document = services.document_issue(application=application, actor=None, kind="certificate")
    with pikepdf.open(io.BytesIO(pdf_of(document))) as pdf:
        uris = [
            str(annot.A.URI)
            for page in pdf.pages
            for annot in page.get("/Annots", [])
            if "/A" in annot and "/URI" in annot.A
        ]
    assert uris == [f"http://127.0.0.1:8765/verify/{document.verification_id}/"]
    assert services.verify_url(document.verification_id) == uris[0]
    # The test client sends every request to the app; the host header says which address.
    link = urlsplit(uris[0])
    response = client.get(link.path, HTTP_HOST=link.netloc)
    assert response.status_code == 200
    assert response.wsgi_request.get_host() == "127.0.0.1:8765"
    assert 'data-verdict="valid"' in response.content.decode()
    assert document.display_verification_id in response.content.decode()
