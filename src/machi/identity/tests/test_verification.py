"""verify_card_signature: the good case and one test per refusal code."""

from __future__ import annotations

import http.server
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from machi.core.exceptions import InvalidInput
from machi.core.registry import all_registries
from machi.identity.revocation import (
    OcspRevocationChecker,
    RevocationChecker,
    RevocationStatus,
    register_revocation_checker,
    revocation_checker_registry,
    unregister_revocation_checker,
)
from machi.identity.verification import CardVerificationError, verify_card_signature

DATA = "転出届\n氏名: 加古川 花子\n転出予定日: 2026-04-01\nnonce: 0123456789".encode()


def verify(card, *, data=DATA, signature=None, purpose="sign", certificate=None, at=None):
    if signature is None:
        signature = card.sign(data) if purpose == "sign" else card.sign_login(data.decode())
    return verify_card_signature(
        data=data,
        signature=signature,
        certificate_pem=certificate or card.certificate_pem(purpose),
        purpose=purpose,
        at=at,
    )


def refused(**kwargs) -> CardVerificationError:
    with pytest.raises(CardVerificationError) as info:
        verify(**kwargs)
    return info.value


def test_good_signature_verifies_and_decodes_the_four_items(card_settings):
    pki = card_settings
    result = verify(pki.good)
    assert result.purpose == "sign"
    assert result.name == "加古川\u3000花子"  # 氏と名は全角空白区切り
    assert result.birth_date == date(1990, 1, 2)
    assert result.birth_date_raw == "419900102"
    assert result.sex == "2"
    assert result.address == "兵庫県加古川市加古川町北在家2000"
    assert "JPKI for digital signature" in result.issuer
    assert "TEST ONLY" in result.issuer
    assert result.serial == pki.good.sign_certificate.serial_number
    assert len(result.fingerprint_sha256) == 64
    assert result.revocation.state == "good"
    assert result.revocation.method == "crl"
    assert result.revocation.this_update is not None
    assert result.revocation.evidence_sha256


def test_auth_certificate_verifies_for_login_without_four_items(card_settings):
    result = verify(card_settings.good, purpose="auth")
    assert result.name is None and result.birth_date is None and result.address is None
    assert "JPKI for user authentication" in result.issuer


def test_error_is_an_invalid_input_with_a_japanese_message(card_settings):
    error = refused(
        card=card_settings.good, data=b"tampered", signature=card_settings.good.sign(DATA)
    )
    assert isinstance(error, InvalidInput)
    assert error.code == "bad_signature"
    assert error.status == 422
    assert "電子署名が正しくありません" in str(error.message)


def test_signature_by_another_card_is_a_bad_signature(card_settings):
    pki = card_settings
    error = refused(card=pki.good, signature=pki.other.sign(DATA))
    assert error.code == "bad_signature"


def test_garbage_signature_is_a_bad_signature(card_settings):
    assert refused(card=card_settings.good, signature=b"\x00" * 10).code == "bad_signature"


def test_revoked_card_is_refused(card_settings):
    error = refused(card=card_settings.revoked)
    assert error.code == "revoked"
    assert "失効" in str(error.message)


def test_expired_card_is_refused(card_settings):
    assert refused(card=card_settings.expired).code == "expired"


def test_card_not_yet_valid_is_refused(card_settings):
    assert refused(card=card_settings.future).code == "not_yet_valid"


def test_auth_certificate_presented_as_signing_certificate(card_settings):
    pki = card_settings
    error = refused(
        card=pki.good,
        signature=pki.good.sign_login(DATA.decode()),
        certificate=pki.good.auth_certificate_pem,
        purpose="sign",
    )
    assert error.code == "wrong_purpose"
    assert "利用者証明用電子証明書" in str(error.message)


def test_signing_certificate_presented_for_login(card_settings):
    pki = card_settings
    error = refused(
        card=pki.good,
        signature=pki.good.sign(DATA),
        certificate=pki.good.sign_certificate_pem,
        purpose="auth",
    )
    assert error.code == "wrong_purpose"
    assert "署名用電子証明書ではサインインできません" in str(error.message)


def test_certificate_from_an_untrusted_ca_with_the_same_name(card_settings):
    pki = card_settings
    assert pki.rogue.sign_certificate.issuer == pki.good.sign_certificate.issuer
    assert refused(card=pki.rogue).code == "untrusted"


