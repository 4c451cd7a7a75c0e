"""Writes for case processing: cases, assignment, notes, the workflow, 電子決裁 and intake.

Every change is audited in the same transaction (target ``application``/<application id>, so a
case's audit trail is one query). Status changes go through
``procedures.services.application_transition`` (the only way to change an application's
status); the case then folds the new ``StatusChange`` rows into its mirrors and timings
(:func:`case_sync`). Concurrent edits are refused with ``Conflict(code="stale_application")``
through the application's ``lock_version``.

Approval (電子決裁) decisions — documented choices:

* **approve**: the step is approved; when every step of its position (a parallel group) is
  approved the next position opens; after the last one the request is 決裁済み and the case
  may be completed with the approved outcome (or a document issued).
* **send back (差戻し)**: the draft needs more work. The request ends, the application returns to
  審査中 with the comment, and the handler drafts again (a new request).
* **reject (否決)**: the approver refuses the proposed decision itself. The request ends as 否決
  and the application returns to 審査中 with the comment; it is *not* completed as 却下, because
  a 却下 is itself a disposition that must go through the whole route (the handler drafts a
  却下 and the route decides it).
* Segregation of duties: the drafter (who sent the case to approval) never decides a step of
  that request, and nobody decides two steps of the same request — also not as 代決 or as the
  person represented in a 代決.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.business_days import add_business_days
from machi.cases.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    ApprovalDecision,
    ApprovalRequest,
    ApprovalRequestStatus,
    ApprovalRoute,
    ApprovalRouteStep,
    ApprovalState,
    ApprovalStep,
    ApprovalStepStatus,
    Case,
    CaseEvent,
    CaseEventKind,
    CaseNote,
    ConfirmationMethod,
    IdentityDocument,
    Intake,
    StepTiming,
)
from machi.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from machi.core.japanese import JapaneseDataError, format_postal_code, normalize_postal_code
from machi.core.models import Department, Membership, Role, User
from machi.core.services import audit_record
from machi.files.models import StoredFile
from machi.files.services import file_store
from machi.procedures import services as procedure_services
from machi.procedures.formengine import FormDefinition, FormResult, validate_answers
from machi.procedures.models import (
    Application,
    ApplicationOutcome,
    ApplicationStatus,
    Channel,
    CorrectionRequest,
    Procedure,
    StatusChange,
)

logger = logging.getLogger(__name__)

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


# --- Cases: creation and keeping the mirrors in step ---------------------------------------------


def compute_due_date(*, submitted_at: dt.datetime, days: int | None) -> dt.date | None:
    """Deadline from the 標準処理期間: ``days`` business days after the (local) submission date."""
    if days is None:
        return None
    start = timezone.localdate(submitted_at)
    if COUNT_BUSINESS_DAYS:
        return add_business_days(start, days)
    return start + dt.timedelta(days=days)


def fold_history(case: Case, changes: Iterable[StatusChange]) -> None:
    """Apply status changes not yet seen to the case's timings and counters (no save)."""
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


@transaction.atomic
def case_create_for_application(*, application: Application, actor: User | None = None) -> Case:
    """The case of a submitted application, created on first call (idempotent).

    Called by the transition listener on every submission (all channels), by the counter and
    paper flows, and by :func:`cases_backfill`. Timings are rebuilt from the status history,
    so a case created late still reports correct times.
    """
    existing = Case.objects.filter(application_id=application.pk).first()
    if existing is not None:
        return existing
    app = Application.objects.select_related("procedure").get(pk=application.pk)
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
    changes = list(StatusChange.objects.filter(application_id=app.pk).order_by("id"))
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
    app = Application.objects.get(pk=application.pk)
    changes = StatusChange.objects.filter(
        application_id=app.pk, id__gt=case.history_applied_id
    ).order_by("id")
    fold_history(case, changes)
    _copy_mirrors(case, app)
    case.save()
    return case


@dataclass(frozen=True)
class BackfillResult:
    created: int
    synced: int


def cases_backfill(*, municipality_code: str | None = None) -> BackfillResult:
    """Create the missing case of every submitted application and re-sync stale cases.

    For installations that had applications before this app, or after a listener failed.
    """
    applications = Application.objects.exclude(status=ApplicationStatus.DRAFT).filter(
        case__isnull=True
    )
    stale = Case.objects.exclude(status=F("application__status"))
    if municipality_code:
        applications = applications.filter(municipality_id=municipality_code)
        stale = stale.filter(municipality_id=municipality_code)
    created = 0
    for application in applications.iterator(chunk_size=500):
        case_create_for_application(application=application)
        created += 1
    synced = 0
    for case in stale.select_related("application").iterator(chunk_size=500):
        case_sync(application=case.application)
        synced += 1
    return BackfillResult(created=created, synced=synced)


