"""Approval routes (決裁ルート) per procedure: the default, a procedure's own steps, editing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
    ApprovalRoute,
    ApprovalRouteStep,
)
from machi.core.exceptions import Forbidden, InvalidInput, NotFound
from machi.core.models import Department, Membership, Role, User
from machi.core.services import audit_record

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors and services.
    from machi.procedures.selectors import Procedure


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
    if spec.role and spec.role not in policy.APPROVAL_ROLES:
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
            user_id=spec.user_id,
            municipality_id=municipality_code,
            # Only staff who can approve: the queue looks for waiting steps of these roles.
            role__in=policy.APPROVAL_ROLES,
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
