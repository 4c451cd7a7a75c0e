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


def test_every_demo_page_renders(staff_client):
    from machi.core.models import User

    load_core_demo()
    load_procedures_demo()
    load_cases_demo()
    pages = [
        "/staff/cases/",
        "/staff/cases/?status=all&department=all",
        "/staff/cases/?overdue=on",
        "/staff/cases/stats/",
        "/staff/cases/routes/",
        "/staff/cases/counter/",
        "/staff/cases/paper/",
    ]
    pages += [f"/staff/cases/{c.application_id}/" for c in Case.objects.all()]
    for username in ("kakogawa-handler", "kakogawa-approver", "kakogawa-kacho", "kakogawa-admin"):
        client = staff_client(User.objects.get(username=username))
        for url in pages:
            response = client.get(url)
            assert response.status_code in (200, 403), (username, url, response.status_code)
    # The approver sees the step waiting for them; 課長 the one after 係長決裁.
    approver = staff_client(User.objects.get(username="kakogawa-approver"))
    assert "あなたの決裁待ち" in approver.get("/staff/cases/").content.decode()
    kacho = staff_client(User.objects.get(username="kakogawa-kacho"))
    assert "課長決裁" in kacho.get("/staff/cases/").content.decode()
    prefecture = staff_client(User.objects.get(username="hyogo-admin"))
    assert prefecture.get("/staff/cases/?status=all").status_code == 200
    assert ApprovalRequest.objects.exists()
