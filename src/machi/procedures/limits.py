"""Limits on what anonymous clients may send to the application endpoints.

- Body size: a request to the application API, or a start or submit of the HTML flow, larger
  than ``MACHI_APPLICATION_MAX_BODY_BYTES`` is refused with 413 (JSON for the API, a page for
  the HTML flow) before the view runs (the steps, which carry uploads, are capped by the
  files' own limits and Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``).
- Rate: anonymous starts and submissions, through the API and the HTML flow alike, share one
  budget per client address, ``MACHI_APPLICATION_RATE_LIMIT`` (django-ratelimit, key ``ip``:
  :func:`machi.core.client_address.client_ip`, honouring ``MACHI_PROXY_COUNT``); over it, 429.
  Signed-in residents are limited by their account's own sign-in instead.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.request import RawPostDataException
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django_ratelimit.core import is_ratelimited

from machi.core.exceptions import ApplicationError

RATE_GROUP = "machi.procedures.anonymous_applications"


def anonymous_rate(group: str, request: HttpRequest) -> str | None:
    """The rate for anonymous clients; None (no limit) for signed-in users."""
    if request.user.is_authenticated:
        return None
    return str(settings.MACHI_APPLICATION_RATE_LIMIT)


def over_rate(request: HttpRequest) -> bool:
    """Count this request against the client address's anonymous budget; True when over it."""
    return is_ratelimited(
        request, group=RATE_GROUP, key="ip", rate=anonymous_rate, method="POST", increment=True
    )


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    # The API's error shape (machi.api.error_response), built here: procedures is below api.
    return JsonResponse(
        {"error": {"code": code, "message": message, "fields": {}}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


def body_too_large(request: HttpRequest) -> bool:
    """Whether the request body exceeds ``MACHI_APPLICATION_MAX_BODY_BYTES`` (read at most once)."""
    limit = int(settings.MACHI_APPLICATION_MAX_BODY_BYTES)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return True
    try:
        return len(request.body) > limit
    except RequestDataTooBig:
        return True
    except RawPostDataException:
        # A multipart body already parsed (by the CSRF check): its declared length was checked.
        return False


Run = Callable[..., HttpResponseBase]


class TooManyRequests(ApplicationError):
    """Too many anonymous applications from one client address in a short time."""

    status = 429
    default_code = "rate_limited"


def refuse_if_over_rate(request: HttpRequest) -> None:
    """Raise ``TooManyRequests`` when an anonymous client is over its rate (call after auth)."""
    if over_rate(request):
        raise TooManyRequests(RATE_MESSAGE())


def _too_large_message() -> str:
    limit_kb = int(settings.MACHI_APPLICATION_MAX_BODY_BYTES) // 1024
    return _("送信された内容が大きすぎます（上限 %(kb)s KB）。") % {"kb": f"{limit_kb:,}"}


def api_body_limit(run: Run) -> Run:
    """For ``ninja.decorators.decorate_view``: a body over the cap gets 413 (JSON), unparsed.

    Wraps the operation before ninja authenticates and parses, so an oversized body is never
    parsed.
    """

    @wraps(run)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if body_too_large(request):
            return _json_error(413, "payload_too_large", _too_large_message())
        return run(request, *args, **kwargs)

    return guarded


def RATE_MESSAGE() -> str:  # noqa: N802 - reads like the constant it stands for
    return _("短い時間に申請が多すぎます。しばらくしてからもう一度お試しください。")


View = Callable[..., HttpResponse]


def _back(kwargs: dict[str, Any]) -> tuple[str, str]:
    """Where the refused resident goes back to (URL, words): the review, or the procedure."""
    if "application_id" in kwargs:
        url = reverse("procedures:review", kwargs={"application_id": kwargs["application_id"]})
        return url, _("入力内容の確認に戻る")
    if "code" in kwargs and "slug" in kwargs:
        url = reverse("procedures:detail", kwargs={"code": kwargs["code"], "slug": kwargs["slug"]})
        return url, _("申請のページに戻る")
    return reverse("procedures:catalog"), _("トップページへ戻る")


def _refusal(
    request: HttpRequest, *, status: int, title: str, message: str, kwargs: dict[str, Any]
) -> HttpResponse:
    back_url, back_label = _back(kwargs)
    return render(
        request,
        "procedures/apply/refused.html",
        {"title": title, "message": message, "back_url": back_url, "back_label": back_label},
        status=status,
    )


def anonymous_rate_limited(view: View) -> View:
    """For the HTML start and submit views: the API's body cap and anonymous rate, as pages.

    A POST over ``MACHI_APPLICATION_MAX_BODY_BYTES`` gets a 413 page, and an anonymous client
    over its rate (the budget it shares with the API) a 429 page; the view does not run, so
    nothing is saved. A refused oversized body is not counted against the rate.
    """

    @wraps(view)
    def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            if body_too_large(request):
                return _refusal(
                    request,
                    status=413,
                    title=_("申請できませんでした"),
                    message=_too_large_message(),
                    kwargs=kwargs,
                )
            if over_rate(request):
                return _refusal(
                    request,
                    status=429,
                    title=_("しばらくしてからお試しください"),
                    message=RATE_MESSAGE(),
                    kwargs=kwargs,
                )
        return view(request, *args, **kwargs)

    return limited
