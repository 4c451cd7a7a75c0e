"""Card sign-in, linking and signature evidence (services), with their audit records."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from machi.core.exceptions import ApplicationError
from machi.core.models import AuditEntry
from machi.identity import selectors, services
from machi.identity.models import CardLoginChallenge, CertificateEvidence, ChallengePurpose
from machi.identity.verification import CardVerificationError

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def resident(db):
    user = services.resident_sign_up(email="Hanako@Example.JP", password=PASSWORD)
    services.resident_email_verify(token=services.email_verification_token(user=user))
    return user


@pytest.fixture
def other_resident(db):
    return services.resident_sign_up(email="taro@example.jp", password=PASSWORD)


def b64(signature: bytes) -> str:
    return base64.b64encode(signature).decode()


def link(user, card):
    challenge = services.card_login_challenge_issue(purpose=ChallengePurpose.LINK, user=user)
    return services.card_link(
        user=user,
        nonce=challenge.nonce,
        signature_b64=b64(card.sign_login(challenge.message)),
        certificate_pem=card.auth_certificate_pem,
    )


def login(card, challenge=None, *, certificate=None):
    challenge = challenge or services.card_login_challenge_issue()
    return services.card_login_verify(
        nonce=challenge.nonce,
        signature_b64=b64(card.sign_login(challenge.message)),
        certificate_pem=certificate or card.auth_certificate_pem,
    )


def error_code(func, *args, **kwargs) -> str:
    with pytest.raises(ApplicationError) as info:
        func(*args, **kwargs)
    return info.value.code


def test_email_is_normalised_and_is_the_user_name(resident):
    assert resident.username == "hanako@example.jp"
    assert not resident.is_staff
    assert selectors.resident_email_verified(user=resident)


def test_link_then_sign_in_with_the_card(card_settings, resident):
    card_link = link(resident, card_settings.good)
    assert card_link.serial == f"{card_settings.good.auth_certificate.serial_number:x}"
    assert list(selectors.card_link_list(user=resident)) == [card_link]
    assert login(card_settings.good) == resident
    card_link.refresh_from_db()
    assert card_link.last_used_at is not None
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"identity.card_link", "identity.card_sign_in"} <= actions


def test_linking_twice_is_idempotent(card_settings, resident):
    assert link(resident, card_settings.good).pk == link(resident, card_settings.good).pk


def test_challenge_is_single_use(card_settings, resident):
    link(resident, card_settings.good)
    challenge = services.card_login_challenge_issue()
    assert login(card_settings.good, challenge) == resident
    assert error_code(login, card_settings.good, challenge) == "challenge_used"


def test_refused_signature_still_uses_up_the_challenge(card_settings, resident):
    link(resident, card_settings.good)
    challenge = services.card_login_challenge_issue()
    with pytest.raises(CardVerificationError):
        services.card_login_verify(
            nonce=challenge.nonce,
            signature_b64=b64(card_settings.other.sign_login(challenge.message)),
            certificate_pem=card_settings.good.auth_certificate_pem,
        )
    assert error_code(login, card_settings.good, challenge) == "challenge_used"
    failed = AuditEntry.objects.filter(action="identity.card_sign_in_failed").last()
    assert failed is not None and failed.detail["code"] == "bad_signature"


def test_challenge_expires_after_five_minutes(card_settings, resident):
    link(resident, card_settings.good)
    challenge = services.card_login_challenge_issue()
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=5)
    CardLoginChallenge.objects.filter(pk=challenge.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert error_code(login, card_settings.good, challenge) == "challenge_expired"


def test_unknown_nonce(card_settings):
    code = error_code(
        services.card_login_verify, nonce="nope", signature_b64="AAAA", certificate_pem="x"
    )
    assert code == "challenge_invalid"


def test_link_challenge_cannot_sign_in(card_settings, resident):
    link(resident, card_settings.good)
    challenge = services.card_login_challenge_issue(purpose=ChallengePurpose.LINK, user=resident)
    assert error_code(login, card_settings.good, challenge) == "challenge_invalid"


def test_link_challenge_of_another_resident_is_refused(card_settings, resident, other_resident):
    challenge = services.card_login_challenge_issue(purpose=ChallengePurpose.LINK, user=resident)
    code = error_code(
        services.card_link,
        user=other_resident,
        nonce=challenge.nonce,
        signature_b64=b64(card_settings.good.sign_login(challenge.message)),
        certificate_pem=card_settings.good.auth_certificate_pem,
    )
    assert code == "challenge_invalid"


def test_card_not_linked(card_settings, resident):
    assert error_code(login, card_settings.other) == "card_not_linked"


def test_card_linked_to_another_account(card_settings, resident, other_resident):
    link(resident, card_settings.good)
    assert error_code(link, other_resident, card_settings.good) == "card_linked_elsewhere"


def test_signing_certificate_cannot_sign_in(card_settings, resident):
    link(resident, card_settings.good)
    challenge = services.card_login_challenge_issue()
    code = error_code(
        services.card_login_verify,
        nonce=challenge.nonce,
        signature_b64=b64(card_settings.good.sign(challenge.message.encode())),
        certificate_pem=card_settings.good.sign_certificate_pem,
    )
    assert code == "wrong_purpose"


def test_staff_cannot_link_a_card(card_settings, kakogawa_admin):
    assert error_code(link, kakogawa_admin, card_settings.good) == "forbidden"


def test_unlink(card_settings, resident, other_resident):
    card_link = link(resident, card_settings.good)
    assert error_code(services.card_unlink, user=other_resident, link_id=card_link.pk) == (
        "card_link_not_found"
    )
    services.card_unlink(user=resident, link_id=card_link.pk)
    assert error_code(login, card_settings.good) == "card_not_linked"


def test_signature_record_keeps_the_evidence(card_settings, resident, pki):
    data = "転出届 application=A-1 nonce=xyz".encode()
    evidence = services.signature_record(
        data=data,
        signature=card_settings.good.sign(data),
        certificate_pem=card_settings.good.sign_certificate_pem,
        target_type="procedures.application",
        target_id="A-1",
        municipality_code="282103",
        actor=resident,
    )
    assert evidence.holder_name == "加古川\u3000花子"
    assert str(evidence.holder_birth_date) == "1990-01-02"
    assert evidence.holder_sex == "2"
    assert evidence.holder_address == "兵庫県加古川市加古川町北在家2000"
    assert evidence.serial == f"{card_settings.good.sign_certificate.serial_number:x}"
    assert evidence.revocation_method == "crl"
    from cryptography import x509

    crl = x509.load_der_x509_crl(pki.authority.crl_path("sign").read_bytes())
    assert evidence.revocation_this_update == crl.last_update_utc
    assert bytes(evidence.signature) == card_settings.good.sign(data)
    assert list(
        selectors.certificate_evidence_list(target_type="procedures.application", target_id="A-1")
    ) == [evidence]
    entry = AuditEntry.objects.get(action="identity.signature_verified")
    assert entry.municipality_code == "282103" and entry.personal_data
    with pytest.raises(ValidationError):
        evidence.save()  # evidence is append-only


def test_refused_signature_is_audited_and_not_recorded(card_settings):
    with pytest.raises(CardVerificationError) as info:
        services.signature_record(
            data=b"x",
            signature=card_settings.revoked.sign(b"x"),
            certificate_pem=card_settings.revoked.sign_certificate_pem,
            target_type="procedures.application",
            target_id="A-2",
        )
    assert info.value.code == "revoked"
    assert not CertificateEvidence.objects.exists()
    assert AuditEntry.objects.get(action="identity.signature_rejected").detail["code"] == "revoked"


def test_bad_base64_signature_is_malformed(card_settings, resident):
    link(resident, card_settings.good)
    challenge = services.card_login_challenge_issue()
    code = error_code(
        services.card_login_verify,
        nonce=challenge.nonce,
        signature_b64="***",
        certificate_pem=card_settings.good.auth_certificate_pem,
    )
    assert code == "malformed"


def test_evidence_for_a_certificate_verified_by_the_caller(card_settings):
    from machi.identity.verification import verify_card_signature

    data = b"application bytes"
    verified = verify_card_signature(
        data=data,
        signature=card_settings.good.sign(data),
        certificate_pem=card_settings.good.sign_certificate_pem,
        purpose="sign",
    )
    evidence = services.signature_evidence_record(verified=verified, reference="app-uuid")
    assert evidence.target_type == "application"
    assert evidence.target_id == "app-uuid"
    assert evidence.signed_data_sha256 == ""  # the caller keeps data and signature itself
    assert evidence.holder_birth_date_raw == "419900102"
    assert evidence.revocation_evidence_sha256 == verified.revocation.evidence_sha256
