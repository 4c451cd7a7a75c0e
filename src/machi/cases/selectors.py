"""Reads for case processing, always scoped to the municipalities the user may read.

The queue reads only the ``Case`` table (mirrored status, dates, procedure, assignee), ordered
along its indexes, a page at a time (limited offset, no total count); status counts are capped
(``COUNT_CAP``) so a page never counts a million rows.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    ApprovalRequest,
    ApprovalRequestStatus,
    ApprovalRoute,
    ApprovalStep,
    ApprovalStepStatus,
    Case,
    CaseEvent,
    CaseEventKind,
    ConfirmationMethod,
    Intake,
    StepTiming,
)
from machi.cases.services import (
    approval_people_excluded,
    approval_route_effective,
    latest_approval_request,
    step_eligible,
)
from machi.core.exceptions import NotFound
from machi.core.models import AuditEntry, Department, Membership, Role, User
from machi.files.selectors import file_get
from machi.procedures.formengine import Field, FormDefinition
from machi.procedures.models import (
    ApplicationOutcome,
    ApplicationStatus,
    AssuranceLevel,
    Channel,
    Procedure,
)

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
        Procedure.objects.filter(municipality_id__in=codes)
        .select_related("municipality")
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


# --- One case ----------------------------------------------------------------------------------


def case_get_for_staff(*, user: User, application_id: Any) -> Case:
    """A case by its application id, if ``user`` may read it; otherwise ``NotFound``."""
    try:
        case = (
            Case.objects.select_related(
                "application__form_version",
                "application__procedure",
                "procedure",
                "department",
                "assignee",
                "municipality",
            )
            .filter(municipality_id__in=policy.reader_codes(user))
            .get(application_id=application_id)
        )
    except (Case.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFound(_("案件が見つかりません。"), code="case_not_found") from exc
    return case


def _localize(text: Mapping[str, str] | None, language: str) -> str:
    if not text:
        return ""
    return text.get(language) or text.get("ja") or next(iter(text.values()), "")


@dataclass(frozen=True)
class FieldChoice:
    """A field of the form, as offered for a correction request."""

    path: str
    label: str


def form_field_choices(definition: FormDefinition, language: str = "ja") -> list[FieldChoice]:
    """Top-level fields of every step (``step.field`` paths) with readable labels."""
    choices = []
    for step in definition.steps:
        title = _localize(step.title, language)
        for item in step.fields:
            label = f"{title}：{_localize(item.label, language)}"
            choices.append(FieldChoice(f"{step.key}.{item.key}", label))
    return choices


@dataclass(frozen=True)
class Attachment:
    """A file attached to the application (or its intake scan), for the case page."""

    path: str
    label: str
    file_id: str
    name: str
    size: int
    content_type: str
    available: bool


def _file_refs(
    fields: tuple[Field, ...],
    values: Mapping[str, Any],
    prefix: str,
    label_prefix: str,
    language: str,
    out: list[tuple[str, str, str]],
) -> None:
    for item in fields:
        if item.key not in values:
            continue
        value = values[item.key]
        path = f"{prefix}.{item.key}"
        label = f"{label_prefix}{_localize(item.label, language)}"
        if item.type == "file" and isinstance(value, list):
            out.extend((path, label, str(file_id)) for file_id in value if file_id)
        elif item.type == "group" and isinstance(value, list):
            item_name = _localize(item.item_label, language) or _localize(item.label, language)
            for index, entry in enumerate(value):
                if isinstance(entry, Mapping):
                    _file_refs(
                        item.fields,
                        entry,
                        f"{path}.{index}",
                        f"{item_name} {index + 1}：",
                        language,
                        out,
                    )


def case_attachments(*, case: Case, language: str = "ja") -> list[Attachment]:
    """Files of the submitted answers and of the intake (scans), in form order."""
    application = case.application
    definition = FormDefinition.from_json(application.form_version.definition)
    refs: list[tuple[str, str, str]] = []
    for step in definition.steps:
        values = application.cleaned.get(step.key)
        if isinstance(values, Mapping):
            _file_refs(step.fields, values, step.key, "", language, refs)
    intake = Intake.objects.filter(application_id=application.pk).first()
    if intake is not None:
        if intake.scan_file_id:
            refs.append(("intake.scan", _("紙の申請書（スキャン）"), str(intake.scan_file_id)))
        if intake.confirmation_file_id:
            refs.append(
                (
                    "intake.confirmation",
                    _("署名した控え（スキャン）"),
                    str(intake.confirmation_file_id),
                )
            )
    attachments = []
    for path, label, file_id in refs:
        try:
            stored = file_get(file_id=file_id, municipality_codes={case.municipality_id})
        except NotFound:
            attachments.append(Attachment(path, label, file_id, "", 0, "", False))
        else:
            attachments.append(
                Attachment(
                    path,
                    label,
                    file_id,
                    stored.original_name,
                    stored.size,
                    stored.content_type,
                    True,
                )
            )
    return attachments


def case_file_ids(*, case: Case) -> set[str]:
    """Ids of every file that belongs to the case (downloads are limited to these)."""
    return {a.file_id for a in case_attachments(case=case) if a.available}


@dataclass(frozen=True)
class HistoryItem:
    """One line of the case's history (status changes and staff events, merged by time)."""

    at: dt.datetime
    title: str
    actor: str
    note: str = ""


