"""電子決裁: routes, serial and parallel steps, send back, reject, 代決, segregation of duties."""

from __future__ import annotations

import pytest

from machi.cases import services
from machi.cases.models import (
    ApprovalDecision,
    ApprovalRequestStatus,
    ApprovalState,
    ApprovalStep,
    ApprovalStepStatus,
)
from machi.cases.services import RouteStepSpec
from machi.cases.tests.helpers import case_of, fresh, member, submit
from machi.core.exceptions import Conflict, Forbidden, InvalidInput
from machi.core.models import Role
from machi.procedures import services as procedure_services
from machi.procedures.models import ApplicationOutcome, ApplicationStatus

pytestmark = pytest.mark.django_db

APPROVE = ApprovalDecision.APPROVE


@pytest.fixture
def two_step(procedure, shimin, approver2, kakogawa_admin):
    """係長決裁 (決裁者 of 市民課) → 課長決裁 (approver2) ‖ 管理者確認 (団体管理者)."""
    services.approval_route_save(
        actor=kakogawa_admin,
        procedure=procedure,
        steps=[
            RouteStepSpec(1, "係長決裁", role=Role.APPROVER, department_id=shimin.pk),
            RouteStepSpec(2, "課長決裁", user_id=approver2.pk),
            RouteStepSpec(2, "管理者確認", role=Role.MUNICIPALITY_ADMIN),
        ],
    )
    return procedure


def in_review(procedure, handler):
    case = case_of(submit(procedure))
    services.case_start_review(case=case, actor=handler)
    return fresh(case)


def drafted(procedure, handler, outcome=ApplicationOutcome.GRANTED):
    case = in_review(procedure, handler)
    request = services.case_send_to_approval(
        case=case, actor=handler, proposed_outcome=outcome, comment="許可相当"
    )
    return fresh(case), request


def step(request, label):
    return ApprovalStep.objects.get(request=request, label=label)


def test_default_route_is_one_approver_step(procedure, kakogawa_handler, approver):
    route = services.approval_route_effective(procedure)
    assert route.is_default and route.approval_required
    case, request = drafted(procedure, kakogawa_handler)
    assert case.status == ApplicationStatus.APPROVING
    assert case.approval_state == ApprovalState.PENDING
    only = request.steps.get()
    assert only.role == Role.APPROVER and only.status == ApprovalStepStatus.PENDING
    services.approval_decide(step=only, actor=approver, decision=APPROVE)
    request.refresh_from_db()
    assert request.status == ApprovalRequestStatus.APPROVED
    assert fresh(case).approval_state == ApprovalState.APPROVED
    services.case_complete(
        case=fresh(case), actor=kakogawa_handler, outcome=ApplicationOutcome.GRANTED
    )
    assert fresh(case).status == ApplicationStatus.COMPLETED


def test_two_steps_with_a_parallel_group(
    two_step, kakogawa_handler, approver, approver2, kakogawa_admin
):
    case, request = drafted(two_step, kakogawa_handler)
    assert step(request, "課長決裁").status == ApprovalStepStatus.WAITING
    with pytest.raises(Conflict):  # not its turn yet
        services.approval_decide(step=step(request, "課長決裁"), actor=approver2, decision=APPROVE)
    services.approval_decide(step=step(request, "係長決裁"), actor=approver, decision=APPROVE)
    assert step(request, "課長決裁").status == ApprovalStepStatus.PENDING
    assert step(request, "管理者確認").status == ApprovalStepStatus.PENDING
    # Completion is refused while the route runs, also through procedures directly.
    with pytest.raises(Conflict):
        services.case_complete(
            case=fresh(case), actor=kakogawa_handler, outcome=ApplicationOutcome.GRANTED
        )
    with pytest.raises(Conflict) as error:
        procedure_services.application_transition(
            application=fresh(case).application,
            to_status=ApplicationStatus.COMPLETED,
            actor=kakogawa_handler,
            outcome=ApplicationOutcome.GRANTED,
        )
    assert error.value.code == "approval_pending"
    services.approval_decide(step=step(request, "課長決裁"), actor=approver2, decision=APPROVE)
    request.refresh_from_db()
    assert request.status == ApprovalRequestStatus.PENDING  # the parallel step still decides
    services.approval_decide(
        step=step(request, "管理者確認"), actor=kakogawa_admin, decision=APPROVE
    )
    request.refresh_from_db()
    assert request.status == ApprovalRequestStatus.APPROVED
    # Only the approved kind of decision can complete it.
    with pytest.raises(Conflict) as error:
        services.case_complete(
            case=fresh(case), actor=kakogawa_handler, outcome=ApplicationOutcome.REJECTED
        )
    assert error.value.code == "outcome_not_approved"
    services.case_complete(
        case=fresh(case), actor=kakogawa_handler, outcome=ApplicationOutcome.GRANTED
    )
    case = fresh(case)
    assert case.status == ApplicationStatus.COMPLETED
    assert case.outcome == ApplicationOutcome.GRANTED


