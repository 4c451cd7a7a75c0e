"""Passkeys through the test client, with a software authenticator (EC P-256, attestation "none").

The authenticator builds what a browser would post: clientDataJSON, authenticatorData, a CBOR
attestationObject and ES256 assertion signatures, so registration and sign-in run through the
real WebAuthn verification (py_webauthn) without a device.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import timedelta

import cbor2
import pytest
from axes.models import AccessAttempt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.utils import timezone

from machi.core.models import AuditEntry
from machi.identity import services
from machi.identity.models import Passkey, PasskeyChallenge

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.identity.tests.urls")]

PASSWORD = "correct-horse-battery-staple"
ORIGIN = "http://testserver"
RP_ID = "testserver"

REGISTER_OPTIONS = "/account/passkeys/register/options/"
REGISTER_VERIFY = "/account/passkeys/register/verify/"
SIGN_IN_OPTIONS = "/account/sign-in/passkey/options/"
SIGN_IN_VERIFY = "/account/sign-in/passkey/verify/"

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftwareAuthenticator:
    """One discoverable ES256 credential, as a platform authenticator would hold it."""

    def __init__(self, *, rp_id: str = RP_ID, origin: str = ORIGIN) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.rp_id = rp_id
        self.origin = origin
        self.sign_count = 0
        self.user_handle: bytes | None = None

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def create(self, options: dict, *, flags: int = UP | UV | AT) -> dict:
        """navigator.credentials.create(): attestation "none"."""
        public_key = options["publicKey"]
        assert public_key["rp"]["id"] == self.rp_id
        self.user_handle = unb64url(public_key["user"]["id"])
        attested = (
            bytes(16)  # AAGUID
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self._cose_key()
        )
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([flags])
            + self.sign_count.to_bytes(4, "big")
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", public_key["challenge"])
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid", "bogus"],
            },
        }

    def get(
        self,
        options: dict,
        *,
        count: int | None = None,
        flags: int = UP | UV,
        credential_id: bytes | None = None,
        user_handle: bytes | None = None,
    ) -> dict:
        """navigator.credentials.get(): an ES256 assertion (the counter goes up by one)."""
        public_key = options["publicKey"]
        self.sign_count = self.sign_count + 1 if count is None else count
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([flags])
            + self.sign_count.to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", public_key["challenge"])
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        credential_id = credential_id or self.credential_id
        handle = user_handle or self.user_handle
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(handle) if handle else None,
            },
        }


def post_json(client: Client, url: str, body: dict | None = None, **extra):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **extra)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def make_resident(email: str, *, verified: bool = True):
    user = services.resident_sign_up(email=email, password=PASSWORD)
    if verified:
        services.resident_email_verify(token=services.email_verification_token(user=user))
    return user


@pytest.fixture
def resident(db):
    return make_resident("hanako@example.jp")


def register(user, authenticator: SoftwareAuthenticator, name: str = "自宅のパソコン"):
    client = Client()
    client.force_login(user)
    options = post_json(client, REGISTER_OPTIONS)
    assert options.status_code == 200, options.content
    credential = authenticator.create(options.json())
    return client, post_json(client, REGISTER_VERIFY, {"credential": credential, "name": name})


def sign_in(client: Client, authenticator: SoftwareAuthenticator, next_url: str = "", **get):
    options = post_json(client, SIGN_IN_OPTIONS)
    assert options.status_code == 200, options.content
    assertion = authenticator.get(options.json(), **get)
    response = post_json(client, SIGN_IN_VERIFY, {"credential": assertion, "next": next_url})
    return response, assertion


def test_register_sign_in_counter_and_replay(resident):
    authenticator = SoftwareAuthenticator()
    account_client, response = register(resident, authenticator)
    assert response.status_code == 201, response.content
    passkey = Passkey.objects.get(user=resident)
    assert passkey.name == "自宅のパソコン"
    assert passkey.credential_id == b64url(authenticator.credential_id)
    assert passkey.transports == ["hybrid", "internal"]  # unknown values dropped
    assert passkey.sign_count == 0
    assert AuditEntry.objects.filter(action="identity.passkey_register").count() == 1
    page = account_client.get("/account/").content.decode()
    assert "自宅のパソコン" in page
    assert "登録しました" in page  # the flash message set by the JSON endpoint

    client = Client()
    response, assertion = sign_in(client, authenticator, next_url="/account/?tab=1")
    assert response.status_code == 200, response.content
    assert response.json() == {"redirect": "/account/?tab=1"}
    assert client.get("/account/").status_code == 200
    assert client.session["identity.auth_method"] == "passkey"
    passkey.refresh_from_db()
    assert passkey.sign_count == 1
    assert passkey.last_used_at is not None
    entry = AuditEntry.objects.filter(action="resident.sign_in").latest("sequence")
    assert entry.actor_id == resident.pk
    assert entry.detail["method"] == "passkey"

    # The same assertion again: its challenge is used up.
    replayed = post_json(client, SIGN_IN_VERIFY, {"credential": assertion})
    assert replayed.status_code == 422
    assert error_code(replayed) == "challenge_used"

    # Next sign-in: the counter goes on.
    response, _ = sign_in(Client(), authenticator)
    assert response.status_code == 200
    passkey.refresh_from_db()
    assert passkey.sign_count == 2

    # A cloned authenticator (fresh challenge, counter not above the stored one) is refused
    # and the failure counts towards the account's lockout.
    response, _ = sign_in(Client(), authenticator, count=2)
    assert response.status_code == 400
    assert error_code(response) == "passkey_rejected"
    assert "ページ" not in response.json()["error"]["message"]
    passkey.refresh_from_db()
    assert passkey.sign_count == 2
    failed = AuditEntry.objects.filter(action="resident.sign_in_failed").latest("sequence")
    assert failed.detail["method"] == "passkey"
    assert "sign count" in failed.detail["detail"]
    assert AccessAttempt.objects.filter(username="hanako@example.jp").exists()


def test_wrong_origin_and_rp_id_are_refused(resident):
    authenticator = SoftwareAuthenticator()
    register(resident, authenticator)

    authenticator.origin = "http://evil.example"
    response, _ = sign_in(Client(), authenticator)
    assert response.status_code == 400
    assert error_code(response) == "passkey_rejected"

    authenticator.origin, authenticator.rp_id = ORIGIN, "evil.example"
    response, _ = sign_in(Client(), authenticator)
    assert error_code(response) == "passkey_rejected"

    # Registration from another origin is refused too.
    _, response = register(resident, SoftwareAuthenticator(origin="https://testserver"))
    assert response.status_code == 400
    assert error_code(response) == "passkey_rejected"
    assert Passkey.objects.count() == 1


def test_user_verification_is_required(resident):
    client = Client()
    client.force_login(resident)
    options = post_json(client, REGISTER_OPTIONS).json()
    selection = options["publicKey"]["authenticatorSelection"]
    assert selection["residentKey"] == "required"
    assert selection["userVerification"] == "required"
    credential = SoftwareAuthenticator().create(options, flags=UP | AT)
    response = post_json(client, REGISTER_VERIFY, {"credential": credential})
    assert error_code(response) == "passkey_rejected"

    authenticator = SoftwareAuthenticator()
    _, response = register(resident, authenticator, name="  ")
    assert response.status_code == 201
    assert Passkey.objects.get().name.startswith("パスキー（")  # the default name
    response, _ = sign_in(Client(), authenticator, flags=UP)
    assert error_code(response) == "passkey_rejected"


def test_another_residents_passkey_cannot_sign_in_as_this_one(resident):
    other = make_resident("taro@example.jp")
    mine, theirs = SoftwareAuthenticator(), SoftwareAuthenticator()
    register(resident, mine)
    register(other, theirs)

    # Their passkey signs them in, never me, whatever user handle it claims.
    client = Client()
    response, _ = sign_in(client, theirs, user_handle=mine.user_handle)
    assert error_code(response) == "passkey_rejected"
    response, _ = sign_in(client, theirs)
    assert response.status_code == 200
    assert client.session["_auth_user_id"] == str(other.pk)

    # Their key signing for my credential id does not verify.
    response, _ = sign_in(Client(), theirs, credential_id=mine.credential_id)
    assert error_code(response) == "passkey_rejected"

    # Registering their authenticator's credential on my account is refused.
    client = Client()
    client.force_login(resident)
    options = post_json(client, REGISTER_OPTIONS).json()
    theirs.sign_count = 0
    response = post_json(client, REGISTER_VERIFY, {"credential": theirs.create(options)})
    assert response.status_code == 409
    assert error_code(response) == "passkey_registered"


def test_removal(resident):
    authenticator = SoftwareAuthenticator()
    client, _ = register(resident, authenticator)
    passkey = Passkey.objects.get(user=resident)

    other = make_resident("taro@example.jp")
    intruder = Client()
    intruder.force_login(other)
    intruder.post(f"/account/passkeys/{passkey.pk}/delete/")
    assert Passkey.objects.filter(pk=passkey.pk).exists()

    response = client.post(f"/account/passkeys/{passkey.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert not Passkey.objects.exists()
    assert AuditEntry.objects.filter(action="identity.passkey_delete").count() == 1

    response, _ = sign_in(Client(), authenticator)
    assert response.status_code == 404
    assert error_code(response) == "passkey_unknown"


def test_unverified_email_cannot_add_passkeys():
    user = make_resident("new@example.jp", verified=False)
    client = Client()
    client.force_login(user)
    response = post_json(client, REGISTER_OPTIONS)
    assert response.status_code == 403
    assert error_code(response) == "email_unverified"
    assert "メールアドレスの確認" in response.json()["error"]["message"]
    assert 'data-passkey="register"' not in client.get("/account/").content.decode()


def test_register_needs_a_signed_in_resident(kakogawa_admin):
    response = post_json(Client(), REGISTER_OPTIONS)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    staff = Client()
    staff.force_login(kakogawa_admin)
    assert post_json(staff, REGISTER_OPTIONS).status_code == 401


def test_challenges_are_bound_to_the_session_and_expire(resident):
    authenticator = SoftwareAuthenticator()
    register(resident, authenticator)

    # A challenge fetched by another browser (login CSRF) is not accepted here.
    attacker = Client()
    options = post_json(attacker, SIGN_IN_OPTIONS).json()
    response = post_json(Client(), SIGN_IN_VERIFY, {"credential": authenticator.get(options)})
    assert error_code(response) == "challenge_invalid"

    client = Client()
    options = post_json(client, SIGN_IN_OPTIONS).json()
    PasskeyChallenge.objects.filter(challenge=options["publicKey"]["challenge"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = post_json(client, SIGN_IN_VERIFY, {"credential": authenticator.get(options)})
    assert error_code(response) == "challenge_expired"

    # A registration challenge cannot be used to sign in.
    account = Client()
    account.force_login(resident)
    options = post_json(account, REGISTER_OPTIONS).json()
    response = post_json(account, SIGN_IN_VERIFY, {"credential": authenticator.get(options)})
    assert error_code(response) == "challenge_invalid"


def test_malformed_input_gets_a_json_error(resident):
    client = Client()
    response = client.post(SIGN_IN_VERIFY, "not json", content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "malformed"
    response = post_json(client, SIGN_IN_VERIFY, {"credential": {"rawId": "x", "response": {}}})
    assert response.status_code == 400
    assert error_code(response) == "malformed"
    assert client.get(SIGN_IN_OPTIONS).status_code == 405


def test_csrf_is_enforced(resident):
    client = Client(enforce_csrf_checks=True)
    assert post_json(client, SIGN_IN_OPTIONS).status_code == 403
    page = client.get("/account/sign-in/")
    token = page.cookies["csrftoken"].value
    response = post_json(client, SIGN_IN_OPTIONS, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


def test_failures_lock_the_account_out(resident, settings):
    authenticator = SoftwareAuthenticator()
    register(resident, authenticator)
    authenticator.origin = "http://evil.example"
    codes = [
        error_code(sign_in(Client(), authenticator)[0]) for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert codes[-1] == "locked_out"
    assert set(codes[:-1]) == {"passkey_rejected"}

    authenticator.origin = ORIGIN
    response, _ = sign_in(Client(), authenticator)  # the right passkey no longer helps
    assert response.status_code == 429
    assert error_code(response) == "locked_out"
    password = Client().post(
        "/account/sign-in/", {"email": "hanako@example.jp", "password": PASSWORD}
    )
    assert password.status_code == 429


def test_pages_offer_passkeys_only_at_a_host_name(resident, settings):
    page = Client().get("/account/sign-in/").content.decode()
    assert 'data-passkey="sign-in"' in page
    assert "hidden" in page.split('data-passkey="sign-in"')[1].split(">")[0]
    assert "identity/passkeys.js" in page
    assert 'id="passkey-messages" type="application/json"' in page
    assert "<script>" not in page  # nothing inline (CSP)

    # Browsers refuse IP addresses as RP IDs: no button, a hint pointing at localhost.
    at_ip = Client(HTTP_HOST="127.0.0.1:8000")
    page = at_ip.get("/account/sign-in/").content.decode()
    assert 'data-passkey="sign-in"' not in page
    assert "http://localhost:8000/account/sign-in/" in page
    response = post_json(at_ip, SIGN_IN_OPTIONS)
    assert response.status_code == 422
    assert error_code(response) == "passkeys_unavailable"

    # A configured RP ID wins over the request's host.
    settings.MACHI_WEBAUTHN_RP_ID = "machi.example.jp"
    assert 'data-passkey="sign-in"' not in Client().get("/account/sign-in/").content.decode()
    settings.MACHI_WEBAUTHN_RP_ID = "testserver"
    settings.MACHI_WEBAUTHN_ORIGINS = ["https://testserver"]
    options = post_json(Client(), SIGN_IN_OPTIONS).json()
    assert options["publicKey"]["rpId"] == "testserver"
    assert options["publicKey"]["userVerification"] == "required"
    assert options["publicKey"]["allowCredentials"] == []


def test_rate_limit_answers_in_json(resident, settings):
    settings.LOGIN_RATE_LIMIT = "2/m"
    client = Client()
    assert post_json(client, SIGN_IN_OPTIONS).status_code == 200
    assert post_json(client, SIGN_IN_OPTIONS).status_code == 200
    response = post_json(client, SIGN_IN_OPTIONS)
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
