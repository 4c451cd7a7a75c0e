"""The demo data: every state, valid answers, idempotent."""

from __future__ import annotations

import pytest

from machi.cases.demo import demo_statuses, load_cases_demo
from machi.cases.models import ApprovalRequest, ApprovalStep, Case, Intake
from machi.core.demo import load_core_demo
from machi.procedures.demo import load_procedures_demo
from machi.procedures.models import ApplicationOutcome, ApplicationStatus

pytestmark = pytest.mark.django_db


def test_demo_cases_cover_every_state_and_are_idempotent():
    load_core_demo()
    load_procedures_demo()
    created = load_cases_demo()
    assert created == 13
    statuses = demo_statuses()
    for status in (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.CORRECTION_REQUESTED,
        ApplicationStatus.APPROVING,
        ApplicationStatus.COMPLETED,
        ApplicationStatus.WITHDRAWN,
    ):
        assert statuses.get(status), status
    outcomes = set(
        Case.objects.filter(status=ApplicationStatus.COMPLETED).values_list("outcome", flat=True)
    )
    assert outcomes == {
        ApplicationOutcome.GRANTED,
        ApplicationOutcome.ISSUED,
        ApplicationOutcome.REJECTED,
    }
    pending = ApprovalRequest.objects.filter(status="pending")
    assert pending.count() == 2
    assert all(r.steps.count() == 2 for r in pending)
    assert ApprovalStep.objects.filter(acting_for__username="kakogawa-kacho").exists()
    assert set(Intake.objects.values_list("channel", flat=True)) == {"counter", "paper"}
    assert Case.objects.filter(is_open=True, due_date__isnull=False).exists()
    assert load_cases_demo() == 0
    assert Case.objects.count() == 13