def test_send_back_returns_to_review_with_the_comment(two_step, kakogawa_handler, approver):
    case, request = drafted(two_step, kakogawa_handler)
    with pytest.raises(InvalidInput):  # a comment is required
        services.approval_decide(
            step=step(request, "係長決裁"), actor=approver, decision=ApprovalDecision.SEND_BACK
        )
    services.approval_decide(
        step=step(request, "係長決裁"),
        actor=approver,
        decision=ApprovalDecision.SEND_BACK,
        comment="添付書類の確認を追記してください。",
    )
    request.refresh_from_db()
    case = fresh(case)
    assert request.status == ApprovalRequestStatus.SENT_BACK
    assert case.status == ApplicationStatus.IN_REVIEW
    assert case.approval_state == ApprovalState.SENT_BACK
    assert step(request, "課長決裁").status == ApprovalStepStatus.CANCELLED
    last = case.application.history.order_by("-id").first()
    assert last is not None
    assert "添付書類の確認を追記してください。" in last.note
    # The handler drafts again: a new request with fresh steps.
    again = services.case_send_to_approval(
        case=case, actor=kakogawa_handler, proposed_outcome=ApplicationOutcome.GRANTED
    )
    assert again.pk != request.pk
    assert step(again, "係長決裁").status == ApprovalStepStatus.PENDING


def test_reject_ends_the_request_and_returns_the_case(two_step, kakogawa_handler, approver):
    case, request = drafted(two_step, kakogawa_handler)
    services.approval_decide(
        step=step(request, "係長決裁"),
        actor=approver,
        decision=ApprovalDecision.REJECT,
        comment="許可の要件を満たしていません。却下で起案し直してください。",
    )
    request.refresh_from_db()
    assert request.status == ApprovalRequestStatus.REJECTED
    case = fresh(case)
    assert case.status == ApplicationStatus.IN_REVIEW
    assert case.approval_state == ApprovalState.REJECTED
    assert case.outcome == ""


def test_delegation_is_recorded(two_step, kakogawa_handler, approver, approver2, kakogawa_admin):
    case, request = drafted(two_step, kakogawa_handler)
    services.approval_decide(step=step(request, "係長決裁"), actor=approver, decision=APPROVE)
    # The handler is no approver and may not 代決.
    with pytest.raises(Forbidden):
        services.approval_decide(
            step=step(request, "課長決裁"),
            actor=member("kakogawa-handler3", case.municipality, Role.CASE_HANDLER),
            decision=APPROVE,
            acting_for=approver2,
        )
    # 代決 for someone the step does not ask for is refused.
    with pytest.raises(InvalidInput):
        services.approval_decide(
            step=step(request, "課長決裁"),
            actor=kakogawa_admin,
            decision=APPROVE,
            acting_for=member("kakogawa-other", case.municipality, Role.APPROVER),
        )
    services.approval_decide(
        step=step(request, "課長決裁"),
        actor=kakogawa_admin,
        decision=APPROVE,
        comment="課長不在のため代決",
        acting_for=approver2,
    )
    decided = step(request, "課長決裁")
    assert decided.status == ApprovalStepStatus.APPROVED
    assert decided.decided_by == kakogawa_admin
    assert decided.acting_for == approver2
    # The admin decided one step already; the parallel step needs someone else.
    with pytest.raises(Forbidden) as error:
        services.approval_decide(
            step=step(request, "管理者確認"), actor=kakogawa_admin, decision=APPROVE
        )
    assert error.value.code == "already_approved"


