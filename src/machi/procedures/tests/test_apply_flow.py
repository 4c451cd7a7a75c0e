"""The resident path through the pages: find, fill, review, sign, submit, track."""

from __future__ import annotations

import base64
import re

import pytest
from django.core import mail
from django.test import Client

from machi.core.models import AuditEntry
from machi.identity.models import CertificateEvidence
from machi.procedures import services
from machi.procedures.models import Application, ApplicationStatus, Channel
from machi.procedures.tests.conftest import JUMINHYO_ANSWERS, SIMPLE_FORM

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["じゅうみんひょう", "ジュウミンヒョウ", "ｼﾞｭｳﾐﾝﾋｮｳ", "住民票"])
def test_catalog_search_finds_juminhyo_however_it_is_typed(juminhyo, simple_procedure, query):
    html = Client().get("/procedures/", {"q": query}).content.decode()
    assert result_titles(html) == ["住民票の写しの交付請求"]


def test_catalog_filters_by_life_event_and_audience(juminhyo, simple_procedure):
    html = Client().get("/procedures/", {"life_event": "housing"}).content.decode()
    assert result_titles(html) == ["粗大ごみ収集申込"]
    html = Client().get("/procedures/", {"q": "ひっこし"}).content.decode()
    assert result_titles(html) == ["住民票の写しの交付請求"]  # 引越し is one of its life events


def test_catalog_hides_unpublished(juminhyo):
    juminhyo.is_published = False
    juminhyo.save()
    assert result_titles(Client().get("/procedures/", {"q": "住民票"}).content.decode()) == []
    assert Client().get("/procedures/282103/juminhyo/").status_code == 404


def result_titles(html: str) -> list[str]:
    """The procedure names listed by the catalog, in order."""
    return re.findall(r'<a class="result-title" href="[^"]*">([^<]*)</a>', html)


def field_errors(html: str, field_id: str) -> list[str]:
    """The error messages shown under one field (its ``<ul class="errors">``)."""
    match = re.search(
        rf'<ul class="errors" id="{re.escape(field_id)}-error">(.*?)</ul>', html, re.S
    )
    if match is None:
        return []
    return [
        re.sub(r"<[^>]+>", "", item).replace("エラー:", "", 1).strip()
        for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)
    ]


def summary_errors(html: str) -> list[str]:
    """The links of the error summary at the top of the page, as "label: message"."""
    match = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', html, re.S)
    if match is None:
        return []
    return [
        re.sub(r"<[^>]+>", "", a).strip()
        for a in re.findall(r"<a [^>]*>(.*?)</a>", match.group(1), re.S)
    ]


def _start(client: Client, procedure) -> Application:
    response = client.post(f"/procedures/{procedure.municipality_id}/{procedure.slug}/start/")
    assert response.status_code == 302, response.content
    return Application.objects.latest("created_at")


def test_anonymous_application_end_to_end(simple_procedure):
    client = Client()
    application = _start(client, simple_procedure)
    step_url = f"/apply/{application.pk}/main/"
    # invalid: errors next to fields and in the summary, but the draft is saved
    response = client.post(step_url, {"main.name": "加古川 太郎", "main.copies": "9"})
    assert response.status_code == 400
    html = response.content.decode()
    assert summary_errors(html) == ["通数: 1以上5以下の数を入力してください。"]
    assert field_errors(html, "f-main-copies") == ["1以上5以下の数を入力してください。"]
    assert field_errors(html, "f-main-name") == []
    application.refresh_from_db()
    assert application.answers["main"]["name"] == "加古川 太郎"
    # valid
    response = client.post(step_url, {"main.name": "加古川 太郎", "main.copies": "2"})
    assert response["Location"] == f"/apply/{application.pk}/confirm/"
    response = client.post(f"/apply/{application.pk}/confirm/", {"confirm.agree": "1"})
    assert response["Location"] == f"/apply/{application.pk}/review/"
    review = client.get(f"/apply/{application.pk}/review/").content.decode()
    assert re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", review) == [
        ("氏名", "加古川 太郎"),
        ("メールアドレス", "（未入力）"),
        ("通数", "2"),
        ("内容に間違いはありません", "はい"),
    ]
    response = client.post(f"/apply/{application.pk}/review/", {"idempotency_key": "k1"})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert re.fullmatch(r"\d{4}-\d{6}", application.receipt_number)
    assert application.channel == Channel.ONLINE
    done = client.get(response["Location"]).content.decode()
    assert (
        f'<p class="receipt-number">受付番号: <strong>{application.receipt_number}</strong></p>'
        in done
    )
    # the status page and history
    detail = client.get(f"/my/applications/{application.pk}/").content.decode()
    assert re.search(r"<dt>状態</dt><dd><strong>([^<]*)</strong>", detail).group(1) == "受付"


