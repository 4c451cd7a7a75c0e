"""What an application stores and what the application endpoints accept (issue 7: 7, 8, 10, 16)."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from machi.core.exceptions import InvalidInput, NotFound
from machi.core.pagination import MAX_OFFSET
from machi.files.tests.builders import plain_pdf
from machi.procedures import services
from machi.procedures.models import Application, ReceiptCounter
from machi.procedures.states import ApplicationStatus

pytestmark = pytest.mark.django_db

VALID: dict[str, Any] = {"main": {"name": "API 太郎", "copies": 2}, "confirm": {"agree": True}}


def _payload(answers=None, **extra):
    return {
        "municipality_code": "282103",
        "procedure": "simple",
        "answers": answers or VALID,
        "contact_email": "api@example.jp",
        **extra,
    }


def _post(client, payload, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/applications", payload, content_type="application/json", **headers)


# --- 7. Only the defined answers are stored ---------------------------------------------------


def test_api_stores_only_the_fields_the_form_defines(simple_procedure):
    answers = {
        "main": {
            "name": "API 太郎",
            "copies": 2,
            "evil": "x" * 5000,
            "email": {"nested": "not a text"},
        },
        "confirm": {"agree": True, "extra": [1, 2, 3]},
        "unknown_step": {"a": "b"},
    }
    response = _post(Client(), _payload(answers))
    assert response.status_code == 201, response.content
    application = Application.objects.get(pk=response.json()["id"])
    assert application.answers == {
        "main": {"name": "API 太郎", "copies": 2},
        "confirm": {"agree": True},
    }
    assert application.cleaned == {
        "main": {"name": "API 太郎", "email": None, "copies": 2},
        "confirm": {"agree": True},
    }


def test_a_draft_step_keeps_only_its_defined_fields(simple_procedure):
    started = services.application_start(procedure=simple_procedure, applicant=None)
    services.application_save_step(
        application=started.application,
        step_key="main",
        step_answers={"name": "加古川 太郎", "copies": "七", "raw_post": {"csrf": "x"}},
    )
    stored = Application.objects.get(pk=started.application.pk)
    # Invalid but defined answers stay (the applicant corrects them); nothing else does.
    assert stored.answers == {"main": {"name": "加古川 太郎", "copies": "七"}}


def test_submit_prunes_answers_written_before(simple_procedure):
    started = services.application_start(procedure=simple_procedure, applicant=None)
    Application.objects.filter(pk=started.application.pk).update(
        answers={**VALID, "junk": {"a": 1}, "main": {**VALID["main"], "b": "c"}}
    )
    started.application.refresh_from_db()
    submitted = services.application_submit(application=started.application, actor=None)
    submitted.refresh_from_db()
    assert submitted.answers == VALID


def test_an_oversized_api_body_is_refused_with_413_before_parsing(simple_procedure, settings):
    settings.MACHI_APPLICATION_MAX_BODY_BYTES = 2048
    big = _payload({"main": {"name": "API 太郎", "copies": 2, "pad": "あ" * 2000}})
    response = _post(Client(), big)
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "payload_too_large",
            "message": "送信された内容が大きすぎます（上限 2 KB）。",
            "fields": {},
        }
    }
    assert Application.objects.count() == 0
    # Just under the limit is accepted.
    assert len(json.dumps(_payload()).encode()) < 2048
    assert _post(Client(), _payload()).status_code == 201


def test_anonymous_submissions_are_rate_limited_per_address(simple_procedure, settings, resident):
    settings.MACHI_APPLICATION_RATE_LIMIT = "2/m"
    client = Client(REMOTE_ADDR="198.51.100.7")
    assert [_post(client, _payload()).status_code for _ in range(2)] == [201, 201]
    refused = _post(client, _payload())
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert Application.objects.count() == 2
    # Another address has its own budget; a signed-in resident is not limited by it.
    assert _post(Client(REMOTE_ADDR="198.51.100.8"), _payload()).status_code == 201
    signed_in = Client(REMOTE_ADDR="198.51.100.7")
    signed_in.force_login(resident)
    assert _post(signed_in, _payload()).status_code == 201
    assert Application.objects.count() == 4


# --- 7. The HTML flow has the API's limits -----------------------------------------------------

START_URL = "/procedures/282103/simple/start/"


def _page_text(response) -> tuple[str, str]:
    """The refusal page's heading and alert, as text."""
    html = response.content.decode()
    heading = re.search(r"<h1>(.*?)</h1>", html, re.S)
    alert = re.search(r'<p role="alert">(.*?)</p>', html, re.S)
    assert heading and alert, html
    return heading.group(1).strip(), alert.group(1).strip()


