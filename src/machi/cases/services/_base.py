"""What every case service shares: audit entries, case events, the handler check, transitions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
    Case,
    CaseEvent,
)
from machi.core.exceptions import Forbidden
from machi.core.models import User
from machi.core.services import audit_record

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors and services.
    from machi.procedures.selectors import Application


# Count the 標準処理期間 in business days (開庁日); False counts calendar days.
COUNT_BUSINESS_DAYS = True
BULK_LIMIT = 200
MAX_NOTE_LENGTH = 4000
MAX_COMMENT_LENGTH = 2000


def _audit(
    case_or_application: Case | Application,
    action: str,
    actor: User | None,
    detail: dict[str, Any] | None = None,
    *,
    personal_data: bool = False,
    purpose: str = "",
) -> None:
    application_id = (
        case_or_application.application_id
        if isinstance(case_or_application, Case)
        else case_or_application.pk
    )
    audit_record(
        action=action,
        actor=actor,
        municipality_code=case_or_application.municipality_id,
        target_type="application",
        target_id=str(application_id),
        personal_data=personal_data,
        purpose=purpose,
        detail=detail or {},
    )


def _event(case: Case, kind: str, actor: User | None, **detail: Any) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor, detail=detail)


def _require_handler(actor: User | None, case: Case) -> User:
    if actor is None or not policy.can_handle(actor, case.municipality_id):
        raise Forbidden(_("この案件を処理する権限がありません。"))
    return actor
