"""One case: the case page's reads (attachments, history, audit) and what the user may do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
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
)
from machi.cases.services import (
    approval_people_excluded,
    latest_approval_request,
)
from machi.core.exceptions import NotFound
from machi.core.models import AuditEntry, Membership, User
from machi.files.selectors import file_get
from machi.procedures.formengine import Field, FormDefinition
from machi.procedures.states import ApplicationOutcome, ApplicationStatus, Channel

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    pass


# --- One case ----------------------------------------------------------------------------------


def _access(user: User, access: policy.CaseAccess | None) -> policy.CaseAccess:
    return access if access is not None else policy.access_for(user)


def case_get_for_staff(
    *, user: User, application_id: Any, access: policy.CaseAccess | None = None
) -> Case:
    """A case by its application id, if ``user`` may read it; otherwise ``NotFound``.

    ``access``: the user's :func:`policy.access_for`, when the page already has it.
    """
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
            .filter(municipality_id__in=_access(user, access).reader_codes)
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


# Only counter and paper intake write an ``Intake``; an online case needs no query for it.
_INTAKE_CHANNELS = (Channel.COUNTER, Channel.PAPER)


def case_intake(*, case: Case) -> Intake | None:
    """The case's counter or paper intake record (with the clerk), if any."""
    if case.channel not in _INTAKE_CHANNELS:
        return None
    return Intake.objects.filter(application_id=case.application_id).select_related("clerk").first()


class _Unread:
    """``intake`` not passed: :func:`case_attachments` reads it."""


_UNREAD = _Unread()


def case_attachments(
    *, case: Case, language: str = "ja", intake: Intake | _Unread | None = _UNREAD
) -> list[Attachment]:
    """Files of the submitted answers and of the intake (scans), in form order.

    ``intake``: :func:`case_intake`'s result when the page already read it.
    """
    application = case.application
    definition = FormDefinition.from_json(application.form_version.definition)
    refs: list[tuple[str, str, str]] = []
    for step in definition.steps:
        values = application.cleaned.get(step.key)
        if isinstance(values, Mapping):
            _file_refs(step.fields, values, step.key, "", language, refs)
    if isinstance(intake, _Unread):
        intake = case_intake(case=case)
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


def case_audit_entries(
    *, user: User, case: Case, limit: int = 200, access: policy.CaseAccess | None = None
) -> list[AuditEntry]:
    """Audit entries about the case's application (audit readers only), newest first."""
    if not _access(user, access).has_role(
        case.municipality_id, policy.AUDIT_READER_ROLES, prefecture_wide=True
    ):
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


def _asks_for(
    step: ApprovalStep, user: User, access: policy.CaseAccess, municipality_code: str
) -> bool:
    """``services.step_eligible`` on the memberships in hand (no query)."""
    if not user.is_active:
        return False
    if step.user_id is not None:
        return bool(step.user_id == user.pk)
    return any(
        code == municipality_code
        and role == step.role
        and (step.department_id is None or department == step.department_id)
        for code, role, department in access.memberships
    )


def _step_actions(
    user: User, request: ApprovalRequest, municipality_code: str, access: policy.CaseAccess
) -> list[StepAction]:
    if request.status != ApprovalRequestStatus.PENDING:
        return []
    excluded = approval_people_excluded(request)
    delegate = access.has_role(municipality_code, policy.DELEGATE_ROLES, prefecture_wide=False)
    actions = []
    for step in request.steps.filter(status=ApprovalStepStatus.PENDING).order_by("position", "id"):
        reason = ""
        if user.pk == request.drafted_by_id:
            reason = _("起案した職員は決裁できません。")
        elif user.pk in excluded:
            reason = _("この案件をすでに決裁しています。")
        eligible = not reason and _asks_for(step, user, access, municipality_code)
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


def case_actions(*, user: User, case: Case, access: policy.CaseAccess | None = None) -> CaseActions:
    """What ``user`` may do with ``case`` now (the services check the same rules again)."""
    access = _access(user, access)
    application = case.application
    status = application.status
    handle = access.has_role(case.municipality_id, policy.HANDLER_ROLES, prefecture_wide=False)
    # What approval_route_effective decides, without reading the steps: no route, or a route
    # that asks for approval (steps or the default one), means approval is required.
    required = (
        ApprovalRoute.objects.filter(procedure_id=case.procedure_id)
        .values_list("approval_required", flat=True)
        .first()
        is not False
    )
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
        can_note=access.has_role(case.municipality_id, policy.NOTE_ROLES, prefecture_wide=False),
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
        step_actions=_step_actions(user, request, case.municipality_id, access) if request else [],
    )
