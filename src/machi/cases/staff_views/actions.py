"""The case page's workflow POSTs: a table of actions, one dispatch.

Each action id of ``/staff/cases/<id>/<action>/`` names a :class:`CaseAction`: who may use it
(checked here for a clear 403; the services check again), the form it reads (with the prefix the
case page renders it under) and the service call it makes, which returns the success message.
``case_action`` finds the entry, builds its form, runs it, and redirects or shows the page again
with the bound form (and, after a concurrent change, the reloaded version).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from machi.cases import policy, selectors, services
from machi.cases.forms import (
    AssignForm,
    CompleteForm,
    CorrectionForm,
    DecisionForm,
    NoteForm,
    SendToApprovalForm,
    StartReviewForm,
    WithdrawForm,
)
from machi.cases.models import Case
from machi.cases.staff_views._common import _error, _language, _stale_message, _user_choices
from machi.cases.staff_views.case import _case_or_error, _detail_context
from machi.core.auth import staff_required, staff_user
from machi.core.exceptions import ApplicationError, Conflict, Forbidden
from machi.core.models import User
from machi.procedures.formengine import FormDefinition
from machi.procedures.states import ApplicationOutcome


@dataclass(frozen=True)
class ActionContext:
    """The case an action is for, and who acts."""

    request: HttpRequest
    case: Case
    user: User


@dataclass(frozen=True)
class CaseAction:
    """One workflow action of the case page.

    ``allowed(user, case)``: who may use it (a refusal is a 403 before any form is read).
    ``form(ctx, data)``: the form bound to ``data``, under the prefix the page renders.
    ``run(ctx, cleaned)``: the service call; returns the success message.
    """

    allowed: Callable[[User, Case], bool]
    form: Callable[[ActionContext, QueryDict], Form]
    run: Callable[[ActionContext, dict[str, Any]], str]


def _lock(data: dict[str, Any]) -> int:
    return int(data["lock_version"])


def _handler(user: User, case: Case) -> bool:
    return policy.can_handle(user, case.municipality_id)


def _noter(user: User, case: Case) -> bool:
    return policy.can_note(user, case.municipality_id)


def _field_choices(ctx: ActionContext) -> list[tuple[str, str]]:
    definition = FormDefinition.from_json(ctx.case.application.form_version.definition)
    return [(c.path, c.label) for c in selectors.form_field_choices(definition, _language())]


def _review(ctx: ActionContext, d: dict[str, Any]) -> str:
    services.case_start_review(
        case=ctx.case, actor=ctx.user, expected_lock_version=_lock(d), note=d.get("note", "")
    )
    return _("審査を開始しました。")


def _correction(ctx: ActionContext, d: dict[str, Any]) -> str:
    services.case_request_correction(
        case=ctx.case,
        actor=ctx.user,
        message=d["message"],
        fields=list(d.get("targets") or []),
        deadline=d["deadline"],
        expected_lock_version=_lock(d),
    )
    return _("補正を依頼しました。申請者にお知らせしました。")


def _approval(ctx: ActionContext, d: dict[str, Any]) -> str:
    services.case_send_to_approval(
        case=ctx.case,
        actor=ctx.user,
        proposed_outcome=d["proposed_outcome"],
        comment=d.get("comment", ""),
        expected_lock_version=_lock(d),
    )
    return _("決裁に回しました。")


def _complete_outcomes(ctx: ActionContext) -> tuple[str, ...]:
    outcomes = selectors.case_actions(user=ctx.user, case=ctx.case).complete_outcomes
    return outcomes or tuple(ApplicationOutcome.values)


def _complete(ctx: ActionContext, d: dict[str, Any]) -> str:
    services.case_complete(
        case=ctx.case,
        actor=ctx.user,
        outcome=d["outcome"],
        note=d.get("note", ""),
        expected_lock_version=_lock(d),
    )
    return _("完了にしました。申請者にお知らせしました。")


def _withdraw(ctx: ActionContext, d: dict[str, Any]) -> str:
    services.case_withdraw(
        case=ctx.case, actor=ctx.user, reason=d["reason"], expected_lock_version=_lock(d)
    )
    return _("取下げを記録しました。")


def _assignees(ctx: ActionContext) -> list[tuple[str, str]]:
    return _user_choices(selectors.assignable_staff(municipality_codes={ctx.case.municipality_id}))


def _assign(ctx: ActionContext, d: dict[str, Any]) -> str:
    chosen = d.get("assignee") or ""
    assignee = User.objects.filter(pk=int(chosen)).first() if chosen else None
    services.case_assign(case=ctx.case, actor=ctx.user, assignee=assignee)
    return _("担当者を変更しました。")


def _note(ctx: ActionContext, d: dict[str, Any]) -> str:
    services.case_note_add(case=ctx.case, actor=ctx.user, text=d["text"])
    return _("メモを追加しました。")


CASE_ACTIONS: dict[str, CaseAction] = {
    "review": CaseAction(
        allowed=_handler,
        form=lambda ctx, data: StartReviewForm(data, prefix="review"),
        run=_review,
    ),
    "correction": CaseAction(
        allowed=_handler,
        form=lambda ctx, data: CorrectionForm(
            data, prefix="correction", field_choices=_field_choices(ctx)
        ),
        run=_correction,
    ),
    "approval": CaseAction(
        allowed=_handler,
        form=lambda ctx, data: SendToApprovalForm(data, prefix="approval"),
        run=_approval,
    ),
    "complete": CaseAction(
        allowed=_handler,
        form=lambda ctx, data: CompleteForm(
            data, prefix="complete", outcomes=_complete_outcomes(ctx)
        ),
        run=_complete,
    ),
    "withdraw": CaseAction(
        allowed=_handler,
        form=lambda ctx, data: WithdrawForm(data, prefix="withdraw"),
        run=_withdraw,
    ),
    "assign": CaseAction(
        allowed=_handler,
        form=lambda ctx, data: AssignForm(data, prefix="assign", assignees=_assignees(ctx)),
        run=_assign,
    ),
    "note": CaseAction(
        allowed=_noter,
        form=lambda ctx, data: NoteForm(data, prefix="note"),
        run=_note,
    ),
}


def _run_action(
    request: HttpRequest,
    case: Case,
    key: str,
    build: Callable[[QueryDict], Form],
    run: Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """Validate the form, call ``run``; on success redirect, else show the page again with it."""
    form = build(request.POST)
    status = 400
    conflict = ""
    if form.is_valid():
        try:
            success = run(form.cleaned_data)
        except Conflict as exc:
            status = 409
            if exc.code == "stale_application":
                conflict = _stale_message()
                case = selectors.case_get_for_staff(
                    user=staff_user(request), application_id=case.application_id
                )
                data = request.POST.copy()
                data[form.add_prefix("lock_version")] = str(case.application.lock_version)
                form = build(data)
                form.is_valid()
            if hasattr(form, "add_application_error"):
                form.add_application_error(exc)
        except Forbidden as exc:
            return _error(request, str(exc.message), status=403)
        except ApplicationError as exc:
            if hasattr(form, "add_application_error"):
                form.add_application_error(exc)
        else:
            messages.success(request, success)
            return redirect("cases-staff:detail", application_id=case.application_id)
    context = _detail_context(request, case, bound={key: form})
    context["conflict"] = conflict
    return render(request, "cases/staff/detail.html", context, status=status)


@require_POST
@staff_required
def case_action(request: HttpRequest, application_id: uuid.UUID, action: str) -> HttpResponse:
    """Every workflow POST of the case page (one form per action, each with its own prefix)."""
    found = _case_or_error(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    user = staff_user(request)
    if action == "decide":
        return _decide(request, found, user)
    entry = CASE_ACTIONS.get(action)
    if entry is None:
        return _error(request, _("ページが見つかりません。"))
    if not entry.allowed(user, found):
        return _error(request, _("この案件を処理する権限がありません。"), status=403)
    ctx = ActionContext(request=request, case=found, user=user)
    return _run_action(
        request,
        found,
        action,
        lambda data: entry.form(ctx, data),
        lambda cleaned: entry.run(ctx, cleaned),
    )


def _decide(request: HttpRequest, case: Case, user: User) -> HttpResponse:
    """決裁: the step is named by the form's prefix (``decide-<step id>``), one form per step."""
    step_id = next(
        (
            int(key.split("-")[1])
            for key in request.POST
            if key.startswith("decide-") and key.endswith("-step") and key.split("-")[1].isdigit()
        ),
        None,
    )
    actions = selectors.case_actions(user=user, case=case)
    step_action = next((sa for sa in actions.step_actions if sa.step.pk == step_id), None)
    if step_action is None or not (step_action.can_decide or step_action.can_delegate):
        messages.error(request, _("この段階はすでに判断されたか、判断する権限がありません。"))
        return redirect("cases-staff:detail", application_id=case.application_id)
    key = f"decide-{step_action.step.pk}"
    candidates = _user_choices(step_action.delegate_candidates)

    def build(data: QueryDict) -> Form:
        return DecisionForm(
            data, prefix=key, candidates=candidates, delegate_only=not step_action.can_decide
        )

    def decide(d: dict[str, Any]) -> str:
        acting_for = (
            User.objects.filter(pk=int(d["acting_for"])).first() if d.get("acting_for") else None
        )
        request_ = services.approval_decide(
            step=step_action.step,
            actor=user,
            decision=d["decision"],
            comment=d.get("comment", ""),
            acting_for=acting_for,
            expected_lock_version=_lock(d),
        )
        if request_.status == "approved":
            return _("決裁が完了しました。")
        return _("判断を記録しました。")

    return _run_action(request, case, key, build, decide)
