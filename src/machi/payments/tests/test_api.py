"""JSON API: an application's fee and payment status, for its applicant only."""

from __future__ import annotations

import pytest

from machi.payments import services

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.payments.tests.urls")]


def test_payment_status_for_the_applicant(make_procedure, make_application, applicant_client):
    application = make_application(make_procedure(fee=300))
    client = applicant_client(application)
    url = f"/payments-test-api/applications/{application.pk}/payment"
    data = client.get(url).json()
    assert data["fee_yen"] == 600
    assert data["due_yen"] == 600
    assert data["can_pay_now"] is True
    assert data["latest_payment"] is None
    assert data["lines"][0]["quantity"] == 2
    services.payment_start(application=application, actor=None, site_url="http://testserver")
    data = client.get(url).json()
    assert data["latest_payment"]["status"] == "pending"
    assert data["latest_payment"]["amount_yen"] == 600


def test_payment_status_is_hidden_from_others(make_procedure, make_application, client):
    application = make_application(make_procedure(fee=300))
    response = client.get(f"/payments-test-api/applications/{application.pk}/payment")
    assert response.status_code == 404