def on_application_transition(application: Application, from_status: str, to_status: str) -> None:
    """procedures transition listener (after commit): create or sync the case.

    Failures are logged, never raised: the applicant's request has already succeeded, and
    :func:`cases_backfill` repairs what a failure left behind.
    """
    try:
        if from_status == ApplicationStatus.DRAFT:
            case_create_for_application(application=application)
        else:
            case_sync(application=application)
    except Exception:
        logger.exception(
            "cases.listener_failed application=%s %s->%s", application.pk, from_status, to_status
        )


def check_completion_allowed(application: Application, to_status: str, outcome: str) -> None:
    """procedures transition check: a case in 決裁 completes only with the approved decision."""
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


# --- Permissions -------------------------------------------------------------------------------


def _require_handler(actor: User | None, case: Case) -> User:
    if actor is None or not policy.can_handle(actor, case.municipality_id):
        raise Forbidden(_("この案件を処理する権限がありません。"))
    return actor


def _lock_application(case: Case, expected_lock_version: int | None) -> Application:
    """Lock the application row and check the version the user saw; bump it (a write)."""
    locked = Application.objects.select_for_update().get(pk=case.application_id)
    if expected_lock_version is not None and locked.lock_version != expected_lock_version:
        raise Conflict(
            _("この申請は他の職員が更新しました。画面を読み込み直してください。"),
            code="stale_application",
        )
    Application.objects.filter(pk=locked.pk).update(
        lock_version=F("lock_version") + 1, updated_at=timezone.now()
    )
    locked.refresh_from_db(fields=["lock_version"])
    return locked


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


# --- Assignment and notes ----------------------------------------------------------------------


def _check_assignee(assignee: User | None, municipality_code: str) -> None:
    if assignee is not None and not policy.can_handle(assignee, municipality_code):
        raise InvalidInput(
            _("担当者には、この団体の担当者または団体管理者を選んでください。"),
            field_errors={"assignee": [_("この団体の担当者ではありません。")]},
        )


@transaction.atomic
def case_assign(*, case: Case, actor: User, assignee: User | None) -> Case:
    """Assign the case to a handler of its municipality (``None`` to unassign)."""
    _require_handler(actor, case)
    _check_assignee(assignee, case.municipality_id)
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.assignee_id == (assignee.pk if assignee else None):
        return locked
    previous = locked.assignee_id
    locked.assignee = assignee
    locked.save(update_fields=["assignee", "updated_at"])
    detail = {"from": previous, "to": assignee.pk if assignee else None}
    _event(locked, CaseEventKind.ASSIGNED, actor, **detail)
    _audit(locked, "case.assign", actor, detail)
    return locked


@dataclass(frozen=True)
class BulkResult:
    """How many of the chosen cases changed, and how many were left as they were."""

    changed: int
    skipped: int


def _bulk_cases(actor: User, case_ids: Iterable[int]) -> QuerySet[Case]:
    ids = list(dict.fromkeys(int(i) for i in case_ids))[:BULK_LIMIT]
    return Case.objects.filter(pk__in=ids, municipality_id__in=policy.handler_codes(actor))


@transaction.atomic
def case_bulk_assign(*, actor: User, case_ids: Iterable[int], assignee: User | None) -> BulkResult:
    """Assign many cases at once (queue bulk action); cases the actor may not process are skipped."""
    ids = list(case_ids)
    changed = 0
    for case in _bulk_cases(actor, ids).select_for_update():
        if assignee is not None and not policy.can_handle(assignee, case.municipality_id):
            continue
        if case.assignee_id == (assignee.pk if assignee else None):
            continue
        case_assign(case=case, actor=actor, assignee=assignee)
        changed += 1
    return BulkResult(changed=changed, skipped=len(set(ids)) - changed)


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
def case_note_add(*, case: Case, actor: User, text: str) -> CaseNote:
    """Add an internal note (メモ) to the case; never shown to the applicant."""
    if not policy.can_note(actor, case.municipality_id):
        raise Forbidden(_("この案件にメモを追加する権限がありません。"))
    text = text.strip()
    if not text:
        raise InvalidInput(
            _("メモを入力してください。"), field_errors={"text": [_("メモを入力してください。")]}
        )
    if len(text) > MAX_NOTE_LENGTH:
        message = _("%(max)d文字以内で入力してください。") % {"max": MAX_NOTE_LENGTH}
        raise InvalidInput(message, field_errors={"text": [message]})
    note = CaseNote.objects.create(case=case, author=actor, text=text)
    _event(case, CaseEventKind.NOTE, actor, note=note.pk)
    _audit(case, "case.note", actor, {"note": note.pk})
    return note


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


