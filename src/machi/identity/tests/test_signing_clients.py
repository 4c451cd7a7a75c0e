"""Card sign-in and linking through the signing clients: demo card, smartphone hand-off, registry."""

from __future__ import annotations

import base64
import json
import re

import pytest
from django.conf import settings
from django.test import Client

from machi.core.models import AuditEntry
from machi.identity import services
from machi.identity.models import CardLink, SigningHandoff
from machi.identity.signing_clients import (
    CardSignatureResult,
    SigningClient,
    signing_clients,
)
from machi.identity.tests.test_views import PASSWORD, challenge_of
from machi.testing_pki.companion import answer_request
from machi.testing_pki.wallet import card_id_for, wallet_save

NONCE = re.compile(r'name="nonce" value="([^"]+)"')


@pytest.fixture
def resident(db):
    user = services.resident_sign_up(email="hanako@example.jp", password=PASSWORD)
    services.resident_email_verify(token=services.email_verification_token(user=user))
    return user


@pytest.fixture
def linked(card_settings, resident):
    """The good card is linked to the resident (through the linking service)."""
    challenge = services.card_login_challenge_issue(purpose="link", user=resident)
    services.card_link(
        user=resident,
        nonce=challenge.nonce,
        signature_b64=base64.b64encode(card_settings.good.sign_login(challenge.message)).decode(),
        certificate_pem=card_settings.good.auth_certificate_pem,
    )
    return card_settings


@pytest.fixture
def wallet(settings, tmp_path, linked, resident):
    settings.VAR_DIR = tmp_path  # the demo wallet is VAR_DIR/demo-cards
    wallet_save(email=resident.email, card=linked.good)
    return linked


def test_demo_card_sign_in_in_one_click(wallet, resident):
    client = Client()
    page = client.get("/account/sign-in/card/")
    card_id = card_id_for(resident.email)
    assert f'value="demo-card:{card_id}"' in page.content.decode()
    _message, nonce = challenge_of(page)
    response = client.post(
        "/account/sign-in/card/", {"nonce": nonce, "signing_client": f"demo-card:{card_id}"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200
    entry = AuditEntry.objects.filter(action="identity.card_sign_in").get()
    assert entry.actor == resident
    assert entry.detail["serial"] == f"{wallet.good.auth_certificate.serial_number:x}"


def test_demo_card_is_not_offered_in_production(settings, wallet, resident):
    settings.PRODUCTION = True
    client = Client()
    page = client.get("/account/sign-in/card/")
    assert 'value="demo-card' not in page.content.decode()
    _message, nonce = challenge_of(page)
    response = client.post(
        "/account/sign-in/card/",
        {"nonce": nonce, "signing_client": f"demo-card:{card_id_for(resident.email)}"},
    )
    assert response.status_code == 400
    assert "この署名の方法は使えません" in response.content.decode()
    assert client.get("/account/").status_code == 302
    assert not AuditEntry.objects.filter(action="identity.card_sign_in").exists()


def test_card_sign_in_with_the_smartphone(linked, resident):
    browser = Client()
    _message, nonce = challenge_of(browser.get("/account/sign-in/card/"))
    shown = browser.post(
        "/account/sign-in/card/", {"nonce": nonce, "signing_client": "smartphone:restart"}
    )
    assert shown.status_code == 200
    html = shown.content.decode()
    assert NONCE.search(html).group(1) == nonce  # the same challenge while the phone signs
    url = re.search(
        rf"<code>{re.escape(settings.MACHI_PUBLIC_BASE_URL)}(/api/v1/identity/signing-requests/[^<]+)</code>",
        html,
    )
    handoff = SigningHandoff.objects.get()
    assert handoff.purpose == "auth"
    assert handoff.target_id == nonce

    phone = Client()
    request = phone.get(url.group(1)).json()
    assert request["purpose"] == "auth"
    assert base64.b64decode(request["data"]).decode() == f"machi-card-login:{nonce}"
    body = answer_request(request, linked.good)
    answered = phone.post(
        request["response_url"].removeprefix(settings.MACHI_PUBLIC_BASE_URL),
        json.dumps(body),
        content_type="application/json",
    )
    assert answered.status_code == 200

    signed_in = browser.post(
        "/account/sign-in/card/", {"nonce": nonce, "signing_client": "smartphone"}
    )
    assert signed_in.status_code == 302
    assert browser.get("/account/").status_code == 200
    assert phone.get("/account/").status_code == 302  # the phone got no session


def test_link_a_card_with_the_demo_card(settings, tmp_path, card_settings, resident):
    settings.VAR_DIR = tmp_path  # the demo wallet is VAR_DIR/demo-cards
    wallet_save(email=resident.email, card=card_settings.other)
    client = Client()
    client.force_login(resident)
    _message, nonce = challenge_of(client.get("/account/"))
    response = client.post(
        "/account/cards/link/",
        {"nonce": nonce, "signing_client": f"demo-card:{card_id_for(resident.email)}"},
    )
    assert response.status_code == 302
    link = CardLink.objects.get(user=resident)
    assert link.serial == f"{card_settings.other.auth_certificate.serial_number:x}"


class _RogueClient(SigningClient):
    """A client that hands over a signature made by a CA nobody trusts."""

    id = "rogue"
    label = "rogue"
    template_name = "identity/signing/_platform.html"

    def __init__(self, card) -> None:
        self.card = card

    def receive(self, request, task):
        return CardSignatureResult(
            signature=self.card.sign_for(task.purpose, task.data),
            certificate_pem=self.card.certificate_pem(task.purpose),
            client_id=self.id,
        )


def test_a_registered_client_is_offered_and_its_signature_still_verified(linked, resident):
    """A client only obtains the signature: a plugin cannot vouch for an untrusted card."""
    with signing_clients.override(rogue=_RogueClient(linked.rogue)):
        client = Client()
        page = client.get("/account/sign-in/card/")
        assert 'name="signing_client" value="rogue"' in page.content.decode()
        _message, nonce = challenge_of(page)
        response = client.post(
            "/account/sign-in/card/", {"nonce": nonce, "signing_client": "rogue"}
        )
    assert response.status_code == 400
    assert "信頼できる認証局" in response.content.decode()
    assert client.get("/account/").status_code == 302
    failed = AuditEntry.objects.filter(action="identity.card_sign_in_failed").get()
    assert failed.detail["code"] == "untrusted"


def test_unknown_client_is_refused(linked):
    client = Client()
    _message, nonce = challenge_of(client.get("/account/sign-in/card/"))
    response = client.post("/account/sign-in/card/", {"nonce": nonce, "signing_client": "nope"})
    assert response.status_code == 400
    assert "この署名の方法は使えません" in response.content.decode()
