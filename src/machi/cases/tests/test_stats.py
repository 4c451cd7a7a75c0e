"""Reporting numbers on a small dataset with known times."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from freezegun import freeze_time

from machi.cases import services
from machi.cases.selectors import case_stats
from machi.cases.tests.helpers import case_of, fresh, make_procedure, submit
from machi.procedures import services as procedure_services
from machi.procedures.models import ApplicationOutcome

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 4, 6, 9, 0, tzinfo=dt.UTC)  # a Monday


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def test_numbers_per_procedure(
    kakogawa, kobe, kakogawa_handler, django_capture_on_commit_callbacks
):
    procedure = make_procedure(kakogawa, days=5)
    services.approval_route_save(actor=None, procedure=procedure, steps=[], approval_required=False)
    with freeze_time(at(0)) as clock:
        a = case_of(submit(procedure))
        b = case_of(submit(procedure))
        c = case_of(submit(procedure))  # stays open, and goes past its deadline
        case_of(submit(make_procedure(kobe)))  # another municipality: not counted
        clock.move_to(at(1))
        services.case_start_review(case=fresh(a), actor=kakogawa_handler)
        services.case_start_review(case=fresh(b), actor=kakogawa_handler)
        clock.move_to(at(2))
        services.case_request_correction(
            case=fresh(a),
            actor=kakogawa_handler,
            message="訂正してください",
            fields=["main.name"],
            deadline=timezone.localdate() + dt.timedelta(days=7),
        )
        clock.move_to(at(3))
        services.case_complete(
            case=fresh(b), actor=kakogawa_handler, outcome=ApplicationOutcome.ISSUED
        )
        clock.move_to(at(4))
        with django_capture_on_commit_callbacks(execute=True):
            procedure_services.application_answer_correction(
                application=fresh(a).application, actor=None, answers={"main": {"name": "訂正"}}
            )
        clock.move_to(at(5))
        services.case_complete(
            case=fresh(a), actor=kakogawa_handler, outcome=ApplicationOutcome.ISSUED
        )
    [row] = case_stats(user=kakogawa_handler, today=at(30).date())
    assert row.procedure_id == procedure.pk
    assert (row.total, row.open, row.completed, row.withdrawn) == (3, 1, 2, 0)
    assert row.overdue == 1
    assert row.median_days == 4.0  # (5 + 3) / 2
    assert row.mean_days == 4.0
    assert row.step_mean_days["submitted"] == 1.0  # a and b left 受付 after a day; c is open
    assert row.step_mean_days["in_review"] == round((1 + 2 + 1) / 3, 2)
    assert row.step_mean_days["correction_requested"] == 2.0
    assert row.step_mean_days["approving"] is None
    assert (row.corrections, row.cases_with_corrections) == (1, 1)
    assert c.pk  # kept for clarity: the open one
    # Period filter: nothing submitted later.
    assert case_stats(user=kakogawa_handler, since=at(1).date()) == []