def _draft_ready_to_submit(client: Client) -> Application:
    assert client.post(START_URL).status_code == 302
    application = Application.objects.latest("created_at")
    client.post(f"/apply/{application.pk}/main/", {"main.name": "窓口 花子", "main.copies": "1"})
    client.post(f"/apply/{application.pk}/confirm/", {"confirm.agree": "1"})
    return application


def test_anonymous_html_starts_share_the_api_budget_per_address(simple_procedure, settings):
    settings.MACHI_APPLICATION_RATE_LIMIT = "3/m"
    address = "198.51.100.21"
    assert _post(Client(REMOTE_ADDR=address), _payload()).status_code == 201
    assert [Client(REMOTE_ADDR=address).post(START_URL).status_code for _ in range(2)] == [302, 302]
    assert Application.objects.count() == 3
    refused = Client(REMOTE_ADDR=address).post(START_URL)
    assert refused.status_code == 429
    assert _page_text(refused) == (
        "しばらくしてからお試しください",
        "短い時間に申請が多すぎます。しばらくしてからもう一度お試しください。",
    )
    assert '<a href="/procedures/282103/simple/">申請のページに戻る</a>' in refused.content.decode()
    assert Application.objects.count() == 3  # nothing saved
    # The API is refused too (one budget), another address is not.
    assert _post(Client(REMOTE_ADDR=address), _payload()).status_code == 429
    assert Client(REMOTE_ADDR="198.51.100.22").post(START_URL).status_code == 302
    assert Application.objects.count() == 4


def test_an_anonymous_html_submission_over_the_rate_stays_a_draft(simple_procedure, settings):
    settings.MACHI_APPLICATION_RATE_LIMIT = "2/m"
    client = Client(REMOTE_ADDR="198.51.100.31")
    application = _draft_ready_to_submit(client)  # the start counts; the steps do not
    assert Client(REMOTE_ADDR="198.51.100.31").post(START_URL).status_code == 302
    refused = client.post(f"/apply/{application.pk}/review/", {"idempotency_key": "a"})
    assert refused.status_code == 429
    assert _page_text(refused)[1] == (
        "短い時間に申請が多すぎます。しばらくしてからもう一度お試しください。"
    )
    application.refresh_from_db()
    assert (application.status, application.receipt_number) == (ApplicationStatus.DRAFT, None)
    # The same session from another address submits (the budget is the address's).
    elsewhere = Client(REMOTE_ADDR="198.51.100.39")
    elsewhere.cookies = client.cookies
    response = elsewhere.post(f"/apply/{application.pk}/review/", {"idempotency_key": "a"})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED


def test_signed_in_residents_are_not_limited_by_the_address_budget(
    simple_procedure, settings, resident
):
    settings.MACHI_APPLICATION_RATE_LIMIT = "1/m"
    client = Client(REMOTE_ADDR="198.51.100.41")
    client.force_login(resident)
    assert [client.post(START_URL).status_code for _ in range(3)] == [302, 302, 302]


def test_an_oversized_html_submission_is_refused_with_a_page(simple_procedure, settings):
    client = Client(REMOTE_ADDR="198.51.100.51")
    application = _draft_ready_to_submit(client)
    settings.MACHI_APPLICATION_MAX_BODY_BYTES = 2048
    settings.MACHI_APPLICATION_RATE_LIMIT = "1/m"  # already used by the start: not counted
    big = client.post(
        f"/apply/{application.pk}/review/", {"idempotency_key": "k", "pad": "x" * 4000}
    )
    assert big.status_code == 413
    assert _page_text(big) == (
        "申請できませんでした",
        "送信された内容が大きすぎます（上限 2 KB）。",
    )
    back = f'<a href="/apply/{application.pk}/review/">入力内容の確認に戻る</a>'
    assert back in big.content.decode()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
    too_big_start = Client(REMOTE_ADDR="198.51.100.52").post(START_URL, {"pad": "x" * 4000})
    assert too_big_start.status_code == 413
    assert Application.objects.count() == 1


# --- 8. Idempotency ---------------------------------------------------------------------------


def test_one_key_sequentially_gives_one_201_and_the_same_body(simple_procedure):
    client = Client()
    responses = [_post(client, _payload(), key="same-key") for _ in range(5)]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200]
    assert all(r.json() == responses[0].json() for r in responses)
    assert Application.objects.count() == 1  # no orphan drafts
    assert ReceiptCounter.objects.get().last_number == 1