def test_double_submit_creates_one_application(simple_procedure):
    client = Client()
    application = _start(client, simple_procedure)
    client.post(f"/apply/{application.pk}/main/", {"main.name": "太郎", "main.copies": "1"})
    client.post(f"/apply/{application.pk}/confirm/", {"confirm.agree": "1"})
    first = client.post(f"/apply/{application.pk}/review/", {"idempotency_key": "same"})
    second = client.post(f"/apply/{application.pk}/review/", {"idempotency_key": "same"})
    assert first.status_code == second.status_code == 302
    assert Application.objects.exclude(status=ApplicationStatus.DRAFT).count() == 1
    application.refresh_from_db()
    assert application.history.filter(to_status=ApplicationStatus.SUBMITTED).count() == 1


def test_confirmation_email_and_outbox_retry(
    simple_procedure, monkeypatch, django_capture_on_commit_callbacks, run_tasks
):
    from django.utils import timezone

    from machi.core import notifications, outbox
    from machi.core.models import OutboxMessage, OutboxStatus

    calls = {"n": 0}
    original = notifications.EmailChannel.send

    def flaky(self, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("mail server down")
        return original(self, **kwargs)

    monkeypatch.setattr(notifications.EmailChannel, "send", flaky)
    started = services.application_start(
        procedure=simple_procedure, applicant=None, contact_email="taro@example.jp"
    )
    application = started.application
    application.answers = {"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    application.save()
    with django_capture_on_commit_callbacks(execute=True):
        submitted = services.application_submit(application=application, actor=None)
    # Nothing is sent in the request: the message waits for a worker.
    assert calls["n"] == 0
    assert OutboxMessage.objects.get().attempts == 0
    assert run_tasks() == 1
    # The mail server failed: the application stands and the message waits in the outbox.
    submitted.refresh_from_db()
    assert submitted.status == ApplicationStatus.SUBMITTED
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert "mail server down" in message.last_error
    assert mail.outbox == []
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert outbox.deliver_due() == (1, 0)
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert [m.to for m in mail.outbox] == [["taro@example.jp"]]
    assert submitted.receipt_number in mail.outbox[0].subject


def test_resume_link_for_anonymous_draft(simple_procedure):
    client = Client()
    application = _start(client, simple_procedure)
    client.post(f"/apply/{application.pk}/main/", {"main.name": "太郎", "main.copies": "1"})
    review = client.get(f"/apply/{application.pk}/review/").content.decode()
    match = re.search(r'href="(/apply/resume/[^"]+/)"', review)
    assert match, "the review page offers a resume link"
    stranger = Client()
    assert stranger.get(f"/apply/{application.pk}/main/").status_code == 404
    response = stranger.get(match.group(1))
    assert response.status_code == 302
    page = stranger.get(response["Location"]).content.decode()
    assert "太郎" in page


def test_other_people_cannot_see_an_application(simple_procedure, resident):
    owner = Client()
    application = _start(owner, simple_procedure)
    other = Client()
    other.force_login(resident)
    assert other.get(f"/apply/{application.pk}/main/").status_code == 404
    assert other.get(f"/my/applications/{application.pk}/").status_code == 404
    assert other.get(f"/api/v1/applications/{application.pk}").status_code == 404


def test_card_procedure_needs_sign_in(juminhyo):
    response = Client().post("/procedures/282103/juminhyo/start/")
    assert response.status_code == 302
    assert Application.objects.count() == 0


def _fill_juminhyo(client: Client, application: Application) -> None:
    services.application_save_step(
        application=application, step_key="applicant", step_answers=JUMINHYO_ANSWERS["applicant"]
    )
    services.application_save_step(
        application=application, step_key="request", step_answers=JUMINHYO_ANSWERS["request"]
    )


def test_card_signature_flow(juminhyo, resident, card_settings):
    pki = card_settings
    client = Client()
    client.force_login(resident)
    application = _start(client, juminhyo)
    _fill_juminhyo(client, application)
    review = client.get(f"/apply/{application.pk}/review/").content.decode()
    signing_b64 = re.search(r'id="id_signing_data" readonly rows="3">([^<]+)<', review).group(1)
    data = base64.b64decode(signing_b64)
    signature = base64.b64encode(pki.good.sign(data)).decode()
    response = client.post(
        f"/apply/{application.pk}/review/",
        {
            "signature": signature,
            "certificate": pki.good.certificate_pem("sign"),
            "idempotency_key": "x",
        },
    )
    assert response.status_code == 302, response.content.decode()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.signer_name == "加古川　花子"
    evidence = CertificateEvidence.objects.get(pk=application.signature_evidence_id)
    assert evidence.holder_address.startswith("兵庫県加古川市")


@pytest.mark.parametrize(
    ("card", "message"),
    [
        (
            "revoked",
            "この電子証明書は失効しています（引越しなどで住所や氏名が変わると失効します）。"
            "市区町村の窓口で再発行を受けてください。",
        ),
        ("expired", "電子証明書の有効期限が切れています。市区町村の窓口で更新してください。"),
        (
            "rogue",
            "この電子証明書は、信頼できる認証局（公的個人認証サービス）が発行したものではありません。",
        ),
    ],
)
def test_card_signature_refusals_have_their_own_message(
    juminhyo, resident, card_settings, card, message
):
    pki = card_settings
    client = Client()
    client.force_login(resident)
    application = _start(client, juminhyo)
    _fill_juminhyo(client, application)
    cleaned = services.validate_answers(
        services.FormDefinition.from_json(application.form_version.definition), application.answers
    ).cleaned
    data = services.submission_signing_bytes(application, cleaned)
    chosen = getattr(pki, card)
    response = client.post(
        f"/apply/{application.pk}/review/",
        {
            "signature": base64.b64encode(chosen.sign(data)).decode(),
            "certificate": chosen.certificate_pem("sign"),
        },
    )
    assert response.status_code == 400
    assert response.context["form_errors"] == {"signature": [message]}
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
    assert application.receipt_number is None


def test_signature_over_other_data_is_refused(juminhyo, resident, card_settings):
    pki = card_settings
    client = Client()
    client.force_login(resident)
    application = _start(client, juminhyo)
    _fill_juminhyo(client, application)
    response = client.post(
        f"/apply/{application.pk}/review/",
        {
            "signature": base64.b64encode(pki.good.sign(b"something else")).decode(),
            "certificate": pki.good.certificate_pem("sign"),
        },
    )
    assert response.status_code == 400
    assert response.context["form_errors"] == {
        "signature": [
            "電子署名が正しくありません。署名したデータが変更されたか、"
            "別のカードで署名された可能性があります。"
        ]
    }
    assert Application.objects.get(pk=application.pk).status == ApplicationStatus.DRAFT


def _submitted(client: Client, procedure) -> Application:
    application = _start(client, procedure)
    application.answers = {"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    application.save()
    return services.application_submit(application=application, actor=None)


def test_withdraw_asks_for_confirmation_first(simple_procedure):
    client = Client()
    application = _submitted(client, simple_procedure)
    detail = client.get(f"/my/applications/{application.pk}/").content.decode()
    withdraw_url = f"/my/applications/{application.pk}/withdraw/"
    assert f'href="{withdraw_url}"' in detail
    # the status page no longer withdraws in one click
    assert (
        client.post(f"/my/applications/{application.pk}/", {"action": "withdraw"}).status_code
        == 405
    )
    page = client.get(withdraw_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>申請を取り下げますか</h1>" in html
    assert "この申請に手数料はかかりません。" in html
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    response = client.post(withdraw_url, {"reason": "不要になった"})
    assert response["Location"] == f"/my/applications/{application.pk}/"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.WITHDRAWN
    assert application.history.latest("at").note == "不要になった"
    assert (
        AuditEntry.objects.filter(
            action="application.withdrawn", target_id=str(application.pk)
        ).count()
        == 1
    )
    # once withdrawn, the confirmation page sends the resident back with the reason
    response = client.get(withdraw_url)
    assert response["Location"] == f"/my/applications/{application.pk}/"


def test_withdraw_confirmation_says_what_happens_to_the_fee(simple_procedure, monkeypatch):
    from machi.procedures import extensions

    client = Client()
    application = _submitted(client, simple_procedure)
    url = f"/my/applications/{application.pk}/withdraw/"
    application.fee_yen = 300
    application.save(update_fields=["fee_yen"])
    # no app says anything about refunds: the page still says what the fee is
    with extensions.application_sections.override({}):
        html = client.get(url).content.decode()
    assert (
        "この申請の手数料は300円です。支払い済みの手数料の扱いは、担当課にお問い合わせください。"
        in html
    )
    # payments contributes the refund rule through the "withdraw_confirm" place
    monkeypatch.setattr(
        extensions, "render_to_string", lambda name, context, request=None: f"<p>{name}</p>"
    )
    section = extensions.ApplicationSection(
        place="withdraw_confirm", template_name="refund.html", context=lambda r, a, c: {}
    )
    with extensions.application_sections.override({"refund": section}):
        html = client.get(url).content.decode()
    assert "<p>refund.html</p>" in html
    assert "担当課にお問い合わせください" not in html


def test_correction_request_and_answer(simple_procedure, kakogawa_handler):
    import datetime

    from django.utils import timezone

    client = Client()
    application = _start(client, simple_procedure)
    application.answers = {"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    application.save()
    services.application_submit(application=application, actor=None)
    services.application_transition(
        application=application, to_status=ApplicationStatus.IN_REVIEW, actor=kakogawa_handler
    )
    services.application_request_correction(
        application=application,
        actor=kakogawa_handler,
        message="通数を確認してください。",
        fields=["main.copies"],
        deadline=timezone.localdate() + datetime.timedelta(days=7),
    )
    page = client.get(f"/my/applications/{application.pk}/").content.decode()
    assert "通数を確認してください。" in page
    response = client.post(
        f"/my/applications/{application.pk}/correction/",
        {"main.name": "太郎", "main.copies": "3", "confirm.agree": "1", "note": "3通に直しました"},
    )
    assert response.status_code == 302, response.content.decode()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW
    assert application.cleaned["main"]["copies"] == 3
    assert application.corrections.get().answered_at is not None


def test_new_form_version_does_not_change_submitted_applications(simple_procedure):
    started = services.application_start(procedure=simple_procedure, applicant=None)
    application = started.application
    application.answers = {"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    application.save()
    services.application_submit(application=application, actor=None)
    changed = {**SIMPLE_FORM, "steps": [SIMPLE_FORM["steps"][0]]}
    services.form_version_create(
        actor=None, procedure=simple_procedure, definition=changed, publish=True
    )
    application.refresh_from_db()
    assert application.form_version.number == 1
    assert len(application.form_version.definition["steps"]) == 2
    assert services.current_form_version(simple_procedure).number == 2


FILE_FORM = {
    "schema": 1,
    "steps": [
        {
            "key": "docs",
            "title": {"ja": "添付書類"},
            "fields": [
                {
                    "key": "certificate",
                    "type": "file",
                    "label": {"ja": "就労証明書"},
                    "required": True,
                    "accept": ["application/pdf"],
                }
            ],
        }
    ],
}


def test_refused_upload_says_only_why(kakogawa, shimin):
    """A refused file is not also reported as missing ("ファイルを添付してください")."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    procedure = services.procedure_create(
        actor=None,
        municipality_code=kakogawa.code,
        slug="docs",
        name="書類の提出",
        channels=["online"],
        is_published=True,
    )
    services.form_version_create(
        actor=None, procedure=procedure, definition=FILE_FORM, publish=True
    )
    client = Client()
    application = _start(client, procedure)
    upload = SimpleUploadedFile("memo.pdf", b"just some text", content_type="application/pdf")
    response = client.post(f"/apply/{application.pk}/docs/", {"docs.certificate": upload})
    assert response.status_code == 400
    html = response.content.decode()
    refused = "この種類のファイルは受け付けられません。受け付けるのは PDF です。"
    assert field_errors(html, "f-docs-certificate") == [refused]
    assert summary_errors(html) == [f"就労証明書: {refused}"]
    application.refresh_from_db()
    assert application.answers["docs"] == {"certificate": []}
    # nothing attached at all: then (and only then) the field asks for a file
    response = client.post(f"/apply/{application.pk}/docs/", {})
    assert field_errors(response.content.decode(), "f-docs-certificate") == [
        "ファイルを添付してください。"
    ]
