"""The workflow of a case: review, correction requests (補正), completion and withdrawal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from machi.cases.models import (
    ApprovalRequestStatus,
    Case,
)
from machi.cases.services._base import (
    MAX_COMMENT_LENGTH,
    _audit,
    _require_handler,
)
from machi.cases.services.approval import approval_is_required, latest_approval_request
from machi.cases.services.assignment import BulkResult, _bulk_cases, case_assign
from machi.cases.services.creation import _transition, case_sync
from machi.core.exceptions import Conflict, Forbidden, InvalidInput
from machi.core.models import User
from machi.procedures import services as procedure_services
from machi.procedures.formengine import FormDefinition
from machi.procedures.states import ApplicationOutcome, ApplicationStatus

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors and services.
    pass


# --- Workflow ----------------------------------------------------------------------------------


@transaction.atomic
def case_start_review(
    *, case: Case, actor: User, expected_lock_version: int | None = None, note: str = ""
) -> Case:
    """受付 → 審査中 (also: resume review of a case waiting for a correction)."""
    _require_handler(actor, case)
    result = _transition(
        case,
        ApplicationStatus.IN_REVIEW,
        actor=actor,
        expected_lock_version=expected_lock_version,
        note=note,
    )
    _audit(case, "case.start_review", actor)
    if result.assignee_id is None:
        result = case_assign(case=result, actor=actor, assignee=actor)
    return result


def case_bulk_start_review(*, actor: User, case_ids: Iterable[int]) -> BulkResult:
    """Move many 受付 cases to 審査中 (queue bulk action); others are skipped."""
    ids = list(case_ids)
    changed = 0
    cases = _bulk_cases(actor, ids).filter(status=ApplicationStatus.SUBMITTED)
    for case in cases.select_related("application"):
        try:
            with transaction.atomic():
                case_start_review(case=case, actor=actor)
        except (Conflict, Forbidden):
            continue
        changed += 1
    return BulkResult(changed=changed, skipped=len(set(ids)) - changed)


@transaction.atomic
def case_request_correction(
    *,
    case: Case,
    actor: User,
    message: str,
    fields: list[str],
    deadline: dt.date,
    expected_lock_version: int | None = None,
) -> Any:  # procedures' CorrectionRequest (not importable here)
    """Ask the applicant to correct fields by a deadline (補正依頼); the case waits for them."""
    _require_handler(actor, case)
    definition = FormDefinition.from_json(case.application.form_version.definition)
    unknown = [f for f in fields if definition.field_at(f) is None]
    if unknown:
        raise InvalidInput(
            _("様式にない項目が指定されました。"),
            field_errors={"fields": [_("様式にない項目が指定されました。")]},
        )
    correction = procedure_services.application_request_correction(
        application=case.application,
        actor=actor,
        message=message.strip(),
        fields=fields,
        deadline=deadline,
        expected_lock_version=expected_lock_version,
    )
    case_sync(application=case.application)
    _audit(case, "case.request_correction", actor, {"fields": fields, "deadline": str(deadline)})
    return correction


@transaction.atomic
def case_complete(
    *,
    case: Case,
    actor: User,
    outcome: str,
    note: str = "",
    expected_lock_version: int | None = None,
) -> Case:
    """Complete the case with its outcome (許可・交付・却下).

    With an approval route, only after it was fully approved and with the approved decision;
    without one (``approval_required=False``), directly from 受付, 審査中 or 補正依頼中.
    """
    _require_handler(actor, case)
    if outcome not in ApplicationOutcome.values:
        raise InvalidInput(
            _("結果を選んでください。"), field_errors={"outcome": [_("結果を選んでください。")]}
        )
    if approval_is_required(case.procedure):
        request = latest_approval_request(case)
        if (
            case.application.status != ApplicationStatus.APPROVING
            or request is None
            or request.status != ApprovalRequestStatus.APPROVED
        ):
            raise Conflict(
                _("この手続は決裁が完了してから完了にできます。"), code="approval_required"
            )
    result = _transition(
        case,
        ApplicationStatus.COMPLETED,
        actor=actor,
        expected_lock_version=expected_lock_version,
        note=note.strip()[:MAX_COMMENT_LENGTH],
        outcome=outcome,
    )
    _audit(case, "case.complete", actor, {"outcome": outcome})
    return result


@transaction.atomic
def case_withdraw(
    *, case: Case, actor: User, reason: str, expected_lock_version: int | None = None
) -> Case:
    """Record a withdrawal (取下げ) on the applicant's behalf (e.g. by phone or in writing)."""
    _require_handler(actor, case)
    reason = reason.strip()[:MAX_COMMENT_LENGTH]
    if not reason:
        message = _("取下げの理由・申し出の方法を入力してください。")
        raise InvalidInput(message, field_errors={"reason": [message]})
    result = _transition(
        case,
        ApplicationStatus.WITHDRAWN,
        actor=actor,
        expected_lock_version=expected_lock_version,
        note=reason,
    )
    _audit(case, "case.withdraw", actor, {"on_behalf": True})
    return result