def _user_label(user: User | None) -> str:
    return str(user) if user is not None else _("（申請者・システム）")


def _event_title(event: CaseEvent, users: dict[int, User]) -> tuple[str, str]:
    detail = event.detail or {}
    label = (
        str(CaseEventKind(event.kind).label) if event.kind in CaseEventKind.values else event.kind
    )
    if event.kind == CaseEventKind.ASSIGNED:
        to = users.get(detail.get("to") or 0)
        return label, _("担当者: %(name)s") % {"name": to or _("なし")}
    if event.kind == CaseEventKind.APPROVAL_STARTED:
        outcome = detail.get("proposed_outcome", "")
        shown = ApplicationOutcome(outcome).label if outcome in ApplicationOutcome.values else ""
        return label, _("起案した結果: %(outcome)s") % {"outcome": shown}
    if event.kind == CaseEventKind.APPROVAL_DECIDED:
        decision = {
            "approve": _("承認"),
            "send_back": _("差戻し"),
            "reject": _("否決"),
        }.get(detail.get("decision", ""), "")
        text = f"{detail.get('step', '')}: {decision}"
        if detail.get("acting_for"):
            person = users.get(detail["acting_for"])
            text += _("（%(name)s の代決）") % {"name": person or detail.get("acting_for_username")}
        return label, text
    if event.kind == CaseEventKind.CREATED:
        channel = detail.get("channel", "")
        shown = Channel(channel).label if channel in Channel.values else channel
        return label, _("受付方法: %(channel)s") % {"channel": shown}
    if event.kind == CaseEventKind.INTAKE:
        method = detail.get("method", "")
        return label, str(
            ConfirmationMethod(method).label if method in ConfirmationMethod.values else method
        )
    return label, ""


def case_history(*, case: Case) -> list[HistoryItem]:
    """Status changes (procedures.StatusChange) and case events, oldest first."""
    items: list[HistoryItem] = []
    for change in case.application.history.select_related("actor").order_by("at", "id"):
        from_label = (
            ApplicationStatus(change.from_status).label
            if change.from_status in ApplicationStatus.values
            else ""
        )
        to_label = ApplicationStatus(change.to_status).label
        title = f"{from_label} → {to_label}" if from_label else str(to_label)
        items.append(HistoryItem(change.at, title, _user_label(change.actor), change.note))
    events = list(case.events.select_related("actor").order_by("at", "id"))
    user_ids = {
        v
        for e in events
        for k, v in (e.detail or {}).items()
        if k in ("to", "acting_for") and isinstance(v, int)
    }
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids)}
    for event in events:
        if event.kind == CaseEventKind.NOTE:
            continue  # notes have their own section
        title, note = _event_title(event, users)
        items.append(HistoryItem(event.at, title, _user_label(event.actor), note))
    items.sort(key=lambda item: item.at)
    return items


def case_audit_entries(*, user: User, case: Case, limit: int = 200) -> list[AuditEntry]:
    """Audit entries about the case's application (audit readers only), newest first."""
    if not policy.can_read_audit(user, case.municipality_id):
        return []
    return list(
        AuditEntry.objects.filter(
            municipality_code=case.municipality_id,
            target_type="application",
            target_id=str(case.application_id),
        ).order_by("-id")[:limit]
    )


# --- What the user may do ----------------------------------------------------------------------


