"""Payments' sections on procedures' pages, and the payment-return service."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from machi.payments import sections, services
from machi.payments.models import PaymentStatus
from machi.procedures import extensions
from machi.procedures.extensions import application_sections, render_sections
from machi.procedures.models import ApplicationStatus, PaymentTiming

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.payments.tests.urls")]


def _pay(application, sandbox):
    payment = services.payment_start(application=application, actor=None)
    _tx, headers, body = sandbox.complete(payment.provider_ref, outcome="pay")
    services.webhook_receive(provider_id="sandbox", headers=headers, body=body)
    payment.refresh_from_db()
    return payment


def _text(html: str) -> str:
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_payments_register_their_sections_and_case_link():
    assert application_sections.get("payments.review_pay") is sections.REVIEW_PAY
    assert application_sections.get("payments.detail_fee") is sections.DETAIL_FEE
    from machi.cases.extensions import case_links

    assert case_links.get("payments.cash") is sections.CASH_LINK


def test_review_section_only_when_payment_is_required(make_procedure, make_application):
    draft = make_application(make_procedure(fee=300))
    assert render_sections("review", request=None, application=draft) == ""
    html = render_sections(
        "review",
        request=None,
        application=draft,
        page_context={"payment_required": True, "incomplete": False},
    )
    assert f'href="/payments/pay/{draft.pk}/"' in html
    assert _text(html).startswith("手数料の支払い この手続は、申請の前に手数料をキャッシュレスで")
    assert (
        render_sections(
            "review",
            request=None,
            application=draft,
            page_context={"payment_required": True, "incomplete": True},
        )
        == ""
    )


def test_detail_section_before_issuance_until_completed(make_procedure, make_application):
    procedure = make_procedure(fee=300, timing=PaymentTiming.BEFORE_ISSUANCE)
    application = make_application(procedure, status=ApplicationStatus.IN_REVIEW)
    html = render_sections("resident_detail", request=None, application=application)
    assert _text(html) == "手数料 書類の交付の前に手数料を支払います。 支払い状況を見る・支払う"
    application.status = ApplicationStatus.COMPLETED
    assert render_sections("resident_detail", request=None, application=application) == ""


@pytest.fixture
def in_review(make_procedure, make_application):
    procedure = make_procedure(fee=300, timing=PaymentTiming.BEFORE_ISSUANCE)
    return make_application(procedure, status=ApplicationStatus.IN_REVIEW)


def _withdraw_text(application) -> str:
    context = sections.withdraw_fee_context(None, application, {})
    assert context is not None
    return _text(render_to_string("payments/sections/withdraw_fee.html", context))


def test_withdrawal_says_a_paid_fee_is_refunded_and_how_much(in_review, sandbox):
    _pay(in_review, sandbox)
    assert _withdraw_text(in_review) == (
        "お支払い済みの手数料 600円 は、取り下げると自動で全額返金されます。"
    )


def test_withdrawal_says_nothing_is_owed_when_unpaid(in_review):
    assert _withdraw_text(in_review) == (
        "手数料はまだ支払われていないため、返金はありません。取り下げた後に支払う必要もありません。"
    )


def test_withdrawal_says_an_open_payment_is_cancelled(in_review):
    services.payment_start(application=in_review, actor=None)
    assert _withdraw_text(in_review) == (
        "支払いの途中の手続は取り消されます。お金は引き落とされません。"
    )


def test_withdrawal_sends_counter_cash_to_the_counter(in_review, kakogawa_admin):
    services.payment_record_cash(
        application_id=in_review.pk, actor=kakogawa_admin, amount_yen=600, receipt_number="R-1"
    )
    assert _withdraw_text(in_review) == (
        "窓口で現金で支払った手数料 600円 は自動では返金されません。"
        "返金は窓口にお問い合わせください。"
    )


def test_withdrawal_of_a_free_application_shows_nothing(make_procedure, make_application):
    application = make_application(make_procedure(fee=0), status=ApplicationStatus.IN_REVIEW)
    application.fee_yen = 0
    assert sections.withdraw_fee_context(None, application, {}) is None


def test_withdraw_section_registers_once_procedures_offers_the_place(monkeypatch):
    monkeypatch.setattr(extensions, "PLACES", (*extensions.PLACES, "withdraw_confirm"))
    section = sections.withdraw_section()
    assert section is not None
    assert section.place == "withdraw_confirm"
    assert section.template_name == "payments/sections/withdraw_fee.html"


# --- the payer's return (service) -------------------------------------------------------------


def test_return_after_paying_first_submits_the_draft(make_procedure, make_application, sandbox):
    draft = make_application(make_procedure(fee=300))
    payment = _pay(draft, sandbox)
    outcome = services.payment_return(payment=payment, actor=None)
    assert (outcome.paid, outcome.submitted, outcome.submit_error) == (True, True, "")
    draft.refresh_from_db()
    assert draft.status == ApplicationStatus.SUBMITTED
    # Coming back again (a reload) submits nothing twice.
    again = services.payment_return(payment=payment, actor=None)
    assert again.submitted is True
    draft.refresh_from_db()
    assert draft.status == ApplicationStatus.SUBMITTED


def test_return_of_an_unpaid_payment_submits_nothing(make_procedure, make_application):
    draft = make_application(make_procedure(fee=300))
    payment = services.payment_start(application=draft, actor=None)
    outcome = services.payment_return(payment=payment, actor=None)
    assert (outcome.paid, outcome.submitted) == (False, False)
    assert outcome.payment.status == PaymentStatus.PENDING
    draft.refresh_from_db()
    assert draft.status == ApplicationStatus.DRAFT


def test_return_waits_for_a_card_signature(make_procedure, make_application, sandbox):
    procedure = make_procedure(fee=300, assurance_level="card_signature")
    draft = make_application(procedure)
    outcome = services.payment_return(payment=_pay(draft, sandbox), actor=None)
    assert (outcome.paid, outcome.submitted, outcome.needs_signature) == (True, False, True)
    draft.refresh_from_db()
    assert draft.status == ApplicationStatus.DRAFT


def test_return_reports_a_refused_submission(make_procedure, make_application, sandbox):
    draft = make_application(make_procedure(fee=300))
    payment = _pay(draft, sandbox)
    draft.answers = {"request": {"copies": "3"}}  # now the paid fee no longer covers it
    draft.save()
    outcome = services.payment_return(payment=payment, actor=None)
    assert outcome.submitted is False
    assert outcome.submit_error == "手数料（900円）のお支払いが済んでいないため、申請できません。"
    draft.refresh_from_db()
    assert draft.status == ApplicationStatus.DRAFT
