"""Writes for case processing: cases, assignment, notes, the workflow, 電子決裁 and intake.

Every change is audited in the same transaction (target ``application``/<application id>, so a
case's audit trail is one query). Status changes go through
``procedures.services.application_transition`` (the only way to change an application's
status); the case then folds the new ``StatusChange`` rows into its mirrors and timings
(:func:`case_sync`). Concurrent edits are refused with ``Conflict(code="stale_application")``
through the application's ``lock_version`` (``procedures.services.application_lock``).

A package split along the old module's sections; every name stays importable from
``machi.cases.services``. The approval rules (差戻し, 否決, segregation of duties) are documented
in :mod:`machi.cases.services.approval`.
"""

from __future__ import annotations

from machi.cases.services._base import (
    BULK_LIMIT,
    COUNT_BUSINESS_DAYS,
    MAX_COMMENT_LENGTH,
    MAX_NOTE_LENGTH,
)
from machi.cases.services.approval import (
    approval_decide,
    approval_is_required,
    approval_people_excluded,
    case_send_to_approval,
    latest_approval_request,
    step_eligible,
)
from machi.cases.services.assignment import (
    BulkResult,
    case_assign,
    case_bulk_assign,
    case_note_add,
)
from machi.cases.services.backfill import (
    BackfillResult,
    cases_backfill,
)
from machi.cases.services.creation import (
    case_create_for_application,
    case_open_for_submission,
    case_sync,
    check_completion_allowed,
    compute_due_date,
    fold_history,
)
from machi.cases.services.intake import (
    IdentityCheck,
    intake_attachment_store,
    intake_save_answers,
    intake_start_counter,
    intake_start_paper,
    intake_submit,
    intake_supported,
    prefill_from_identity,
)
from machi.cases.services.routes import (
    EffectiveRoute,
    RouteStepSpec,
    approval_route_effective,
    approval_route_reset,
    approval_route_save,
    approval_route_set_required,
    approval_route_step_add,
    approval_route_step_remove,
)
from machi.cases.services.workflow import (
    case_bulk_start_review,
    case_complete,
    case_request_correction,
    case_start_review,
    case_withdraw,
)
from machi.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound

__all__ = [
    "BULK_LIMIT",
    "COUNT_BUSINESS_DAYS",
    "MAX_COMMENT_LENGTH",
    "MAX_NOTE_LENGTH",
    "BackfillResult",
    "BulkResult",
    "Conflict",
    "EffectiveRoute",
    "Forbidden",
    "IdentityCheck",
    "InvalidInput",
    "NotFound",
    "RouteStepSpec",
    "approval_decide",
    "approval_is_required",
    "approval_people_excluded",
    "approval_route_effective",
    "approval_route_reset",
    "approval_route_save",
    "approval_route_set_required",
    "approval_route_step_add",
    "approval_route_step_remove",
    "case_assign",
    "case_bulk_assign",
    "case_bulk_start_review",
    "case_complete",
    "case_create_for_application",
    "case_note_add",
    "case_open_for_submission",
    "case_request_correction",
    "case_send_to_approval",
    "case_start_review",
    "case_sync",
    "case_withdraw",
    "cases_backfill",
    "check_completion_allowed",
    "compute_due_date",
    "fold_history",
    "intake_attachment_store",
    "intake_save_answers",
    "intake_start_counter",
    "intake_start_paper",
    "intake_submit",
    "intake_supported",
    "latest_approval_request",
    "prefill_from_identity",
    "step_eligible",
]
