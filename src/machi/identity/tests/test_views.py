"""Resident pages through the test client: sign-up, e-mail link, password and card sign-in."""

from __future__ import annotations

import base64
import re

import pytest
from django.core import mail
from django.test import Client

from machi.core.models import AuditEntry, User
from machi.identity import services
from machi.identity.models import CardLink

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.identity.tests.urls")]

PASSWORD = "correct-horse-battery-staple"
CHALLENGE = re.compile(r"machi-card-(?:login|link):[A-Za-z0-9_-]+")
NONCE = re.compile(r'name="nonce" value="([^"]+)"')


def sign_up(client: Client, email="hanako@example.jp", password=PASSWORD, confirm=None):
    return client.post(
        "/account/sign-up/",
        {"email": email, "password": password, "password_confirm": confirm or password},
    )


def sign_in(client: Client, email="hanako@example.jp", password=PASSWORD):
    return client.post("/account/sign-in/", {"email": email, "password": password})


def page_errors(response) -> list[str]:
    """The form's page-level errors (the error summary), as text."""
    html = response.content.decode()
    summary = html.split('class="error-summary"', 1)[1].split("</ul>", 1)[0]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip()
        for text in re.findall(r"<li>(.*?)</li>", summary, re.S)
    ]


PUBLIC = "https://machi.example.lg.jp"


@pytest.fixture(autouse=True)
def _public_address(settings):
    settings.MACHI_PUBLIC_BASE_URL = PUBLIC


def verification_link() -> str:
    """The path of the link in the last mail (which must be at the public address)."""
    match = re.search(
        r"https://machi\.example\.lg\.jp(/account/verify/[^\s]+/)", mail.outbox[-1].body
    )
    assert match, mail.outbox[-1].body
    return match.group(1)


@pytest.fixture
def resident(db):
    user = services.resident_sign_up(email="hanako@example.jp", password=PASSWORD)
    services.resident_email_verify(token=services.email_verification_token(user=user))
    return user


def challenge_of(page) -> tuple[str, str]:
    html = page.content.decode()
    message, nonce = CHALLENGE.search(html), NONCE.search(html)
    assert message and nonce, html
    return message.group(0), nonce.group(1)


def card_post(client, url, card, message, nonce, **extra):
    return client.post(
        url,
        {
            "nonce": nonce,
            "signature": base64.b64encode(card.sign_login(message)).decode(),
            "certificate": card.auth_certificate_pem,
            **extra,
        },
    )


def test_sign_up_verify_email_then_sign_in():
    client = Client()
    response = sign_up(client)
    assert response.status_code == 302
    assert response["Location"] == "/account/sign-up/done/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["hanako@example.jp"]
    assert "メールアドレスの確認" in mail.outbox[0].subject

    # Not yet verified: the password is right but sign-in waits for the e-mail link; the page
    # reads as for a wrong password (no oracle) and offers the resend link.
    refused = sign_in(client)
    assert refused.status_code == 400
    assert (
        page_errors(refused)
        == page_errors(sign_in(Client(), password="wrong"))
        == ["メールアドレスまたはパスワードが違います。"]
    )
    assert "/account/verify/resend/?email=hanako%40example.jp" in refused.content.decode()

    page = client.get(verification_link())
    assert page.status_code == 200
    assert "メールアドレスを確認しました" in page.content.decode()

    response = sign_in(client)
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    account = client.get("/account/")
    assert account.status_code == 200
    assert "hanako@example.jp" in account.content.decode()
    user = User.objects.get(username="hanako@example.jp")
    assert not user.is_staff
    assert AuditEntry.objects.filter(action="resident.sign_in", actor=user).exists()
    assert client.get("/staff/").status_code == 302  # residents never reach the console

    assert client.post("/account/sign-out/").status_code == 302
    assert client.get("/account/").status_code == 302


def test_a_forged_host_header_never_ends_up_in_a_mail(resident, settings):
    """Every link identity mails is at MACHI_PUBLIC_BASE_URL, whatever Host the request named."""
    settings.ALLOWED_HOSTS = ["machi.example.lg.jp", "evil.example"]  # even when it is allowed
    forged = Client(HTTP_HOST="evil.example")
    assert sign_up(forged, email="taro@example.jp").status_code == 302
    assert sign_up(forged).status_code == 302  # hanako has an account: the notice mail
    forged.post("/account/verify/resend/", {"email": "taro@example.jp"})
    assert len(mail.outbox) == 3
    for message in mail.outbox:
        assert "evil.example" not in message.body
        assert "testserver" not in message.body
    links = [re.findall(r"https?://[^\s]+", str(message.body)) for message in mail.outbox]
    assert [len(found) for found in links] == [1, 1, 1]
    assert links[1] == [f"{PUBLIC}/account/sign-in/"]
    verify = re.compile(rf"{re.escape(PUBLIC)}(/account/verify/[^/\s]+/)")
    for found in (links[0][0], links[2][0]):
        match = verify.fullmatch(found)
        assert match, found
        # The link works at the public address.
        page = Client(HTTP_HOST="machi.example.lg.jp").get(match.group(1))
        assert page.status_code == 200
        assert "メールアドレスを確認しました" in page.content.decode()


