"""Reads for case processing, always scoped to the municipalities the user may read.

The queue reads only the ``Case`` table (mirrored status, dates, procedure, assignee), ordered
along its indexes, a page at a time (limited offset, no total count); status counts are capped
(``COUNT_CAP``) so a page never counts a million rows.

A package split along the old module's sections; every name stays importable from
``machi.cases.selectors``.
"""

from __future__ import annotations

from machi.cases.selectors.case import (
    Attachment,
    CaseActions,
    FieldChoice,
    HistoryItem,
    StepAction,
    approval_step_candidates,
    case_actions,
    case_attachments,
    case_audit_entries,
    case_file_ids,
    case_get_for_staff,
    case_history,
    case_intake,
    form_field_choices,
)
from machi.cases.selectors.choices import (
    CHOICES_TTL,
    MunicipalityChoices,
    StaffChoice,
    choices_forget,
    municipality_choices,
    staff_choices,
)
from machi.cases.selectors.queue import (
    CHOICES_MUNICIPALITY_LIMIT,
    COUNT_CAP,
    MAX_PAGES,
    PAGE_SIZE,
    QUEUE_STATUSES,
    SORTS,
    QueueFilter,
    QueuePage,
    QueueRow,
    StatusCount,
    assignable_staff,
    case_queue,
    case_queue_page,
    case_status_counts,
    queue_choice_codes,
    queue_default_department,
    queue_departments,
    queue_procedures,
)
from machi.cases.selectors.routes import (
    RouteStepView,
    RouteView,
    approval_route_view,
    intake_get_for_staff,
    intake_procedures,
    intake_unsupported_procedures,
    route_procedure_get,
    route_procedures,
    route_user_choices,
)
from machi.cases.selectors.stats import (
    STAT_STEPS,
    ProcedureStats,
    approval_pending_for_user,
    case_stats,
)

__all__ = [
    "CHOICES_MUNICIPALITY_LIMIT",
    "CHOICES_TTL",
    "COUNT_CAP",
    "MAX_PAGES",
    "PAGE_SIZE",
    "QUEUE_STATUSES",
    "SORTS",
    "STAT_STEPS",
    "Attachment",
    "CaseActions",
    "FieldChoice",
    "HistoryItem",
    "MunicipalityChoices",
    "ProcedureStats",
    "QueueFilter",
    "QueuePage",
    "QueueRow",
    "RouteStepView",
    "RouteView",
    "StaffChoice",
    "StatusCount",
    "StepAction",
    "approval_pending_for_user",
    "approval_route_view",
    "approval_step_candidates",
    "assignable_staff",
    "case_actions",
    "case_attachments",
    "case_audit_entries",
    "case_file_ids",
    "case_get_for_staff",
    "case_history",
    "case_intake",
    "case_queue",
    "case_queue_page",
    "case_stats",
    "case_status_counts",
    "choices_forget",
    "form_field_choices",
    "intake_get_for_staff",
    "intake_procedures",
    "intake_unsupported_procedures",
    "municipality_choices",
    "queue_choice_codes",
    "queue_default_department",
    "queue_departments",
    "queue_procedures",
    "route_procedure_get",
    "route_procedures",
    "route_user_choices",
    "staff_choices",
]