@transaction.atomic
def case_request_correction(
    *,
    case: Case,
    actor: User,
    message: str,
    fields: list[str],
    deadline: dt.date,
    expected_lock_version: int | None = None,
) -> CorrectionRequest:
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


# --- Approval routes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteStepSpec:
    """One route step as entered: ``role`` and/or a named ``user_id``; same position = parallel."""

    position: int
    label: str
    role: str = ""
    department_id: int | None = None
    user_id: int | None = None


DEFAULT_ROUTE: tuple[RouteStepSpec, ...] = (
    RouteStepSpec(position=1, label="決裁", role=Role.APPROVER),
)


@dataclass(frozen=True)
class EffectiveRoute:
    """The route that applies to a procedure now (its own, or the default)."""

    approval_required: bool
    steps: tuple[RouteStepSpec, ...]
    is_default: bool


def approval_route_effective(procedure: Procedure) -> EffectiveRoute:
    """The procedure's route, or the default (one step: role 決裁者) when none is configured."""
    route = ApprovalRoute.objects.filter(procedure=procedure).first()
    if route is None:
        return EffectiveRoute(approval_required=True, steps=DEFAULT_ROUTE, is_default=True)
    steps = tuple(
        RouteStepSpec(s.position, s.label, s.role, s.department_id, s.user_id)
        for s in route.steps.all().order_by("position", "id")
    )
    if route.approval_required and not steps:
        return EffectiveRoute(approval_required=True, steps=DEFAULT_ROUTE, is_default=True)
    return EffectiveRoute(approval_required=route.approval_required, steps=steps, is_default=False)


def _require_route_editor(actor: User | None, procedure: Procedure) -> None:
    if actor is not None and procedure.municipality_id not in policy.route_editor_codes(actor):
        raise Forbidden(_("この手続の決裁ルートを編集する権限がありません。"))


def _validate_route_step(spec: RouteStepSpec, municipality_code: str) -> None:
    errors: dict[str, list[str]] = {}
    if not spec.label.strip():
        errors["label"] = [_("名称を入力してください。")]
    if not 1 <= spec.position <= 20:
        errors["position"] = [_("順番は1〜20で入力してください。")]
    if not spec.role and spec.user_id is None:
        errors["role"] = [_("役割か決裁者のどちらかを指定してください。")]
    if spec.role and spec.role not in (Role.APPROVER, Role.MUNICIPALITY_ADMIN, Role.CASE_HANDLER):
        errors["role"] = [_("決裁できる役割ではありません。")]
    if (
        spec.department_id is not None
        and not Department.objects.filter(
            pk=spec.department_id, municipality_id=municipality_code
        ).exists()
    ):
        errors["department"] = [_("この団体の課を選んでください。")]
    if (
        spec.user_id is not None
        and not Membership.objects.filter(
            user_id=spec.user_id, municipality_id=municipality_code
        ).exists()
    ):
        errors["user"] = [_("この団体の職員を選んでください。")]
    if errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=errors)


@transaction.atomic
def approval_route_save(
    *,
    actor: User | None,
    procedure: Procedure,
    steps: list[RouteStepSpec],
    approval_required: bool = True,
) -> ApprovalRoute:
    """Replace a procedure's approval route (団体管理者). Running requests keep their copy."""
    _require_route_editor(actor, procedure)
    for spec in steps:
        _validate_route_step(spec, procedure.municipality_id)
    route, _created = ApprovalRoute.objects.select_for_update().get_or_create(
        procedure=procedure, defaults={"municipality_id": procedure.municipality_id}
    )
    route.approval_required = approval_required
    route.save(update_fields=["approval_required", "updated_at"])
    route.steps.all().delete()
    ApprovalRouteStep.objects.bulk_create(
        ApprovalRouteStep(
            route=route,
            position=s.position,
            label=s.label.strip(),
            role=s.role,
            department_id=s.department_id,
            user_id=s.user_id,
        )
        for s in steps
    )
    audit_record(
        action="approval_route.save",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure",
        target_id=procedure.pk,
        detail={
            "approval_required": approval_required,
            "steps": [
                {"position": s.position, "label": s.label, "role": s.role, "user": s.user_id}
                for s in steps
            ],
        },
    )
    return route