def test_drafter_cannot_approve(procedure, kakogawa, kakogawa_handler):
    # The handler also holds 決裁者: still not for a case they drafted.
    member("kakogawa-handler", kakogawa, Role.APPROVER)
    _case, request = drafted(procedure, kakogawa_handler)
    with pytest.raises(Forbidden) as error:
        services.approval_decide(step=request.steps.get(), actor=kakogawa_handler, decision=APPROVE)
    assert error.value.code == "drafter_cannot_approve"


def test_same_person_cannot_approve_twice(procedure, kakogawa_admin, kakogawa_handler, approver):
    services.approval_route_save(
        actor=kakogawa_admin,
        procedure=procedure,
        steps=[
            RouteStepSpec(1, "係長決裁", role=Role.APPROVER),
            RouteStepSpec(2, "課長決裁", role=Role.APPROVER),
        ],
    )
    _case, request = drafted(procedure, kakogawa_handler)
    services.approval_decide(step=step(request, "係長決裁"), actor=approver, decision=APPROVE)
    with pytest.raises(Forbidden) as error:
        services.approval_decide(step=step(request, "課長決裁"), actor=approver, decision=APPROVE)
    assert error.value.code == "already_approved"
    # Nor as the person represented in a 代決.
    with pytest.raises(Forbidden):
        services.approval_decide(
            step=step(request, "課長決裁"),
            actor=kakogawa_admin,
            decision=APPROVE,
            acting_for=approver,
        )


def test_only_the_named_or_role_holder_decides(two_step, kakogawa_handler, approver, approver2):
    case, request = drafted(two_step, kakogawa_handler)
    services.approval_decide(step=step(request, "係長決裁"), actor=approver, decision=APPROVE)
    other = member("kakogawa-other", case.municipality, Role.APPROVER)
    with pytest.raises(Forbidden) as error:
        services.approval_decide(step=step(request, "課長決裁"), actor=other, decision=APPROVE)
    assert error.value.code == "not_approver"


def test_approval_decisions_use_the_lock(procedure, kakogawa_handler, approver):
    case, request = drafted(procedure, kakogawa_handler)
    stale = case.application.lock_version - 1
    with pytest.raises(Conflict):
        services.approval_decide(
            step=request.steps.get(), actor=approver, decision=APPROVE, expected_lock_version=stale
        )


def test_route_editing_needs_municipality_admin(procedure, kakogawa_handler, kakogawa_admin):
    with pytest.raises(Forbidden):
        services.approval_route_save(
            actor=kakogawa_handler,
            procedure=procedure,
            steps=[RouteStepSpec(1, "x", role="approver")],
        )
    with pytest.raises(InvalidInput):
        services.approval_route_save(
            actor=kakogawa_admin, procedure=procedure, steps=[RouteStepSpec(1, "誰も")]
        )
    services.approval_route_step_add(
        actor=kakogawa_admin,
        procedure=procedure,
        step=RouteStepSpec(2, "課長決裁", role="approver"),
    )
    route = services.approval_route_effective(procedure)
    assert [s.label for s in route.steps] == ["決裁", "課長決裁"]  # starts from the default
    services.approval_route_step_remove(actor=kakogawa_admin, procedure=procedure, index=0)
    assert [s.label for s in services.approval_route_effective(procedure).steps] == ["課長決裁"]
    services.approval_route_reset(actor=kakogawa_admin, procedure=procedure)
    assert services.approval_route_effective(procedure).is_default


def test_running_requests_keep_their_copy_of_the_route(two_step, kakogawa_handler, kakogawa_admin):
    _case, request = drafted(two_step, kakogawa_handler)
    services.approval_route_reset(actor=kakogawa_admin, procedure=two_step)
    assert request.steps.count() == 3