def test_ca_certificate_itself_is_not_a_card(card_settings):
    pki = card_settings
    ca_pem = pki.authority.cert_path("sign").read_text()
    error = refused(card=pki.good, certificate=ca_pem)
    assert error.code in {"untrusted", "wrong_purpose"}


def test_malformed_certificate(card_settings):
    assert refused(card=card_settings.good, certificate="not a certificate").code == "malformed"


def test_pasted_pem_with_crlf_and_indentation_is_accepted(card_settings):
    pem = card_settings.good.sign_certificate_pem
    pasted = "\r\n".join("  " + line for line in pem.splitlines()) + "\r\n"
    assert verify(card_settings.good, certificate=pasted).name


def test_missing_crl_means_revocation_unknown(card_settings, settings, tmp_path):
    settings.MACHI_CARD_CRL_SOURCES = [str(tmp_path / "missing.crl")]
    assert refused(card=card_settings.good).code == "revocation_unknown"


def test_no_crl_source_at_all_means_revocation_unknown(card_settings, settings, tmp_path):
    settings.MACHI_CARD_CA_DIR = tmp_path  # default sources: none there
    settings.MACHI_CARD_TRUST_ANCHORS = [str(card_settings.authority.cert_path("sign"))]
    assert refused(card=card_settings.good).code == "revocation_unknown"


def test_expired_crl_means_revocation_unknown(card_settings, settings, tmp_path):
    now = datetime.now(tz=UTC)
    stale = card_settings.authority.build_crl(
        "sign", this_update=now - timedelta(days=3), next_update=now - timedelta(days=2)
    )
    path = tmp_path / "stale.crl"
    path.write_bytes(stale.public_bytes(serialization.Encoding.DER))
    settings.MACHI_CARD_CRL_SOURCES = [str(path)]
    error = refused(card=card_settings.good)
    assert error.code == "revocation_unknown"
    # pyhanko-certvalidator's reason, passed on for the log
    assert "CRL is not recent enough" in error.detail


def test_crl_signed_by_someone_else_is_ignored(card_settings, settings):
    # The rogue CA has the same DN; its (empty) CRL must not vouch for the revoked card.
    pki = card_settings
    settings.MACHI_CARD_CRL_SOURCES = [str(pki.rogue_authority.crl_path("sign"))]
    error = refused(card=pki.revoked)
    assert error.code == "revocation_unknown"
    assert "CRL signature could not be verified" in error.detail


def test_crl_fetched_over_http(card_settings, settings):
    crl = card_settings.authority.crl_path("sign").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.end_headers()
            self.wfile.write(crl)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/sign-ca.crl"
        settings.MACHI_CARD_CRL_SOURCES = [url]
        result = verify(card_settings.good)
        assert result.revocation.source == url
        assert refused(card=card_settings.revoked).code == "revoked"
    finally:
        server.shutdown()
        server.server_close()


def test_production_does_not_trust_the_test_ca_by_default(card_settings, settings):
    settings.PRODUCTION = True
    assert refused(card=card_settings.good).code == "untrusted"


def test_explicit_trust_anchors_replace_the_default(card_settings, settings):
    pki = card_settings
    settings.MACHI_CARD_TRUST_ANCHORS = [str(pki.authority.cert_path("sign"))]
    assert verify(pki.good).name
    assert refused(card=pki.good, purpose="auth").code == "untrusted"


# --- Pluggable revocation checking ------------------------------------------------------------


class Recording(RevocationChecker):
    name = "recording"
    priority = 0  # before the CRL

    def __init__(self, state):
        self.state = state
        self.calls = []

    def check(self, certificate, issuer, *, at):
        self.calls.append(certificate.serial_number)
        return RevocationStatus(state=self.state, method=self.name, source="test")


@pytest.fixture
def registered():
    added = []

    def add(checker):
        added.append(register_revocation_checker(checker))
        return checker

    yield add
    for checker in added:
        unregister_revocation_checker(checker)


def test_registered_checker_is_consulted_first(card_settings, registered):
    checker = registered(Recording("revoked"))
    error = refused(card=card_settings.good)
    assert error.code == "revoked"
    assert checker.calls == [card_settings.good.sign_certificate.serial_number]


def test_unknown_answer_falls_through_to_the_crl(card_settings, registered):
    checker = registered(Recording("unknown"))
    result = verify(card_settings.good)
    assert checker.calls and result.revocation.method == "crl"


def test_failing_checker_fails_closed(card_settings, settings, registered):
    class Broken(RevocationChecker):
        name = "broken"

        def check(self, certificate, issuer, *, at):
            raise RuntimeError("responder exploded")

    settings.MACHI_CARD_REVOCATION_CHECKERS = []
    registered(Broken())
    assert refused(card=card_settings.good).code == "revocation_unknown"


