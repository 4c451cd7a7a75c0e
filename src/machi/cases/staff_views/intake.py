"""Counter (書かない窓口) and paper intake pages: start, fill in, confirm."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from machi.cases import policy, selectors, services
from machi.cases.forms import (
    CounterConfirmForm,
    CounterStartForm,
    PaperConfirmForm,
    PaperStartForm,
)
from machi.cases.models import Case, ConfirmationMethod, Intake
from machi.core.auth import staff_required, staff_user
from machi.core.exceptions import ApplicationError, NotFound
from machi.core.models import User
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
from machi.procedures.states import ApplicationStatus, Channel

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    from machi.procedures.selectors import Application, Procedure
from machi.cases.staff_views._common import (
    _error,
    _forbidden,
    _language,
)

# --- Counter (書かない窓口) and paper intake ------------------------------------------------------


def _intake_procedure_choices(user: User, channel: str) -> list[tuple[str, str]]:
    procedures = list(selectors.intake_procedures(user=user, channel=channel))
    many = len({p.municipality_id for p in procedures}) > 1
    return [(str(p.pk), f"{p.municipality.name} {p.name}" if many else p.name) for p in procedures]


def _intake_procedure(user: User, procedure_id: str, channel: str) -> Procedure | None:
    if not procedure_id.isdigit():
        return None
    return (
        selectors.intake_procedures(user=user, channel=channel).filter(pk=int(procedure_id)).first()
    )


@require_http_methods(["GET", "POST"])
@staff_required
def counter_start(request: HttpRequest) -> HttpResponse:
    """書かない窓口 1/3: choose the procedure and record the identity check."""
    user = staff_user(request)
    if not policy.intake_codes(user):
        return _forbidden(request)
    posted = request.POST if request.method == "POST" else None
    form = CounterStartForm(posted, procedures=_intake_procedure_choices(user, Channel.COUNTER))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            procedure = _intake_procedure(user, form.cleaned_data["procedure"], Channel.COUNTER)
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
        {"form": form},
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
        procedures=_intake_procedure_choices(user, Channel.PAPER),
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            procedure = _intake_procedure(user, form.cleaned_data["procedure"], Channel.PAPER)
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
        {
            "form": form,
            "unsupported": selectors.intake_unsupported_procedures(
                user=user, channel=Channel.PAPER
            ),
        },
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