def _current_specs(procedure: Procedure) -> tuple[bool, list[RouteStepSpec]]:
    route = ApprovalRoute.objects.filter(procedure=procedure).first()
    if route is None:
        return True, list(DEFAULT_ROUTE)
    return route.approval_required, [
        RouteStepSpec(s.position, s.label, s.role, s.department_id, s.user_id)
        for s in route.steps.all().order_by("position", "id")
    ]


@transaction.atomic
def approval_route_step_add(
    *, actor: User | None, procedure: Procedure, step: RouteStepSpec
) -> ApprovalRoute:
    """Add one step (the route page's form). The first edit starts from the default route."""
    required, specs = _current_specs(procedure)
    return approval_route_save(
        actor=actor, procedure=procedure, steps=[*specs, step], approval_required=required
    )


@transaction.atomic
def approval_route_step_remove(
    *, actor: User | None, procedure: Procedure, index: int
) -> ApprovalRoute:
    """Remove the step at ``index`` (0-based, in position order)."""
    required, specs = _current_specs(procedure)
    if not 0 <= index < len(specs):
        raise NotFound(_("決裁ルートの段階が見つかりません。"))
    del specs[index]
    return approval_route_save(
        actor=actor, procedure=procedure, steps=specs, approval_required=required
    )


@transaction.atomic
def approval_route_set_required(
    *, actor: User | None, procedure: Procedure, approval_required: bool
) -> ApprovalRoute:
    """Say whether the procedure's cases need 決裁 at all."""
    _required, specs = _current_specs(procedure)
    return approval_route_save(
        actor=actor, procedure=procedure, steps=specs, approval_required=approval_required
    )


@transaction.atomic
def approval_route_reset(*, actor: User | None, procedure: Procedure) -> None:
    """Drop the procedure's own route: the default route applies again."""
    _require_route_editor(actor, procedure)
    ApprovalRoute.objects.filter(procedure=procedure).delete()
    audit_record(
        action="approval_route.reset",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure",
        target_id=procedure.pk,
    )


# --- Electronic approval (電子決裁) --------------------------------------------------------------


def step_eligible(
    step: ApprovalStep | ApprovalRouteStep, user: User, municipality_code: str
) -> bool:
    """Whether ``user`` is the approver a step asks for (not counting 代決)."""
    if not user.is_active:
        return False
    if step.user_id is not None:
        return step.user_id == user.pk
    memberships = Membership.objects.filter(
        user=user, municipality_id=municipality_code, role=step.role
    )
    if step.department_id is not None:
        memberships = memberships.filter(department_id=step.department_id)
    return memberships.exists()


def approval_people_excluded(request: ApprovalRequest) -> set[int]:
    """Users who may not decide (or be represented in) another step: drafter and past approvers."""
    excluded = {request.drafted_by_id}
    for decided_by, acting_for in request.steps.filter(
        status=ApprovalStepStatus.APPROVED
    ).values_list("decided_by_id", "acting_for_id"):
        excluded.update(i for i in (decided_by, acting_for) if i is not None)
    return excluded


def latest_approval_request(case: Case) -> ApprovalRequest | None:
    """The case's most recent approval request."""
    return case.approval_requests.order_by("-created_at", "-id").first()


def approval_is_required(procedure: Procedure) -> bool:
    """Whether the procedure's cases go through 決裁 before completion."""
    return approval_route_effective(procedure).approval_required


