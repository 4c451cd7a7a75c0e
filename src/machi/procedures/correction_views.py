"""Answering a correction request (補正): only what staff flagged can change.

The page names the flagged fields in words (labels from the form definition), lets the
resident edit only those (every other answer is shown read-only and a crafted POST cannot change
it), and when the application was signed with the My Number card and a signed answer changes,
a new signature over the new canonical bytes is asked for before the answer is sent.
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from machi.core.exceptions import InvalidInput
from machi.identity.signing_clients import (
    SigningTask,
    chosen_client,
    signing_panels,
    signing_receive,
)
from machi.procedures import selectors, services
from machi.procedures.apply_views import _application_or_404, _error_list, _file_ids_from_upload
from machi.procedures.apply_views import _user as _resident
from machi.procedures.formengine import (
    FormDefinition,
    answers_from_post,
    apply_postal_lookup,
    pending_action,
    render_step,
    summary,
    validate_answers,
)
from machi.procedures.models import Application, ApplicationStatus, CorrectionRequest


def _unit(path: str) -> str:
    """The answer a path belongs to: ``step.field`` (group items and parts included)."""
    return ".".join(path.split(".")[:2])


def _editable_definition(data: dict[str, Any], editable: list[str]) -> FormDefinition | None:
    """The form cut down to the flagged fields, for rendering only (validation uses all of it).

    Conditions are dropped: they may refer to fields that are not shown, and a flagged field is
    asked for whatever its condition says.
    """

    def strip(field: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in field.items() if k not in ("visible_if", "required_if")}
        if isinstance(out.get("fields"), list):
            out["fields"] = [strip(f) for f in out["fields"]]
        return out

    steps = []
    for step in data.get("steps", []):
        fields = [strip(f) for f in step["fields"] if f"{step['key']}.{f['key']}" in editable]
        if fields:
            steps.append({**step, "fields": fields})
    if not steps:
        return None
    return FormDefinition.from_json({**data, "steps": steps})


def _merge(
    request: HttpRequest, application: Application, definition: FormDefinition, editable: list[str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The stored answers with only the flagged fields taken from the POST (and their files)."""
    answers = copy.deepcopy(application.answers)
    upload_errors: dict[str, list[str]] = {}
    for step_key in dict.fromkeys(p.split(".")[0] for p in editable):
        file_ids, errors = _file_ids_from_upload(
            request, application, definition, step_key, only=set(editable)
        )
        upload_errors.update(errors)
        posted = answers_from_post(definition, request.POST, step_key=step_key, file_ids=file_ids)
        step_answers = dict(answers.get(step_key) or {})
        for path in editable:
            step, key = path.split(".")
            if step == step_key:
                step_answers[key] = posted.get(key)
        answers[step_key] = step_answers
    return answers, upload_errors


def _signed_content_changes(application: Application, answers: dict[str, Any]) -> bool:
    """Whether these answers change what the applicant's card signature covers."""
    if not services.correction_needs_signature(application=application):
        return False
    _version, new_bytes = services.correction_signing_bytes(
        application=application, answers=answers
    )
    return new_bytes != services.submission_signing_bytes(application, application.cleaned)


def _session_key(application: Application) -> str:
    return f"correction:{application.pk}"


def _open_correction(application: Application) -> CorrectionRequest | None:
    if application.status != ApplicationStatus.CORRECTION_REQUESTED:
        return None
    return application.corrections.filter(answered_at__isnull=True).first()


