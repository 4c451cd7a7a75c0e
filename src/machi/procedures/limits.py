"""Limits on what anonymous clients may send to the application endpoints.

- Body size: a JSON request to the application API larger than
  ``MACHI_APPLICATION_MAX_BODY_BYTES`` is refused with 413 before it is parsed (HTML forms are
  capped by Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``, 2.5 MB by default, with a 400).
- Rate: anonymous starts and submissions are limited per client address to
  ``MACHI_APPLICATION_RATE_LIMIT`` (django-ratelimit, key ``ip``: the client address the
  project's ratelimit settings resolve, honouring ``MACHI_PROXY_COUNT``). Signed-in residents are
  limited by their account's own sign-in instead.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
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


Run = Callable[..., HttpResponseBase]


class TooManyRequests(ApplicationError):
    """Too many anonymous applications from one client address in a short time."""

    status = 429
    default_code = "rate_limited"


def refuse_if_over_rate(request: HttpRequest) -> None:
    """Raise ``TooManyRequests`` when an anonymous client is over its rate (call after auth)."""
    if over_rate(request):
        raise TooManyRequests(RATE_MESSAGE())


def api_body_limit(run: Run) -> Run:
    """For ``ninja.decorators.decorate_view``: a body over the cap gets 413 (JSON), unparsed.

    Wraps the operation before ninja authenticates and parses, so an oversized body is never
    parsed.
    """

    @wraps(run)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if body_too_large(request):
            limit_kb = int(settings.MACHI_APPLICATION_MAX_BODY_BYTES) // 1024
            return _json_error(
                413,
                "payload_too_large",
                _("送信された内容が大きすぎます（上限 %(kb)s KB）。") % {"kb": f"{limit_kb:,}"},
            )
        return run(request, *args, **kwargs)

    return guarded


def RATE_MESSAGE() -> str:  # noqa: N802 - reads like the constant it stands for
    return _("短い時間に申請が多すぎます。しばらくしてからもう一度お試しください。")


View = Callable[..., HttpResponse]


def anonymous_rate_limited(view: View) -> View:
    """For the HTML start/submit views: an anonymous client over its rate gets a 429 page."""

    @wraps(view)
    def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" and over_rate(request):
            return render(
                request,
                "web/portal/not_found.html",
                {"message": RATE_MESSAGE()},
                status=429,
            )
        return view(request, *args, **kwargs)

    return limited