@transaction.atomic
def case_send_to_approval(
    *,
    case: Case,
    actor: User,
    proposed_outcome: str,
    comment: str = "",
    expected_lock_version: int | None = None,
) -> ApprovalRequest:
    """Draft the decision (起案) and start the approval route: 審査中 → 決裁中."""
    _require_handler(actor, case)
    if proposed_outcome not in ApplicationOutcome.values:
        raise InvalidInput(
            _("起案する結果を選んでください。"),
            field_errors={"proposed_outcome": [_("起案する結果を選んでください。")]},
        )
    route = approval_route_effective(case.procedure)
    if not route.approval_required:
        raise InvalidInput(
            _("この手続は決裁が不要です。そのまま完了にできます。"), code="approval_not_required"
        )
    comment = comment.strip()[:MAX_COMMENT_LENGTH]
    synced = _transition(
        case,
        ApplicationStatus.APPROVING,
        actor=actor,
        expected_lock_version=expected_lock_version,
        note=_("決裁を起案しました。"),
        notify=False,
    )
    request = ApprovalRequest.objects.create(
        municipality_id=case.municipality_id,
        case=synced,
        proposed_outcome=proposed_outcome,
        drafted_by=actor,
        comment=comment,
    )
    first = min(s.position for s in route.steps)
    now = timezone.now()
    ApprovalStep.objects.bulk_create(
        ApprovalStep(
            request=request,
            position=s.position,
            label=s.label,
            role=s.role,
            department_id=s.department_id,
            user_id=s.user_id,
            status=ApprovalStepStatus.PENDING
            if s.position == first
            else ApprovalStepStatus.WAITING,
            activated_at=now if s.position == first else None,
        )
        for s in route.steps
    )
    Case.objects.filter(pk=case.pk).update(approval_state=ApprovalState.PENDING)
    synced.approval_state = ApprovalState.PENDING
    detail = {"request": request.pk, "proposed_outcome": proposed_outcome}
    _event(synced, CaseEventKind.APPROVAL_STARTED, actor, **detail)
    _audit(synced, "case.approval.start", actor, detail)
    return request


@transaction.atomic
def approval_decide(
    *,
    step: ApprovalStep,
    actor: User,
    decision: str,
    comment: str = "",
    acting_for: User | None = None,
    expected_lock_version: int | None = None,
) -> ApprovalRequest:
    """Decide one approval step: approve, send back (差戻し) or reject (否決).

    ``acting_for`` records a 代決: ``actor`` (a 決裁者 or 団体管理者) decides for the absent
    approver ``acting_for``, who must be someone the step asks for.
    """
    locked_step = (
        ApprovalStep.objects.select_for_update()
        .select_related("request__case__application")
        .get(pk=step.pk)
    )
    request = ApprovalRequest.objects.select_for_update().get(pk=locked_step.request_id)
    case = locked_step.request.case
    municipality = case.municipality_id
    if municipality not in policy.reader_codes(actor):
        raise NotFound(_("案件が見つかりません。"), code="case_not_found")
    if decision not in ApprovalDecision.values:
        raise InvalidInput(
            _("判断を選んでください。"), field_errors={"decision": [_("判断を選んでください。")]}
        )
    comment = comment.strip()[:MAX_COMMENT_LENGTH]
    if decision != ApprovalDecision.APPROVE and not comment:
        message = _("差戻し・否決の理由を入力してください。")
        raise InvalidInput(message, field_errors={"comment": [message]})
    if (
        request.status != ApprovalRequestStatus.PENDING
        or locked_step.status != ApprovalStepStatus.PENDING
    ):
        raise Conflict(
            _("この段階はすでに判断されたか、まだ順番が来ていません。"), code="step_not_pending"
        )
    excluded = approval_people_excluded(request)
    people = {actor.pk} | ({acting_for.pk} if acting_for is not None else set())
    if request.drafted_by_id in people:
        raise Forbidden(
            _("起案した職員は、その案件を決裁できません。"), code="drafter_cannot_approve"
        )
    if people & excluded:
        raise Forbidden(
            _("同じ職員が同じ案件を二度決裁することはできません。"), code="already_approved"
        )
    if acting_for is None:
        if not step_eligible(locked_step, actor, municipality):
            raise Forbidden(_("この段階を決裁する権限がありません。"), code="not_approver")
    else:
        if not policy.can_delegate(actor, municipality):
            raise Forbidden(_("代決する権限がありません。"), code="cannot_delegate")
        if not step_eligible(locked_step, acting_for, municipality):
            message = _("代決の相手は、この段階の決裁者ではありません。")
            raise InvalidInput(message, field_errors={"acting_for": [message]})
    now = timezone.now()
    locked_step.status = {
        ApprovalDecision.APPROVE: ApprovalStepStatus.APPROVED,
        ApprovalDecision.SEND_BACK: ApprovalStepStatus.SENT_BACK,
        ApprovalDecision.REJECT: ApprovalStepStatus.REJECTED,
    }[ApprovalDecision(decision)]
    locked_step.decided_by = actor
    locked_step.acting_for = acting_for
    locked_step.comment = comment
    locked_step.decided_at = now
    if decision == ApprovalDecision.APPROVE:
        _lock_application(case, expected_lock_version)
        locked_step.save()
        _advance(request, case, actor, now)
    else:
        locked_step.save()
        request.steps.filter(
            status__in=[ApprovalStepStatus.PENDING, ApprovalStepStatus.WAITING]
        ).update(status=ApprovalStepStatus.CANCELLED)
        sent_back = decision == ApprovalDecision.SEND_BACK
        request.status = (
            ApprovalRequestStatus.SENT_BACK if sent_back else ApprovalRequestStatus.REJECTED
        )
        request.finished_at = now
        request.save(update_fields=["status", "finished_at", "updated_at"])
        state = ApprovalState.SENT_BACK if sent_back else ApprovalState.REJECTED
        Case.objects.filter(pk=case.pk).update(approval_state=state)
        label = _("差戻し") if sent_back else _("否決")
        _transition(
            case,
            ApplicationStatus.IN_REVIEW,
            actor=actor,
            expected_lock_version=expected_lock_version,
            note=f"{label}（{locked_step.label}）: {comment}",
            notify=False,
        )
    detail = {
        "request": request.pk,
        "step": locked_step.label,
        "position": locked_step.position,
        "decision": decision,
        "acting_for": acting_for.pk if acting_for else None,
        "acting_for_username": acting_for.get_username() if acting_for else "",
    }
    _event(case, CaseEventKind.APPROVAL_DECIDED, actor, **detail)
    _audit(case, f"case.approval.{decision}", actor, detail)
    return request


