"""A fee paid in cash at the counter: recorded by staff, audited, and then issuance proceeds."""

from __future__ import annotations

import pytest
from django.urls import reverse

from machi.cases.extensions import CaseLinkTarget, links_for
from machi.core.exceptions import Conflict, Forbidden, InvalidInput
from machi.core.models import AuditEntry, Role
from machi.core.tests.factories import staff_member
from machi.payments import services
from machi.payments.models import Payment, PaymentStatus
from machi.payments.providers import CASH_PROVIDER
from machi.payments.selectors import paid_yen
from machi.procedures import services as procedure_services
from machi.procedures.models import ApplicationStatus, PaymentTiming

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.payments.tests.urls")]


@pytest.fixture
def submitted(make_procedure, make_application):
    procedure = make_procedure(fee=300, timing=PaymentTiming.BEFORE_ISSUANCE)
    return make_application(procedure, status=ApplicationStatus.IN_REVIEW)


@pytest.fixture
def clerk(kakogawa):
    return staff_member("kakogawa-clerk", kakogawa, Role.COUNTER_CLERK)


def _record(application, actor, *, amount=600, receipt="R-2026-0001"):
    return services.payment_record_cash(
        application_id=application.pk, actor=actor, amount_yen=amount, receipt_number=receipt
    )


