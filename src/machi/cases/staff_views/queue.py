"""The queue (案件一覧), its bulk actions and the numbers page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from machi.cases import policy, selectors, services
from machi.cases.forms import (
    BulkActionForm,
    QueueFilterForm,
    StatsFilterForm,
)
from machi.core.auth import staff_required, staff_user
from machi.core.models import User

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    pass
from machi.cases.staff_views._common import (
    _forbidden,
    _municipality_choices,
    _user_choices,
)

# --- Queue -------------------------------------------------------------------------------------


def _queue_forms(request: HttpRequest, user: User) -> tuple[QueueFilterForm, int | None]:
    codes = policy.reader_codes(user)
    chosen = str(request.GET.get("municipality", ""))
    many = len(codes) > 1 and not chosen
    departments = [
        (str(d.pk), f"{d.municipality.name} {d.name}" if many else d.name)
        for d in selectors.queue_departments(user=user, municipality_code=chosen)
    ]
    procedures = [
        (str(p.pk), f"{p.municipality.name} {p.name}" if many else p.name)
        for p in selectors.queue_procedures(user=user, municipality_code=chosen)
    ]
    assignees = _user_choices(
        selectors.assignable_staff(
            municipality_codes=selectors.queue_choice_codes(user=user, municipality_code=chosen)
        )
    )
    default = selectors.queue_default_department(user=user)
    default_id = default.pk if default is not None else None
    form = QueueFilterForm(
        request.GET or None,
        initial={"department": str(default_id) if default_id else "all", "status": "open"},
        municipalities=_municipality_choices(codes),
        departments=departments,
        procedures=procedures,
        assignees=assignees,
    )
    return form, default_id


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    """The case queue (案件一覧): filters, status counts, a page of cases, bulk actions."""
    user = staff_user(request)
    codes = policy.reader_codes(user)
    if not codes:
        return _forbidden(request)
    form, default_department = _queue_forms(request, user)
    filters = form.to_filter(default_department=default_department)
    try:
        page_number = int(request.GET.get("page", "1"))
    except ValueError:
        page_number = 1
    page = selectors.case_queue_page(user=user, filters=filters, page=page_number)
    counts = selectors.case_status_counts(user=user, filters=filters)
    query = request.GET.copy()
    query.pop("page", None)
    status_links = []
    for count in counts:
        link = query.copy()
        if count.key == "overdue":
            link["overdue"] = "on"
            link["status"] = "open"
        else:
            link.pop("overdue", None)
            link["status"] = count.key
        status_links.append({"count": count, "query": link.urlencode()})
    handler_codes = policy.handler_codes(user)
    bulk_form = BulkActionForm(
        assignees=_user_choices(selectors.assignable_staff(municipality_codes=handler_codes)),
        case_ids=[],
    )
    return render(
        request,
        "cases/staff/queue.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "status_links": status_links,
            "query": query.urlencode(),
            "can_bulk": bool(handler_codes),
            "bulk_form": bulk_form,
            "pending_approvals": selectors.approval_pending_for_user(user=user, limit=20),
            "can_intake": bool(policy.intake_codes(user)),
            "many_municipalities": len(codes) > selectors.CHOICES_MUNICIPALITY_LIMIT,
            "can_edit_routes": bool(policy.route_editor_codes(user)),
        },
    )


@require_POST
@staff_required
def bulk(request: HttpRequest) -> HttpResponse:
    """Bulk action on the ticked cases of the queue."""
    user = staff_user(request)
    handler_codes = policy.handler_codes(user)
    back = reverse("cases-staff:queue")
    next_query = request.POST.get("next_query", "")
    if next_query:
        back = f"{back}?{QueryDict(next_query).urlencode()}"
    if not handler_codes:
        return _forbidden(request)
    ids = [int(i) for i in request.POST.getlist("cases") if i.isdigit()]
    form = BulkActionForm(
        request.POST,
        assignees=_user_choices(selectors.assignable_staff(municipality_codes=handler_codes)),
        case_ids=ids,
    )
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    action = form.cleaned_data["action"]
    case_ids = form.cleaned_data["cases"]
    if action == "start_review":
        result = services.case_bulk_start_review(actor=user, case_ids=case_ids)
        done = _("%(n)d件を審査中にしました。") % {"n": result.changed}
    else:
        assignee: User | None = None
        if action == "assign_me":
            assignee = user
        elif action == "assign":
            assignee = User.objects.filter(pk=int(form.cleaned_data["assignee"])).first()
        result = services.case_bulk_assign(actor=user, case_ids=case_ids, assignee=assignee)
        done = _("%(n)d件の担当者を変更しました。") % {"n": result.changed}
    if result.skipped:
        done += _("（%(n)d件は対象外のため変更していません）") % {"n": result.skipped}
    messages.success(request, done)
    return redirect(back)


# --- Numbers -----------------------------------------------------------------------------------


@require_GET
@staff_required
def stats(request: HttpRequest) -> HttpResponse:
    """Per-procedure figures: counts, processing time, time per state, corrections, overdue."""
    user = staff_user(request)
    codes = policy.reader_codes(user)
    if not codes:
        return _forbidden(request)
    form = StatsFilterForm(request.GET or None, municipalities=_municipality_choices(codes))
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    rows = selectors.case_stats(
        user=user,
        municipality_code=data.get("municipality") or "",
        since=data.get("since"),
        until=data.get("until"),
    )
    return render(
        request,
        "cases/staff/stats.html",
        {
            "form": form,
            "rows": rows,
            "steps": [label for label, _v in rows[0].step_rows] if rows else [],
        },
        status=400 if form.is_bound and form.errors else 200,
    )
