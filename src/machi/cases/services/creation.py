"""Cases: creation on submission and keeping the mirrors in step with the application."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.cases.business_days import add_business_days
from machi.cases.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    ApprovalRequest,
    ApprovalRequestStatus,
    Case,
    CaseEventKind,
    StepTiming,
)
from machi.cases.services._base import (
    COUNT_BUSINESS_DAYS,
    _audit,
    _event,
)
from machi.core.exceptions import Conflict
from machi.core.models import User
from machi.procedures import services as procedure_services
from machi.procedures.selectors import application_get
from machi.procedures.states import ApplicationOutcome, ApplicationStatus

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors and services.
    from machi.procedures.selectors import Application


# --- Cases: creation and keeping the mirrors in step ---------------------------------------------


def compute_due_date(*, submitted_at: dt.datetime, days: int | None) -> dt.date | None:
    """Deadline from the 標準処理期間: ``days`` business days after the (local) submission date."""
    if days is None:
        return None
    start = timezone.localdate(submitted_at)
    if COUNT_BUSINESS_DAYS:
        return add_business_days(start, days)
    return start + dt.timedelta(days=days)


def fold_history(case: Case, changes: Iterable[Any]) -> None:
    """Apply status changes not yet seen to the case's timings and counters (no save).

    ``changes`` are the application's ``StatusChange`` rows (``application.history``), oldest first.
    """
    open_timing = (
        StepTiming.objects.filter(case=case, left_at__isnull=True).order_by("-entered_at").first()
        if case.pk
        else None
    )
    for change in changes:
        if change.pk <= case.history_applied_id:
            continue
        case.history_applied_id = change.pk
        if change.to_status == ApplicationStatus.DRAFT:
            continue
        if open_timing is not None and open_timing.step != change.to_status:
            open_timing.left_at = change.at
            open_timing.save(update_fields=["left_at"])
            open_timing = None
        if change.to_status in OPEN_STATUSES and open_timing is None:
            open_timing = StepTiming.objects.create(
                case=case,
                procedure_id=case.procedure_id,
                step=change.to_status,
                entered_at=change.at,
                actor_id=change.actor_id,
            )
        if change.to_status == ApplicationStatus.CORRECTION_REQUESTED:
            case.correction_count += 1


def _copy_mirrors(case: Case, application: Application) -> None:
    case.status = application.status
    case.is_open = application.status not in CLOSED_STATUSES
    case.outcome = application.outcome
    case.completed_at = application.completed_at
    case.receipt_number = application.receipt_number or ""


def _timings_of_new_case(case: Case, changes: Iterable[Any]) -> list[StepTiming]:
    """``fold_history`` for a case not saved yet: the timings to create, in memory."""
    timings: list[StepTiming] = []
    open_timing: StepTiming | None = None
    for change in changes:
        case.history_applied_id = max(case.history_applied_id, change.pk)
        if change.to_status == ApplicationStatus.DRAFT:
            continue
        if open_timing is not None and open_timing.step != change.to_status:
            open_timing.left_at = change.at
            open_timing = None
        if change.to_status in OPEN_STATUSES and open_timing is None:
            open_timing = StepTiming(
                procedure_id=case.procedure_id,
                step=change.to_status,
                entered_at=change.at,
                actor_id=change.actor_id,
            )
            timings.append(open_timing)
        if change.to_status == ApplicationStatus.CORRECTION_REQUESTED:
            case.correction_count += 1
    return timings


def case_open_for_submission(*, application: Application) -> Case:
    """The case of an application being submitted, inside the submission's transaction.

    What ``CaseHooks.in_transaction`` calls: no savepoint and no re-reads. The application,
    its procedure and its history (``application.history``, which the submission leaves in
    Django's prefetch cache) are the caller's; a case already existing for it is an error
    that refuses the submission (the unique index says so).
    """
    procedure = application.procedure
    submitted_at = application.submitted_at
    if application.status == ApplicationStatus.DRAFT or submitted_at is None:
        raise Conflict(_("提出されていない申請は案件にできません。"), code="not_submitted")
    case = Case(
        municipality_id=application.municipality_id,
        application=application,
        procedure=procedure,
        department_id=procedure.department_id,
        channel=application.channel,
        submitted_at=submitted_at,
        due_date=compute_due_date(
            submitted_at=submitted_at, days=procedure.standard_processing_days
        ),
    )
    _copy_mirrors(case, application)
    changes = list(application.history.all())
    timings = _timings_of_new_case(case, changes)
    case.save(force_insert=True)
    for timing in timings:
        timing.case = case
    StepTiming.objects.bulk_create(timings)
    submitter = _submitter(changes)
    _event(case, CaseEventKind.CREATED, submitter, channel=case.channel)
    _audit(case, "case.create", submitter, {"channel": case.channel})
    return case


def _submitter(changes: list[Any]) -> User | None:
    """Who submitted, from the history in hand (the actor instance the submission set)."""
    for change in changes:
        if change.to_status == ApplicationStatus.SUBMITTED and change.actor_id is not None:
            return change.actor
    return None


@transaction.atomic
def case_create_for_application(*, application: Application, actor: User | None = None) -> Case:
    """The case of a submitted application, created on first call (idempotent).

    Called by :class:`machi.cases.hooks.CaseHooks` inside every submission's transaction (all
    channels), by the counter and paper flows, and by :func:`cases_backfill`. Timings are rebuilt from the status history,
    so a case created late still reports correct times.
    """
    existing = Case.objects.filter(application_id=application.pk).first()
    if existing is not None:
        return existing
    app = application_get(application_id=application.pk)
    if app.status == ApplicationStatus.DRAFT or app.submitted_at is None:
        raise Conflict(_("提出されていない申請は案件にできません。"), code="not_submitted")
    procedure = app.procedure
    case = Case(
        municipality_id=app.municipality_id,
        application=app,
        procedure=procedure,
        department_id=procedure.department_id,
        channel=app.channel,
        submitted_at=app.submitted_at,
        due_date=compute_due_date(
            submitted_at=app.submitted_at, days=procedure.standard_processing_days
        ),
    )
    _copy_mirrors(case, app)
    try:
        with transaction.atomic():
            case.save(force_insert=True)
    except IntegrityError:
        return Case.objects.get(application_id=app.pk)
    changes = list(app.history.select_related("actor").order_by("id"))
    fold_history(case, changes)
    case.save(update_fields=["history_applied_id", "correction_count"])
    submitter = next((c.actor for c in changes if c.to_status == ApplicationStatus.SUBMITTED), None)
    _event(case, CaseEventKind.CREATED, actor or submitter, channel=app.channel)
    _audit(case, "case.create", actor or submitter, {"channel": app.channel})
    return case


@transaction.atomic
def case_sync(*, application: Application) -> Case | None:
    """Bring the case in step with its application (status, outcome, timings). Idempotent."""
    case = Case.objects.select_for_update().filter(application_id=application.pk).first()
    if case is None:
        return None
    app = application_get(application_id=application.pk)
    changes = app.history.filter(id__gt=case.history_applied_id).order_by("id")
    fold_history(case, changes)
    _copy_mirrors(case, app)
    case.save()
    return case


def check_completion_allowed(application: Application, to_status: str, outcome: str) -> None:
    """Before a status change: a case in 決裁 completes only with the approved decision."""
    if (
        to_status != ApplicationStatus.COMPLETED
        or application.status != ApplicationStatus.APPROVING
    ):
        return
    request = (
        ApprovalRequest.objects.filter(case__application_id=application.pk)
        .order_by("-created_at", "-id")
        .first()
    )
    if request is None:
        return
    if request.status != ApprovalRequestStatus.APPROVED:
        raise Conflict(_("決裁が完了していません。"), code="approval_pending")
    if (outcome == ApplicationOutcome.REJECTED) != (
        request.proposed_outcome == ApplicationOutcome.REJECTED
    ):
        raise Conflict(
            _("決裁された結果（%(outcome)s）と異なる結果では完了できません。")
            % {"outcome": ApplicationOutcome(request.proposed_outcome).label},
            code="outcome_not_approved",
        )


def _transition(
    case: Case,
    to_status: str,
    *,
    actor: User | None,
    expected_lock_version: int | None,
    note: str = "",
    outcome: str = "",
    notify: bool = True,
) -> Case:
    application = procedure_services.application_transition(
        application=case.application,
        to_status=to_status,
        actor=actor,
        note=note,
        outcome=outcome,
        expected_lock_version=expected_lock_version,
        notify=notify,
    )
    case.application = application
    synced = case_sync(application=application)
    return synced or case
