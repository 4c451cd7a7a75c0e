"""Reporting: processing times per procedure and step, and approvals waiting for a user."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, Q, Sum
from django.utils import timezone

from machi.cases import policy
from machi.cases.models import (
    OPEN_STATUSES,
    ApprovalRequestStatus,
    ApprovalStep,
    ApprovalStepStatus,
    Case,
    StepTiming,
)
from machi.core.models import User
from machi.procedures.states import ApplicationStatus

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    pass


# --- Reporting ---------------------------------------------------------------------------------

STAT_STEPS: tuple[str, ...] = OPEN_STATUSES


@dataclass(frozen=True)
class ProcedureStats:
    """Processing figures of one procedure over the chosen period (days as decimals)."""

    procedure_id: int
    procedure_name: str
    municipality_code: str
    total: int
    open: int
    completed: int
    withdrawn: int
    overdue: int
    corrections: int
    cases_with_corrections: int
    median_days: float | None
    mean_days: float | None
    step_mean_days: dict[str, float | None]

    @property
    def step_rows(self) -> list[tuple[str, float | None]]:
        return [(str(ApplicationStatus(s).label), self.step_mean_days.get(s)) for s in STAT_STEPS]


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _days(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 86400


def case_stats(
    *,
    user: User,
    municipality_code: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> list[ProcedureStats]:
    """Per procedure: counts, median/mean processing time (申請→完了), mean time per state,
    corrections and overdue cases, for cases submitted in ``[since, until]``."""
    codes = policy.reader_codes(user)
    if municipality_code:
        codes &= {municipality_code}
    cases = Case.objects.filter(municipality_id__in=codes)
    if since is not None:
        cases = cases.filter(submitted_at__gte=_start_of(since))
    if until is not None:
        cases = cases.filter(submitted_at__lt=_start_of(until + dt.timedelta(days=1)))
    today = today or timezone.localdate()
    rows = (
        cases.values("procedure_id", "procedure__name", "municipality_id")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=Q(is_open=True)),
            completed=Count("id", filter=Q(status=ApplicationStatus.COMPLETED)),
            withdrawn=Count("id", filter=Q(status=ApplicationStatus.WITHDRAWN)),
            overdue=Count("id", filter=Q(is_open=True, due_date__lt=today)),
            corrections=Sum("correction_count"),
            cases_with_corrections=Count("id", filter=Q(correction_count__gt=0)),
        )
        .order_by("municipality_id", "procedure__name")
    )
    durations: dict[int, list[float]] = defaultdict(list)
    completed = cases.filter(
        status=ApplicationStatus.COMPLETED, completed_at__isnull=False
    ).values_list("procedure_id", "submitted_at", "completed_at")
    for procedure_id, submitted_at, completed_at in completed.iterator(chunk_size=2000):
        if completed_at is None:
            continue
        durations[procedure_id].append(_days(completed_at - submitted_at))
    step_durations: dict[tuple[int, str], list[float]] = defaultdict(list)
    timings = StepTiming.objects.filter(case__in=cases, left_at__isnull=False).values_list(
        "procedure_id", "step", "entered_at", "left_at"
    )
    for procedure_id, step, entered_at, left_at in timings.iterator(chunk_size=2000):
        if left_at is None:
            continue
        step_durations[(procedure_id, step)].append(_days(left_at - entered_at))
    result = []
    for row in rows:
        procedure_id = row["procedure_id"]
        values = durations.get(procedure_id, [])
        result.append(
            ProcedureStats(
                procedure_id=procedure_id,
                procedure_name=row["procedure__name"],
                municipality_code=row["municipality_id"],
                total=row["total"],
                open=row["open"],
                completed=row["completed"],
                withdrawn=row["withdrawn"],
                overdue=row["overdue"],
                corrections=row["corrections"] or 0,
                cases_with_corrections=row["cases_with_corrections"],
                median_days=round(statistics.median(values), 2) if values else None,
                mean_days=round(statistics.fmean(values), 2) if values else None,
                step_mean_days={
                    step: (
                        round(statistics.fmean(step_durations[(procedure_id, step)]), 2)
                        if step_durations.get((procedure_id, step))
                        else None
                    )
                    for step in STAT_STEPS
                },
            )
        )
    return result


def approval_pending_for_user(
    *, user: User, limit: int = 50, access: policy.CaseAccess | None = None
) -> list[ApprovalStep]:
    """Pending approval steps the user could decide (for a "決裁待ち" list), oldest first.

    One query, none for users no step can ask for (no approval role). Who a step asks for is
    decided in SQL from the memberships in hand, the rule of ``services.step_eligible``: the
    named user, or a member with the step's role in its municipality (and department, when
    the step names one).
    """
    access = access if access is not None else policy.access_for(user)
    if not user.is_active or not access.may_approve:
        return []
    asks_for_user = Q(user_id=user.pk)
    for code, role, department in access.memberships:
        if role not in policy.APPROVAL_ROLES:
            continue
        same_department = Q(department__isnull=True)
        if department is not None:
            same_department |= Q(department_id=department)
        asks_for_user |= (
            Q(user__isnull=True, request__municipality_id=code, role=role) & same_department
        )
    return list(
        ApprovalStep.objects.filter(
            asks_for_user,
            status=ApprovalStepStatus.PENDING,
            request__status=ApprovalRequestStatus.PENDING,
            request__municipality_id__in=access.reader_codes,
        )
        .exclude(request__drafted_by=user)
        .select_related("request__case__procedure")
        .only(
            "id",
            "label",
            "request__id",
            "request__case__id",
            "request__case__application_id",
            "request__case__receipt_number",
            "request__case__procedure__id",
            "request__case__procedure__name",
        )
        .order_by("activated_at", "id")[:limit]
    )
