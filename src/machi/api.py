"""The versioned JSON API at ``/api/v1/`` and its error format.

Every error is ``{"error": {"code": <stable>, "message": <localized>, "fields": {...}}}``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError, ValidationError

from machi.core.api import public_router, staff_router
from machi.core.auth import resident_api_auth
from machi.core.exceptions import ApplicationError
from machi.identity.api import router as identity_router
from machi.openapi import MachiAPI
from machi.payments.api import router as payments_router
from machi.procedures.api import router as procedures_router

api = MachiAPI(  # machi.openapi: NinjaAPI whose document lists the error responses
    title="Machi API",
    version="1",
    description=(
        "Open API of Machi, the shared smart-municipality platform. "
        "Errors: `{error: {code, message, fields}}`; messages follow Accept-Language (ja first)."
    ),
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url=None,  # the interactive docs page would load assets from a CDN
    # Default for every endpoint that names no auth: an API token, else the session with the
    # CSRF token required on writes (machi.core.auth). Staff endpoints use StaffSessionAuth.
    auth=resident_api_auth(),
)


def error_response(
    status: int, code: str, message: str, fields: dict[str, list[str]] | None = None
) -> JsonResponse:
    """The one JSON error shape of the API."""
    return JsonResponse(
        {"error": {"code": code, "message": message, "fields": fields or {}}},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


@api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return error_response(exc.status, exc.code, str(exc.message), exc.field_errors)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        location = [
            str(part)
            for part in error.get("loc", ())
            if part not in ("body", "query", "path", "payload", "filters")
        ]
        key = ".".join(location) or "__all__"
        fields.setdefault(key, []).append(_localized_pydantic_message(error))
    return error_response(422, "invalid_request", _("リクエストの内容に誤りがあります。"), fields)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        401, "not_authenticated", _("サインインが必要です（職員は二要素認証まで）。")
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 403:
        return error_response(403, "csrf_failed", _("CSRFトークンが確認できませんでした。"))
    return error_response(exc.status_code, "http_error", str(exc))


def _localized_pydantic_message(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    messages = {
        "missing": _("必須項目です。"),
        "string_too_short": _("%(n)s文字以上で入力してください。")
        % {"n": ctx.get("min_length", "")},
        "string_too_long": _("%(n)s文字以内で入力してください。")
        % {"n": ctx.get("max_length", "")},
        "string_pattern_mismatch": _("使えない文字が含まれています。"),
        "enum": _("選択肢にない値です。"),
        "int_parsing": _("整数を入力してください。"),
        "bool_parsing": _("true か false を指定してください。"),
        "datetime_parsing": _("日時の形式が正しくありません（例: 2026-04-01T09:00:00+09:00）。"),
        "datetime_from_date_parsing": _(
            "日時の形式が正しくありません（例: 2026-04-01T09:00:00+09:00）。"
        ),
        "greater_than_equal": _("%(n)s以上の値を指定してください。") % {"n": ctx.get("ge", "")},
        "less_than_equal": _("%(n)s以下の値を指定してください。") % {"n": ctx.get("le", "")},
        "json_invalid": _("JSONとして読み取れません。"),
        "model_attributes_type": _("JSONオブジェクトを送ってください。"),
        "dict_type": _("JSONオブジェクトを送ってください。"),
    }
    return str(messages.get(kind, _("値が正しくありません。")))


api.add_router("/", public_router)
api.add_router("/staff", staff_router)
api.add_router("/", procedures_router)
api.add_router("/identity", identity_router)
api.add_router("/payments", payments_router)


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """JSON 404 for any unknown path under /api/."""
    return error_response(404, "not_found", _("このAPIは存在しません。"))