@dataclass(frozen=True)
class StepAction:
    """A pending approval step and what the current user may do with it."""

    step: ApprovalStep
    can_decide: bool
    can_delegate: bool
    delegate_candidates: list[User]
    blocked_reason: str = ""


@dataclass(frozen=True)
class CaseActions:
    """The workflow actions the page offers this user for the case in its current state."""

    can_handle: bool = False
    can_note: bool = False
    start_review: bool = False
    request_correction: bool = False
    send_to_approval: bool = False
    complete: bool = False
    complete_outcomes: tuple[str, ...] = ()
    withdraw: bool = False
    assign: bool = False
    approval_required: bool = True
    approved: bool = False
    approval_request: ApprovalRequest | None = None
    step_actions: list[StepAction] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return any(
            (
                self.start_review,
                self.request_correction,
                self.send_to_approval,
                self.complete,
                self.withdraw,
            )
        )


def approval_step_candidates(step: ApprovalStep, municipality_code: str) -> QuerySet[User]:
    """The people a step asks for (the named user, or the role holders)."""
    if step.user_id is not None:
        return User.objects.filter(pk=step.user_id, is_active=True)
    memberships = Membership.objects.filter(municipality_id=municipality_code, role=step.role)
    if step.department_id is not None:
        memberships = memberships.filter(department_id=step.department_id)
    return User.objects.filter(is_active=True, pk__in=memberships.values("user_id")).order_by(
        "username"
    )


def _step_actions(user: User, request: ApprovalRequest, municipality_code: str) -> list[StepAction]:
    if request.status != ApprovalRequestStatus.PENDING:
        return []
    excluded = approval_people_excluded(request)
    delegate = policy.can_delegate(user, municipality_code)
    actions = []
    for step in request.steps.filter(status=ApprovalStepStatus.PENDING).order_by("position", "id"):
        reason = ""
        if user.pk == request.drafted_by_id:
            reason = _("起案した職員は決裁できません。")
        elif user.pk in excluded:
            reason = _("この案件をすでに決裁しています。")
        eligible = not reason and step_eligible(step, user, municipality_code)
        candidates = []
        if not reason and delegate:
            candidates = [
                u
                for u in approval_step_candidates(step, municipality_code)
                if u.pk not in excluded and u.pk != user.pk
            ]
        actions.append(
            StepAction(
                step=step,
                can_decide=eligible,
                can_delegate=bool(candidates),
                delegate_candidates=candidates,
                blocked_reason=reason,
            )
        )
    return actions


def case_actions(*, user: User, case: Case) -> CaseActions:
    """What ``user`` may do with ``case`` now (the services check the same rules again)."""
    application = case.application
    status = application.status
    handle = policy.can_handle(user, case.municipality_id)
    required = approval_route_effective(case.procedure).approval_required
    request = latest_approval_request(case)
    approved = (
        status == ApplicationStatus.APPROVING
        and request is not None
        and request.status == ApprovalRequestStatus.APPROVED
    )
    undecided = (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.CORRECTION_REQUESTED,
    )
    if approved and request is not None:
        if request.proposed_outcome == ApplicationOutcome.REJECTED:
            outcomes: tuple[str, ...] = (ApplicationOutcome.REJECTED,)
        elif request.proposed_outcome == ApplicationOutcome.ISSUED:
            outcomes = (ApplicationOutcome.ISSUED, ApplicationOutcome.GRANTED)
        else:
            outcomes = (ApplicationOutcome.GRANTED, ApplicationOutcome.ISSUED)
        can_complete = handle
    elif not required and status in undecided:
        outcomes = tuple(ApplicationOutcome.values)
        can_complete = handle
    else:
        outcomes = ()
        can_complete = False
    return CaseActions(
        can_handle=handle,
        can_note=policy.can_note(user, case.municipality_id),
        start_review=handle
        and status in (ApplicationStatus.SUBMITTED, ApplicationStatus.CORRECTION_REQUESTED),
        request_correction=handle
        and status in (ApplicationStatus.SUBMITTED, ApplicationStatus.IN_REVIEW),
        send_to_approval=handle and required and status == ApplicationStatus.IN_REVIEW,
        complete=can_complete,
        complete_outcomes=outcomes,
        withdraw=handle and status in undecided,
        assign=handle and case.is_open,
        approval_required=required,
        approved=approved,
        approval_request=request,
        step_actions=_step_actions(user, request, case.municipality_id) if request else [],
    )


