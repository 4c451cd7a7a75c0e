"""Answering a correction request (補正): only the flagged answers change, in words, re-signed."""

from __future__ import annotations

import base64
import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from machi.procedures import services
from machi.procedures.models import Application, ApplicationStatus
from machi.procedures.tests.conftest import JUMINHYO_ANSWERS

pytestmark = pytest.mark.django_db


def _request_correction(application: Application, handler, fields: list[str]) -> None:
    services.application_transition(
        application=application, to_status=ApplicationStatus.IN_REVIEW, actor=handler
    )
    services.application_request_correction(
        application=application,
        actor=handler,
        message="内容を確認してください。",
        fields=fields,
        deadline=timezone.localdate() + datetime.timedelta(days=7),
    )


@pytest.fixture
def submitted(simple_procedure, kakogawa_handler):
    client = Client()
    client.post("/procedures/282103/simple/start/")
    application = Application.objects.get()
    application.answers = {"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    application.save()
    services.application_submit(application=application, actor=None)
    _request_correction(application, kakogawa_handler, ["main.copies"])
    return client, application


def test_page_names_the_flagged_fields_and_shows_the_rest_read_only(submitted):
    client, application = submitted
    html = client.get(f"/my/applications/{application.pk}/correction/").content.decode()
    flagged = re.search(r'<ul class="flagged-fields">(.*?)</ul>', html, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", flagged) == ["申込内容：通数"]
    assert "main.copies" not in re.sub(r'(name|for|id|href)="[^"]*"', "", html)
    # only the flagged field is an input; the others are shown as text
    assert re.findall(r'<input[^>]* name="(main\.[a-z]+|confirm\.[a-z]+)"', html) == ["main.copies"]
    unchanged = re.search(r'<dl class="summary" id="unchanged">(.*?)</dl>', html, re.S).group(1)
    assert re.findall(r"<dt>(.*?)</dt>", unchanged) == [
        "氏名",
        "メールアドレス",
        "内容に間違いはありません",
    ]


def test_crafted_post_cannot_change_unflagged_fields(submitted):
    client, application = submitted
    response = client.post(
        f"/my/applications/{application.pk}/correction/",
        {
            "main.name": "次郎",
            "main.email": "jiro@example.jp",
            "main.copies": "3",
            "note": "3通に直しました",
        },
    )
    assert response["Location"] == f"/my/applications/{application.pk}/"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW
    assert application.answers == {
        "main": {"name": "太郎", "copies": "3"},
        "confirm": {"agree": True},
    }
    assert application.cleaned["main"] == {"name": "太郎", "email": None, "copies": 3}
    assert application.corrections.get().answer_note == "3通に直しました"


def test_flagged_field_errors_are_shown_and_nothing_changes(submitted):
    client, application = submitted
    response = client.post(
        f"/my/applications/{application.pk}/correction/", {"main.copies": "9", "main.name": ""}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert re.findall(r'<a href="#f-main-copies">(.*?)</a>', html) == [
        "通数: 1以上5以下の数を入力してください。"
    ]
    application.refresh_from_db()
    assert application.status == ApplicationStatus.CORRECTION_REQUESTED
    assert application.answers["main"] == {"name": "太郎", "copies": "1"}


@pytest.fixture
def signed(juminhyo, resident, card_settings, kakogawa_handler):
    client = Client()
    client.force_login(resident)
    client.post("/procedures/282103/juminhyo/start/")
    application = Application.objects.get()
    for step, answers in JUMINHYO_ANSWERS.items():
        services.application_save_step(application=application, step_key=step, step_answers=answers)
    cleaned = services.validate_answers(
        services.FormDefinition.from_json(application.form_version.definition), application.answers
    ).cleaned
    data = services.submission_signing_bytes(application, cleaned)
    services.application_submit(
        application=application,
        actor=resident,
        signature=services.CardSignature(
            signature_b64=base64.b64encode(card_settings.good.sign(data)).decode(),
            certificate_pem=card_settings.good.certificate_pem("sign"),
        ),
    )
    application.refresh_from_db()
    _request_correction(application, kakogawa_handler, ["request.purpose"])
    return client, application


def test_changing_a_signed_answer_asks_for_a_new_signature(signed, card_settings):
    client, application = signed
    evidence = application.signature_evidence_id
    html = client.get(f"/my/applications/{application.pk}/correction/").content.decode()
    assert "この申請はマイナンバーカードで電子署名されています。" in html
    flagged = re.search(r'<ul class="flagged-fields">(.*?)</ul>', html, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", flagged) == ["請求の内容：使いみち"]
    response = client.post(
        f"/my/applications/{application.pk}/correction/", {"request.purpose": "年金の手続"}
    )
    sign_url = f"/my/applications/{application.pk}/correction/sign/"
    assert response["Location"] == sign_url
    # nothing is sent before the new signature
    application.refresh_from_db()
    assert application.status == ApplicationStatus.CORRECTION_REQUESTED
    assert application.answers["request"]["purpose"] == "勤務先への提出"
    assert application.signature_evidence_id == evidence
    page = client.get(sign_url).content.decode()
    rows = re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td><td>(.*?)</td></tr>', page)
    assert rows == [("使いみち", "勤務先への提出", "年金の手続")]
    # a signature over the old content is refused and nothing changes
    old_bytes = services.submission_signing_bytes(application, application.cleaned)
    response = client.post(
        sign_url,
        {
            "signature": base64.b64encode(card_settings.good.sign(old_bytes)).decode(),
            "certificate": card_settings.good.certificate_pem("sign"),
        },
    )
    assert response.status_code == 400
    assert response.context["form_errors"] == {
        "signature": [
            "電子署名が正しくありません。署名したデータが変更されたか、"
            "別のカードで署名された可能性があります。"
        ]
    }
    application.refresh_from_db()
    assert application.status == ApplicationStatus.CORRECTION_REQUESTED
    assert application.signature_evidence_id == evidence
    # signed over the shown bytes: the correction is sent with a new signature
    signing = base64.b64decode(
        re.search(r'id="id_signing_data" readonly rows="3">([^<]+)<', page).group(1)
    )
    response = client.post(
        sign_url,
        {
            "signature": base64.b64encode(card_settings.good.sign(signing)).decode(),
            "certificate": card_settings.good.certificate_pem("sign"),
        },
    )
    assert response["Location"] == f"/my/applications/{application.pk}/"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW
    assert application.answers["request"]["purpose"] == "年金の手続"
    assert application.signature_evidence_id not in ("", evidence)
    assert application.corrections.get().signature_evidence_id == application.signature_evidence_id
    # the pending answers are gone from the session: the sign page is not offered again
    assert client.get(sign_url)["Location"] == f"/my/applications/{application.pk}/"


def test_unchanged_signed_answer_needs_no_new_signature(signed):
    client, application = signed
    response = client.post(
        f"/my/applications/{application.pk}/correction/",
        {"request.purpose": "勤務先への提出", "note": "そのままで正しいです"},
    )
    assert response["Location"] == f"/my/applications/{application.pk}/"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.IN_REVIEW
