"""Pinned query counts: the catalog (API and page) and a submission do not grow per row."""

from __future__ import annotations

import pytest
from django.test import Client

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


def test_a_submission_takes_a_fixed_number_of_queries(simple_procedure, django_assert_num_queries):
    # Procedures' own work only: higher apps' hooks (fees, cases) add their queries on top.
    application = _filled_draft(simple_procedure)
    # savepoint; lock the row; its form version; its procedure; receipt counter (lock; first
    # of the year: savepoint, insert, release; update); status change; the row; audit entry
    # (savepoint, chain head, entry, head update, release); release
    with application_hooks.override({}), django_assert_num_queries(17):
        services.application_submit(application=application, actor=None)
    assert Application.objects.get(pk=application.pk).status == "submitted"


def test_an_api_submission_takes_a_fixed_number_of_queries(
    simple_procedure, django_assert_num_queries
):
    body = {
        "municipality_code": "282103",
        "procedure": "simple",
        "answers": {"main": {"name": "API 太郎", "copies": 2}, "confirm": {"agree": True}},
    }
    client = Client()
    with application_hooks.override({}), django_assert_num_queries(31):
        response = client.post("/api/v1/applications", body, content_type="application/json")
    assert response.status_code == 201