def _advance(request: ApprovalRequest, case: Case, actor: User, now: dt.datetime) -> None:
    """After an approval: open the next position, or finish the request when all approved."""
    steps = request.steps.all()
    if steps.filter(status=ApprovalStepStatus.PENDING).exists():
        return  # the rest of a parallel group still decides
    waiting = steps.filter(status=ApprovalStepStatus.WAITING).order_by("position")
    next_step = waiting.first()
    if next_step is not None:
        waiting.filter(position=next_step.position).update(
            status=ApprovalStepStatus.PENDING, activated_at=now
        )
        return
    request.status = ApprovalRequestStatus.APPROVED
    request.finished_at = now
    request.save(update_fields=["status", "finished_at", "updated_at"])
    Case.objects.filter(pk=case.pk).update(approval_state=ApprovalState.APPROVED)
    case.approval_state = ApprovalState.APPROVED
    _event(
        case,
        CaseEventKind.APPROVAL_COMPLETED,
        actor,
        request=request.pk,
        proposed_outcome=request.proposed_outcome,
    )
    _audit(case, "case.approval.completed", actor, {"request": request.pk})


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


# --- Counter (書かない窓口) and paper intake ------------------------------------------------------


@dataclass(frozen=True)
class IdentityCheck:
    """What the counter clerk checked on the resident's identity document."""

    document: str
    family_name: str
    birth_date: dt.date | None
    given_name: str = ""
    family_kana: str = ""
    given_kana: str = ""
    document_note: str = ""
    postal_code: str = ""
    prefecture: str = ""
    city: str = ""
    town: str = ""
    street: str = ""
    building: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.family_name, self.given_name) if p)

    @property
    def address_line(self) -> str:
        postal = self.postal_code
        if postal:
            with contextlib.suppress(JapaneseDataError):
                postal = "〒" + format_postal_code(normalize_postal_code(postal))
        line = "".join(p for p in (self.prefecture, self.city, self.town, self.street) if p)
        return " ".join(p for p in (postal, line, self.building) if p)


def _require_intake(actor: User | None, municipality_code: str) -> User:
    if actor is None or municipality_code not in policy.intake_codes(actor):
        raise Forbidden(_("この団体の窓口受付をする権限がありません。"))
    return actor


def intake_supported(procedure: Procedure) -> bool:
    """Whether counter and paper intake can submit this procedure.

    Every procedure with a published form can: the card signature is asked of remote channels
    only (at the counter identity is checked in person; paper carries its own signature).
    """
    return procedure_services.current_form_version(procedure) is not None


def _start_intake_application(
    procedure: Procedure, actor: User, channel: str, contact_email: str
) -> Application:
    if not intake_supported(procedure):
        raise InvalidInput(
            _(
                "この手続はマイナンバーカードによる電子署名が必要なため、窓口・紙での登録には対応していません。"
            ),
            code="intake_not_supported",
        )
    started = procedure_services.application_start(
        procedure=procedure,
        applicant=None,
        channel=channel,
        contact_email=contact_email.strip(),
        actor=actor,
        language="ja",
    )
    return started.application