class LocalOcsp(OcspRevocationChecker):
    """An OCSP 'responder' answering in-process with the test CA's key."""

    def __init__(self, authority, revoked_serials):
        self.authority = authority
        self.revoked_serials = revoked_serials

    def fetch(self, request_der, *, certificate, issuer):
        request = ocsp.load_der_ocsp_request(request_der)
        ca_cert, ca_key = self.authority.ca("sign")
        now = datetime.now(tz=UTC)
        revoked = request.serial_number in self.revoked_serials
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=certificate,
                issuer=ca_cert,
                algorithm=hashes.SHA1(),  # noqa: S303 (OCSP CertID hash, as responders expect)
                cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
                this_update=now - timedelta(minutes=1),
                next_update=now + timedelta(minutes=15),
                revocation_time=now - timedelta(days=1) if revoked else None,
                revocation_reason=x509.ReasonFlags.affiliation_changed if revoked else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, ca_cert)
        )
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_ocsp_plugin_answers_before_the_crl(card_settings, settings, registered):
    pki = card_settings
    settings.MACHI_CARD_CRL_SOURCES = [str(pki.directory / "missing.crl")]  # CRL unavailable
    registered(LocalOcsp(pki.authority, {pki.revoked.sign_certificate.serial_number}))
    result = verify(pki.good)
    assert result.revocation.method == "ocsp"
    assert result.revocation.evidence  # the response itself is kept as evidence
    assert refused(card=pki.revoked).code == "revoked"


def test_ocsp_response_signed_by_another_key_is_not_trusted(card_settings, settings, registered):
    # A CA with the same name but another key (the rogue one) answers "good".
    pki = card_settings

    class Forged(LocalOcsp):
        def fetch(self, request_der, *, certificate, issuer):
            real = super().fetch(request_der, certificate=certificate, issuer=issuer)
            assert real  # the honest answer exists, but we send a forged one
            rogue_cert, rogue_key = pki.rogue_authority.ca("sign")
            ca_cert, _key = self.authority.ca("sign")
            now = datetime.now(tz=UTC)
            builder = (
                ocsp.OCSPResponseBuilder()
                .add_response(
                    cert=certificate,
                    issuer=ca_cert,
                    algorithm=hashes.SHA1(),  # noqa: S303 (OCSP CertID hash)
                    cert_status=ocsp.OCSPCertStatus.GOOD,
                    this_update=now,
                    next_update=now + timedelta(minutes=15),
                    revocation_time=None,
                    revocation_reason=None,
                )
                .responder_id(ocsp.OCSPResponderEncoding.NAME, rogue_cert)  # same DN
            )
            return builder.sign(rogue_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    settings.MACHI_CARD_CRL_SOURCES = [str(pki.directory / "missing.crl")]
    registered(Forged(pki.authority, set()))
    error = refused(card=pki.revoked)
    assert error.code == "revocation_unknown"
    assert "signature does not verify" in error.detail


def test_revocation_checkers_are_a_registry(card_settings):
    """Checkers live on the one Registry primitive; a test override is undone afterwards."""
    checker = Recording("revoked")
    with revocation_checker_registry.override(recording=checker):
        assert refused(card=card_settings.good).code == "revoked"
    assert checker.calls == [card_settings.good.sign_certificate.serial_number]
    assert "recording" not in revocation_checker_registry
    assert all_registries()["identity.revocation_checkers"] is revocation_checker_registry


def test_crl_verdict_comes_from_pyhanko_certvalidator(card_settings, monkeypatch):
    """The CRL checker hands the decision to the library: its RevokedError means revoked."""
    from pyhanko_certvalidator.errors import RevokedError

    from machi.identity import certpath

    calls = []

    def revoked_by_library(certificate, **kwargs):
        mode = kwargs.get("revocation_mode", "soft-fail")
        calls.append(mode)
        if mode == "hard-fail":
            exc = RevokedError.__new__(RevokedError)  # its constructor wants validator state
            Exception.__init__(exc, "revoked (library)")
            raise exc
        return real(certificate, **kwargs)

    real = certpath.validate_path
    monkeypatch.setattr(certpath, "validate_path", revoked_by_library)
    error = refused(card=card_settings.good)  # the good card: only the library says revoked
    assert error.code == "revoked"
    assert calls == ["soft-fail", "hard-fail"]
