"""The test PKI: organisation certificates, the TSA certificate, creation on demand."""

from __future__ import annotations

import io

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.core.management import call_command

from machi.core.exceptions import ApplicationError
from machi.documents import services, tsa
from machi.documents.benchmark import documents_per_second
from machi.documents.models import IssuedDocument
from machi.documents.pki import DocumentPki, PkiError, head_title


def test_head_titles():
    assert head_title(name="加古川市", kind="city") == "加古川市長"
    assert head_title(name="稲美町", kind="town") == "稲美町長"
    assert head_title(name="兵庫県", kind="prefecture") == "兵庫県知事"
    assert head_title(name="中央区", kind="ward") == "中央区長"


def test_certificate_profiles(document_pki):
    signer = document_pki.signer(code="282103", name="加古川市", kind="city").certificate
    assert signer.subject.rfc4514_string() == "CN=加古川市長,O=加古川市,C=JP"
    assert signer.issuer.rfc4514_string().startswith("CN=Machi Demo Organisation CA")
    usage = signer.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    signer.verify_directly_issued_by(document_pki.org_ca_certificate())

    authority = document_pki.tsa()
    eku = authority.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    authority.certificate.verify_directly_issued_by(document_pki.tsa_root_certificate())
    assert [c.subject for c in document_pki.roots()] == [
        document_pki.org_ca_certificate().subject,
        document_pki.tsa_root_certificate().subject,
    ]
    assert len(document_pki.crls()) == 2
    assert (document_pki.signer_path("282103").stat().st_mode & 0o777) == 0o600


def test_created_on_demand_outside_production_only(tmp_path):
    fresh = DocumentPki(tmp_path / "fresh", auto_create=True)
    assert not fresh.exists()
    fresh.signer(code="281000", name="神戸市", kind="city")
    assert fresh.exists()
    assert fresh.init() is False  # kept

    locked = DocumentPki(tmp_path / "none", auto_create=False)
    with pytest.raises(PkiError):
        locked.signer(code="281000", name="神戸市", kind="city")
    with pytest.raises(PkiError):
        locked.tsa()


@pytest.mark.django_db
def test_management_command(settings, tmp_path, kakogawa):
    settings.MACHI_DOCUMENTS_PKI_DIR = tmp_path / "pki"
    out = io.StringIO()
    call_command("documents_pki", "init", "--municipality", "282103", stdout=out)
    assert "Created the TEST document PKI" in out.getvalue()
    assert "CN=加古川市長,O=加古川市,C=JP" in out.getvalue()
    out = io.StringIO()
    call_command("documents_pki", "show", stdout=out)
    assert "Machi Demo Organisation CA" in out.getvalue()
    assert "signer:" in out.getvalue()


@pytest.mark.django_db
def test_time_stamp_from_an_untrusted_tsa_is_refused(settings, serve_tsa, tmp_path, application):
    rogue = DocumentPki(tmp_path / "rogue", auto_create=True)
    rogue_stamper = tsa.local_timestamper(rogue)

    def answer(query: bytes) -> bytes:
        from asn1crypto import tsp as asn1_tsp

        return rogue_stamper.request_tsa_response(asn1_tsp.TimeStampReq.load(query)).dump()

    settings.MACHI_TSA_URL = serve_tsa(answer)
    with pytest.raises(ApplicationError) as excinfo:
        services.document_issue(application=application, actor=None, kind="certificate")
    assert excinfo.value.code == "timestamp_failed"
    assert not IssuedDocument.objects.exists()


@pytest.mark.django_db
def test_benchmark_hook_reports_a_rate(kakogawa):
    result = documents_per_second(0.1, warmup=0)
    assert result["documents"] >= 1
    assert result["per_second"] > 0
    assert result["tsa"] == "built-in"
    assert result["pades_level"] == "B-LT"
    assert IssuedDocument.objects.count() == result["documents"]
