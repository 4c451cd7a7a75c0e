"""Workflow services: review, 補正, completion, 取下げ, assignment, locking and permissions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from machi.cases import services
from machi.cases.models import CaseEvent, CaseNote, StepTiming
from machi.cases.selectors import case_actions, case_get_for_staff
from machi.cases.tests.helpers import case_of, fresh, make_procedure, submit
from machi.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from machi.core.models import AuditEntry
from machi.procedures import services as procedure_services
from machi.procedures.models import ApplicationOutcome, ApplicationStatus, CorrectionRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(procedure):
    return case_of(submit(procedure))


def no_approval(procedure):
    services.approval_route_save(actor=None, procedure=procedure, steps=[], approval_required=False)


def test_start_review_assigns_the_handler_and_is_audited(case, kakogawa_handler):
    services.case_start_review(
        case=case, actor=kakogawa_handler, expected_lock_version=case.application.lock_version
    )
    case = fresh(case)
    assert case.status == ApplicationStatus.IN_REVIEW
    assert case.application.status == ApplicationStatus.IN_REVIEW
    assert case.assignee == kakogawa_handler
    assert AuditEntry.objects.filter(
        action="case.start_review", target_id=str(case.application_id)
    ).exists()
    steps = list(StepTiming.objects.filter(case=case).values_list("step", flat=True))
    assert steps == [ApplicationStatus.SUBMITTED, ApplicationStatus.IN_REVIEW]


def test_stale_lock_version_is_refused_and_nothing_is_lost(case, kakogawa_handler, handler2):
    seen = case.application.lock_version  # both handlers opened the page at this version
    services.case_start_review(case=case, actor=kakogawa_handler, expected_lock_version=seen)
    with pytest.raises(Conflict) as error:
        services.case_request_correction(
            case=fresh(case),
            actor=handler2,
            message="住所を確認してください。",
            fields=["main.name"],
            deadline=timezone.localdate() + dt.timedelta(days=7),
            expected_lock_version=seen,
        )
    assert error.value.code == "stale_application"
    assert "他の職員が更新しました" in str(error.value.message)
    assert fresh(case).status == ApplicationStatus.IN_REVIEW  # the first change stands
    assert not CorrectionRequest.objects.exists()


def test_correction_round_trip(case, kakogawa_handler, django_capture_on_commit_callbacks):
    services.case_start_review(case=case, actor=kakogawa_handler)
    correction = services.case_request_correction(
        case=fresh(case),
        actor=kakogawa_handler,
        message="氏名を戸籍のとおりに入力してください。",
        fields=["main.name"],
        deadline=timezone.localdate() + dt.timedelta(days=14),
        expected_lock_version=fresh(case).application.lock_version,
    )
    assert correction.fields == ["main.name"]
    assert fresh(case).status == ApplicationStatus.CORRECTION_REQUESTED
    assert fresh(case).correction_count == 1
    with django_capture_on_commit_callbacks(execute=True):
        procedure_services.application_answer_correction(
            application=fresh(case).application,
            actor=None,
            answers={"main": {"name": "山田 太郎（訂正）"}},
            note="直しました",
        )
    case = fresh(case)
    assert case.status == ApplicationStatus.IN_REVIEW
    assert case.application.cleaned["main"]["name"] == "山田 太郎（訂正）"
    steps = list(StepTiming.objects.filter(case=case).values_list("step", flat=True))
    assert steps == [
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.CORRECTION_REQUESTED,
        ApplicationStatus.IN_REVIEW,
    ]


def test_correction_fields_must_exist_in_the_form(case, kakogawa_handler):
    with pytest.raises(InvalidInput):
        services.case_request_correction(
            case=case,
            actor=kakogawa_handler,
            message="x",
            fields=["main.nothing"],
            deadline=timezone.localdate() + dt.timedelta(days=3),
        )


def test_complete_needs_approval_when_the_route_requires_it(case, kakogawa_handler):
    services.case_start_review(case=case, actor=kakogawa_handler)
    with pytest.raises(Conflict) as error:
        services.case_complete(
            case=fresh(case), actor=kakogawa_handler, outcome=ApplicationOutcome.GRANTED
        )
    assert error.value.code == "approval_required"


def test_complete_without_route(procedure, kakogawa_handler):
    no_approval(procedure)
    case = case_of(submit(procedure))
    assert not case_actions(user=kakogawa_handler, case=case).send_to_approval
    services.case_start_review(case=case, actor=kakogawa_handler)
    with pytest.raises(InvalidInput):
        services.case_send_to_approval(
            case=fresh(case), actor=kakogawa_handler, proposed_outcome=ApplicationOutcome.ISSUED
        )
    services.case_complete(
        case=fresh(case), actor=kakogawa_handler, outcome=ApplicationOutcome.ISSUED, note="交付"
    )
    case = fresh(case)
    assert case.status == ApplicationStatus.COMPLETED
    assert case.outcome == ApplicationOutcome.ISSUED
    assert not case.is_open
    assert case.completed_at is not None
    assert not StepTiming.objects.filter(case=case, left_at__isnull=True).exists()


def test_withdraw_on_behalf_needs_a_reason(case, kakogawa_handler):
    with pytest.raises(InvalidInput):
        services.case_withdraw(case=case, actor=kakogawa_handler, reason=" ")
    services.case_withdraw(case=case, actor=kakogawa_handler, reason="電話で申し出（10/1）")
    assert fresh(case).status == ApplicationStatus.WITHDRAWN


def test_notes_are_internal_and_audited(case, kakogawa_handler, approver, prefecture_admin):
    note = services.case_note_add(case=case, actor=approver, text="確認済み")
    assert CaseNote.objects.get() == note
    assert CaseEvent.objects.filter(case=case, kind="note").exists()
    with pytest.raises(InvalidInput):
        services.case_note_add(case=case, actor=kakogawa_handler, text="   ")
    with pytest.raises(Forbidden):
        services.case_note_add(case=case, actor=prefecture_admin, text="県から")


def test_assignment_only_to_handlers_of_the_municipality(
    case, kakogawa_handler, handler2, approver, kobe_handler
):
    services.case_assign(case=case, actor=kakogawa_handler, assignee=handler2)
    assert fresh(case).assignee == handler2
    for wrong in (approver, kobe_handler):
        with pytest.raises(InvalidInput):
            services.case_assign(case=case, actor=kakogawa_handler, assignee=wrong)
    services.case_assign(case=case, actor=kakogawa_handler, assignee=None)
    assert fresh(case).assignee is None


def test_bulk_assign_and_bulk_review(procedure, kobe, kakogawa_handler, handler2):
    ours = [case_of(submit(procedure)) for _ in range(3)]
    theirs = case_of(submit(make_procedure(kobe)))
    ids = [c.pk for c in ours] + [theirs.pk]
    result = services.case_bulk_assign(actor=kakogawa_handler, case_ids=ids, assignee=handler2)
    assert (result.changed, result.skipped) == (3, 1)
    assert all(fresh(c).assignee == handler2 for c in ours)
    assert fresh(theirs).assignee is None
    services.case_start_review(case=ours[0], actor=kakogawa_handler)
    result = services.case_bulk_start_review(actor=kakogawa_handler, case_ids=ids)
    assert (result.changed, result.skipped) == (2, 2)
    assert all(fresh(c).status == ApplicationStatus.IN_REVIEW for c in ours)
    assert fresh(theirs).status == ApplicationStatus.SUBMITTED


@pytest.mark.parametrize("persona", ["approver", "counter_clerk", "prefecture_admin", "kobe_admin"])
def test_only_handlers_and_admins_process(request, case, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(Forbidden):
        services.case_start_review(case=case, actor=user)
    with pytest.raises(Forbidden):
        services.case_withdraw(case=case, actor=user, reason="x")


def test_municipality_admin_processes(case, kakogawa_admin):
    services.case_start_review(case=case, actor=kakogawa_admin)
    assert fresh(case).status == ApplicationStatus.IN_REVIEW


def test_reading_is_tenant_scoped(case, kobe_admin, prefecture_admin, approver, counter_clerk):
    for reader in (prefecture_admin, approver, counter_clerk):
        assert case_get_for_staff(user=reader, application_id=case.application_id) == case
    with pytest.raises(NotFound):
        case_get_for_staff(user=kobe_admin, application_id=case.application_id)
    with pytest.raises(NotFound):
        case_get_for_staff(user=kobe_admin, application_id="not-a-uuid")
    actions = case_actions(user=prefecture_admin, case=case)
    assert not actions.can_handle and not actions.any and not actions.can_note
