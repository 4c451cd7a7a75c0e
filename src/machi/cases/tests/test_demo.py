"""The demo data: every state, valid answers, idempotent."""

from __future__ import annotations

import pytest
from django.utils import timezone

from machi.cases.demo import demo_statuses, load_cases_demo
from machi.cases.models import ApprovalRequest, ApprovalStep, Case, Intake
from machi.core.demo import load_core_demo
from machi.procedures.demo import load_procedures_demo
from machi.procedures.models import Application, ApplicationOutcome, ApplicationStatus, StatusChange

pytestmark = pytest.mark.django_db


def test_demo_cases_cover_every_state_and_are_idempotent():
    load_core_demo()
    load_procedures_demo()
    loaded_from = timezone.now()
    created = load_cases_demo()
    assert created == 13
    assert demo_statuses() == {
        ApplicationStatus.SUBMITTED: 4,
        ApplicationStatus.IN_REVIEW: 1,
        ApplicationStatus.CORRECTION_REQUESTED: 1,
        ApplicationStatus.APPROVING: 2,
        ApplicationStatus.COMPLETED: 4,
        ApplicationStatus.WITHDRAWN: 1,
    }
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
    # 粗大ごみ (demo-cases-04) was submitted 20 days ago: past its 標準処理期間.
    overdue = Case.objects.filter(is_open=True, due_date__lt=timezone.localdate())
    assert list(overdue.values_list("application__idempotency_key", flat=True)) == ["demo-cases-04"]
    # Applications are as the procedures services wrote them (the demo moves only case rows).
    demo_applications = Application.objects.filter(idempotency_key__startswith="demo-cases-")
    assert demo_applications.count() == 13
    assert not demo_applications.filter(submitted_at__lt=loaded_from).exists()
    assert not StatusChange.objects.filter(
        application__in=demo_applications, at__lt=loaded_from
    ).exists()
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
