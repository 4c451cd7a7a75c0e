"""The staff payments page: tenant isolation, reconciliation shown, CSV download."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from machi.core.models import AuditEntry, Role
from machi.core.tests.factories import staff_member
from machi.payments import services
from machi.payments.models import SandboxTransaction
from machi.procedures.models import ApplicationStatus, PaymentTiming

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.payments.tests.urls")]
SITE = "http://testserver"


@pytest.fixture
def payments(make_procedure, make_application, sandbox, kakogawa, kobe):
    made = {}
    for municipality in (kakogawa, kobe):
        procedure = make_procedure(
            fee=300, timing=PaymentTiming.BEFORE_ISSUANCE, municipality=municipality
        )
        application = make_application(procedure, status=ApplicationStatus.SUBMITTED)
        payment = services.payment_start(application=application, actor=None, site_url=SITE)
        _tx, headers, body = sandbox.complete(payment.provider_ref, outcome="pay")
        services.webhook_receive(provider_id="sandbox", headers=headers, body=body)
        made[municipality.code] = payment
    return made


def _page(client, code, **extra):
    return client.get(
        reverse("payments-staff:index"),
        {"municipality": code, "day": timezone.localdate().isoformat(), **extra},
    )


def test_admin_sees_own_payments_and_reconciliation(staff_client, kakogawa_admin, payments):
    client = staff_client(kakogawa_admin)
    response = _page(client, "282103")
    assert response.status_code == 200
    html = response.content.decode()
    assert payments["282103"].provider_ref in html
    assert payments["281000"].provider_ref not in html
    assert "すべて一致しました" in html
    assert html.count("<h1") == 1
    default = client.get(reverse("payments-staff:index"))
    assert default.status_code == 200
    assert payments["282103"].provider_ref in default.content.decode()


def test_other_municipality_is_refused(staff_client, kakogawa_admin, payments):
    response = _page(staff_client(kakogawa_admin), "281000")
    assert response.status_code == 400
    assert payments["281000"].provider_ref not in response.content.decode()
    csv = staff_client(kakogawa_admin).get(
        reverse("payments-staff:export"),
        {"municipality": "281000", "day": timezone.localdate().isoformat()},
    )
    assert csv.status_code == 400


def test_kobe_admin_does_not_see_kakogawa(staff_client, kobe_admin, payments):
    client = staff_client(kobe_admin)
    html = client.get(reverse("payments-staff:index")).content.decode()
    assert payments["281000"].provider_ref in html
    assert payments["282103"].provider_ref not in html


def test_approver_may_see(staff_client, kakogawa, payments):
    approver = staff_member("kakogawa-approver", kakogawa, Role.APPROVER)
    assert _page(staff_client(approver), "282103").status_code == 200


def test_prefecture_admin_sees_every_municipality_of_theirs(
    staff_client, prefecture_admin, payments
):
    client = staff_client(prefecture_admin)
    for code, payment in payments.items():
        response = _page(client, code)
        assert response.status_code == 200
        assert payment.provider_ref in response.content.decode()


def test_other_prefecture_admin_sees_nothing(staff_client, osaka_admin, payments):
    assert _page(staff_client(osaka_admin), "282103").status_code == 400


def test_case_handler_is_forbidden(staff_client, kakogawa_handler, payments):
    assert _page(staff_client(kakogawa_handler), "282103").status_code == 403


def test_anonymous_is_sent_to_sign_in(client, payments):
    response = client.get(reverse("payments-staff:index"))
    assert response.status_code == 302
    assert reverse("web:staff-login") in response["Location"]


def test_discrepancies_are_shown(staff_client, kakogawa_admin, payments):
    SandboxTransaction.objects.filter(ref=payments["282103"].provider_ref).update(amount=1)
    html = _page(staff_client(kakogawa_admin), "282103").content.decode()
    assert "金額の不一致" in html


def test_csv_download(staff_client, kakogawa_admin, payments):
    response = staff_client(kakogawa_admin).get(
        reverse("payments-staff:export"),
        {"municipality": "282103", "day": timezone.localdate().isoformat()},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff区分,決済事業者,決済番号")
    lines = text.strip().splitlines()
    assert len(lines) == 2
    assert payments["282103"].provider_ref in lines[1]
    assert "一致" in lines[1]
    assert AuditEntry.objects.filter(
        action="payment.reconciliation_export", municipality_code="282103"
    ).exists()
