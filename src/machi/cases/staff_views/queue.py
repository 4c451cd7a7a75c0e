"""The queue (案件一覧), its bulk actions and the numbers page."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from machi.cases import policy, selectors, services
from machi.cases.forms import (
    BulkActionForm,
    Choices,
    QueueFilterForm,
    StatsFilterForm,
)
from machi.cases.staff_views._common import (
    _forbidden,
    _municipality_choices,
)
from machi.core.auth import staff_required, staff_user
from machi.core.models import User

# --- Queue -------------------------------------------------------------------------------------

_ANY_ID = uuid.UUID(int=0)


def _detail_base() -> str:
    """``/staff/cases/`` of the case pages: rows append their id (one reverse per page)."""
    return reverse("cases-staff:detail", args=[_ANY_ID]).removesuffix(f"{_ANY_ID}/")


def _rows_html(rows: list[selectors.QueueRow], *, detail_base: str, can_bulk: bool) -> SafeString:
    """The queue's table rows, one format string per row (every value escaped).

    The rows were most of the template's time (about twenty variable look-ups each, fifty
    rows a page); the HTML is the one the template printed before, cell for cell.
    """
    labels = {
        key: escape(text)
        for key, text in (
            ("receipt", _("受付番号")),
            ("procedure", _("手続")),
            ("status", _("状態")),
            ("channel", _("受付方法")),
            ("submitted", _("申請日")),
            ("due", _("処理期限")),
            ("assignee", _("担当者")),
            ("department", _("担当課")),
        )
    }
    approved = f' <span class="status status-approved">{escape(_("決裁済み"))}</span>'
    overdue = f' <strong class="overdue">{escape(_("期限超過"))}</strong>'
    base = escape(detail_base)
    out = []
    for row in rows:
        receipt = escape(row.receipt)
        select = ""
        if can_bulk:
            choose = escape(_("%(r)s を選ぶ") % {"r": row.receipt})
            select = (
                f'<td class="queue-select"><input type="checkbox" name="cases" value="{row.pk}"'
                f' id="case-{row.pk}"><label for="case-{row.pk}" class="visually-hidden">'
                f"{choose}</label></td>"
            )
        due = "—"
        if row.due_day:
            due = f'<time datetime="{row.due_day}">{row.due_day}</time>'
            if row.overdue:
                due += overdue
        outcome = f"（{escape(row.outcome_label)}）" if row.outcome_label else ""
        out.append(
            f'<tr class="queue-row">{select}'
            f'<th scope="row" data-label="{labels["receipt"]}"><a href="{base}'
            f'{row.application_id}/">{receipt}</a></th>'
            f'<td data-label="{labels["procedure"]}">{escape(row.procedure_name)}</td>'
            f'<td data-label="{labels["status"]}"><span class="status status-'
            f'{escape(row.status)}">{escape(row.status_label)}</span>'
            f"{approved if row.approved else ''}{outcome}</td>"
            f'<td data-label="{labels["channel"]}">{escape(row.channel_label)}</td>'
            f'<td data-label="{labels["submitted"]}"><time datetime="{row.submitted_iso}">'
            f"{row.submitted_day}</time></td>"
            f'<td data-label="{labels["due"]}">{due}</td>'
            f'<td data-label="{labels["assignee"]}">{escape(row.assignee_label or "—")}</td>'
            f'<td data-label="{labels["department"]}">{escape(row.department_name or "—")}</td>'
            "</tr>"
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every value is escaped above


def _queue_forms(
    request: HttpRequest, user: User, access: policy.CaseAccess
) -> tuple[QueueFilterForm, int | None, Choices]:
    """The filter form, the default department and the bulk form's staff, from cached choices."""
    codes = access.reader_codes
    chosen = str(request.GET.get("municipality", ""))
    choice_codes = selectors.queue_choice_codes(user=user, municipality_code=chosen, access=access)
    handler_codes = access.handler_codes
    # Names of every readable municipality, the filters' choices, the bulk form's staff: one
    # cache read (see selectors.choices), no query once the cache is warm.
    choices = selectors.municipality_choices(codes=codes, user=user)
    shown = [choices[code] for code in sorted(choice_codes) if code in choices]
    many = len(codes) > 1 and not chosen
    departments = [
        (str(pk), f"{m.name} {name}" if many else name) for m in shown for pk, name in m.departments
    ]
    procedures = [
        (str(pk), f"{m.name} {name}" if many else name) for m in shown for pk, name in m.procedures
    ]
    assignees = [(str(p.pk), p.label) for p in selectors.staff_choices(shown)]
    bulk_staff = [
        (str(p.pk), p.label)
        for p in selectors.staff_choices(choices[c] for c in sorted(handler_codes) if c in choices)
    ]
    default_id = access.default_department_id
    form = QueueFilterForm(
        request.GET or None,
        initial={"department": str(default_id) if default_id else "all", "status": "open"},
        municipalities=[(m.code, m.name) for m in choices.values()],
        departments=departments,
        procedures=procedures,
        assignees=assignees,
    )
    return form, default_id, bulk_staff