def prefill_from_identity(definition: FormDefinition, identity: IdentityCheck) -> dict[str, Any]:
    """Answers to prefill from the identity check: the first name, birth date and address fields.

    Registry look-ups (住民記録) will add more later; only top-level fields are prefilled.
    """
    answers: dict[str, dict[str, Any]] = {}
    filled: set[str] = set()
    for step in definition.steps:
        for field in step.fields:
            value: Any = None
            if field.type == "name" and "name" not in filled:
                parts = {
                    "family": identity.family_name,
                    "given": identity.given_name,
                    "family_kana": identity.family_kana,
                    "given_kana": identity.given_kana,
                }
                value = {p: parts[p] for p in field.parts}
                filled.add("name")
            elif (
                field.type == "date"
                and (field.key == "birth_date" or field.autocomplete == "bday")
                and "birth_date" not in filled
                and identity.birth_date is not None
            ):
                value = identity.birth_date.isoformat()
                filled.add("birth_date")
            elif field.type == "address" and "address" not in filled and identity.street:
                parts = {
                    "postal_code": identity.postal_code,
                    "prefecture": identity.prefecture,
                    "city": identity.city,
                    "town": identity.town,
                    "street": identity.street,
                    "building": identity.building,
                }
                value = {p: parts[p] for p in field.parts}
                filled.add("address")
            if value is not None:
                answers.setdefault(step.key, {})[field.key] = value
    return answers


def _validate_identity(identity: IdentityCheck) -> None:
    errors: dict[str, list[str]] = {}
    if identity.document not in IdentityDocument.values:
        errors["document"] = [_("確認した書類を選んでください。")]
    if identity.document == IdentityDocument.OTHER and not identity.document_note.strip():
        errors["document_note"] = [_("確認した書類の名称を入力してください。")]
    if not identity.family_name.strip():
        errors["family_name"] = [_("書類で確認した氏名を入力してください。")]
    if identity.birth_date is None:
        errors["birth_date"] = [_("書類で確認した生年月日を入力してください。")]
    elif identity.birth_date > timezone.localdate():
        errors["birth_date"] = [_("生年月日が未来の日付です。")]
    if errors:
        raise InvalidInput(_("本人確認の内容を確認してください。"), field_errors=errors)


@transaction.atomic
def intake_start_counter(
    *, procedure: Procedure, actor: User, identity: IdentityCheck, contact_email: str = ""
) -> Intake:
    """書かない窓口: record the identity check and start a counter application, prefilled."""
    _require_intake(actor, procedure.municipality_id)
    _validate_identity(identity)
    application = _start_intake_application(procedure, actor, Channel.COUNTER, contact_email)
    definition = FormDefinition.from_json(application.form_version.definition)
    for step_key, step_answers in prefill_from_identity(definition, identity).items():
        procedure_services.application_save_step(
            application=application, step_key=step_key, step_answers=step_answers
        )
    intake = Intake.objects.create(
        municipality_id=procedure.municipality_id,
        application=application,
        channel=Channel.COUNTER,
        clerk=actor,
        identity_document=identity.document,
        identity_document_note=identity.document_note.strip(),
        confirmed_name=identity.full_name,
        confirmed_birth_date=identity.birth_date,
        confirmed_address=identity.address_line,
    )
    _audit(
        application,
        "intake.identity_check",
        actor,
        {"document": identity.document, "procedure": procedure.slug},
        personal_data=True,
        purpose="窓口での本人確認",
    )
    return intake


def _intake_purpose(application: Application) -> str:
    return f"intake:{application.pk}"


@transaction.atomic
def intake_start_paper(
    *,
    procedure: Procedure,
    actor: User,
    scan: UploadedFile | bytes,
    scan_name: str | None = None,
    contact_email: str = "",
) -> Intake:
    """Register a paper application: store its scan (made safe) and start the data entry."""
    _require_intake(actor, procedure.municipality_id)
    application = _start_intake_application(procedure, actor, Channel.PAPER, contact_email)
    stored = file_store(
        municipality_code=procedure.municipality_id,
        upload=scan,
        name=scan_name,
        actor=actor,
        purpose=_intake_purpose(application),
    )
    intake = Intake.objects.create(
        municipality_id=procedure.municipality_id,
        application=application,
        channel=Channel.PAPER,
        clerk=actor,
        scan_file_id=stored.pk,
        confirmation_method=ConfirmationMethod.PAPER_SCAN,
    )
    _audit(
        application,
        "intake.paper_scan",
        actor,
        {"file": str(stored.pk), "procedure": procedure.slug},
        personal_data=True,
        purpose="紙の申請書の登録",
    )
    return intake


