"""Approval routes (決裁ルート) and counter/paper intake: reads for their staff pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
    ApprovalRoute,
    Intake,
)
from machi.cases.services import (
    approval_route_effective,
)
from machi.core.exceptions import NotFound
from machi.core.models import Department, Role, User
from machi.procedures.selectors import procedure_list_for_staff
from machi.procedures.states import AssuranceLevel, Channel

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    from machi.procedures.selectors import Procedure


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
        procedure_list_for_staff(user=user)
        .filter(municipality_id__in=policy.reader_codes(user))
        .annotate(
            has_route=Exists(ApprovalRoute.objects.filter(procedure=OuterRef("pk"))),
        )
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
        User.objects.filter(
            is_active=True,
            memberships__municipality_id=municipality_code,
            memberships__role__in=policy.APPROVAL_ROLES,
        )
        .distinct()
        .order_by("username")
    )


# --- Counter and paper intake ------------------------------------------------------------------


def intake_procedures(*, user: User, channel: str = Channel.COUNTER) -> QuerySet[Procedure]:
    """Procedures the user may register at the counter or from paper (with a published form).

    At the counter every procedure can be taken, those that need a card signature online too
    (住民票の写し): the clerk checks the identity document in person instead, and the intake
    records which document and who checked it. A paper application carries no such check, so
    those procedures are not offered for paper (see :func:`intake_unsupported_procedures`).
    """
    queryset = procedure_list_for_staff(user=user).filter(
        municipality_id__in=policy.intake_codes(user),
        form_versions__published_at__isnull=False,
    )
    if channel != Channel.COUNTER:
        queryset = queryset.exclude(assurance_level=AssuranceLevel.CARD_SIGNATURE)
    return queryset.distinct().order_by("municipality_id", "name_kana", "name")


def intake_unsupported_procedures(
    *, user: User, channel: str = Channel.PAPER
) -> QuerySet[Procedure]:
    """Procedures that cannot be taken in on ``channel``: those needing a card signature, on paper."""
    if channel == Channel.COUNTER:
        return procedure_list_for_staff(user=user).none()
    return (
        procedure_list_for_staff(user=user)
        .filter(
            municipality_id__in=policy.intake_codes(user),
            assurance_level=AssuranceLevel.CARD_SIGNATURE,
        )
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