@require_http_methods(["GET", "POST"])
def correction(request: HttpRequest, application_id: Any) -> HttpResponse:
    """Answer a correction request: change the flagged fields or files, then resubmit."""
    found = _application_or_404(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    application = found
    correction_request = _open_correction(application)
    if correction_request is None:
        return redirect("procedures:my-application", application_id=application.pk)
    definition = application.form_version.form
    language = translation.get_language() or "ja"
    flagged = selectors.correction_editable_fields(application, language=language)
    editable = [f.path for f in flagged]
    answers = application.answers
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        answers, upload_errors = _merge(request, application, definition, editable)
        note = request.POST.get("note", "")[:2000]
        action = pending_action(request.POST)
        if action is not None and _unit(action.path) in editable:
            if action.kind == "postal":
                answers, postal_error = apply_postal_lookup(definition, answers, action.path)
                if postal_error:
                    errors = {f"{action.path}.postal_code": [postal_error]}
        else:
            lookup = services.file_lookup_for(application)
            result = validate_answers(definition, answers, file_lookup=lookup)
            errors = {**result.errors, **upload_errors}
            try:
                resign = not errors and _signed_content_changes(application, answers)
            except InvalidInput as exc:  # the service's own rules refused the answers
                errors, resign = exc.field_errors or {"note": [str(exc.message)]}, False
            if resign:
                # A signed answer changed: sign the new answers before they are sent.
                request.session[_session_key(application)] = {"answers": answers, "note": note}
                return redirect("procedures:correction-sign", application_id=application.pk)
            if not errors:
                try:
                    services.application_answer_correction(
                        application=application,
                        actor=_resident(request),
                        answers=answers,
                        note=note,
                        file_lookup=lookup,
                    )
                except InvalidInput as exc:
                    errors = exc.field_errors or {"note": [str(exc.message)]}
                else:
                    messages.success(request, _("補正に回答しました。担当課が確認します。"))
                    return redirect("procedures:my-application", application_id=application.pk)
        status = 400 if errors else 200
    return render(
        request,
        "procedures/apply/correction.html",
        _context(application, correction_request, definition, flagged, answers, errors, language),
        status=status,
    )


def _context(
    application: Application,
    correction_request: CorrectionRequest,
    definition: FormDefinition,
    flagged: list[selectors.EditableField],
    answers: dict[str, Any],
    errors: dict[str, list[str]],
    language: str,
) -> dict[str, Any]:
    editable = [f.path for f in flagged]
    shown = _editable_definition(application.form_version.definition, editable)
    lookup = services.file_lookup_for(application)
    steps = []
    if shown is not None:
        steps = [
            {
                "title": step.title_for(language),
                "html": render_step(
                    shown, step.key, answers, errors, language=language, file_lookup=lookup
                ),
            }
            for step in shown.steps
        ]
    rows = summary(definition, application.cleaned or {}, language=language, file_lookup=lookup)
    return {
        "application": application,
        "correction": correction_request,
        "flagged_labels": [f.label for f in flagged],
        "steps": steps,
        "unchanged_rows": [r for r in rows if _unit(r.path) not in editable],
        "error_list": _error_list(definition, errors, language),
        "has_files": any(
            _unit(path) in editable
            for step in definition.steps
            for path in definition.file_fields(step.key)
        ),
        "signed": bool(application.signature_evidence_id),
    }


@require_http_methods(["GET", "POST"])
def correction_sign(request: HttpRequest, application_id: Any) -> HttpResponse:
    """Sign the corrected answers with the card before they are sent (signed applications)."""
    found = _application_or_404(request, application_id)
    if isinstance(found, HttpResponse):
        return found
    application = found
    correction_request = _open_correction(application)
    pending = request.session.get(_session_key(application))
    if correction_request is None or not isinstance(pending, dict):
        return redirect("procedures:my-application", application_id=application.pk)
    definition = application.form_version.form
    language = translation.get_language() or "ja"
    lookup = services.file_lookup_for(application)
    result = validate_answers(definition, pending["answers"], file_lookup=lookup)
    if result.errors:
        return redirect("procedures:correction", application_id=application.pk)
    try:
        _version, data = services.correction_signing_bytes(
            application=application, answers=pending["answers"]
        )
    except InvalidInput:  # stale pending answers: answer the correction again
        return redirect("procedures:correction", application_id=application.pk)
    task = SigningTask(
        purpose="sign",
        data=data,
        target_type="procedures.correction",
        target_id=str(application.pk),
        action_label=_("補正を送る"),
        municipality_code=application.municipality_id,
        user=_resident(request),
    )
    form_errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        # The chosen signing client only obtains the signature; the service verifies it.
        try:
            obtained = signing_receive(request, task)
            if obtained is not None:
                services.application_answer_correction(
                    application=application,
                    actor=_resident(request),
                    answers=pending["answers"],
                    note=str(pending.get("note", "")),
                    signature=services.CardSignature(
                        signature_b64=obtained.signature_b64,
                        certificate_pem=obtained.certificate_pem,
                    ),
                )
        except InvalidInput as exc:
            form_errors = {"signature": [str(exc.message)]}
            status = 400
        else:
            if obtained is not None:
                request.session.pop(_session_key(application), None)
                messages.success(request, _("補正に回答しました。担当課が確認します。"))
                return redirect("procedures:my-application", application_id=application.pk)
    before = {
        r.path: r.display for r in summary(definition, application.cleaned or {}, language=language)
    }
    after = summary(definition, result.cleaned, language=language, file_lookup=lookup)
    return render(
        request,
        "procedures/apply/correction_sign.html",
        {
            "application": application,
            "changes": [
                {"label": r.label, "before": before.get(r.path, ""), "after": r.display}
                for r in after
                if before.get(r.path) != r.display
            ],
            "signing_panels": signing_panels(request, task),
            "signing_client": chosen_client(request),
            "form_errors": form_errors,
        },
        status=status,
    )
