"""The resident's application flow: steps saved as they go, review, signature, receipt, tracking."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from machi.core.exceptions import ApplicationError, InvalidInput, NotFound
from machi.core.models import User
from machi.files.exceptions import UnsafeFile
from machi.identity.signing_clients import (
    SigningTask,
    chosen_client,
    signing_panels,
    signing_receive,
)
from machi.procedures import selectors, services
from machi.procedures.formengine import (
    ErrorItem,
    FormDefinition,
    answers_from_post,
    apply_postal_lookup,
    error_items,
    pending_action,
    render_step,
    summary,
    validate_answers,
)
from machi.procedures.limits import anonymous_rate_limited
from machi.procedures.models import Application, ApplicationStatus, AssuranceLevel


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _session_ids(request: HttpRequest) -> list[str]:
    return list(request.session.get(services.SESSION_APPLICATIONS_KEY, []))


def _remember(request: HttpRequest, application: Application) -> None:
    ids = _session_ids(request)
    if str(application.pk) not in ids:
        ids.append(str(application.pk))
        request.session[services.SESSION_APPLICATIONS_KEY] = ids[-50:]


def _application_or_404(request: HttpRequest, application_id: Any) -> Application | HttpResponse:
    try:
        return selectors.application_get_for_applicant(
            application_id=str(application_id),
            user=_user(request),
            session_ids=_session_ids(request),
        )
    except NotFound as exc:
        return render(request, "web/portal/not_found.html", {"message": exc.message}, status=404)


def _language() -> str:
    return translation.get_language() or "ja"


@require_POST
@anonymous_rate_limited
def start(request: HttpRequest, code: str, slug: str) -> HttpResponse:
    """Open the resident's draft of this procedure, or start one, and go to its step."""
    try:
        procedure = selectors.procedure_get_public(municipality_code=code, slug=slug)
        started, resumed = services.application_start_or_resume(
            procedure=procedure,
            applicant=_user(request),
            session_ids=_session_ids(request),
            language=_language(),
        )
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
        return redirect("procedures:detail", code=code, slug=slug)
    application = started.application
    if resumed:
        messages.info(request, _("入力途中の下書きを開きました。続きから入力できます。"))
        return redirect(
            "procedures:step", application_id=application.pk, step=application.current_step
        )
    _remember(request, application)
    if started.resume_token:
        # Shown once on the first step so the resident can come back to the draft later.
        request.session[f"resume:{application.pk}"] = started.resume_token
    return redirect("procedures:step", application_id=application.pk, step=application.current_step)


@require_GET
def resume(request: HttpRequest, token: str) -> HttpResponse:
    """Resume an anonymous draft from its resume link."""
    try:
        application = services.application_resume(token=token)
    except NotFound as exc:
        return render(request, "web/portal/not_found.html", {"message": exc.message}, status=404)
    _remember(request, application)
    return redirect("procedures:step", application_id=application.pk, step=application.current_step)