def test_cash_payment_is_recorded_audited_and_lets_issuance_proceed(submitted, clerk):
    payment = _record(submitted, clerk)
    assert payment.provider == CASH_PROVIDER == "cash"
    assert payment.provider_ref == "R-2026-0001"
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount_yen == 600
    assert payment.succeeded_at is not None
    assert paid_yen(submitted) == 600
    entry = AuditEntry.objects.get(action="payment.cash_recorded")
    assert entry.actor == clerk
    assert entry.municipality_code == submitted.municipality_id
    assert entry.detail == {
        "application": str(submitted.pk),
        "amount": 600,
        "receipt_number": "R-2026-0001",
        "receipt": submitted.receipt_number,
    }
    completed = procedure_services.application_transition(
        application=submitted, to_status=ApplicationStatus.COMPLETED, actor=None, outcome="issued"
    )
    assert completed.status == ApplicationStatus.COMPLETED


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({"amount": 300}, InvalidInput, "cash_amount_mismatch"),
        ({"receipt": ""}, InvalidInput, "invalid_receipt_number"),
        ({"receipt": "=cmd|' /C calc'!A0"}, InvalidInput, "invalid_receipt_number"),
        ({"receipt": "R" * 41}, InvalidInput, "invalid_receipt_number"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(submitted, clerk, kwargs, error, code):
    with pytest.raises(error) as excinfo:
        _record(submitted, clerk, **kwargs)
    assert excinfo.value.code == code
    assert Payment.objects.count() == 0
    assert AuditEntry.objects.filter(action="payment.cash_recorded").count() == 0


def test_a_receipt_number_is_used_once_per_municipality(make_procedure, make_application, clerk):
    procedure = make_procedure(fee=300, timing=PaymentTiming.BEFORE_ISSUANCE)
    first = make_application(procedure, status=ApplicationStatus.IN_REVIEW)
    second = make_application(procedure, status=ApplicationStatus.IN_REVIEW)
    _record(first, clerk)
    with pytest.raises(InvalidInput) as excinfo:
        _record(second, clerk)
    assert excinfo.value.code == "receipt_number_used"
    assert excinfo.value.field_errors == {
        "receipt_number": ["この領収書番号はすでに別の申請で使われています。"]
    }
    assert Payment.objects.filter(application_id=second.pk).count() == 0


def test_paid_twice_is_refused(submitted, clerk):
    _record(submitted, clerk)
    with pytest.raises(Conflict) as excinfo:
        _record(submitted, clerk, receipt="R-2026-0002")
    assert excinfo.value.code == "payment_exists"
    assert Payment.objects.filter(application_id=submitted.pk).count() == 1


def test_online_payment_in_progress_is_refused(submitted, clerk):
    started = services.payment_start(application=submitted, actor=None)
    with pytest.raises(Conflict) as excinfo:
        _record(submitted, clerk)
    assert excinfo.value.code == "payment_exists"
    assert list(Payment.objects.filter(application_id=submitted.pk)) == [started]


def test_procedures_paid_before_submission_take_no_cash_record(
    make_procedure, make_application, clerk
):
    procedure = make_procedure(fee=300, timing=PaymentTiming.BEFORE_SUBMISSION)
    application = make_application(procedure, status=ApplicationStatus.IN_REVIEW)
    with pytest.raises(Conflict) as excinfo:
        _record(application, clerk)
    assert excinfo.value.code == "cash_not_applicable"
    assert Payment.objects.count() == 0


def test_other_municipalities_and_the_prefecture_are_refused(
    submitted, kobe_admin, prefecture_admin
):
    for actor in (kobe_admin, prefecture_admin):
        with pytest.raises(Forbidden):
            _record(submitted, actor)
    assert Payment.objects.count() == 0
    assert AuditEntry.objects.filter(action="payment.cash_recorded").count() == 0


def test_counter_cash_is_not_refunded_automatically_nor_through_a_provider(
    submitted, clerk, kakogawa_admin, django_capture_on_commit_callbacks
):
    payment = _record(submitted, clerk)
    with pytest.raises(Conflict) as excinfo:
        services.refund_request(payment=payment, reason="誤り", actor=kakogawa_admin)
    assert excinfo.value.code == "counter_refund"
    with django_capture_on_commit_callbacks(execute=True):
        procedure_services.application_transition(
            application=submitted, to_status=ApplicationStatus.WITHDRAWN, actor=None
        )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.refunds.count() == 0


# --- the staff page and the case link ---------------------------------------------------------


def test_staff_page_records_the_cash_payment(submitted, clerk, staff_client):
    client = staff_client(clerk)
    url = reverse("payments-staff:cash", kwargs={"application_id": submitted.pk})
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="amount_yen"' in html and 'value="600"' in html
    response = client.post(url, {"amount_yen": "600", "receipt_number": "R-2026-0009"})
    assert response.status_code == 302
    assert response["Location"] == url
    after = client.get(url).content.decode()
    assert "窓口で現金で受け取りました（領収書番号 R-2026-0009）。" in after
    assert 'name="amount_yen"' not in after
    assert Payment.objects.get(application_id=submitted.pk).provider_ref == "R-2026-0009"


def test_staff_page_shows_a_wrong_amount_on_its_field(submitted, clerk, staff_client):
    client = staff_client(clerk)
    url = reverse("payments-staff:cash", kwargs={"application_id": submitted.pk})
    response = client.post(url, {"amount_yen": "500", "receipt_number": "R-1"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "受け取った金額が手数料（600円）と一致しません。" in html
    assert 'aria-invalid="true"' in html
    assert Payment.objects.count() == 0


def test_staff_page_refuses_the_prefecture_admin(submitted, prefecture_admin, staff_client):
    client = staff_client(prefecture_admin)
    url = reverse("payments-staff:cash", kwargs={"application_id": submitted.pk})
    assert client.get(url).status_code == 403
    response = client.post(url, {"amount_yen": "600", "receipt_number": "R-2026-0001"})
    assert response.status_code == 403
    assert Payment.objects.count() == 0


def test_case_link_appears_while_cash_can_be_recorded(submitted, clerk, prefecture_admin):
    from machi.cases.models import Case

    case = Case.objects.filter(application_id=submitted.pk).first()
    if case is None:  # the application was made directly in the database
        case = Case(application_id=submitted.pk, municipality_id=submitted.municipality_id)
    url = reverse("payments-staff:cash", kwargs={"application_id": submitted.pk})
    ours = [t for t in links_for(user=clerk, case=case) if t.url == url]
    assert ours == [CaseLinkTarget(label="現金での納付を記録する", url=url)]
    assert [t.url for t in links_for(user=prefecture_admin, case=case)].count(url) == 0
    _record(submitted, clerk)
    assert [t.url for t in links_for(user=clerk, case=case)].count(url) == 0


def test_refunds_refuse_the_prefecture_admin_and_other_municipalities(
    submitted, sandbox, prefecture_admin, kobe_admin, kakogawa_handler
):
    """Item 1: only the municipality's 団体管理者/決裁者 refund; nothing is recorded otherwise."""
    payment = services.payment_start(application=submitted, actor=None)
    _tx, headers, body = sandbox.complete(payment.provider_ref, outcome="pay")
    services.webhook_receive(provider_id="sandbox", headers=headers, body=body)
    payment.refresh_from_db()
    for actor in (prefecture_admin, kobe_admin, kakogawa_handler):
        with pytest.raises(Forbidden):
            services.refund_request(payment=payment, reason="誤り", actor=actor)
    assert payment.refunds.count() == 0
    assert AuditEntry.objects.filter(action="payment.refund_requested").count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


def test_case_link_costs_the_case_page_no_query_when_no_cash_fee_applies(
    make_procedure, make_application, clerk, django_assert_num_queries
):
    from machi.cases.models import Case
    from machi.payments.sections import CASH_LINK

    procedure = make_procedure(fee=300, timing=PaymentTiming.BEFORE_SUBMISSION)
    application = make_application(procedure, status=ApplicationStatus.IN_REVIEW)
    case = Case(application=application, municipality_id=application.municipality_id)
    with django_assert_num_queries(0):
        assert CASH_LINK.target(clerk, case) is None
