"""The case queue: filters, pages along the indexes, capped status counts, filter choices.

The queue reads only the ``Case`` table (mirrored status, dates, procedure, assignee), ordered
along its indexes, a page at a time (limited offset, no total count); status counts are capped
(``COUNT_CAP``) so a page never counts a million rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Case,
)
from machi.core.models import Department, Membership, Role, User
from machi.procedures.selectors import procedure_list_for_staff
from machi.procedures.states import ApplicationStatus

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    from machi.procedures.selectors import Procedure


PAGE_SIZE = 50
MAX_PAGES = 100  # deeper pages: narrow the filters (keeps OFFSET small)
COUNT_CAP = 1000
QUEUE_STATUSES: tuple[str, ...] = (*OPEN_STATUSES, *CLOSED_STATUSES)
SORTS: dict[str, tuple[Any, ...]] = {
    "due": (F("due_date").asc(nulls_last=True), "id"),
    "-due": (F("due_date").desc(nulls_last=True), "-id"),
    "submitted": ("submitted_at", "id"),
    "-submitted": ("-submitted_at", "-id"),
}


# --- Queue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilter:
    """What the queue is filtered by. ``status``: ``open``, ``closed``, ``all`` or one status.

    ``assignee``: ``""`` (anyone), ``"me"``, ``"none"`` (unassigned) or a user id.
    ``department_id`` ``None`` means every department.
    """

    municipality_code: str = ""
    department_id: int | None = None
    status: str = "open"
    procedure_id: int | None = None
    assignee: str = ""
    channel: str = ""
    min_age_days: int | None = None
    overdue: bool = False
    sort: str = "due"


def case_queue(*, user: User, filters: QueueFilter, today: dt.date | None = None) -> QuerySet[Case]:
    """Cases matching ``filters`` among those ``user`` may read, in the chosen order."""
    codes = policy.reader_codes(user)
    if filters.municipality_code:
        codes &= {filters.municipality_code}
    if filters.department_id is not None:
        # A department belongs to one municipality: once that one is checked to be visible,
        # filtering by department alone is the tenant scope (and lets PostgreSQL use one
        # index instead of intersecting it with the municipality's).
        if not Department.objects.filter(
            pk=filters.department_id, municipality_id__in=codes
        ).exists():
            return Case.objects.none()
        queryset = Case.objects.filter(department_id=filters.department_id)
    else:
        queryset = Case.objects.filter(municipality_id__in=codes)
    if filters.status == "open":
        queryset = queryset.filter(is_open=True)
    elif filters.status == "closed":
        queryset = queryset.filter(is_open=False)
    elif filters.status in QUEUE_STATUSES:
        queryset = queryset.filter(status=filters.status)
    if filters.procedure_id is not None:
        queryset = queryset.filter(procedure_id=filters.procedure_id)
    if filters.assignee == "me":
        queryset = queryset.filter(assignee=user)
    elif filters.assignee == "none":
        queryset = queryset.filter(assignee__isnull=True)
    elif filters.assignee.isdigit():
        queryset = queryset.filter(assignee_id=int(filters.assignee))
    if filters.channel:
        queryset = queryset.filter(channel=filters.channel)
    if filters.min_age_days:
        queryset = queryset.filter(
            submitted_at__lte=timezone.now() - dt.timedelta(days=filters.min_age_days)
        )
    if filters.overdue:
        queryset = queryset.filter(is_open=True, due_date__lt=today or timezone.localdate())
    return queryset.order_by(*SORTS.get(filters.sort, SORTS["due"]))


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: ``page_size`` rows and whether more follow (no total count)."""

    cases: list[Case]
    number: int
    has_next: bool
    page_size: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.page_size + 1 if self.cases else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.page_size + len(self.cases)

    @property
    def is_last_allowed(self) -> bool:
        return self.number >= MAX_PAGES


