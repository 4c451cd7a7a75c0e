"""What the staff pages of cases share: error pages, choices, the language, queue links."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.core.auth import staff_user
from machi.core.models import Municipality

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors.
    pass


_ACCESS_ATTRIBUTE = "_machi_case_access"


def _access(request: HttpRequest) -> policy.CaseAccess:
    """The signed-in staff member's case access, read once per request."""
    access = getattr(request, _ACCESS_ATTRIBUTE, None)
    if not isinstance(access, policy.CaseAccess):
        access = policy.access_for(staff_user(request))
        setattr(request, _ACCESS_ATTRIBUTE, access)
    return access


def _stale_message() -> str:
    return _(
        "他の職員が更新しました。最新の状態を表示しています。入力した内容は残っていますので、"
        "確認してからもう一度送信してください。"
    )


def _language() -> str:
    return translation.get_language() or "ja"


def _error(request: HttpRequest, message: str, status: int = 404) -> HttpResponse:
    title = _("見つかりません") if status == 404 else _("操作できません")
    return render(request, "web/error.html", {"title": title, "message": message}, status=status)


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "web/staff/forbidden.html", status=403)


def _municipality_choices(codes: set[str]) -> list[tuple[str, str]]:
    return [(m.code, m.name) for m in Municipality.objects.filter(code__in=codes).order_by("code")]


def _user_choices(users: Any) -> list[tuple[str, str]]:
    return [(str(u.pk), str(u)) for u in users]


def queue_url(**params: str) -> str:
    """The queue's address with filters (for links from other pages)."""
    base = reverse("cases-staff:queue")
    return f"{base}?{urlencode(params)}" if params else base