def _status_links(query: QueryDict, counts: list[selectors.StatusCount]) -> list[dict[str, Any]]:
    links = []
    for count in counts:
        link = query.copy()
        if count.key == "overdue":
            link["overdue"] = "on"
            link["status"] = "open"
        else:
            link.pop("overdue", None)
            link["status"] = count.key
        links.append({"count": count, "query": link.urlencode()})
    return links


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    """The case queue (案件一覧): filters, status counts, a page of cases, bulk actions.

    Memberships are read once (``policy.access_for``) and handed to every selector; choices
    come from the cache; the page itself is one query for the rows, one for every tab's count
    and, for approvers, one for their waiting steps.
    """
    user = staff_user(request)
    access = policy.access_for(user)
    codes = access.reader_codes
    if not codes:
        return _forbidden(request)
    form, default_department, bulk_staff = _queue_forms(request, user, access)
    filters = form.to_filter(default_department=default_department)
    try:
        page_number = int(request.GET.get("page", "1"))
    except ValueError:
        page_number = 1
    page = selectors.case_queue_page(user=user, filters=filters, page=page_number, access=access)
    counts = selectors.case_status_counts(user=user, filters=filters, access=access)
    query = request.GET.copy()
    query.pop("page", None)
    can_bulk = bool(access.handler_codes)
    detail_base = _detail_base()
    return render(
        request,
        "cases/staff/queue.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "status_links": _status_links(query, counts),
            "query": query.urlencode(),
            "can_bulk": can_bulk,
            "bulk_form": BulkActionForm(assignees=bulk_staff, case_ids=[]) if can_bulk else None,
            "pending_approvals": selectors.approval_pending_for_user(
                user=user, limit=20, access=access
            ),
            "detail_base": detail_base,
            "rows_html": _rows_html(page.cases, detail_base=detail_base, can_bulk=can_bulk),
            "can_intake": bool(access.intake_codes),
            "many_municipalities": len(codes) > selectors.CHOICES_MUNICIPALITY_LIMIT,
            "can_edit_routes": bool(access.route_editor_codes),
        },
    )


@require_POST
@staff_required
def bulk(request: HttpRequest) -> HttpResponse:
    """Bulk action on the ticked cases of the queue."""
    user = staff_user(request)
    access = policy.access_for(user)
    handler_codes = access.handler_codes
    back = reverse("cases-staff:queue")
    next_query = request.POST.get("next_query", "")
    if next_query:
        back = f"{back}?{QueryDict(next_query).urlencode()}"
    if not handler_codes:
        return _forbidden(request)
    ids = [int(i) for i in request.POST.getlist("cases") if i.isdigit()]
    staff = selectors.staff_choices(
        selectors.municipality_choices(codes=handler_codes, user=user).values()
    )
    form = BulkActionForm(
        request.POST,
        assignees=[(str(p.pk), p.label) for p in staff],
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