def _require_intake_draft(actor: User, intake: Intake) -> Application:
    _require_intake(actor, intake.municipality_id)
    application = intake.application
    if application.status != ApplicationStatus.DRAFT:
        raise Conflict(_("この申請はすでに登録されています。"), code="already_submitted")
    return application


@transaction.atomic
def intake_attachment_store(
    *, intake: Intake, actor: User, path: str, upload: UploadedFile
) -> StoredFile:
    """Store an attachment for one of the form's file fields, entered by staff."""
    application = _require_intake_draft(actor, intake)
    return procedure_services.attachment_store(
        application=application, path=path, upload=upload, actor=actor
    )


@transaction.atomic
def intake_save_answers(
    *, intake: Intake, actor: User, answers: dict[str, Any], today: dt.date | None = None
) -> FormResult:
    """Save the answers entered by staff (every step given) and validate the whole form."""
    application = _require_intake_draft(actor, intake)
    definition = FormDefinition.from_json(application.form_version.definition)
    lookup = procedure_services.file_lookup_for(application)
    for step_key in definition.step_keys:
        if step_key in answers:
            procedure_services.application_save_step(
                application=application,
                step_key=step_key,
                step_answers=answers[step_key],
                file_lookup=lookup,
                today=today,
            )
    _audit(
        application,
        "intake.answers",
        actor,
        {"steps": [k for k in definition.step_keys if k in answers]},
        personal_data=True,
        purpose="窓口・紙の申請の入力",
    )
    return validate_answers(definition, application.answers, file_lookup=lookup, today=today)


@transaction.atomic
def intake_submit(
    *,
    intake: Intake,
    actor: User,
    confirmation_method: str,
    confirmation_name: str = "",
    resident_confirmed: bool = False,
    confirmation_scan: UploadedFile | bytes | None = None,
    idempotency_key: str | None = None,
    today: dt.date | None = None,
) -> Case:
    """Record how the resident confirmed the content, submit, and open the case.

    Counter: ``tablet_signature`` (the resident checked the summary on the tablet and signed:
    a tick and the typed name) or ``signed_summary_scan`` (the printed summary, signed, is
    scanned). Paper: ``paper_scan`` (the scan stored at the start is the original).
    """
    _require_intake(actor, intake.municipality_id)
    intake = Intake.objects.select_for_update().select_related("application").get(pk=intake.pk)
    application = intake.application
    if application.status != ApplicationStatus.DRAFT:
        return case_create_for_application(application=application, actor=actor)
    errors: dict[str, list[str]] = {}
    confirmation_name = confirmation_name.strip()
    if intake.channel == Channel.COUNTER:
        if confirmation_method == ConfirmationMethod.TABLET_SIGNATURE:
            if not resident_confirmed:
                errors["resident_confirmed"] = [_("本人が内容を確認したことを確かめてください。")]
            if not confirmation_name:
                errors["confirmation_name"] = [_("署名した氏名を入力してください。")]
        elif confirmation_method == ConfirmationMethod.SIGNED_SUMMARY_SCAN:
            if confirmation_scan is None:
                errors["confirmation_scan"] = [_("署名した控えのスキャンを添付してください。")]
        else:
            errors["confirmation_method"] = [_("本人確認の方法を選んでください。")]
    elif confirmation_method != ConfirmationMethod.PAPER_SCAN:
        errors["confirmation_method"] = [_("本人確認の方法を選んでください。")]
    if errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=errors)
    if confirmation_scan is not None and intake.channel == Channel.COUNTER:
        stored = file_store(
            municipality_code=intake.municipality_id,
            upload=confirmation_scan,
            actor=actor,
            purpose=_intake_purpose(application),
        )
        intake.confirmation_file_id = stored.pk
    intake.confirmation_method = confirmation_method
    intake.confirmation_name = confirmation_name
    intake.confirmed_at = timezone.now()
    intake.save()
    submitted = procedure_services.application_submit(
        application=application,
        actor=actor,
        idempotency_key=idempotency_key,
        file_lookup=procedure_services.file_lookup_for(application),
        today=today,
    )
    case = case_create_for_application(application=submitted, actor=actor)
    _event(
        case,
        CaseEventKind.INTAKE,
        actor,
        channel=intake.channel,
        method=confirmation_method,
        document=intake.identity_document,
    )
    _audit(
        case,
        "intake.submit",
        actor,
        {"channel": intake.channel, "method": confirmation_method},
        personal_data=True,
        purpose="窓口・紙の申請の受付",
    )
    return case
