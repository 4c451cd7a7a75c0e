"""The case queue: filters, pages along the indexes, capped status counts, filter choices.

The queue reads only the ``Case`` table (mirrored status, dates, procedure, assignee), ordered
along its indexes, a page at a time (limited offset, no total count); status counts are capped
(``COUNT_CAP``) so a page never counts a million rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    ApprovalState,
    Case,
)
from machi.cases.selectors.choices import municipality_choices
from machi.core.models import Department, User
from machi.procedures.selectors import procedure_list_for_staff
from machi.procedures.states import ApplicationOutcome, ApplicationStatus, Channel

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    from machi.procedures.selectors import Procedure


PAGE_SIZE = 50
MAX_PAGES = 100  # deeper pages: narrow the filters (keeps OFFSET small)
COUNT_CAP = 1000
QUEUE_STATUSES: tuple[str, ...] = (*OPEN_STATUSES, *CLOSED_STATUSES)
SORTS: dict[str, tuple[Any, ...]] = {
    "due": (F("due_date").asc(nulls_last=True), "id"),
    # The exact reverse of "due" (no deadline counts as the farthest), so PostgreSQL walks the
    # same index backwards instead of sorting every open case.
    "-due": (F("due_date").desc(nulls_first=True), "-id"),
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


def _access(user: User, access: policy.CaseAccess | None) -> policy.CaseAccess:
    return access if access is not None else policy.access_for(user)


def case_queue(
    *,
    user: User,
    filters: QueueFilter,
    today: dt.date | None = None,
    access: policy.CaseAccess | None = None,
) -> QuerySet[Case]:
    """Cases matching ``filters`` among those ``user`` may read, in the chosen order.

    ``access``: the user's :func:`policy.access_for`, when the page already has it.
    """
    access = _access(user, access)
    codes = access.reader_codes
    if filters.municipality_code:
        codes &= {filters.municipality_code}
    if filters.department_id is not None:
        # A department belongs to one municipality: once that one is checked to be visible,
        # filtering by department alone is the tenant scope (and lets PostgreSQL use one
        # index instead of intersecting it with the municipality's). The check reads the
        # cached choices of the user's municipalities, not the database.
        visible = municipality_choices(codes=codes, user=user).values()
        if not any(
            filters.department_id == pk for choice in visible for pk, _name in choice.departments
        ):
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
class QueueRow:
    """One row of the queue, ready to print: labels translated, dates formatted once."""

    pk: int
    application_id: uuid.UUID
    receipt: str
    procedure_name: str
    status: str
    status_label: str
    approved: bool  # 決裁済み, waiting to be completed
    outcome_label: str
    channel_label: str
    submitted_iso: str
    submitted_day: str
    due_day: str
    overdue: bool
    assignee_label: str
    department_name: str


# Only the columns the queue shows (plus the keys): no JSON, no timestamps of the row itself.
_ROW_COLUMNS = (
    "pk",
    "application_id",
    "receipt_number",
    "procedure__name",
    "status",
    "approval_state",
    "outcome",
    "channel",
    "submitted_at",
    "due_date",
    "is_open",
    "assignee__username",
    "assignee__display_name",
    "department__name",
)


def _queue_rows(values: list[tuple[Any, ...]], today: dt.date) -> list[QueueRow]:
    statuses = {s.value: str(s.label) for s in ApplicationStatus}
    outcomes = {o.value: str(o.label) for o in ApplicationOutcome}
    channels = {c.value: str(c.label) for c in Channel}
    rows = []
    for (
        pk,
        application_id,
        receipt,
        procedure_name,
        status,
        approval_state,
        outcome,
        channel,
        submitted_at,
        due_date,
        is_open,
        assignee_username,
        assignee_display_name,
        department_name,
    ) in values:
        submitted = timezone.localtime(submitted_at)
        rows.append(
            QueueRow(
                pk=pk,
                application_id=application_id,
                receipt=receipt or str(application_id),
                procedure_name=procedure_name,
                status=status,
                status_label=statuses.get(status, status),
                approved=approval_state == ApprovalState.APPROVED
                and status == ApplicationStatus.APPROVING,
                outcome_label=outcomes.get(outcome, outcome) if outcome else "",
                channel_label=channels.get(channel, channel),
                submitted_iso=submitted.isoformat(),
                submitted_day=submitted.strftime("%Y-%m-%d"),
                due_day=due_date.isoformat() if due_date else "",
                overdue=bool(is_open and due_date is not None and due_date < today),
                assignee_label=assignee_display_name or assignee_username or "",
                department_name=department_name or "",
            )
        )
    return rows


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: ``page_size`` rows and whether more follow (no total count)."""

    cases: list[QueueRow]
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
    access: policy.CaseAccess | None = None,
) -> QueuePage:
    """A page of the queue in one query; one extra row tells whether a next page exists.

    The offset is capped (``MAX_PAGES``), so the query stays a walk along one index.
    """
    today = today or timezone.localdate()
    number = min(max(page, 1), MAX_PAGES)
    offset = (number - 1) * page_size
    queryset = case_queue(user=user, filters=filters, today=today, access=access)
    values = list(queryset.values_list(*_ROW_COLUMNS)[offset : offset + page_size + 1])
    has_next = len(values) > page_size and number < MAX_PAGES
    return QueuePage(
        cases=_queue_rows(values[:page_size], today),
        number=number,
        has_next=has_next,
        page_size=page_size,
    )


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


