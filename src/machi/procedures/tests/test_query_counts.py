"""Pinned query counts: the catalog (API and page) and a submission do not grow per row."""

from __future__ import annotations

import pytest
from django.test import Client

from machi.core.models import AuditEntry
from machi.procedures import search, services
from machi.procedures.extensions import application_hooks
from machi.procedures.models import Application
from machi.procedures.tests.conftest import SIMPLE_FORM

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(simple_procedure, juminhyo, kakogawa):
    """Five published procedures, each with a published form."""
    for number in range(3):
        procedure = services.procedure_create(
            actor=None,
            municipality_code=kakogawa.code,
            slug=f"extra-{number}",
            name=f"追加の手続{number}",
            channels=["online"],
            is_published=True,
        )
        services.form_version_create(
            actor=None, procedure=procedure, definition=SIMPLE_FORM, publish=True
        )


@pytest.mark.parametrize(
    "params", [{}, {"q": "手"}, {"q": "手続"}, {"q": "追加の手続"}, {"q": "手続", "offset": "2"}]
)
def test_catalog_api_is_two_queries_then_one(catalog, django_assert_num_queries, params):
    client = Client()
    search.forget_catalog_indexes()  # this process's first request
    # the catalog index (one query), then the page's rows with their form numbers
    with django_assert_num_queries(2):
        response = client.get("/api/v1/procedures", params)
    assert response.status_code == 200
    expected = {"": 5, "手": 3, "手続": 3, "追加の手続": 3}[params.get("q", "")]
    assert len(response.json()) == expected - int(params.get("offset", 0))
    assert all(entry["form_version"] == 1 for entry in response.json())
    with django_assert_num_queries(1):  # the same page again: the catalog version alone
        again = client.get("/api/v1/procedures", params)
    assert again.json() == response.json()


def test_catalog_api_without_results_is_one_query(catalog, django_assert_num_queries):
    search.forget_catalog_indexes()
    with django_assert_num_queries(1):  # the catalog index
        response = Client().get("/api/v1/procedures", {"q": "存在しない"})
    assert response.json() == []
    with django_assert_num_queries(1):  # the catalog version
        response = Client().get("/api/v1/procedures", {"q": "存在しない"})
    assert response.json() == []


@pytest.mark.parametrize("params", [{}, {"q": "手"}, {"q": "手続"}, {"q": "追加の手続"}])
def test_catalog_page_queries(catalog, django_assert_num_queries, params):
    client = Client()
    client.get("/procedures/")  # the session and language are settled by a first visit
    # municipalities (filter), departments (filter), the count, the page of procedures
    with django_assert_num_queries(4):
        response = client.get("/procedures/", params)
    assert response.status_code == 200


def _filled_draft(procedure):
    started = services.application_start(procedure=procedure, applicant=None)
    services.application_save_step(
        application=started.application,
        step_key="main",
        step_answers={"name": "太郎", "copies": "1"},
    )
    services.application_save_step(
        application=started.application, step_key="confirm", step_answers={"agree": "on"}
    )
    return started.application


# These tests run inside the test's transaction (pytest-django), so a service's outermost
# atomic block is a SAVEPOINT/RELEASE pair here where in production it is BEGIN/COMMIT; the
# statements in between are the same. After-commit work (outbox delivery) never runs here.


def test_a_submission_takes_a_fixed_number_of_queries(simple_procedure, django_assert_num_queries):
    # Procedures' own work only: higher apps' hooks (fees, cases) add their queries on top.
    with application_hooks.override({}):
        # The first submission of the year creates the municipality's receipt sequence
        # (PostgreSQL) and its audit chain head: once, not per submission.
        services.application_submit(application=_filled_draft(simple_procedure), actor=None)
        application = _filled_draft(simple_procedure)
        # savepoint; lock the row (its procedure and form version are in hand); receipt
        # number; the row; status change; audit chain head, entry, head update; release
        with django_assert_num_queries(9):
            services.application_submit(application=application, actor=None)
    assert Application.objects.get(pk=application.pk).status == "submitted"


def test_a_draft_submission_with_its_case_takes_a_fixed_number_of_queries(
    simple_procedure, django_assert_num_queries
):
    """What the HTML flow's review page calls: the draft, its case, its mail, its audit."""
    services.application_submit(application=_filled_draft(simple_procedure), actor=None)
    application = _filled_draft(simple_procedure)
    application.contact_email = "taro@example.jp"
    Application.objects.filter(pk=application.pk).update(contact_email=application.contact_email)
    # savepoint; lock the row; the fee rule (payments); receipt number; the row; status
    # change; case, step timing, case event (cases); outbox and its delivery task (the database
    # task backend writes the task in the same transaction); audit chain head, one INSERT of
    # both entries, head update; release
    with django_assert_num_queries(15):
        services.application_submit(application=application, actor=None)
    assert list(
        AuditEntry.objects.filter(target_id=str(application.pk))
        .order_by("sequence")
        .values_list("action", flat=True)
    ) == ["application.start", "case.create", "application.submit"]  # start: its own, earlier


def test_an_api_submission_takes_a_fixed_number_of_queries(
    simple_procedure, django_assert_num_queries
):
    client = Client()
    assert _post(client, key="warm-up").status_code == 201
    # the procedure (with its municipality); the idempotency key; the current form version;
    # savepoint; the fee rule (payments); receipt number; application; status change; case,
    # step timing, case event (cases); outbox and its delivery task; audit chain head, one
    # INSERT of the three entries, head update; release. The response's history comes from
    # what was written.
    with django_assert_num_queries(17):
        response = _post(client, key="pinned")
    assert response.status_code == 201
    assert response.json()["history"][0]["to_status"] == "submitted"
    application = Application.objects.get(idempotency_key="pinned")
    assert list(
        AuditEntry.objects.filter(target_id=str(application.pk))
        .order_by("sequence")
        .values_list("action", flat=True)
    ) == ["application.start", "case.create", "application.submit"]


def test_the_api_without_hooks_takes_a_fixed_number_of_queries(
    simple_procedure, django_assert_num_queries
):
    client = Client()
    with application_hooks.override({}):
        assert _post(client, key="warm-up").status_code == 201
        # procedure; key; form version; savepoint; receipt number; application; status
        # change; outbox and its delivery task; audit head, entries, head update; release
        with django_assert_num_queries(13):
            response = _post(client, key="pinned")
    assert response.status_code == 201


API_BODY = {
    "municipality_code": "282103",
    "procedure": "simple",
    "contact_email": "taro@example.jp",
    "answers": {"main": {"name": "API 太郎", "copies": 2}, "confirm": {"agree": True}},
}


def _post(client: Client, key: str):
    return client.post(
        "/api/v1/applications", API_BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )
