"""Staff pages for case processing: queue, case page and workflow, 電子決裁, routes, counter and
paper intake, numbers. Thin: parse, authorize (services check again), call, render."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from machi.cases import policy, selectors, services
from machi.cases.forms import (
    AssignForm,
    BulkActionForm,
    CompleteForm,
    CorrectionForm,
    CounterConfirmForm,
    CounterStartForm,
    DecisionForm,
    NoteForm,
    PaperConfirmForm,
    PaperStartForm,
    QueueFilterForm,
    RouteSettingsForm,
    RouteStepForm,
    SendToApprovalForm,
    StartReviewForm,
    StatsFilterForm,
    WithdrawForm,
)
from machi.cases.models import Case, ConfirmationMethod, Intake
from machi.core.auth import staff_required, staff_user
from machi.core.exceptions import ApplicationError, Conflict, Forbidden, NotFound
from machi.core.models import Department, Municipality, Role, User
from machi.core.selectors import user_has_role
from machi.core.services import audit_record
from machi.files.selectors import file_get
from machi.files.services import file_response
from machi.procedures import services as procedure_services
from machi.procedures.formengine import (
    FormDefinition,
    answers_from_post,
    apply_postal_lookup,
    error_items,
    pending_action,
    render_step,
    summary,
    validate_answers,
)
from machi.procedures.models import (
    Application,
    ApplicationOutcome,
    ApplicationStatus,
    Channel,
    Procedure,
)


def _stale_message() -> str:
    return _(
        "他の職員が更新しました。最新の状態を表示しています。入力した内容は残っていますので、"
        "確認してからもう一度送信してください。"
    )


def _language() -> str:
    return translation.get_language() or "ja"


def _error(request: HttpRequest, message: str, status: int = 404) -> HttpResponse:
    title = _("見つかりません") if status == 404 else _("操作できません")
    return render(request, "web/error.html", {"title": title, "message": message}, status=status)


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "web/staff/forbidden.html", status=403)


def _municipality_choices(codes: set[str]) -> list[tuple[str, str]]:
    return [(m.code, m.name) for m in Municipality.objects.filter(code__in=codes).order_by("code")]


def _user_choices(users: Any) -> list[tuple[str, str]]:
    return [(str(u.pk), str(u)) for u in users]


# --- Queue -------------------------------------------------------------------------------------


def _queue_forms(request: HttpRequest, user: User) -> tuple[QueueFilterForm, int | None]:
    codes = policy.reader_codes(user)
    chosen = str(request.GET.get("municipality", ""))
    many = len(codes) > 1 and not chosen
    departments = [
        (str(d.pk), f"{d.municipality.name} {d.name}" if many else d.name)
        for d in selectors.queue_departments(user=user, municipality_code=chosen)
    ]
    procedures = [
        (str(p.pk), f"{p.municipality.name} {p.name}" if many else p.name)
        for p in selectors.queue_procedures(user=user, municipality_code=chosen)
    ]
    assignees = _user_choices(
        selectors.assignable_staff(
            municipality_codes=selectors.queue_choice_codes(user=user, municipality_code=chosen)
        )
    )
    default = selectors.queue_default_department(user=user)
    default_id = default.pk if default is not None else None
    form = QueueFilterForm(
        request.GET or None,
        initial={"department": str(default_id) if default_id else "all", "status": "open"},
        municipalities=_municipality_choices(codes),
        departments=departments,
        procedures=procedures,
        assignees=assignees,
    )
    return form, default_id


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    """The case queue (案件一覧): filters, status counts, a page of cases, bulk actions."""
    user = staff_user(request)
    codes = policy.reader_codes(user)
    if not codes:
        return _forbidden(request)
    form, default_department = _queue_forms(request, user)
    filters = form.to_filter(default_department=default_department)
    try:
        page_number = int(request.GET.get("page", "1"))
    except ValueError:
        page_number = 1
    page = selectors.case_queue_page(user=user, filters=filters, page=page_number)
    counts = selectors.case_status_counts(user=user, filters=filters)
    query = request.GET.copy()
    query.pop("page", None)
    status_links = []
    for count in counts:
        link = query.copy()
        if count.key == "overdue":
            link["overdue"] = "on"
            link["status"] = "open"
        else:
            link.pop("overdue", None)
            link["status"] = count.key
        status_links.append({"count": count, "query": link.urlencode()})
    handler_codes = policy.handler_codes(user)
    bulk_form = BulkActionForm(
        assignees=_user_choices(selectors.assignable_staff(municipality_codes=handler_codes)),
        case_ids=[],
    )
    return render(
        request,
        "cases/staff/queue.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "status_links": status_links,
            "query": query.urlencode(),
            "can_bulk": bool(handler_codes),
            "bulk_form": bulk_form,
            "pending_approvals": selectors.approval_pending_for_user(user=user, limit=20),
            "can_intake": bool(policy.intake_codes(user)),
            "many_municipalities": len(codes) > selectors.CHOICES_MUNICIPALITY_LIMIT,
            "can_edit_routes": bool(policy.route_editor_codes(user)),
        },
    )


@require_POST
@staff_required
def bulk(request: HttpRequest) -> HttpResponse:
    """Bulk action on the ticked cases of the queue."""
    user = staff_user(request)
    handler_codes = policy.handler_codes(user)
    back = reverse("cases-staff:queue")
    next_query = request.POST.get("next_query", "")
    if next_query:
        back = f"{back}?{QueryDict(next_query).urlencode()}"
    if not handler_codes:
        return _forbidden(request)
    ids = [int(i) for i in request.POST.getlist("cases") if i.isdigit()]
    form = BulkActionForm(
        request.POST,
        assignees=_user_choices(selectors.assignable_staff(municipality_codes=handler_codes)),
        case_ids=ids,
    )
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    action = form.cleaned_data["action"]
    case_ids = form.cleaned_data["cases"]
    if action == "start_review":
        result = services.case_bulk_start_review(actor=user, case_ids=case_ids)
        done = _("%(n)d件を審査中にしました。") % {"n": result.changed}
    else:
        assignee: User | None = None
        if action == "assign_me":
            assignee = user
        elif action == "assign":
            assignee = User.objects.filter(pk=int(form.cleaned_data["assignee"])).first()
        result = services.case_bulk_assign(actor=user, case_ids=case_ids, assignee=assignee)
        done = _("%(n)d件の担当者を変更しました。") % {"n": result.changed}
    if result.skipped:
        done += _("（%(n)d件は対象外のため変更していません）") % {"n": result.skipped}
    messages.success(request, done)
    return redirect(back)


# --- Case page ---------------------------------------------------------------------------------


def _case_or_error(request: HttpRequest, application_id: Any) -> Case | HttpResponse:
    try:
        return selectors.case_get_for_staff(user=staff_user(request), application_id=application_id)
    except NotFound as exc:
        return _error(request, str(exc.message))


ISSUER_ROLES = (Role.APPROVER, Role.MUNICIPALITY_ADMIN)


def _issue_url(case: Case) -> str | None:
    """The documents app's issue view, when it exists (it is built separately)."""
    try:
        return reverse("documents-staff:issue", args=[str(case.application_id)])
    except NoReverseMatch:
        return None


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
    application = case.application
    definition = FormDefinition.from_json(application.form_version.definition)
    language = _language()
    actions = selectors.case_actions(user=user, case=case)
    lock = {"lock_version": application.lock_version}
    assignees = _user_choices(selectors.assignable_staff(municipality_codes={case.municipality_id}))
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
        "attachments": selectors.case_attachments(case=case, language=language),
        "intake": Intake.objects.filter(application_id=application.pk)
        .select_related("clerk")
        .first(),
        "corrections": list(application.corrections.all()),
        "notes": list(case.notes.select_related("author")),
        "history": selectors.case_history(case=case),
        "audit_entries": selectors.case_audit_entries(user=user, case=case),
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
        "issue_url": _issue_url(case) if actions.approved else None,
        # Issuing a signed document is for 決裁者 and 団体管理者 (the documents app's rule).
        "can_issue": user_has_role(
            user,
            municipality_code=case.municipality_id,
            roles=ISSUER_ROLES,
            prefecture_wide=False,
        ),
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


def _run_action(
    request: HttpRequest,
    case: Case,
    key: str,
    form: Form,
    run: Callable[[dict[str, Any]], str],
    rebuild: Callable[[QueryDict], Form],
) -> HttpResponse:
    """Validate ``form``, call ``run``; on success redirect, else show the page again with it."""
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
                form = rebuild(data)
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


def _lock(data: dict[str, Any]) -> int:
    return int(data["lock_version"])


@require_POST
@staff_required
def case_action(request: HttpRequest, application_id: uuid.UUID, action: str) -> HttpResponse:
    """Every workflow POST of the case page (one form per action, each with its own prefix)."""
    found = _case_or_error(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    case = found
    user = staff_user(request)
    application = case.application
    definition = FormDefinition.from_json(application.form_version.definition)
    post = request.POST

    if action == "review":

        def build_review(data: QueryDict) -> Form:
            return StartReviewForm(data, prefix="review")

        def review(d: dict[str, Any]) -> str:
            services.case_start_review(
                case=case, actor=user, expected_lock_version=_lock(d), note=d.get("note", "")
            )
            return _("審査を開始しました。")

        return _run_action(request, case, "review", build_review(post), review, build_review)
    if action == "correction":
        choices = [(c.path, c.label) for c in selectors.form_field_choices(definition, _language())]

        def build_correction(data: QueryDict) -> Form:
            return CorrectionForm(data, prefix="correction", field_choices=choices)

        def correction(d: dict[str, Any]) -> str:
            services.case_request_correction(
                case=case,
                actor=user,
                message=d["message"],
                fields=list(d.get("targets") or []),
                deadline=d["deadline"],
                expected_lock_version=_lock(d),
            )
            return _("補正を依頼しました。申請者にお知らせしました。")

        return _run_action(
            request, case, "correction", build_correction(post), correction, build_correction
        )
    if action == "approval":

        def build_approval(data: QueryDict) -> Form:
            return SendToApprovalForm(data, prefix="approval")

        def approval(d: dict[str, Any]) -> str:
            services.case_send_to_approval(
                case=case,
                actor=user,
                proposed_outcome=d["proposed_outcome"],
                comment=d.get("comment", ""),
                expected_lock_version=_lock(d),
            )
            return _("決裁に回しました。")

        return _run_action(
            request, case, "approval", build_approval(post), approval, build_approval
        )
    if action == "complete":
        outcomes = selectors.case_actions(user=user, case=case).complete_outcomes or tuple(
            ApplicationOutcome.values
        )

        def build_complete(data: QueryDict) -> Form:
            return CompleteForm(data, prefix="complete", outcomes=outcomes)

        def complete(d: dict[str, Any]) -> str:
            services.case_complete(
                case=case,
                actor=user,
                outcome=d["outcome"],
                note=d.get("note", ""),
                expected_lock_version=_lock(d),
            )
            return _("完了にしました。申請者にお知らせしました。")

        return _run_action(
            request, case, "complete", build_complete(post), complete, build_complete
        )
    if action == "withdraw":

        def build_withdraw(data: QueryDict) -> Form:
            return WithdrawForm(data, prefix="withdraw")

        def withdraw(d: dict[str, Any]) -> str:
            services.case_withdraw(
                case=case, actor=user, reason=d["reason"], expected_lock_version=_lock(d)
            )
            return _("取下げを記録しました。")

        return _run_action(
            request, case, "withdraw", build_withdraw(post), withdraw, build_withdraw
        )
    if action == "assign":
        assignees = _user_choices(
            selectors.assignable_staff(municipality_codes={case.municipality_id})
        )

        def build_assign(data: QueryDict) -> Form:
            return AssignForm(data, prefix="assign", assignees=assignees)

        def assign(d: dict[str, Any]) -> str:
            chosen = d.get("assignee") or ""
            assignee = User.objects.filter(pk=int(chosen)).first() if chosen else None
            services.case_assign(case=case, actor=user, assignee=assignee)
            return _("担当者を変更しました。")

        return _run_action(request, case, "assign", build_assign(post), assign, build_assign)
    if action == "note":

        def build_note(data: QueryDict) -> Form:
            return NoteForm(data, prefix="note")

        def note(d: dict[str, Any]) -> str:
            services.case_note_add(case=case, actor=user, text=d["text"])
            return _("メモを追加しました。")

        return _run_action(request, case, "note", build_note(post), note, build_note)
    if action == "decide":
        return _decide(request, case, user)
    return _error(request, _("ページが見つかりません。"))


def _decide(request: HttpRequest, case: Case, user: User) -> HttpResponse:
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
            data,
            prefix=key,
            candidates=candidates,
            delegate_only=not step_action.can_decide,
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

    return _run_action(request, case, key, build(request.POST), decide, build)


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


# --- Approval routes ---------------------------------------------------------------------------


@require_GET
@staff_required
def routes(request: HttpRequest) -> HttpResponse:
    """Approval routes per procedure (決裁ルート)."""
    user = staff_user(request)
    if not policy.reader_codes(user):
        return _forbidden(request)
    procedures = list(selectors.route_procedures(user=user))
    rows = [
        {"procedure": p, "route": selectors.approval_route_view(procedure=p)} for p in procedures
    ]
    return render(
        request,
        "cases/staff/routes.html",
        {"rows": rows, "editor_codes": policy.route_editor_codes(user)},
    )


@require_http_methods(["GET", "POST"])
@staff_required
def route_edit(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Edit one procedure's approval route with plain forms: settings, add, remove, reset."""
    user = staff_user(request)
    try:
        procedure = selectors.route_procedure_get(user=user, procedure_id=procedure_id)
    except NotFound as exc:
        return _error(request, str(exc.message))
    editable = procedure.municipality_id in policy.route_editor_codes(user)
    departments = [
        (str(d.pk), d.name)
        for d in Department.objects.filter(municipality_id=procedure.municipality_id).order_by(
            "code"
        )
    ]
    users = _user_choices(selectors.route_user_choices(municipality_code=procedure.municipality_id))
    route = selectors.approval_route_view(procedure=procedure)
    settings_form = RouteSettingsForm(
        initial={"approval_required": route.approval_required}, prefix="settings"
    )
    next_position = max((s.position for s in route.steps), default=0) + 1
    step_form = RouteStepForm(
        initial={"position": next_position}, prefix="step", departments=departments, users=users
    )
    status = 200
    if request.method == "POST":
        if not editable:
            return _forbidden(request)
        action = request.POST.get("action", "")
        try:
            if action == "settings":
                settings_form = RouteSettingsForm(request.POST, prefix="settings")
                if settings_form.is_valid():
                    services.approval_route_set_required(
                        actor=user,
                        procedure=procedure,
                        approval_required=settings_form.cleaned_data["approval_required"],
                    )
                    messages.success(request, _("決裁ルートを保存しました。"))
                    return redirect("cases-staff:route-edit", procedure_id=procedure.pk)
            elif action == "add":
                step_form = RouteStepForm(
                    request.POST, prefix="step", departments=departments, users=users
                )
                if step_form.is_valid():
                    services.approval_route_step_add(
                        actor=user, procedure=procedure, step=step_form.spec()
                    )
                    messages.success(request, _("段階を追加しました。"))
                    return redirect("cases-staff:route-edit", procedure_id=procedure.pk)
            elif action == "remove":
                index = int(request.POST.get("index", "-1"))
                services.approval_route_step_remove(actor=user, procedure=procedure, index=index)
                messages.success(request, _("段階を削除しました。"))
                return redirect("cases-staff:route-edit", procedure_id=procedure.pk)
            elif action == "reset":
                services.approval_route_reset(actor=user, procedure=procedure)
                messages.success(request, _("標準の決裁ルートに戻しました。"))
                return redirect("cases-staff:route-edit", procedure_id=procedure.pk)
        except ValueError:
            messages.error(request, _("入力内容に誤りがあります。"))
        except ApplicationError as exc:
            step_form.add_application_error(exc)
        status = 400
    return render(
        request,
        "cases/staff/route_edit.html",
        {
            "procedure": procedure,
            "route": route,
            "editable": editable,
            "settings_form": settings_form,
            "step_form": step_form,
        },
        status=status,
    )


# --- Counter (書かない窓口) and paper intake ------------------------------------------------------


def _intake_procedure_choices(user: User) -> list[tuple[str, str]]:
    procedures = list(selectors.intake_procedures(user=user))
    many = len({p.municipality_id for p in procedures}) > 1
    return [(str(p.pk), f"{p.municipality.name} {p.name}" if many else p.name) for p in procedures]


def _intake_procedure(user: User, procedure_id: str) -> Procedure | None:
    if not procedure_id.isdigit():
        return None
    return selectors.intake_procedures(user=user).filter(pk=int(procedure_id)).first()


@require_http_methods(["GET", "POST"])
@staff_required
def counter_start(request: HttpRequest) -> HttpResponse:
    """書かない窓口 1/3: choose the procedure and record the identity check."""
    user = staff_user(request)
    if not policy.intake_codes(user):
        return _forbidden(request)
    posted = request.POST if request.method == "POST" else None
    form = CounterStartForm(posted, procedures=_intake_procedure_choices(user))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            procedure = _intake_procedure(user, form.cleaned_data["procedure"])
            if procedure is None:
                form.add_error("procedure", _("手続を選んでください。"))
            else:
                try:
                    intake = services.intake_start_counter(
                        procedure=procedure,
                        actor=user,
                        identity=form.identity(),
                        contact_email=form.cleaned_data.get("contact_email") or "",
                    )
                except ApplicationError as exc:
                    form.add_application_error(exc)
                else:
                    return redirect("cases-staff:intake-fill", application_id=intake.application_id)
    return render(
        request,
        "cases/staff/counter_start.html",
        {
            "form": form,
            "unsupported": selectors.intake_unsupported_procedures(user=user),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@staff_required
def paper_start(request: HttpRequest) -> HttpResponse:
    """Paper 1/3: choose the procedure and upload the scan of the paper application."""
    user = staff_user(request)
    if not policy.intake_codes(user):
        return _forbidden(request)
    form = PaperStartForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        procedures=_intake_procedure_choices(user),
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            procedure = _intake_procedure(user, form.cleaned_data["procedure"])
            if procedure is None:
                form.add_error("procedure", _("手続を選んでください。"))
            else:
                try:
                    intake = services.intake_start_paper(
                        procedure=procedure,
                        actor=user,
                        scan=form.cleaned_data["scan"],
                        contact_email=form.cleaned_data.get("contact_email") or "",
                    )
                except ApplicationError as exc:
                    form.add_application_error(exc)
                else:
                    return redirect("cases-staff:intake-fill", application_id=intake.application_id)
    return render(
        request,
        "cases/staff/paper_start.html",
        {"form": form, "unsupported": selectors.intake_unsupported_procedures(user=user)},
        status=status,
    )


def _intake_or_error(request: HttpRequest, application_id: Any) -> Intake | HttpResponse:
    try:
        intake = selectors.intake_get_for_staff(
            user=staff_user(request), application_id=application_id
        )
    except NotFound as exc:
        return _error(request, str(exc.message))
    if intake.application.status != ApplicationStatus.DRAFT:
        case = Case.objects.filter(application_id=intake.application_id).first()
        if case is not None:
            return redirect("cases-staff:detail", application_id=intake.application_id)
        return _error(request, _("この申請はすでに登録されています。"), status=409)
    return intake


@require_http_methods(["GET", "POST"])
@staff_required
def intake_fill(request: HttpRequest, application_id: uuid.UUID) -> HttpResponse:
    """2/3: the clerk fills every step of the form on one page (with the resident or the paper)."""
    found = _intake_or_error(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    intake = found
    user = staff_user(request)
    application = intake.application
    definition = FormDefinition.from_json(application.form_version.definition)
    language = _language()
    answers: dict[str, Any] = dict(application.answers)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        posted: dict[str, Any] = {}
        for step in definition.steps:
            file_ids: dict[str, list[str]] = {}
            for path in definition.file_fields(step.key):
                for upload in request.FILES.getlist(path):
                    try:
                        stored = services.intake_attachment_store(
                            intake=intake, actor=user, path=path, upload=upload
                        )
                    except ApplicationError as exc:
                        errors.setdefault(path, []).append(str(exc.message))
                    else:
                        file_ids.setdefault(path, []).append(str(stored.pk))
            posted[step.key] = answers_from_post(
                definition, request.POST, step_key=step.key, file_ids=file_ids
            )
        action = pending_action(request.POST)
        if action is not None and action.kind == "postal":
            posted, postal_error = apply_postal_lookup(definition, posted, action.path)
            if postal_error:
                errors[action.path] = [postal_error]
        try:
            result = services.intake_save_answers(intake=intake, actor=user, answers=posted)
        except ApplicationError as exc:
            return _error(request, str(exc.message), status=409)
        answers = posted
        if action is None:
            for path, messages_ in result.errors.items():
                errors.setdefault(path, []).extend(messages_)
            if not errors:
                return redirect("cases-staff:intake-confirm", application_id=application.pk)
            status = 400
        elif errors:
            status = 400
    lookup = procedure_services.file_lookup_for(application)
    steps = [
        {
            "key": step.key,
            "title": step.title_for(language),
            "html": render_step(
                definition, step.key, answers, errors, language=language, file_lookup=lookup
            ),
        }
        for step in definition.steps
    ]
    return render(
        request,
        "cases/staff/intake_fill.html",
        {
            "intake": intake,
            "application": application,
            "procedure": application.procedure,
            "steps": steps,
            "error_list": error_items(definition, errors, language=language),
            "has_files": True,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@staff_required
def intake_confirm(request: HttpRequest, application_id: uuid.UUID) -> HttpResponse:
    """3/3: printable summary, the resident's confirmation (or paper check), then submit."""
    found = _intake_or_error(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    intake = found
    user = staff_user(request)
    application: Application = intake.application
    definition = FormDefinition.from_json(application.form_version.definition)
    language = _language()
    lookup = procedure_services.file_lookup_for(application)
    result = validate_answers(definition, application.answers, file_lookup=lookup)
    is_counter = intake.channel == Channel.COUNTER
    posted = request.POST if request.method == "POST" else None
    files = request.FILES if request.method == "POST" else None
    form: Form = CounterConfirmForm(posted, files) if is_counter else PaperConfirmForm(posted)
    status = 200
    if request.method == "POST":
        status = 400
        if result.errors:
            messages.error(request, _("入力が終わっていない項目があります。"))
            return redirect("cases-staff:intake-fill", application_id=application.pk)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if is_counter:
                    case = services.intake_submit(
                        intake=intake,
                        actor=user,
                        confirmation_method=data["method"],
                        confirmation_name=data.get("confirmation_name") or "",
                        resident_confirmed=bool(data.get("resident_confirmed")),
                        confirmation_scan=data.get("confirmation_scan")
                        if data["method"] == ConfirmationMethod.SIGNED_SUMMARY_SCAN
                        else None,
                    )
                else:
                    case = services.intake_submit(
                        intake=intake, actor=user, confirmation_method=ConfirmationMethod.PAPER_SCAN
                    )
            except ApplicationError as exc:
                if hasattr(form, "add_application_error"):
                    form.add_application_error(exc)
            else:
                messages.success(
                    request,
                    _("申請を受け付けました（受付番号 %(receipt)s）。")
                    % {"receipt": case.receipt_number},
                )
                return redirect("cases-staff:detail", application_id=case.application_id)
    rows = summary(definition, result.cleaned, language=language, file_lookup=lookup)
    sections: list[dict[str, Any]] = []
    for row in rows:
        if not sections or sections[-1]["key"] != row.step_key:
            sections.append({"key": row.step_key, "title": row.step_title, "rows": []})
        sections[-1]["rows"].append(row)
    return render(
        request,
        "cases/staff/intake_confirm.html",
        {
            "intake": intake,
            "application": application,
            "procedure": application.procedure,
            "sections": sections,
            "incomplete": bool(result.errors),
            "form": form,
            "is_counter": is_counter,
        },
        status=status,
    )


# --- Numbers -----------------------------------------------------------------------------------


@require_GET
@staff_required
def stats(request: HttpRequest) -> HttpResponse:
    """Per-procedure figures: counts, processing time, time per state, corrections, overdue."""
    user = staff_user(request)
    codes = policy.reader_codes(user)
    if not codes:
        return _forbidden(request)
    form = StatsFilterForm(request.GET or None, municipalities=_municipality_choices(codes))
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    rows = selectors.case_stats(
        user=user,
        municipality_code=data.get("municipality") or "",
        since=data.get("since"),
        until=data.get("until"),
    )
    return render(
        request,
        "cases/staff/stats.html",
        {
            "form": form,
            "rows": rows,
            "steps": [label for label, _v in rows[0].step_rows] if rows else [],
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def queue_url(**params: str) -> str:
    """The queue's address with filters (for links from other pages)."""
    base = reverse("cases-staff:queue")
    return f"{base}?{urlencode(params)}" if params else base