def case_status_counts(
    *,
    user: User,
    filters: QueueFilter,
    cap: int = COUNT_CAP,
    today: dt.date | None = None,
    access: policy.CaseAccess | None = None,
) -> list[StatusCount]:
    """Per-status counts (and overdue) for the queue's tabs, each stopping at ``cap``.

    One statement: a scalar subquery per tab, each counting at most ``cap + 1`` rows of its own
    index range (``SELECT (SELECT COUNT(*) FROM (… LIMIT cap+1)), …``), so no tab counts a
    million rows and the page pays one round trip, not seven.
    """
    today = today or timezone.localdate()
    base = case_queue(
        user=user,
        filters=replace(filters, status="all", overdue=False),
        today=today,
        access=access,
    ).order_by()
    tabs: list[tuple[str, str, QuerySet[Case]]] = [
        (status, str(ApplicationStatus(status).label), base.filter(status=status))
        for status in QUEUE_STATUSES
    ]
    tabs.append(("overdue", _("期限超過"), base.filter(is_open=True, due_date__lt=today)))
    connection = connections[base.db]
    parts: list[str] = []
    params: list[Any] = []
    try:
        for index, (_key, _label, queryset) in enumerate(tabs):
            query = queryset.values("pk")[: cap + 1].query
            sql, part_params = query.get_compiler(connection=connection).as_sql()
            # Django compiled the SQL; every value stays a parameter.
            parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped_{index})")  # noqa: S608
            params.extend(part_params)
    except EmptyResultSet:
        # Nothing readable (no municipality, a department of another one): no query at all.
        return [StatusCount(key, label, 0, False) for key, label, _q in tabs]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return [
        StatusCount(key, label, min(int(count), cap), int(count) > cap)
        for (key, label, _q), count in zip(tabs, row, strict=True)
    ]


def queue_default_department(
    *, user: User, access: policy.CaseAccess | None = None
) -> Department | None:
    """The department a handler's queue opens on (their 担当者 membership's department)."""
    department_id = _access(user, access).default_department_id
    return Department.objects.filter(pk=department_id).first() if department_id else None


# Above this many municipalities (prefecture admins), departments and procedures are offered
# only once a municipality is chosen: a thousand options would make every page slow.
CHOICES_MUNICIPALITY_LIMIT = 3


def queue_choice_codes(
    *, user: User, municipality_code: str = "", access: policy.CaseAccess | None = None
) -> set[str]:
    """Municipalities whose departments and procedures the queue's filters offer."""
    codes = _access(user, access).reader_codes
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