def case_queue_page(
    *,
    user: User,
    filters: QueueFilter,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    today: dt.date | None = None,
) -> QueuePage:
    """A page of the queue; fetches one extra row to know whether a next page exists."""
    number = min(max(page, 1), MAX_PAGES)
    offset = (number - 1) * page_size
    queryset = case_queue(user=user, filters=filters, today=today).select_related(
        "procedure", "assignee", "department"
    )
    rows = list(queryset[offset : offset + page_size + 1])
    has_next = len(rows) > page_size and number < MAX_PAGES
    return QueuePage(cases=rows[:page_size], number=number, has_next=has_next, page_size=page_size)


@dataclass(frozen=True)
class StatusCount:
    """Cases in one status (or overdue) under the current filters, counted up to a cap."""

    key: str
    label: str
    count: int
    capped: bool

    @property
    def display(self) -> str:
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"


def _capped_count(queryset: QuerySet[Case], cap: int) -> tuple[int, bool]:
    count = queryset.order_by().values("pk")[: cap + 1].count()
    return min(count, cap), count > cap


def case_status_counts(
    *, user: User, filters: QueueFilter, cap: int = COUNT_CAP, today: dt.date | None = None
) -> list[StatusCount]:
    """Per-status counts (and overdue) for the queue's tabs; each stops at ``cap``."""
    base = case_queue(user=user, filters=replace(filters, status="all", overdue=False), today=today)
    counts = []
    for status in QUEUE_STATUSES:
        count, capped = _capped_count(base.filter(status=status), cap)
        counts.append(StatusCount(status, str(ApplicationStatus(status).label), count, capped))
    count, capped = _capped_count(
        base.filter(is_open=True, due_date__lt=today or timezone.localdate()), cap
    )
    counts.append(StatusCount("overdue", _("期限超過"), count, capped))
    return counts


def queue_default_department(*, user: User) -> Department | None:
    """The department a handler's queue opens on (their 担当者 membership's department)."""
    membership = (
        Membership.objects.filter(user=user, role=Role.CASE_HANDLER, department__isnull=False)
        .select_related("department")
        .order_by("municipality_id", "id")
        .first()
    )
    return membership.department if membership else None


# Above this many municipalities (prefecture admins), departments and procedures are offered
# only once a municipality is chosen: a thousand options would make every page slow.
CHOICES_MUNICIPALITY_LIMIT = 3


def queue_choice_codes(*, user: User, municipality_code: str = "") -> set[str]:
    """Municipalities whose departments and procedures the queue's filters offer."""
    codes = policy.reader_codes(user)
    if municipality_code:
        return codes & {municipality_code}
    return codes if len(codes) <= CHOICES_MUNICIPALITY_LIMIT else set()


def queue_departments(*, user: User, municipality_code: str = "") -> QuerySet[Department]:
    """Departments the queue can be filtered by (see :func:`queue_choice_codes`)."""
    codes = queue_choice_codes(user=user, municipality_code=municipality_code)
    return (
        Department.objects.filter(municipality_id__in=codes)
        .select_related("municipality")
        .order_by("municipality_id", "code")
    )


def queue_procedures(*, user: User, municipality_code: str = "") -> QuerySet[Procedure]:
    """Procedures the queue can be filtered by (see :func:`queue_choice_codes`)."""
    codes = queue_choice_codes(user=user, municipality_code=municipality_code)
    return (
        procedure_list_for_staff(user=user)
        .filter(municipality_id__in=codes)
        .order_by("municipality_id", "name_kana", "name")
    )


def assignable_staff(*, municipality_codes: set[str]) -> QuerySet[User]:
    """Staff who may be assigned cases (担当者, 団体管理者) in the municipalities."""
    return (
        User.objects.filter(
            is_active=True,
            memberships__municipality_id__in=municipality_codes,
            memberships__role__in=policy.HANDLER_ROLES,
        )
        .distinct()
        .order_by("username")
    )
