"""The resident's review page and payment before submission, through the real URL map."""

from __future__ import annotations

import pytest

from machi.payments.models import Payment
from machi.procedures.models import ApplicationStatus

pytestmark = pytest.mark.django_db


def test_review_asks_for_payment_first_then_submits_after_paying(
    make_procedure, make_application, applicant_client
):
    application = make_application(make_procedure(fee=300))
    client = applicant_client(application)
    review = client.get(f"/apply/{application.pk}/review/").content.decode()
    assert f'href="/payments/{application.pk}/' in review or "/payments/" in review
    assert "手数料を支払う" in review
    assert "この内容で申請する" not in review
    # Submitting without paying is refused, and nothing is submitted.
    response = client.post(f"/apply/{application.pk}/review/", {"idempotency_key": "k"})
    assert response.status_code == 400
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
    # Pay in the sandbox: the return page submits the application.
    start = client.post(f"/payments/start/{application.pk}/")
    checkout = start["Location"]
    back = client.post(checkout, {"outcome": "pay"})
    done = client.get(back["Location"])
    assert done.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert Payment.objects.get(application=application).amount_yen == 600
    assert client.get(done["Location"]).status_code == 200