def test_a_refused_submission_leaves_no_draft(simple_procedure):
    response = _post(Client(), _payload({"main": {"name": ""}}), key="bad")
    assert response.status_code == 422
    assert Application.objects.count() == 0
    # The key was not used up: a corrected retry with it succeeds.
    assert _post(Client(), _payload(), key="bad").status_code == 201


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="threads need a real database server: SQLite's in-memory test database is per thread",
)
def test_fifty_parallel_submissions_with_one_key(simple_procedure, settings):
    settings.MACHI_APPLICATION_RATE_LIMIT = "1000/m"  # one address sends all fifty
    count = 50
    barrier = threading.Barrier(count)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            client = Client()
            barrier.wait()
            response = _post(client, _payload(), key="parallel")
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _body in results)
    assert statuses == [200] * (count - 1) + [201]
    first = next(body for status, body in results if status == 201)
    assert all(body == first for _status, body in results)
    assert Application.objects.count() == 1
    assert ReceiptCounter.objects.get().last_number == 1


# --- 10. Bounds and expiry --------------------------------------------------------------------


def test_a_huge_offset_is_a_clear_422(db):
    response = Client().get("/api/v1/procedures", {"offset": str(2**63)})
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "invalid_request",
            "message": "リクエストの内容に誤りがあります。",
            "fields": {"offset": [f"{MAX_OFFSET}以下の値を指定してください。"]},
        }
    }


def test_the_largest_offset_is_answered(simple_procedure):
    response = Client().get("/api/v1/procedures", {"offset": str(MAX_OFFSET)})
    assert response.status_code == 200
    assert response.json() == []


def test_resume_links_expire_after_the_setting(simple_procedure, settings):
    settings.MACHI_RESUME_LINK_DAYS = 30
    started = services.application_start(procedure=simple_procedure, applicant=None)
    token = started.resume_token
    assert token
    now = timezone.now()
    Application.objects.filter(pk=started.application.pk).update(
        updated_at=now - dt.timedelta(days=29, hours=23)
    )
    assert services.application_resume(token=token).pk == started.application.pk
    Application.objects.filter(pk=started.application.pk).update(
        updated_at=now - dt.timedelta(days=30, minutes=1)
    )
    with pytest.raises(NotFound) as excinfo:
        services.application_resume(token=token)
    assert (
        str(excinfo.value.message) == "再開用のリンクが無効です。期限切れか、すでに申請済みです。"
    )


# --- 16. The services build their own attachment look-up ----------------------------------------

FILE_FORM = {
    "schema": 1,
    "steps": [
        {
            "key": "main",
            "title": {"ja": "書類"},
            "fields": [
                {"key": "proof", "type": "file", "label": {"ja": "証明書"}, "required": True}
            ],
        }
    ],
}


@pytest.fixture
def file_procedure(kakogawa):
    procedure = services.procedure_create(
        actor=None,
        municipality_code=kakogawa.code,
        slug="with-file",
        name="添付のある手続",
        channels=["online"],
        is_published=True,
    )
    services.form_version_create(
        actor=None, procedure=procedure, definition=FILE_FORM, publish=True
    )
    return procedure


def _upload(application):
    return services.attachment_store(
        application=application,
        path="main.proof",
        upload=SimpleUploadedFile("proof.pdf", plain_pdf(), content_type="application/pdf"),
        actor=None,
    )


def test_another_applications_file_is_refused_without_a_lookup_passed(file_procedure):
    mine = services.application_start(procedure=file_procedure, applicant=None).application
    other = services.application_start(procedure=file_procedure, applicant=None).application
    foreign = _upload(other)
    result = services.application_save_step(
        application=mine, step_key="main", step_answers={"proof": [str(foreign.pk)]}
    )
    assert list(result.errors) == ["main.proof"]
    with pytest.raises(InvalidInput) as excinfo:
        services.application_submit(application=mine, actor=None)
    assert list(excinfo.value.field_errors) == ["main.proof"]
    mine.refresh_from_db()
    assert mine.status == ApplicationStatus.DRAFT
    # The application's own file passes.
    own = _upload(mine)
    services.application_save_step(
        application=mine, step_key="main", step_answers={"proof": [str(own.pk)]}
    )
    assert services.application_submit(application=mine, actor=None).status == "submitted"
