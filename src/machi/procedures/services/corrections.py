"""Corrections (補正): staff flag fields, the applicant changes only those, staff see the diff.

A correction answer may change only the fields (and files) staff flagged (top-level fields as
``step.field``); a change anywhere else is refused. When the application was card-signed and
its signed content changes, the answer needs a new card signature over the new canonical
bytes, verified like a submission's, and the new certificate evidence is recorded. The cleaned
value of every flagged field before and after is kept on the correction request.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict, InvalidInput
from machi.core.models import User
from machi.core.services import audit_record
from machi.procedures.formengine import (
    FormDefinition,
    FormResult,
    canonical_bytes,
    validate_answers,
)
from machi.procedures.formengine.prune import prune_answers
from machi.procedures.models import Application, ApplicationStatus, CorrectionRequest
from machi.procedures.services.attachments import file_lookup_for
from machi.procedures.services.catalog import _definition
from machi.procedures.services.submission import (
    CardSignature,
    _verify_and_record_signature,
    submission_signing_bytes,
)
from machi.procedures.services.transitions import application_transition


def _check_flagged_fields(definition: FormDefinition, fields: list[str]) -> None:
    known = {f"{step.key}.{item.key}" for step in definition.steps for item in step.fields}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidInput(
            _("様式にない項目です: %(f)s") % {"f": ", ".join(unknown)},
            code="unknown_correction_field",
            field_errors={"fields": [_("様式にない項目です: %(f)s") % {"f": ", ".join(unknown)}]},
        )


@transaction.atomic
def application_request_correction(
    *,
    application: Application,
    actor: User | None,
    message: str,
    fields: list[str],
    deadline: date,
    expected_lock_version: int | None = None,
) -> CorrectionRequest:
    """Ask the applicant to correct fields or files by a deadline (補正依頼).

    ``fields`` are the top-level fields (``step.field``) the applicant may change.
    """
    if deadline <= timezone.localdate():
        raise InvalidInput(
            _("期限は明日以降の日付にしてください。"),
            field_errors={"deadline": [_("期限は明日以降の日付にしてください。")]},
        )
    if not message.strip():
        raise InvalidInput(
            _("補正の内容を入力してください。"),
            field_errors={"message": [_("補正の内容を入力してください。")]},
        )
    _check_flagged_fields(_definition(application), fields)
    application_transition(
        application=application,
        to_status=ApplicationStatus.CORRECTION_REQUESTED,
        actor=actor,
        note=message,
        expected_lock_version=expected_lock_version,
    )
    return CorrectionRequest.objects.create(
        application=application,
        message=message,
        fields=fields,
        deadline=deadline,
        requested_by=actor,
    )


def _open_correction(application: Application) -> CorrectionRequest:
    correction = (
        CorrectionRequest.objects.filter(application=application, answered_at__isnull=True)
        .order_by("-requested_at", "-id")
        .first()
    )
    if application.status != ApplicationStatus.CORRECTION_REQUESTED or correction is None:
        raise Conflict(_("補正を求められていない申請です。"), code="no_correction_requested")
    return correction


def _merged_answers(
    definition: FormDefinition,
    current: dict[str, Any],
    submitted: dict[str, Any],
    flagged: set[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(answers with only the flagged fields taken from ``submitted``, answers taking all of it).

    A flagged field missing from ``submitted`` is cleared (an unticked box, a removed file);
    an unflagged one missing keeps its current answer.
    """
    base = prune_answers(definition, current)
    new = prune_answers(definition, submitted)
    merged: dict[str, Any] = {}
    everything: dict[str, Any] = {}
    for step in definition.steps:
        old_step = dict(base.get(step.key, {}))
        new_step = new.get(step.key, {})
        merged_step = dict(old_step)
        every_step = dict(old_step)
        for item in step.fields:
            path = f"{step.key}.{item.key}"
            if item.key in new_step:
                every_step[item.key] = new_step[item.key]
            if path in flagged:
                if item.key in new_step:
                    merged_step[item.key] = new_step[item.key]
                else:
                    merged_step.pop(item.key, None)
                    every_step.pop(item.key, None)
        if merged_step or step.key in base:
            merged[step.key] = merged_step
        if every_step or step.key in base:
            everything[step.key] = every_step
    return merged, everything


def _value(cleaned: dict[str, Any], path: str) -> Any:
    step, _dot, key = path.partition(".")
    values = cleaned.get(step)
    return values.get(key) if isinstance(values, dict) else None