def test_sign_up_errors_are_tied_to_their_fields():
    response = sign_up(Client(), password="12345678")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="error-summary"' in html
    assert 'aria-describedby="id_password_error id_password_helptext"' in html
    assert 'aria-invalid="true"' in html
    assert not User.objects.exists()


def test_password_confirmation_must_match():
    response = sign_up(Client(), confirm="something-else-entirely")
    assert response.status_code == 400
    assert "パスワードが一致しません。" in response.content.decode()


def test_sign_up_with_a_known_address_looks_the_same(resident):
    response = sign_up(Client())
    assert response.status_code == 302
    assert response["Location"] == "/account/sign-up/done/"
    assert "登録済み" in mail.outbox[-1].subject
    assert User.objects.filter(username="hanako@example.jp").count() == 1


def test_expired_verification_link(settings):
    sign_up(Client())
    link = verification_link()
    settings.MACHI_EMAIL_VERIFICATION_SECONDS = -1
    page = Client().get(link)
    assert page.status_code == 400
    assert "有効期限が切れています" in page.content.decode()


def test_tampered_verification_link():
    sign_up(Client())
    page = Client().get(verification_link().replace("/verify/", "/verify/x"))
    assert page.status_code == 400


def test_resend_verification_email():
    sign_up(Client())
    response = Client().post("/account/verify/resend/", {"email": "hanako@example.jp"})
    assert response.status_code == 302
    assert len(mail.outbox) == 2
    Client().post("/account/verify/resend/", {"email": "nobody@example.jp"})
    assert len(mail.outbox) == 2  # same answer, no mail


def test_wrong_password_and_lockout(resident, settings):
    client = Client()
    response = sign_in(client, password="wrong")
    assert response.status_code == 400
    assert "メールアドレスまたはパスワードが違います。" in response.content.decode()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, password="wrong")
    locked = sign_in(client)  # the right password no longer helps
    assert locked.status_code == 429
    assert client.get("/account/").status_code == 302


def _from(address: str) -> Client:
    # Behind one proxy (127.0.0.1) that appends the client's address.
    return Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=address)


def test_failures_for_one_account_from_many_addresses_lock_it(resident, settings):
    settings.MACHI_PROXY_COUNT = 1
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 4
    assert settings.AXES_FAILURE_LIMIT == 5  # each address stays below its own lockout
    statuses = [sign_in(_from(f"203.0.113.{i}"), password="guess").status_code for i in range(4)]
    assert statuses == [400, 400, 400, 429]  # the fourth failure locks the account
    failures = AuditEntry.objects.filter(action="resident.sign_in_failed").count()
    assert failures == 4
    # Now the right password from a fresh address is refused too, without being checked.
    owner = _from("192.0.2.1")
    refused = sign_in(owner)
    assert refused.status_code == 429
    assert "このアカウントのサインインを一時的に停止しました" in refused.content.decode()
    assert owner.get("/account/").status_code == 302
    assert not AuditEntry.objects.filter(action="resident.sign_in").exists()
    assert AuditEntry.objects.filter(action="resident.sign_in_failed").count() == failures


def test_the_account_lock_counts_the_address_whatever_its_case(resident, settings):
    settings.MACHI_PROXY_COUNT = 1
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 2
    sign_in(_from("203.0.113.1"), email="HANAKO@example.jp", password="guess")
    sign_in(_from("203.0.113.2"), email="Hanako@Example.JP", password="guess")
    assert sign_in(_from("203.0.113.3")).status_code == 429


def test_the_account_lock_leaves_other_residents_alone(resident, settings):
    settings.MACHI_PROXY_COUNT = 1
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 2
    other = services.resident_sign_up(email="taro@example.jp", password=PASSWORD)
    services.resident_email_verify(token=services.email_verification_token(user=other))
    for i in range(2):
        sign_in(_from(f"203.0.113.{i}"), password="guess")
    assert sign_in(_from("203.0.113.0"), email="taro@example.jp").status_code == 302
    assert sign_in(_from("203.0.113.9")).status_code == 429


def test_every_wrong_part_reads_the_same(resident, kakogawa_admin):
    from machi.core.tests.factories import TEST_PASSWORD

    kakogawa_admin.email = "admin@kakogawa.example.jp"
    kakogawa_admin.username = "admin@kakogawa.example.jp"
    kakogawa_admin.save()
    pages = [
        sign_in(Client(), password="wrong"),
        sign_in(Client(), email="nobody@example.jp"),
        sign_in(Client(), email="admin@kakogawa.example.jp", password=TEST_PASSWORD),
    ]
    assert [p.status_code for p in pages] == [400, 400, 400]
    assert page_errors(pages[0]) == page_errors(pages[1]) == page_errors(pages[2])


def test_staff_cannot_use_the_resident_sign_in(kakogawa_admin):
    from machi.core.tests.factories import TEST_PASSWORD

    response = sign_in(Client(), email="kakogawa-admin", password=TEST_PASSWORD)
    assert response.status_code == 400


