"""Pages of the resident portal and the staff console. Thin: parse, authorize, call, render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.signals import user_login_failed
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_ratelimit.decorators import ratelimit

from machi.core import selectors, services
from machi.core.audit_labels import action_label, target_label
from machi.core.auth import is_verified_staff, staff_required, staff_user
from machi.core.exceptions import NotFound
from machi.core.models import AuditEntry, Role
from machi.core.sign_in_limits import account_failure_record, account_limit
from machi.web.forms import AuditSearchForm, StaffSignInForm

# --- Resident portal ---------------------------------------------------------------------------


@require_GET
def portal_home(request: HttpRequest) -> HttpResponse:
    """Portal home: the municipalities of this installation."""
    municipalities = selectors.municipality_list()
    return render(request, "web/portal/home.html", {"municipalities": municipalities})


@require_GET
def portal_municipality(request: HttpRequest, code: str) -> HttpResponse:
    """A municipality's page with its departments and how to reach them."""
    try:
        municipality = selectors.municipality_get(code=code)
    except NotFound:
        return render(
            request,
            "web/portal/not_found.html",
            {"message": _("地方公共団体コード %(code)s は登録されていません。") % {"code": code}},
            status=404,
        )
    departments = selectors.public_department_list(municipality_code=municipality.code)
    return render(
        request,
        "web/portal/municipality.html",
        {"municipality": municipality, "departments": departments},
    )


# --- Staff sign-in -----------------------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("web:staff-home")


def _login_rate(group: str, request: HttpRequest) -> str:
    """Sign-in attempts allowed per client address (MACHI_LOGIN_RATE_LIMIT, e.g. 30/m)."""
    return str(settings.LOGIN_RATE_LIMIT)


# One message for every wrong part: saying which part failed would tell a guesser that the
# password was right (the "password oracle").
SIGN_IN_REFUSED = gettext_lazy("ユーザー名、パスワードまたは確認コードが違います。")


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_login_rate, method="POST", block=True)
def staff_login(request: HttpRequest) -> HttpResponse:
    """Staff sign-in: password and TOTP code; failures count towards a lockout."""
    if request.method == "GET" and is_verified_staff(request):
        return redirect("web:staff-home")
    form = StaffSignInForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            username = form.cleaned_data["username"]
            if account_limit(request, username=username).locked:
                return staff_locked_out(request, {"username": username})
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if getattr(request, "axes_locked_out", False):
                return staff_locked_out(request, {"username": username})
            device = None
            reason = "password"
            if user is not None and user.is_staff:
                device = match_token(user, form.cleaned_data["otp_token"])
                reason = "otp"
                if device is None:
                    # A wrong second factor counts as a failed sign-in for the lockout too.
                    user_login_failed.send(
                        sender=__name__, credentials={"username": username}, request=request
                    )
            if user is None or not user.is_staff or device is None:
                services.sign_in_record(
                    user=None, username=username, succeeded=False, reason=reason
                )
                if account_failure_record(request, username=username).locked or getattr(
                    request, "axes_locked_out", False
                ):
                    return staff_locked_out(request, {"username": username})
                form.add_error(None, str(SIGN_IN_REFUSED))
            else:
                login(request, user)
                otp_login(request, device)
                services.sign_in_record(user=user, username=username, succeeded=True)
                return HttpResponseRedirect(_safe_next(request))
    return render(
        request,
        "web/staff/login.html",
        {"form": form, "next": request.GET.get("next", request.POST.get("next", ""))},
        status=status,
    )


def staff_locked_out(
    request: HttpRequest, credentials: dict[str, Any] | None = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """Shown instead of the console when too many sign-ins failed (django-axes)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/account/") or request.path.startswith("/api/v1/identity/"):
        # Residents see the resident page (no staff navigation), same rule and status.
        return render(request, "identity/locked_out.html", {"minutes": minutes}, status=429)
    return render(
        request,
        "web/staff/locked_out.html",
        {"minutes": minutes},
        status=429,
    )


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Too many sign-in attempts from one address in a short time."""
    return render(request, "web/staff/rate_limited.html", status=429)


@require_POST
def staff_logout(request: HttpRequest) -> HttpResponse:
    """Sign out and return to the sign-in page."""
    logout(request)
    return redirect("web:staff-login")


# --- Staff console -----------------------------------------------------------------------------


@require_GET
@staff_required
def staff_home(request: HttpRequest) -> HttpResponse:
    """Console home: the user's roles and where they lead."""
    user = staff_user(request)
    memberships = selectors.user_memberships(user=user)
    departments = selectors.department_list(user=user)
    can_read_audit = bool(
        selectors.visible_municipality_codes(
            user, roles=selectors.AUDIT_READER_ROLES, prefecture_wide=True
        )
    )
    return render(
        request,
        "web/staff/home.html",
        {"memberships": memberships, "departments": departments, "can_read_audit": can_read_audit},
    )


def _day_start(value: date | None, *, days_later: int = 0) -> datetime | None:
    """Midnight (Japan time) at the start of ``value`` plus ``days_later`` days."""
    if value is None:
        return None
    day = value + timedelta(days=days_later)
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


@require_GET
@staff_required
def staff_audit(request: HttpRequest) -> HttpResponse:
    """Audit log search (監査ログ) for municipality and prefecture admins."""
    user = staff_user(request)
    codes = selectors.visible_municipality_codes(
        user, roles=selectors.AUDIT_READER_ROLES, prefecture_wide=True
    )
    if not codes:
        return render(request, "web/staff/forbidden.html", status=403)
    choices = [(m.code, m.name) for m in selectors.municipality_list() if m.code in codes]
    form = AuditSearchForm(request.GET or None, municipality_choices=choices)
    page = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = selectors.AuditFilter(
            action=data["action"],
            actor_username=data["actor"],
            municipality_code=data["municipality"],
            target_type=data["target_type"],
            target_id=data["target_id"],
            personal_data_only=data["personal_data"],
            since=_day_start(data["since"]),
            until=_day_start(data["until"], days_later=1),  # the whole end day is included
            receipt_number=data["receipt_number"],
        )
        page = Paginator(selectors.audit_search(user=user, filters=filters), 50).get_page(
            request.GET.get("page")
        )
        services.audit_record(
            action="audit.search",
            actor=user,
            purpose="audit review",
            personal_data=True,
            detail={k: str(v) for k, v in data.items() if v},
        )
    elif not form.is_bound:
        page = Paginator(
            selectors.audit_search(user=user, filters=selectors.AuditFilter()), 50
        ).get_page(1)
        services.audit_record(
            action="audit.search", actor=user, purpose="audit review", personal_data=True
        )
    query = request.GET.copy()
    query.pop("page", None)
    names = dict(choices)
    rows = [
        AuditRow(
            entry=entry,
            action=action_label(entry.action),
            target=target_label(entry.target_type),
            municipality=names.get(entry.municipality_code, entry.municipality_code),
        )
        for entry in (page.object_list if page is not None else [])
    ]
    return render(
        request,
        "web/staff/audit.html",
        {"form": form, "page": page, "rows": rows, "query": query.urlencode(), "roles": Role},
    )


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as people read it: labels instead of codes (the code stays as a title)."""

    entry: AuditEntry
    action: str
    target: str
    municipality: str