def _validated(
    application: Application,
    definition: FormDefinition,
    answers: dict[str, Any],
    today: date | None,
) -> FormResult:
    result = validate_answers(
        definition, answers, file_lookup=file_lookup_for(application), today=today
    )
    if result.errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=result.errors)
    return result


def _correction_answers(
    application: Application,
    correction: CorrectionRequest,
    answers: dict[str, Any],
    today: date | None,
) -> tuple[dict[str, Any], FormResult]:
    definition = _definition(application)
    flagged = set(correction.fields)
    merged, everything = _merged_answers(definition, application.answers, answers, flagged)
    tried = validate_answers(
        definition, everything, file_lookup=file_lookup_for(application), today=today
    )
    refused = {
        f"{step.key}.{item.key}": [_("この項目は補正を求められていないため、変更できません。")]
        for step in definition.steps
        for item in step.fields
        if f"{step.key}.{item.key}" not in flagged
        and _value(tried.cleaned, f"{step.key}.{item.key}")
        != _value(application.cleaned, f"{step.key}.{item.key}")
    }
    if refused:
        raise InvalidInput(
            _("補正を求められた項目だけを変更できます。"),
            code="correction_field_not_flagged",
            field_errors=refused,
        )
    return merged, _validated(application, definition, merged, today)


def correction_signing_bytes(
    *, application: Application, answers: dict[str, Any], today: date | None = None
) -> tuple[str, bytes]:
    """(version id, the bytes a new card signature must cover) for a correction answer."""
    correction = _open_correction(application)
    _merged, result = _correction_answers(application, correction, answers, today)
    version_id = application.form_version.version_id
    return version_id, canonical_bytes(version_id, result.cleaned)


def correction_needs_signature(*, application: Application) -> bool:
    """Whether changing the signed content of this application needs a new card signature."""
    return bool(application.signature_evidence_id)


@transaction.atomic
def application_answer_correction(
    *,
    application: Application,
    actor: User | None,
    answers: dict[str, Any],
    note: str = "",
    signature: CardSignature | None = None,
    file_lookup: Any = None,
    today: date | None = None,
) -> Application:
    """The applicant answers a correction request by changing the flagged fields or files.

    Changes elsewhere are refused (``correction_field_not_flagged``); a changed card-signed
    application needs ``signature`` over ``correction_signing_bytes`` (``signature_required``).
    ``file_lookup`` is ignored: the service uses the application's own files.
    """
    locked = Application.objects.select_for_update().get(pk=application.pk)
    correction = _open_correction(locked)
    merged, result = _correction_answers(locked, correction, answers, today)
    signed_content_changed = submission_signing_bytes(
        locked, result.cleaned
    ) != submission_signing_bytes(locked, locked.cleaned)
    if correction_needs_signature(application=locked) and signed_content_changed:
        if signature is None:
            raise InvalidInput(
                _(
                    "電子署名された申請の内容を変えるには、マイナンバーカードでもう一度署名してください。"
                ),
                code="signature_required",
                field_errors={"signature": [_("電子署名をしてください。")]},
            )
        _verify_and_record_signature(locked, result.cleaned, signature, actor)
        correction.signature_evidence_id = locked.signature_evidence_id
    correction.changes = [
        {
            "path": path,
            "before": _value(locked.cleaned, path),
            "after": _value(result.cleaned, path),
        }
        for path in correction.fields
    ]
    correction.answered_at = timezone.now()
    correction.answer_note = note
    correction.save(
        update_fields=["changes", "answered_at", "answer_note", "signature_evidence_id"]
    )
    locked.answers = merged
    locked.cleaned = result.cleaned
    locked.save(
        update_fields=["answers", "cleaned", "signature_evidence_id", "signer_name", "updated_at"]
    )
    audit_record(
        action="application.correction_answer",
        actor=actor,
        municipality_code=locked.municipality_id,
        target_type="application",
        target_id=str(locked.pk),
        personal_data=True,
        purpose="補正への回答",
        detail={
            "changed": [c["path"] for c in correction.changes if c["before"] != c["after"]],
            "new_signature": bool(correction.signature_evidence_id),
        },
    )
    return application_transition(
        application=locked,
        to_status=ApplicationStatus.IN_REVIEW,
        actor=actor,
        note=note or _("補正に回答しました。"),
        notify=False,
    )
