"""Error pages: JSON under /api/, accessible HTML elsewhere, never a bare server page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def _json(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "fields": {}}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


def _page(request: HttpRequest, status: int, code: str, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _json(status, code, message)
    return render(request, "web/error.html", {"title": title, "message": message}, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(
        request,
        404,
        "not_found",
        _("ページが見つかりません"),
        _("お探しのページは見つかりませんでした。"),
    )


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(
        request, 403, "forbidden", _("表示できません"), _("このページを表示する権限がありません。")
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(
        request,
        400,
        "bad_request",
        _("リクエストが正しくありません"),
        _("リクエストの内容を確認してください。"),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the context processors: the database may be what failed.
    message = _("システムで問題が起きました。時間をおいてもう一度お試しください。")
    if request.path.startswith("/api/"):
        return _json(500, "server_error", message)
    return HttpResponse(
        f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{_("エラー")}</title></head>'
        f"<body><main><h1>{_('エラー')}</h1><p>{message}</p></main></body></html>",
        status=500,
    )
