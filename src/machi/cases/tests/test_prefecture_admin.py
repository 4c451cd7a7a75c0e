"""The 県管理者 (prefecture admin) reads every municipality's cases but writes none of them.

No documented rule lets the prefecture act on a municipality's cases, routes or intake (see
``cases.policy``): every staff write path of cases, through the services and through the pages,
refuses the 県管理者, and nothing is changed (rows counted, the records re-read).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from machi.cases import services
from machi.cases.models import (
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStep,
    Case,
    CaseEvent,
    CaseNote,
    Intake,
)
from machi.cases.tests.helpers import PERSON_FORM, case_of, fresh, make_procedure, submit
from machi.core.exceptions import Forbidden
from machi.core.models import AuditEntry
from machi.files.tests.builders import plain_pdf
from machi.procedures.models import Application, ApplicationOutcome, ApplicationStatus

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, object]:
    """Everything a write of cases could change, to compare before and after a refusal."""
    return {
        "applications": list(
            Application.objects.order_by("pk").values_list("pk", "status", "lock_version")
        ),
        "cases": list(
            Case.objects.order_by("pk").values_list(
                "pk", "status", "assignee_id", "approval_state", "updated_at"
            )
        ),
        "events": CaseEvent.objects.count(),
        "notes": CaseNote.objects.count(),
        "requests": list(ApprovalRequest.objects.values_list("pk", "status")),
        "steps": list(ApprovalStep.objects.order_by("pk").values_list("pk", "status")),
        "routes": ApprovalRoute.objects.count(),
        "intakes": Intake.objects.count(),
        # Reads are audited too (case.view); writes would add entries of their own.
        "writes": AuditEntry.objects.exclude(action="case.view").count(),
    }


@pytest.fixture
def reviewed(procedure, kakogawa_handler):
    case = case_of(submit(procedure))
    services.case_start_review(case=case, actor=kakogawa_handler)
    return fresh(case)


@pytest.fixture
def approving(procedure, kakogawa_handler):
    case = case_of(submit(procedure))
    services.case_start_review(case=case, actor=kakogawa_handler)
    request = services.case_send_to_approval(
        case=fresh(case), actor=kakogawa_handler, proposed_outcome=ApplicationOutcome.GRANTED
    )
    return fresh(case), request


IDENTITY = services.IdentityCheck(
    document="drivers_license", family_name="加古川", birth_date=dt.date(1985, 4, 12)
)


def test_every_case_service_refuses_the_prefecture_admin(
    procedure, reviewed, approving, prefecture_admin, kakogawa_handler, counter_clerk
):
    approving_case, request = approving
    step = request.steps.get()
    deadline = timezone.localdate() + dt.timedelta(days=7)
    person = make_procedure(procedure.municipality, definition=PERSON_FORM, name="証明書")
    intake = services.intake_start_counter(procedure=person, actor=counter_clerk, identity=IDENTITY)
    waiting = case_of(submit(procedure))
    a = prefecture_admin
    writes = {
        "start_review": lambda: services.case_start_review(case=waiting, actor=a),
        "correction": lambda: services.case_request_correction(
            case=reviewed, actor=a, message="確認", fields=["main.name"], deadline=deadline
        ),
        "send_to_approval": lambda: services.case_send_to_approval(
            case=reviewed, actor=a, proposed_outcome=ApplicationOutcome.GRANTED
        ),
        "decide": lambda: services.approval_decide(step=step, actor=a, decision="approve"),
        "complete": lambda: services.case_complete(
            case=approving_case, actor=a, outcome=ApplicationOutcome.GRANTED
        ),
        "withdraw": lambda: services.case_withdraw(case=reviewed, actor=a, reason="x"),
        "assign": lambda: services.case_assign(case=reviewed, actor=a, assignee=kakogawa_handler),
        "note": lambda: services.case_note_add(case=reviewed, actor=a, text="県から"),
        "route_save": lambda: services.approval_route_save(
            actor=a, procedure=procedure, steps=[], approval_required=False
        ),
        "route_add": lambda: services.approval_route_step_add(
            actor=a,
            procedure=procedure,
            step=services.RouteStepSpec(position=2, label="県確認", role="approver"),
        ),
        "route_remove": lambda: services.approval_route_step_remove(
            actor=a, procedure=procedure, index=0
        ),
        "route_required": lambda: services.approval_route_set_required(
            actor=a, procedure=procedure, approval_required=False
        ),
        "route_reset": lambda: services.approval_route_reset(actor=a, procedure=procedure),
        "counter": lambda: services.intake_start_counter(
            procedure=person, actor=a, identity=IDENTITY
        ),
        "paper": lambda: services.intake_start_paper(procedure=person, actor=a, scan=plain_pdf()),
        "intake_answers": lambda: services.intake_save_answers(
            intake=intake, actor=a, answers={"request": {"purpose": "県から"}}
        ),
        "intake_file": lambda: services.intake_attachment_store(
            intake=intake,
            actor=a,
            path="request.proof",
            upload=SimpleUploadedFile("p.pdf", plain_pdf(), "application/pdf"),
        ),
        "intake_submit": lambda: services.intake_submit(
            intake=intake,
            actor=a,
            confirmation_method="tablet_signature",
            confirmation_name="加古川",
            resident_confirmed=True,
        ),
    }
    refused = []
    for name, write in writes.items():
        before = snapshot()
        with pytest.raises(Forbidden):
            write()
        assert snapshot() == before, name
        refused.append(name)
    assert refused == list(writes)
    assert fresh(waiting).status == ApplicationStatus.SUBMITTED
    assert fresh(reviewed).status == ApplicationStatus.IN_REVIEW
    assert fresh(approving_case).status == ApplicationStatus.APPROVING
    assert Intake.objects.get(pk=intake.pk).application.status == ApplicationStatus.DRAFT


def test_bulk_actions_skip_every_case_for_the_prefecture_admin(
    procedure, reviewed, prefecture_admin, kakogawa_handler
):
    waiting = case_of(submit(procedure))
    before = snapshot()
    ids = [reviewed.pk, waiting.pk]
    result = services.case_bulk_assign(actor=prefecture_admin, case_ids=ids, assignee=None)
    assert (result.changed, result.skipped) == (0, 2)
    result = services.case_bulk_start_review(actor=prefecture_admin, case_ids=ids)
    assert (result.changed, result.skipped) == (0, 2)
    assert snapshot() == before


def test_every_case_page_write_refuses_the_prefecture_admin(
    procedure, reviewed, approving, prefecture_admin, counter_clerk, staff_client
):
    approving_case, request = approving
    step = request.steps.get()
    person = make_procedure(procedure.municipality, definition=PERSON_FORM, name="証明書")
    intake = services.intake_start_counter(procedure=person, actor=counter_clerk, identity=IDENTITY)
    client = staff_client(prefecture_admin)
    lock = str(reviewed.application.lock_version)
    base = f"/staff/cases/{reviewed.application_id}"
    deadline = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    posts = {
        f"{base}/review/": {"review-lock_version": lock},
        f"{base}/correction/": {
            "correction-lock_version": lock,
            "correction-message": "確認",
            "correction-targets": "main.name",
            "correction-deadline": deadline,
        },
        f"{base}/approval/": {
            "approval-lock_version": lock,
            "approval-proposed_outcome": "granted",
        },
        f"/staff/cases/{approving_case.application_id}/complete/": {
            "complete-lock_version": str(approving_case.application.lock_version),
            "complete-outcome": "granted",
        },
        f"{base}/withdraw/": {"withdraw-lock_version": lock, "withdraw-reason": "x"},
        f"{base}/assign/": {"assign-assignee": ""},
        f"{base}/note/": {"note-text": "県から"},
        f"/staff/cases/routes/{procedure.pk}/": {"action": "reset"},
        "/staff/cases/counter/": {
            "procedure": str(person.pk),
            "document": "drivers_license",
            "family_name": "加古川",
            "birth_date": "1985-04-12",
        },
        "/staff/cases/paper/": {"procedure": str(person.pk)},
        f"/staff/cases/intake/{intake.application_id}/": {"request.purpose": "県から"},
        f"/staff/cases/intake/{intake.application_id}/confirm/": {
            "method": "tablet_signature",
            "resident_confirmed": "on",
            "confirmation_name": "加古川",
        },
    }
    statuses = {}
    for url, data in posts.items():
        before = snapshot()
        statuses[url] = client.post(url, data).status_code
        assert snapshot() == before, url
    # Intake records of another office are not shown at all (404, as for another municipality).
    intake_pages = {u for u in posts if u.startswith("/staff/cases/intake/")}
    assert statuses == {u: 404 if u in intake_pages else 403 for u in posts}
    # 決裁: the step is not the admin's to decide; the page says so and records nothing.
    before = snapshot()
    response = client.post(
        f"/staff/cases/{approving_case.application_id}/decide/",
        {
            f"decide-{step.pk}-step": str(step.pk),
            f"decide-{step.pk}-lock_version": str(approving_case.application.lock_version),
            f"decide-{step.pk}-decision": "approve",
        },
    )
    assert response.status_code == 302
    assert snapshot() == before
    # Bulk actions from the queue: refused for whoever handles no municipality's cases.
    before = snapshot()
    response = client.post(
        "/staff/cases/bulk/", {"cases": [str(reviewed.pk)], "action": "start_review"}
    )
    assert response.status_code == 403
    assert snapshot() == before
