"""Approval route (決裁ルート) pages: the list and the editor of one procedure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from machi.cases import policy, selectors, services
from machi.cases.forms import (
    RouteSettingsForm,
    RouteStepForm,
)
from machi.core.auth import staff_required, staff_user
from machi.core.exceptions import ApplicationError, NotFound
from machi.core.models import Department

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    pass
from machi.cases.staff_views._common import (
    _error,
    _forbidden,
    _user_choices,
)

# --- Approval routes ---------------------------------------------------------------------------


@require_GET
@staff_required
def routes(request: HttpRequest) -> HttpResponse:
    """Approval routes per procedure (決裁ルート)."""
    user = staff_user(request)
    if not policy.reader_codes(user):
        return _forbidden(request)
    procedures = list(selectors.route_procedures(user=user))
    rows = [
        {"procedure": p, "route": selectors.approval_route_view(procedure=p)} for p in procedures
    ]
    return render(
        request,
        "cases/staff/routes.html",
        {"rows": rows, "editor_codes": policy.route_editor_codes(user)},
    )


@require_http_methods(["GET", "POST"])
@staff_required
def route_edit(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Edit one procedure's approval route with plain forms: settings, add, remove, reset."""
    user = staff_user(request)
    try:
        procedure = selectors.route_procedure_get(user=user, procedure_id=procedure_id)
    except NotFound as exc:
        return _error(request, str(exc.message))
    editable = procedure.municipality_id in policy.route_editor_codes(user)
    departments = [
        (str(d.pk), d.name)
        for d in Department.objects.filter(municipality_id=procedure.municipality_id).order_by(
            "code"
        )
    ]
    users = _user_choices(selectors.route_user_choices(municipality_code=procedure.municipality_id))
    route = selectors.approval_route_view(procedure=procedure)
    settings_form = RouteSettingsForm(
        initial={"approval_required": route.approval_required}, prefix="settings"
    )
    next_position = max((s.position for s in route.steps), default=0) + 1
    step_form = RouteStepForm(
        initial={"position": next_position}, prefix="step", departments=departments, users=users
    )
    status = 200
    if request.method == "POST":
        if not editable:
            return _forbidden(request)
        action = request.POST.get("action", "")
        try:
            if action == "settings":
                settings_form = RouteSettingsForm(request.POST, prefix="settings")
                if settings_form.is_valid():
                    services.approval_route_set_required(
                        actor=user,
                        procedure=procedure,
                        approval_required=settings_form.cleaned_data["approval_required"],
                    )
                    messages.success(request, _("決裁ルートを保存しました。"))
                    return redirect("cases-staff:route-edit", procedure_id=procedure.pk)
            elif action == "add":
                step_form = RouteStepForm(
                    request.POST, prefix="step", departments=departments, users=users
                )
                if step_form.is_valid():
                    services.approval_route_step_add(
                        actor=user, procedure=procedure, step=step_form.spec()
                    )
                    messages.success(request, _("段階を追加しました。"))
                    return redirect("cases-staff:route-edit", procedure_id=procedure.pk)
            elif action == "remove":
                index = int(request.POST.get("index", "-1"))
                services.approval_route_step_remove(actor=user, procedure=procedure, index=index)
                messages.success(request, _("段階を削除しました。"))
                return redirect("cases-staff:route-edit", procedure_id=procedure.pk)
            elif action == "reset":
                services.approval_route_reset(actor=user, procedure=procedure)
                messages.success(request, _("標準の決裁ルートに戻しました。"))
                return redirect("cases-staff:route-edit", procedure_id=procedure.pk)
        except ValueError:
            messages.error(request, _("入力内容に誤りがあります。"))
        except ApplicationError as exc:
            step_form.add_application_error(exc)
        status = 400
    return render(
        request,
        "cases/staff/route_edit.html",
        {
            "procedure": procedure,
            "route": route,
            "editable": editable,
            "settings_form": settings_form,
            "step_form": step_form,
        },
        status=status,
    )
