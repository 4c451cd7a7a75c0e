"""Staff console pages: a municipality's payments of one day and their reconciliation, and
recording a fee paid in cash at the counter (reached from the case page's links)."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from machi.core.auth import staff_required, staff_user
from machi.core.exceptions import ApplicationError, Forbidden, NotFound
from machi.core.models import Municipality
from machi.core.selectors import user_has_role
from machi.core.services import audit_record
from machi.payments import selectors, services
from machi.payments.forms import CashPaymentForm, PaymentDayForm
from machi.payments.services.counter import CASH_ROLES
from machi.procedures.selectors import application_get


def _form(request: HttpRequest) -> tuple[PaymentDayForm, set[str]]:
    codes = selectors.staff_municipality_codes(staff_user(request))
    choices = [
        (m.code, m.name) for m in Municipality.objects.filter(code__in=codes).order_by("code")
    ]
    data: QueryDict | None = request.GET if "day" in request.GET else None
    return PaymentDayForm(data, municipalities=choices), codes


def _selection(form: PaymentDayForm) -> tuple[str, date] | None:
    if form.is_bound:
        if not form.is_valid():
            return None
        return form.cleaned_data["municipality"], form.cleaned_data["day"]
    code = form.initial.get("municipality")
    return (str(code), form.initial["day"]) if code else None


@require_GET
@staff_required
def index(request: HttpRequest) -> HttpResponse:
    """The day's payments and their reconciliation with the provider (団体管理者・決裁者)."""
    form, codes = _form(request)
    if not codes:
        return render(request, "web/staff/forbidden.html", status=403)
    selection = _selection(form)
    context: dict[str, object] = {"form": form, "report": None, "payments": []}
    if selection is not None:
        code, day = selection
        context.update(
            payments=list(selectors.payments_for_day(municipality_code=code, day=day)),
            report=selectors.reconciliation_report(municipality_code=code, day=day),
            municipality_code=code,
            day=day,
        )
    return render(
        request,
        "payments/staff/index.html",
        context,
        status=400 if form.is_bound and form.errors else 200,
    )


CSV_HEADER = [
    "区分",
    "決済事業者",
    "決済番号",
    "支払いID",
    "受付番号",
    "Machi金額",
    "事業者金額",
    "Machi状態",
    "事業者状態",
    "備考",
]


def _cell(value: object) -> str:
    """A CSV cell that spreadsheet programs never run as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
@staff_required
def export_csv(request: HttpRequest) -> HttpResponse:
    """The reconciliation as CSV (UTF-8 with BOM, opens in Excel)."""
    form, codes = _form(request)
    if not codes:
        return render(request, "web/staff/forbidden.html", status=403)
    selection = _selection(form)
    if selection is None:
        return render(
            request,
            "payments/staff/index.html",
            {"form": form, "report": None, "payments": []},
            status=400,
        )
    code, day = selection
    report = selectors.reconciliation_report(municipality_code=code, day=day)
    audit_record(
        action="payment.reconciliation_export",
        actor=staff_user(request),
        municipality_code=code,
        target_type="payment_reconciliation",
        target_id=day.isoformat(),
        detail={"lines": len(report.items), "discrepancies": len(report.discrepancies)},
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payments-{code}-{day}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for item in report.items:
        row = [
            item.label,
            item.provider,
            item.provider_ref,
            item.payment_id,
            item.receipt_number,
            item.machi_amount,
            item.provider_amount,
            item.machi_status,
            item.provider_status,
            item.note,
        ]
        writer.writerow([_cell(value) for value in row])
    for error in report.errors:
        writer.writerow(["エラー", "", "", "", "", "", "", "", "", _cell(error)])
    return response


@require_http_methods(["GET", "POST"])
@staff_required
def cash_record(request: HttpRequest, application_id: Any) -> HttpResponse:
    """Record that the applicant paid the fee in cash at the counter (窓口担当・担当者 and up)."""
    user = staff_user(request)
    try:
        application = application_get(application_id=application_id)
    except NotFound:
        return render(request, "web/staff/forbidden.html", status=404)
    if not user_has_role(
        user,
        municipality_code=application.municipality_id,
        roles=CASH_ROLES,
        prefecture_wide=False,
    ):
        return render(request, "web/staff/forbidden.html", status=403)
    due = selectors.cash_fee_due(application)
    form = CashPaymentForm(
        request.POST if request.method == "POST" else None, initial={"amount_yen": due}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.payment_record_cash(
                    application_id=application.pk,
                    actor=user,
                    amount_yen=form.cleaned_data["amount_yen"],
                    receipt_number=form.cleaned_data["receipt_number"],
                )
            except Forbidden:
                return render(request, "web/staff/forbidden.html", status=403)
            except ApplicationError as exc:
                form.add_application_error(exc)
                status = exc.status
            else:
                return redirect("payments-staff:cash", application_id=application.pk)
    return render(
        request,
        "payments/staff/cash.html",
        {
            "application": application,
            "form": form,
            "due": due,
            "due_label": f"{due:,}",
            "summary": selectors.payment_summary(application),
        },
        status=status,
    )
