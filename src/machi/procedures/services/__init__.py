"""Writes for online procedures: catalog, form versions, templates (横展開) and applications.

Every state change records an audit entry and, where it concerns the applicant, a notification
through the outbox, in the same transaction as the change.

A package split along the old module's sections; every name stays importable from
``machi.procedures.services`` so callers never import the submodules.
"""

from __future__ import annotations

from machi.procedures.formengine import FormDefinition, validate_answers
from machi.procedures.services.applications import (
    SESSION_APPLICATIONS_KEY,
    StartedApplication,
    application_resume,
    application_save_step,
    application_start,
)
from machi.procedures.services.attachments import (
    attachment_response,
    attachment_store,
    file_lookup_for,
)
from machi.procedures.services.bulk import (
    application_build,
    application_create_submitted,
    applications_bulk_create,
    bench_procedure_ensure,
)
from machi.procedures.services.catalog import (
    EDITOR_ROLES,
    PROCEDURE_FIELDS,
    _definition_hash,
    current_form_version,
    form_version_create,
    form_version_publish,
    parse_definition,
    procedure_create,
    procedure_search_text,
    procedure_update,
)
from machi.procedures.services.corrections import (
    application_answer_correction,
    application_request_correction,
    correction_needs_signature,
    correction_signing_bytes,
)
from machi.procedures.services.drafts import application_draft_delete, application_start_or_resume
from machi.procedures.services.form_drafts import form_version_save_draft
from machi.procedures.services.hooks import (
    submission_problems,
)
from machi.procedures.services.locking import application_get_for_update, application_lock
from machi.procedures.services.receipts import receipt_numbers_given
from machi.procedures.services.sharing import (
    TemplateUpdate,
    template_adopt,
    template_publish,
    template_update_apply,
    template_update_preview,
)
from machi.procedures.services.submission import (
    CardSignature,
    Submission,
    application_submit,
    application_submit_complete,
    signing_bytes_for_answers,
    submission_signing_bytes,
)
from machi.procedures.services.transitions import (
    TRANSITIONS,
    application_transition,
    application_withdraw,
)

__all__ = [
    "EDITOR_ROLES",
    "PROCEDURE_FIELDS",
    "SESSION_APPLICATIONS_KEY",
    "TRANSITIONS",
    "CardSignature",
    "FormDefinition",
    "StartedApplication",
    "Submission",
    "TemplateUpdate",
    "_definition_hash",
    "application_answer_correction",
    "application_build",
    "application_create_submitted",
    "application_draft_delete",
    "application_get_for_update",
    "application_lock",
    "application_request_correction",
    "application_resume",
    "application_save_step",
    "application_start",
    "application_start_or_resume",
    "application_submit",
    "application_submit_complete",
    "application_transition",
    "application_withdraw",
    "applications_bulk_create",
    "attachment_response",
    "attachment_store",
    "bench_procedure_ensure",
    "correction_needs_signature",
    "correction_signing_bytes",
    "current_form_version",
    "file_lookup_for",
    "form_version_create",
    "form_version_publish",
    "form_version_save_draft",
    "parse_definition",
    "procedure_create",
    "procedure_search_text",
    "procedure_update",
    "receipt_numbers_given",
    "signing_bytes_for_answers",
    "submission_problems",
    "submission_signing_bytes",
    "template_adopt",
    "template_publish",
    "template_update_apply",
    "template_update_preview",
    "validate_answers",
]
