"""Electronic approval (電子決裁): sending a case to its route and deciding steps.

Approval (電子決裁) decisions — documented choices:

* **approve**: the step is approved; when every step of its position (a parallel group) is
  approved the next position opens; after the last one the request is 決裁済み and the case
  may be completed with the approved outcome (or a document issued).
* **send back (差戻し)**: the draft needs more work. The request ends, the application returns to
  審査中 with the comment, and the handler drafts again (a new request).
* **reject (否決)**: the approver refuses the proposed decision itself. The request ends as 否決
  and the application returns to 審査中 with the comment; it is *not* completed as 却下, because
  a 却下 is itself a disposition that must go through the whole route (the handler drafts a
  却下 and the route decides it).
* Segregation of duties: the drafter (who sent the case to approval) never decides a step of
  that request, and nobody decides two steps of the same request — also not as 代決 or as the
  person represented in a 代決.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalRequestStatus,
    ApprovalRouteStep,
    ApprovalState,
    ApprovalStep,
    ApprovalStepStatus,
    Case,
    CaseEventKind,
)
from machi.cases.services._base import (
    MAX_COMMENT_LENGTH,
    _audit,
    _event,
    _require_handler,
)
from machi.cases.services.creation import _transition
from machi.cases.services.routes import approval_route_effective
from machi.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from machi.core.models import Membership, User
from machi.procedures import services as procedure_services
from machi.procedures.states import ApplicationOutcome, ApplicationStatus

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors and services.
    from machi.procedures.selectors import Procedure

# --- Electronic approval (電子決裁) --------------------------------------------------------------


def step_eligible(
    step: ApprovalStep | ApprovalRouteStep, user: User, municipality_code: str
) -> bool:
    """Whether ``user`` is the approver a step asks for (not counting 代決)."""
    if not user.is_active:
        return False
    if step.user_id is not None:
        return step.user_id == user.pk
    memberships = Membership.objects.filter(
        user=user, municipality_id=municipality_code, role=step.role
    )
    if step.department_id is not None:
        memberships = memberships.filter(department_id=step.department_id)
    return memberships.exists()


def approval_people_excluded(request: ApprovalRequest) -> set[int]:
    """Users who may not decide (or be represented in) another step: drafter and past approvers."""
    excluded = {request.drafted_by_id}
    for decided_by, acting_for in request.steps.filter(
        status=ApprovalStepStatus.APPROVED
    ).values_list("decided_by_id", "acting_for_id"):
        excluded.update(i for i in (decided_by, acting_for) if i is not None)
    return excluded


def latest_approval_request(case: Case) -> ApprovalRequest | None:
    """The case's most recent approval request."""
    return case.approval_requests.order_by("-created_at", "-id").first()


def approval_is_required(procedure: Procedure) -> bool:
    """Whether the procedure's cases go through 決裁 before completion."""
    return approval_route_effective(procedure).approval_required


@transaction.atomic
def case_send_to_approval(
    *,
    case: Case,
    actor: User,
    proposed_outcome: str,
    comment: str = "",
    expected_lock_version: int | None = None,
) -> ApprovalRequest:
    """Draft the decision (起案) and start the approval route: 審査中 → 決裁中."""
    _require_handler(actor, case)
    if proposed_outcome not in ApplicationOutcome.values:
        raise InvalidInput(
            _("起案する結果を選んでください。"),
            field_errors={"proposed_outcome": [_("起案する結果を選んでください。")]},
        )
    route = approval_route_effective(case.procedure)
    if not route.approval_required:
        raise InvalidInput(
            _("この手続は決裁が不要です。そのまま完了にできます。"), code="approval_not_required"
        )
    comment = comment.strip()[:MAX_COMMENT_LENGTH]
    synced = _transition(
        case,
        ApplicationStatus.APPROVING,
        actor=actor,
        expected_lock_version=expected_lock_version,
        note=_("決裁を起案しました。"),
        notify=False,
    )
    request = ApprovalRequest.objects.create(
        municipality_id=case.municipality_id,
        case=synced,
        proposed_outcome=proposed_outcome,
        drafted_by=actor,
        comment=comment,
    )
    first = min(s.position for s in route.steps)
    now = timezone.now()
    ApprovalStep.objects.bulk_create(
        ApprovalStep(
            request=request,
            position=s.position,
            label=s.label,
            role=s.role,
            department_id=s.department_id,
            user_id=s.user_id,
            status=ApprovalStepStatus.PENDING
            if s.position == first
            else ApprovalStepStatus.WAITING,
            activated_at=now if s.position == first else None,
        )
        for s in route.steps
    )
    Case.objects.filter(pk=case.pk).update(approval_state=ApprovalState.PENDING)
    synced.approval_state = ApprovalState.PENDING
    detail = {"request": request.pk, "proposed_outcome": proposed_outcome}
    _event(synced, CaseEventKind.APPROVAL_STARTED, actor, **detail)
    _audit(synced, "case.approval.start", actor, detail)
    return request