def test_link_a_card_then_sign_in_with_it(card_settings, resident):
    card = card_settings.good
    client = Client()
    client.force_login(resident)
    account = client.get("/account/")
    assert account.status_code == 200
    message, nonce = challenge_of(account)
    assert message.startswith("machi-card-link:")
    response = card_post(client, "/account/cards/link/", card, message, nonce)
    assert response.status_code == 302
    html = client.get("/account/").content.decode()
    assert f"{card.auth_certificate.serial_number:x}" in html
    assert "カードを登録しました" in html

    visitor = Client()
    page = visitor.get("/account/sign-in/card/")
    assert page.status_code == 200
    message, nonce = challenge_of(page)
    assert message.startswith("machi-card-login:")
    assert f"python -m machi card login card.json --challenge {message}" in page.content.decode()
    response = card_post(visitor, "/account/sign-in/card/", card, message, nonce)
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert visitor.get("/account/").status_code == 200
    assert AuditEntry.objects.filter(action="identity.card_sign_in", actor=resident).exists()

    # The same signature again: the challenge is used up.
    again = card_post(Client(), "/account/sign-in/card/", card, message, nonce)
    assert again.status_code == 400


def test_card_sign_in_errors_are_shown(card_settings, resident):
    client = Client()
    message, nonce = challenge_of(client.get("/account/sign-in/card/"))
    response = card_post(client, "/account/sign-in/card/", card_settings.good, message, nonce)
    assert response.status_code == 400
    html = response.content.decode()
    assert "このカードはまだアカウントに登録されていません" in html
    new_message, new_nonce = challenge_of(response)
    assert new_nonce != nonce  # a fresh challenge for the next try

    response = client.post(
        "/account/sign-in/card/",
        {
            "nonce": new_nonce,
            "signature": base64.b64encode(card_settings.revoked.sign_login(new_message)).decode(),
            "certificate": card_settings.revoked.auth_certificate_pem,
        },
    )
    assert response.status_code == 400
    assert "失効" in response.content.decode()

    empty = client.post("/account/sign-in/card/", {"nonce": new_nonce})
    assert empty.status_code == 400
    assert "署名を貼り付けてください。" in empty.content.decode()
    assert 'aria-describedby="id_signature_error id_signature_helptext"' in empty.content.decode()


def test_card_challenge_must_come_from_the_same_session(card_settings, resident):
    CardLink.objects.create(
        user=resident,
        issuer=card_settings.good.auth_certificate.issuer.rfc4514_string(),
        serial=f"{card_settings.good.auth_certificate.serial_number:x}",
        fingerprint_sha256="0" * 64,
        not_after=card_settings.good.auth_certificate.not_valid_after_utc,
    )
    message, nonce = challenge_of(Client().get("/account/sign-in/card/"))
    victim = Client()
    response = card_post(victim, "/account/sign-in/card/", card_settings.good, message, nonce)
    assert response.status_code == 400
    assert victim.get("/account/").status_code == 302


def test_unlink_a_card(card_settings, resident):
    link = CardLink.objects.create(
        user=resident,
        issuer="CN=x",
        serial="ab",
        fingerprint_sha256="0" * 64,
        not_after=card_settings.good.auth_certificate.not_valid_after_utc,
    )
    client = Client()
    client.force_login(resident)
    assert client.post(f"/account/cards/{link.pk}/unlink/").status_code == 302
    assert not CardLink.objects.exists()


def test_staff_are_sent_to_the_resident_sign_in(kakogawa_admin):
    client = Client()
    client.force_login(kakogawa_admin)
    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/sign-in/")


def test_card_sign_in_over_the_api(card_settings, resident):
    from machi.identity.tests.test_services import link

    link(resident, card_settings.good)
    client = Client()
    issued = client.post("/test-api/v1/identity/card-login/challenges")
    assert issued.status_code == 201
    body = issued.json()
    assert body["challenge"] == f"machi-card-login:{body['nonce']}"
    payload = {
        "nonce": body["nonce"],
        "signature": base64.b64encode(card_settings.good.sign_login(body["challenge"])).decode(),
        "certificate": card_settings.good.auth_certificate_pem,
    }
    response = client.post(
        "/test-api/v1/identity/card-login", payload, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["user_id"] == resident.pk
    assert client.get("/account/").status_code == 200

    replay = client.post(
        "/test-api/v1/identity/card-login", payload, content_type="application/json"
    )
    assert replay.status_code == 422
    assert replay.json()["error"]["code"] == "challenge_used"


def test_api_refuses_a_nonce_from_another_session(card_settings):
    issued = Client().post("/test-api/v1/identity/card-login/challenges").json()
    response = Client().post(
        "/test-api/v1/identity/card-login",
        {
            "nonce": issued["nonce"],
            "signature": base64.b64encode(
                card_settings.good.sign_login(issued["challenge"])
            ).decode(),
            "certificate": card_settings.good.auth_certificate_pem,
        },
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "challenge_invalid"