def _file_ids_from_upload(
    request: HttpRequest,
    application: Application,
    definition: FormDefinition,
    step: str,
    *,
    only: set[str] | None = None,
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Store the step's uploaded files (made safe) and return their ids and upload errors.

    Uploads arrive under their instance path (e.g. ``items.items.0.photo`` inside a group).
    ``only``: the ``step.field`` answers that may change (a correction); other uploads are
    ignored, never stored.
    """
    ids: dict[str, list[str]] = {}
    errors: dict[str, list[str]] = {}
    for path in request.FILES:
        field = definition.field_at(path)
        if field is None or field.type != "file" or definition.step_of(path) != step:
            continue
        if only is not None and ".".join(path.split(".")[:2]) not in only:
            continue
        for upload in request.FILES.getlist(path):
            try:
                stored = services.attachment_store(
                    application=application, path=path, upload=upload, actor=_user(request)
                )
            except UnsafeFile as exc:
                errors.setdefault(path, []).append(str(exc.message))
            else:
                ids.setdefault(path, []).append(str(stored.pk))
    return ids, errors


@require_http_methods(["GET", "POST"])
def step(request: HttpRequest, application_id: Any, step: str) -> HttpResponse:
    """One step of the form: saved on every submit, validated by the server, then on to the next."""
    found = _application_or_404(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    application = found
    if application.status != ApplicationStatus.DRAFT:
        return redirect("procedures:my-application", application_id=application.pk)
    definition = application.form_version.form
    step_keys = [s.key for s in definition.steps]
    if step not in step_keys:
        return render(
            request,
            "web/portal/not_found.html",
            {"message": _("ページが見つかりません。")},
            status=404,
        )
    index = step_keys.index(step)
    answers: dict[str, Any] = application.answers
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        file_ids, upload_errors = _file_ids_from_upload(request, application, definition, step)
        step_answers = answers_from_post(definition, request.POST, step_key=step, file_ids=file_ids)
        action = pending_action(request.POST)
        result = services.application_save_step(
            application=application,
            step_key=step,
            step_answers=step_answers,
            file_lookup=services.file_lookup_for(application),
        )
        answers = application.answers
        if action is not None:
            if action.kind == "postal":
                answers, postal_error = apply_postal_lookup(definition, answers, action.path)
                services.application_save_step(
                    application=application, step_key=step, step_answers=answers.get(step, {})
                )
                if postal_error:
                    errors = {f"{action.path}.postal_code": [postal_error]}
                    status = 400
            # add/remove group items are applied by answers_from_post; show the step again
            return render(
                request,
                "procedures/apply/step.html",
                _step_context(application, definition, step, index, answers, errors),
                status=status,
            )
        # A refused upload says only why it was refused: not also "attach a file" for a
        # required field, since the resident did attach one.
        errors = {**result.errors, **upload_errors}
        going_back = "_back" in request.POST
        if going_back and index > 0:
            return redirect(
                "procedures:step", application_id=application.pk, step=step_keys[index - 1]
            )
        if not errors:
            if index + 1 < len(step_keys):
                return redirect(
                    "procedures:step", application_id=application.pk, step=step_keys[index + 1]
                )
            return redirect("procedures:review", application_id=application.pk)
        status = 400
    return render(
        request,
        "procedures/apply/step.html",
        _step_context(application, definition, step, index, answers, errors),
        status=status,
    )


def _step_context(
    application: Application,
    definition: FormDefinition,
    step: str,
    index: int,
    answers: dict[str, Any],
    errors: dict[str, list[str]],
) -> dict[str, Any]:
    language = _language()
    step_obj = definition.step(step)
    return {
        "application": application,
        "procedure": application.procedure,
        "step": step_obj,
        "step_title": step_obj.title_for(language),
        "step_number": index + 1,
        "step_count": len(definition.steps),
        "fields_html": render_step(
            definition,
            step,
            answers,
            errors,
            language=language,
            file_lookup=services.file_lookup_for(application),
        ),
        "errors": errors,
        "error_list": _error_list(definition, errors, language),
        "has_files": bool(definition.file_fields(step)),
        "is_first": index == 0,
    }


def _error_list(
    definition: FormDefinition, errors: dict[str, list[str]], language: str
) -> list[ErrorItem]:
    """Errors for the summary at the top of the page, each linking to its field."""
    return error_items(definition, errors, language=language)


def _signing_task(
    request: HttpRequest, application: Application, cleaned: dict[str, Any]
) -> SigningTask:
    """The card signature the review step asks for: the exact canonical bytes of the answers."""
    return SigningTask(
        purpose="sign",
        data=services.submission_signing_bytes(application, cleaned),
        target_type="procedures.application",
        target_id=str(application.pk),
        action_label=_("申請する"),
        municipality_code=application.municipality_id,
        user=_user(request),
    )


@require_http_methods(["GET", "POST"])
@anonymous_rate_limited
def review(request: HttpRequest, application_id: Any) -> HttpResponse:
    """Review everything before submitting; sign with the card where the procedure asks for it."""
    found = _application_or_404(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    application = found
    if application.status != ApplicationStatus.DRAFT:
        return redirect("procedures:my-application", application_id=application.pk)
    definition = application.form_version.form
    result = validate_answers(
        definition, application.answers, file_lookup=services.file_lookup_for(application)
    )
    language = _language()
    needs_card = application.procedure.assurance_level == AssuranceLevel.CARD_SIGNATURE
    signing_task = None
    if not result.errors and needs_card:
        signing_task = _signing_task(request, application, result.cleaned)
    status = 200
    form_errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if result.errors:
            status = 400
        else:
            signature = None
            waiting = False
            if signing_task is not None:
                # The chosen signing client only obtains the signature; application_submit
                # verifies it (chain, validity, key usage, revocation) whatever the client.
                try:
                    obtained = signing_receive(request, signing_task)
                except InvalidInput as exc:
                    form_errors = {"signature": [str(exc.message)]}
                else:
                    waiting = obtained is None
                    if obtained is not None:
                        signature = services.CardSignature(
                            signature_b64=obtained.signature_b64,
                            certificate_pem=obtained.certificate_pem,
                        )
            if not form_errors and not waiting:
                try:
                    submitted = services.application_submit(
                        application=application,
                        actor=_user(request),
                        idempotency_key=request.POST.get("idempotency_key") or None,
                        signature=signature,
                        file_lookup=services.file_lookup_for(application),
                    )
                except InvalidInput as exc:
                    form_errors = exc.field_errors or {"signature": [str(exc.message)]}
                    if not exc.field_errors:
                        form_errors = {"signature": [str(exc.message)]}
                else:
                    return HttpResponseRedirect(
                        reverse("procedures:done", kwargs={"application_id": submitted.pk})
                    )
            status = 200 if waiting and not form_errors else 400
    payment_required = False
    if not result.errors:
        problems = services.submission_problems(application, result.cleaned)
        payment_required = any(p.code == "payment_required" for p in problems)
    first_error_step = None
    if result.errors:
        first_error_step = definition.step_of(next(iter(result.errors)))
    return render(
        request,
        "procedures/apply/review.html",
        {
            "application": application,
            "procedure": application.procedure,
            "rows": summary(
                definition,
                result.cleaned,
                language=language,
                file_lookup=services.file_lookup_for(application),
            ),
            "incomplete": bool(result.errors),
            "first_error_step": first_error_step,
            "needs_card": needs_card,
            "payment_required": payment_required,
            "signing_panels": signing_panels(request, signing_task) if signing_task else [],
            "signing_client": chosen_client(request),
            "form_errors": form_errors,
            "idempotency_key": secrets.token_urlsafe(16),
            "resume_token": request.session.get(f"resume:{application.pk}"),
        },
        status=status,
    )


@require_GET
def done(request: HttpRequest, application_id: Any) -> HttpResponse:
    """The receipt page (受付番号)."""
    found = _application_or_404(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    if found.status == ApplicationStatus.DRAFT:
        return redirect("procedures:review", application_id=found.pk)
    request.session.pop(f"resume:{found.pk}", None)
    return render(request, "procedures/apply/done.html", {"application": found})


@require_GET
def my_applications(request: HttpRequest) -> HttpResponse:
    """The resident's applications (わたしの申請) with their status."""
    user = _user(request)
    if user is None:
        ids = _session_ids(request)
        applications = list(
            Application.objects.filter(pk__in=ids, applicant__isnull=True).select_related(
                "procedure", "municipality"
            )
        )
    else:
        applications = list(selectors.application_list_for_applicant(user=user))
    return render(request, "procedures/apply/my_list.html", {"applications": applications})


@require_GET
def my_application(request: HttpRequest, application_id: Any) -> HttpResponse:
    """One application: status history, links to withdraw and to answer a correction (補正)."""
    found = _application_or_404(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    application = found
    definition = application.form_version.form
    language = _language()
    correction = application.corrections.filter(answered_at__isnull=True).first()
    return render(
        request,
        "procedures/apply/my_detail.html",
        {
            "application": application,
            "history": application.history.all(),
            "rows": summary(definition, application.cleaned, language=language)
            if application.cleaned
            else [],
            "correction": correction,
            "can_withdraw": application.status in WITHDRAWABLE,
        },
    )


# The statuses in which the applicant may still withdraw (the service has the final word).
WITHDRAWABLE = (ApplicationStatus.SUBMITTED, ApplicationStatus.CORRECTION_REQUESTED)


@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, application_id: Any) -> HttpResponse:
    """Withdraw (取下げ) after a confirmation page that says what happens to fees and refunds."""
    found = _application_or_404(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    application = found
    if application.status not in WITHDRAWABLE:
        messages.error(
            request, _("処理が始まっているため取り下げできません。担当課にご連絡ください。")
        )
        return redirect("procedures:my-application", application_id=application.pk)
    if request.method == "POST":
        try:
            services.application_withdraw(
                application=application,
                actor=_user(request),
                reason=request.POST.get("reason", "")[:500],
            )
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("申請を取り下げました。"))
        return redirect("procedures:my-application", application_id=application.pk)
    return render(request, "procedures/apply/withdraw_confirm.html", {"application": application})


@require_http_methods(["GET", "POST"])
def draft_delete(request: HttpRequest, application_id: Any) -> HttpResponse:
    """Delete a draft the resident no longer wants, after a confirmation page."""
    found = _application_or_404(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    application = found
    if application.status != ApplicationStatus.DRAFT:
        return redirect("procedures:my-application", application_id=application.pk)
    if request.method == "POST":
        procedure = application.procedure
        try:
            services.application_draft_delete(application=application, actor=_user(request))
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
            return redirect(
                "procedures:step", application_id=application.pk, step=application.current_step
            )
        ids = [i for i in _session_ids(request) if i != str(application_id)]
        request.session[services.SESSION_APPLICATIONS_KEY] = ids
        request.session.pop(f"resume:{application_id}", None)
        messages.success(request, _("下書きを削除しました。"))
        return redirect("procedures:detail", code=procedure.municipality_id, slug=procedure.slug)
    return render(request, "procedures/apply/draft_delete.html", {"application": application})


@require_GET
def attachment(request: HttpRequest, application_id: Any, file_id: str) -> HttpResponseBase:
    """Download one of the application's own attachments (its applicant only)."""
    found = _application_or_404(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    try:
        return services.attachment_response(
            application=found, file_id=file_id, actor=_user(request), purpose="申請者本人による確認"
        )
    except NotFound as exc:
        return render(request, "web/portal/not_found.html", {"message": exc.message}, status=404)