@transaction.atomic
def approval_decide(
    *,
    step: ApprovalStep,
    actor: User,
    decision: str,
    comment: str = "",
    acting_for: User | None = None,
    expected_lock_version: int | None = None,
) -> ApprovalRequest:
    """Decide one approval step: approve, send back (差戻し) or reject (否決).

    ``acting_for`` records a 代決: ``actor`` (a 決裁者 or 団体管理者) decides for the absent
    approver ``acting_for``, who must be someone the step asks for.
    """
    locked_step = (
        ApprovalStep.objects.select_for_update()
        .select_related("request__case__application")
        .get(pk=step.pk)
    )
    request = ApprovalRequest.objects.select_for_update().get(pk=locked_step.request_id)
    case = locked_step.request.case
    municipality = case.municipality_id
    if municipality not in policy.reader_codes(actor):
        raise NotFound(_("案件が見つかりません。"), code="case_not_found")
    if decision not in ApprovalDecision.values:
        raise InvalidInput(
            _("判断を選んでください。"), field_errors={"decision": [_("判断を選んでください。")]}
        )
    comment = comment.strip()[:MAX_COMMENT_LENGTH]
    if decision != ApprovalDecision.APPROVE and not comment:
        message = _("差戻し・否決の理由を入力してください。")
        raise InvalidInput(message, field_errors={"comment": [message]})
    if (
        request.status != ApprovalRequestStatus.PENDING
        or locked_step.status != ApprovalStepStatus.PENDING
    ):
        raise Conflict(
            _("この段階はすでに判断されたか、まだ順番が来ていません。"), code="step_not_pending"
        )
    excluded = approval_people_excluded(request)
    people = {actor.pk} | ({acting_for.pk} if acting_for is not None else set())
    if request.drafted_by_id in people:
        raise Forbidden(
            _("起案した職員は、その案件を決裁できません。"), code="drafter_cannot_approve"
        )
    if people & excluded:
        raise Forbidden(
            _("同じ職員が同じ案件を二度決裁することはできません。"), code="already_approved"
        )
    if acting_for is None:
        if not step_eligible(locked_step, actor, municipality):
            raise Forbidden(_("この段階を決裁する権限がありません。"), code="not_approver")
    else:
        if not policy.can_delegate(actor, municipality):
            raise Forbidden(_("代決する権限がありません。"), code="cannot_delegate")
        if not step_eligible(locked_step, acting_for, municipality):
            message = _("代決の相手は、この段階の決裁者ではありません。")
            raise InvalidInput(message, field_errors={"acting_for": [message]})
    now = timezone.now()
    locked_step.status = {
        ApprovalDecision.APPROVE: ApprovalStepStatus.APPROVED,
        ApprovalDecision.SEND_BACK: ApprovalStepStatus.SENT_BACK,
        ApprovalDecision.REJECT: ApprovalStepStatus.REJECTED,
    }[ApprovalDecision(decision)]
    locked_step.decided_by = actor
    locked_step.acting_for = acting_for
    locked_step.comment = comment
    locked_step.decided_at = now
    if decision == ApprovalDecision.APPROVE:
        procedure_services.application_lock(
            application_id=case.application_id, expected_lock_version=expected_lock_version
        )
        locked_step.save()
        _advance(request, case, actor, now)
    else:
        locked_step.save()
        request.steps.filter(
            status__in=[ApprovalStepStatus.PENDING, ApprovalStepStatus.WAITING]
        ).update(status=ApprovalStepStatus.CANCELLED)
        sent_back = decision == ApprovalDecision.SEND_BACK
        request.status = (
            ApprovalRequestStatus.SENT_BACK if sent_back else ApprovalRequestStatus.REJECTED
        )
        request.finished_at = now
        request.save(update_fields=["status", "finished_at", "updated_at"])
        state = ApprovalState.SENT_BACK if sent_back else ApprovalState.REJECTED
        Case.objects.filter(pk=case.pk).update(approval_state=state)
        label = _("差戻し") if sent_back else _("否決")
        _transition(
            case,
            ApplicationStatus.IN_REVIEW,
            actor=actor,
            expected_lock_version=expected_lock_version,
            note=f"{label}（{locked_step.label}）: {comment}",
            notify=False,
        )
    detail = {
        "request": request.pk,
        "step": locked_step.label,
        "position": locked_step.position,
        "decision": decision,
        "acting_for": acting_for.pk if acting_for else None,
        "acting_for_username": acting_for.get_username() if acting_for else "",
    }
    _event(case, CaseEventKind.APPROVAL_DECIDED, actor, **detail)
    _audit(case, f"case.approval.{decision}", actor, detail)
    return request


def _advance(request: ApprovalRequest, case: Case, actor: User, now: dt.datetime) -> None:
    """After an approval: open the next position, or finish the request when all approved."""
    steps = request.steps.all()
    if steps.filter(status=ApprovalStepStatus.PENDING).exists():
        return  # the rest of a parallel group still decides
    waiting = steps.filter(status=ApprovalStepStatus.WAITING).order_by("position")
    next_step = waiting.first()
    if next_step is not None:
        waiting.filter(position=next_step.position).update(
            status=ApprovalStepStatus.PENDING, activated_at=now
        )
        return
    request.status = ApprovalRequestStatus.APPROVED
    request.finished_at = now
    request.save(update_fields=["status", "finished_at", "updated_at"])
    Case.objects.filter(pk=case.pk).update(approval_state=ApprovalState.APPROVED)
    case.approval_state = ApprovalState.APPROVED
    _event(
        case,
        CaseEventKind.APPROVAL_COMPLETED,
        actor,
        request=request.pk,
        proposed_outcome=request.proposed_outcome,
    )
    _audit(case, "case.approval.completed", actor, {"request": request.pk})
