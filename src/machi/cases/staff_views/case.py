"""The case page: the application as submitted, files, notes, history and the allowed actions."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from machi.cases import selectors
from machi.cases.extensions import links_for
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
from machi.core.auth import staff_required, staff_user
from machi.core.exceptions import NotFound
from machi.core.services import audit_record
from machi.files.selectors import file_get
from machi.files.services import file_response
from machi.procedures import services as procedure_services
from machi.procedures.formengine import (
    FormDefinition,
    summary,
)

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    pass
from machi.cases.staff_views._common import (
    _access,
    _error,
    _language,
    _user_choices,
)

# --- Case page ---------------------------------------------------------------------------------


def _case_or_error(request: HttpRequest, application_id: Any) -> Case | HttpResponse:
    try:
        return selectors.case_get_for_staff(
            user=staff_user(request), application_id=application_id, access=_access(request)
        )
    except NotFound as exc:
        return _error(request, str(exc.message))


def _decision_forms(
    actions: selectors.CaseActions, lock: dict[str, Any]
) -> list[tuple[selectors.StepAction, Form | None]]:
    forms: list[tuple[selectors.StepAction, Form | None]] = []
    for step_action in actions.step_actions:
        form = None
        if step_action.can_decide or step_action.can_delegate:
            form = DecisionForm(
                initial={**lock, "step": step_action.step.pk},
                prefix=f"decide-{step_action.step.pk}",
                candidates=_user_choices(step_action.delegate_candidates),
                delegate_only=not step_action.can_decide,
            )
        forms.append((step_action, form))
    return forms


def _detail_context(
    request: HttpRequest, case: Case, bound: dict[str, Form] | None = None
) -> dict[str, Any]:
    user = staff_user(request)
    access = _access(request)
    application = case.application
    definition = FormDefinition.from_json(application.form_version.definition)
    language = _language()
    actions = selectors.case_actions(user=user, case=case, access=access)
    lock = {"lock_version": application.lock_version}
    # Assignable staff from the queue's cached choices (no query once warm).
    staff = selectors.municipality_choices(codes={case.municipality_id}, user=user).values()
    assignees = [(str(p.pk), p.label) for p in selectors.staff_choices(staff)]
    intake = selectors.case_intake(case=case)
    field_choices = [(c.path, c.label) for c in selectors.form_field_choices(definition, language)]
    forms: dict[str, Any] = {
        "review": StartReviewForm(initial=lock, prefix="review"),
        "correction": CorrectionForm(
            initial=lock, prefix="correction", field_choices=field_choices
        ),
        "approval": SendToApprovalForm(initial=lock, prefix="approval"),
        "complete": CompleteForm(
            initial=lock, prefix="complete", outcomes=actions.complete_outcomes
        ),
        "withdraw": WithdrawForm(initial=lock, prefix="withdraw"),
        "assign": AssignForm(
            initial={"assignee": str(case.assignee_id or "")}, prefix="assign", assignees=assignees
        ),
        "note": NoteForm(prefix="note"),
    }
    decisions = _decision_forms(actions, lock)
    if bound:
        for key, form in bound.items():
            if key.startswith("decide-"):
                decisions = [
                    (sa, form if f"decide-{sa.step.pk}" == key else f) for sa, f in decisions
                ]
            else:
                forms[key] = form
    rows = summary(
        definition,
        application.cleaned,
        language=language,
        file_lookup=procedure_services.file_lookup_for(application),
    )
    sections: list[dict[str, Any]] = []
    for row in rows:
        if not sections or sections[-1]["key"] != row.step_key:
            sections.append({"key": row.step_key, "title": row.step_title, "rows": []})
        sections[-1]["rows"].append(row)
    request_ = actions.approval_request
    return {
        "case": case,
        "application": application,
        "procedure": case.procedure,
        "form_version": application.form_version,
        "sections": sections,
        "attachments": selectors.case_attachments(case=case, language=language, intake=intake),
        "intake": intake,
        "corrections": list(application.corrections.all()),
        "notes": list(case.notes.select_related("author")),
        "history": selectors.case_history(case=case),
        "audit_entries": selectors.case_audit_entries(user=user, case=case, access=access),
        "actions": actions,
        "approval_request": request_,
        "approval_steps": list(
            request_.steps.select_related(
                "decided_by", "acting_for", "user", "department"
            ).order_by("position", "id")
        )
        if request_
        else [],
        "decisions": decisions,
        "forms": forms,
        "case_links": links_for(user=user, case=case),
        "is_overdue": case.is_open
        and case.due_date is not None
        and case.due_date < timezone.localdate(),
        "lock_version": application.lock_version,
    }


@require_GET
@staff_required
def case_detail(request: HttpRequest, application_id: uuid.UUID) -> HttpResponse:
    """One case: the application as submitted, files, notes, history and allowed actions."""
    found = _case_or_error(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    audit_record(
        action="case.view",
        actor=staff_user(request),
        municipality_code=found.municipality_id,
        target_type="application",
        target_id=str(found.application_id),
        personal_data=True,
        purpose="申請の審査",
    )
    return render(request, "cases/staff/detail.html", _detail_context(request, found))


@require_GET
@staff_required
def case_file(request: HttpRequest, application_id: uuid.UUID, file_id: uuid.UUID) -> HttpResponse:
    """Download one of the case's files (attachments and scans), recorded in the audit log."""
    found = _case_or_error(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    if str(file_id) not in selectors.case_file_ids(case=found):
        return _error(request, _("ファイルが見つかりません。"))
    try:
        stored = file_get(file_id=file_id, municipality_codes={found.municipality_id})
    except NotFound as exc:
        return _error(request, str(exc.message))
    response = file_response(stored_file=stored, actor=staff_user(request), purpose="申請の審査")
    # A streaming FileResponse; staff_required's signature only names HttpResponse.
    return cast(HttpResponse, response)
