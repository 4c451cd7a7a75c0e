"""Fee rules: fixed, per copy (from an answer), exemptions, defaults from the procedure."""

from __future__ import annotations

import pytest

from machi.payments.fees import fee_quote, quote_for
from machi.payments.models import FeeKind, FeeRule
from machi.procedures.models import PaymentTiming

pytestmark = pytest.mark.django_db

WELFARE = [{"field": "request.welfare", "equals": True, "reason": "生活保護受給者"}]


def test_default_fixed_fee_from_procedure(make_procedure, make_application):
    procedure = make_procedure(fee=400, per_copy=False)
    quote = fee_quote(make_application(procedure, answers={"request": {"copies": "3"}}))
    assert quote.amount_yen == 400
    assert [(line.unit_yen, line.quantity) for line in quote.lines] == [(400, 1)]
    assert quote.exempt_reason == ""


def test_default_per_copy_fee_finds_a_copies_field(make_procedure, make_application):
    procedure = make_procedure(fee=300, per_copy=True)
    quote = fee_quote(make_application(procedure, answers={"request": {"copies": "3"}}))
    assert quote.amount_yen == 900
    assert quote.lines[0].quantity == 3


def test_rule_per_copy_uses_its_field_path_and_cap(make_procedure, make_application):
    procedure = make_procedure(fee=0)
    FeeRule.objects.create(
        procedure=procedure,
        kind=FeeKind.PER_COPY,
        amount_yen=350,
        label="住民票の写し",
        copies_field="request.copies",
        max_copies=5,
    )
    application = make_application(procedure, answers={"request": {"copies": "2"}})
    quote = fee_quote(application)
    assert quote.amount_yen == 700
    assert quote.lines[0].label == "住民票の写し"
    assert quote_for(procedure, {"request": {"copies": 40}}).amount_yen == 350 * 5
    assert quote_for(procedure, {"request": {"copies": "abc"}}).amount_yen == 350
    assert quote_for(procedure, {"request": {}}).amount_yen == 350


def test_rule_fixed_ignores_copies(make_procedure, make_application):
    procedure = make_procedure(fee=300)
    FeeRule.objects.create(procedure=procedure, kind=FeeKind.FIXED, amount_yen=1000)
    assert quote_for(procedure, {"request": {"copies": 4}}).amount_yen == 1000


@pytest.mark.parametrize("welfare", [True, "on", "true"])
def test_exemption_makes_the_fee_zero(make_procedure, welfare):
    procedure = make_procedure(fee=0, timing=PaymentTiming.BEFORE_SUBMISSION)
    FeeRule.objects.create(
        procedure=procedure,
        kind=FeeKind.PER_COPY,
        amount_yen=300,
        copies_field="request.copies",
        exemptions=WELFARE,
    )
    quote = quote_for(procedure, {"request": {"copies": 2, "welfare": welfare}})
    assert quote.amount_yen == 0
    assert quote.is_free
    assert quote.exempt_reason == "生活保護受給者"
    assert [line.amount_yen for line in quote.lines] == [600, -600]


@pytest.mark.parametrize("welfare", [False, "", None])
def test_exemption_not_met_keeps_the_fee(make_procedure, welfare):
    procedure = make_procedure(fee=0)
    FeeRule.objects.create(
        procedure=procedure, kind=FeeKind.FIXED, amount_yen=300, exemptions=WELFARE
    )
    quote = quote_for(procedure, {"request": {"copies": 1, "welfare": welfare}})
    assert quote.amount_yen == 300
    assert quote.exempt_reason == ""


def test_exemption_by_choice_value_and_multichoice(make_procedure):
    procedure = make_procedure(fee=0)
    FeeRule.objects.create(
        procedure=procedure,
        kind=FeeKind.FIXED,
        amount_yen=300,
        exemptions=[
            {"field": "request.purpose", "equals": "pension", "reason": "年金の手続"},
            {"field": "request.malformed"},
            "not-a-rule",
        ],
    )
    assert quote_for(procedure, {"request": {"purpose": "pension"}}).exempt_reason == "年金の手続"
    assert quote_for(procedure, {"request": {"purpose": ["x", "pension"]}}).amount_yen == 0
    assert quote_for(procedure, {"request": {"purpose": "bank"}}).amount_yen == 300


def test_free_procedure_has_no_lines(make_procedure, make_application):
    quote = fee_quote(make_application(make_procedure(fee=0)))
    assert quote.amount_yen == 0
    assert quote.lines == []


def test_cleaned_answers_win_over_draft_answers(make_procedure, make_application):
    procedure = make_procedure(fee=300)
    application = make_application(procedure, answers={"request": {"copies": "5"}})
    application.cleaned = {"request": {"copies": 1}}
    assert fee_quote(application).amount_yen == 300
    assert fee_quote(application, answers={"request": {"copies": 2}}).amount_yen == 600