# --- Approval routes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteStepView:
    """A route step as shown on the route page."""

    index: int
    position: int
    label: str
    role_label: str
    department: str
    user: str
    parallel: bool


@dataclass(frozen=True)
class RouteView:
    approval_required: bool
    is_default: bool
    steps: list[RouteStepView]


def approval_route_view(*, procedure: Procedure) -> RouteView:
    """The procedure's effective route with readable approver descriptions."""
    route = approval_route_effective(procedure)
    departments = {
        d.pk: d.name
        for d in Department.objects.filter(
            pk__in=[s.department_id for s in route.steps if s.department_id]
        )
    }
    users = {
        u.pk: str(u)
        for u in User.objects.filter(pk__in=[s.user_id for s in route.steps if s.user_id])
    }
    positions = [s.position for s in route.steps]
    steps = [
        RouteStepView(
            index=index,
            position=s.position,
            label=s.label,
            role_label=str(Role(s.role).label) if s.role else "",
            department=departments.get(s.department_id or 0, ""),
            user=users.get(s.user_id or 0, ""),
            parallel=positions.count(s.position) > 1,
        )
        for index, s in enumerate(route.steps)
    ]
    return RouteView(route.approval_required, route.is_default, steps)


def route_procedures(*, user: User) -> QuerySet[Procedure]:
    """Procedures whose routes the user may see, with whether a route is configured."""
    return (
        Procedure.objects.filter(municipality_id__in=policy.reader_codes(user))
        .annotate(
            has_route=Exists(ApprovalRoute.objects.filter(procedure=OuterRef("pk"))),
        )
        .select_related("municipality", "department")
        .order_by("municipality_id", "name_kana", "name")
    )


def route_procedure_get(*, user: User, procedure_id: int) -> Procedure:
    """A procedure whose route the user may see, or ``NotFound``."""
    procedure = route_procedures(user=user).filter(pk=procedure_id).first()
    if procedure is None:
        raise NotFound(_("手続が見つかりません。"), code="procedure_not_found")
    return procedure


def route_user_choices(*, municipality_code: str) -> QuerySet[User]:
    """Staff of the municipality who can be named as approvers."""
    return (
        User.objects.filter(is_active=True, memberships__municipality_id=municipality_code)
        .distinct()
        .order_by("username")
    )


# --- Counter and paper intake ------------------------------------------------------------------


def intake_procedures(*, user: User) -> QuerySet[Procedure]:
    """Procedures the user may register at the counter or from paper (with a published form)."""
    return (
        Procedure.objects.filter(
            municipality_id__in=policy.intake_codes(user),
            form_versions__published_at__isnull=False,
        )
        .exclude(assurance_level=AssuranceLevel.CARD_SIGNATURE)
        .select_related("municipality", "department")
        .distinct()
        .order_by("municipality_id", "name_kana", "name")
    )


def intake_unsupported_procedures(*, user: User) -> QuerySet[Procedure]:
    """Procedures that need a card signature, which staff cannot register yet."""
    return (
        Procedure.objects.filter(
            municipality_id__in=policy.intake_codes(user),
            assurance_level=AssuranceLevel.CARD_SIGNATURE,
        )
        .select_related("municipality")
        .order_by("municipality_id", "name_kana", "name")
    )


def intake_get_for_staff(*, user: User, application_id: Any) -> Intake:
    """An intake (counter/paper registration) the user may continue, or ``NotFound``."""
    try:
        return (
            Intake.objects.select_related(
                "application__form_version", "application__procedure", "clerk"
            )
            .filter(municipality_id__in=policy.intake_codes(user))
            .get(application_id=application_id)
        )
    except (Intake.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFound(_("受付記録が見つかりません。"), code="intake_not_found") from exc


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


def approval_pending_for_user(*, user: User, limit: int = 50) -> list[ApprovalStep]:
    """Pending approval steps the user could decide (for a "決裁待ち" list)."""
    steps = (
        ApprovalStep.objects.filter(
            status=ApprovalStepStatus.PENDING,
            request__status=ApprovalRequestStatus.PENDING,
            request__municipality_id__in=policy.reader_codes(user),
        )
        .exclude(request__drafted_by=user)
        .select_related("request__case__procedure", "request__case")
        .order_by("activated_at", "id")
    )
    result = []
    for step in steps[: limit * 4]:
        if step_eligible(step, user, step.request.municipality_id):
            result.append(step)
        if len(result) >= limit:
            break
    return result
