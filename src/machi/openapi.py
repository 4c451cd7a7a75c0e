"""The OpenAPI document of ``/api/v1/`` with its error responses, and its committed copy.

django-ninja documents only the success responses an endpoint declares. Every error the API
renders has one shape (``{"error": {"code", "message", "fields"}}``, see :mod:`machi.api` and
:mod:`machi.core.exceptions`), and which errors an operation can return follows from what the
operation is: this module adds them centrally, so no app's ``api.py`` lists them by hand.

- 401: the operation has an ``auth``: the credential is missing or refused (a bad API token).
- 403: staff operations check roles; and every write (POST, PUT, PATCH, DELETE) can be
  refused: the CSRF token of a session write is missing, or a rule refuses the caller.
- 409: a write whose record exists already or changed meanwhile.
- 404: a record named in the path (or, see :data:`EXTRA_ERRORS`, in the body) is not there or
  not the caller's (never told apart).
- 413: the request has a body, and bodies are capped.
- 422: the operation reads parameters or a body: ``fields`` says which value is wrong.
- 429: the operation is throttled.

What the shape of an operation does not show is in :data:`EXTRA_ERRORS`, keyed by
``"METHOD /path"``; a test checks every key names a real operation.

``docs/openapi.json`` is this document, committed; ``make openapi`` regenerates it and a test
fails when it has drifted from the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.urls import resolve, reverse
from django.utils import translation
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.responses import NinjaJSONEncoder

ERROR_SCHEMA: Final = "Error"
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Auth classes whose operations check a role too (403 on reads as well).
ROLE_CHECKED_AUTH: Final = frozenset({"StaffSessionAuth"})
HTTP_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})

#: What each error status means in this API (the ``code`` values it carries).
ERROR_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Bad request (`application_error`).",
    401: "Not signed in (`not_authenticated`); staff need a password and a second factor.",
    403: "Refused (`forbidden`, `csrf_failed`): no role for this, a rule refuses it, or the CSRF "
    "token of a session-authenticated write is missing.",
    404: "No such record, or not one the caller may see (`not_found` and specific codes).",
    409: "The record exists already or changed meanwhile (`conflict` and specific codes).",
    410: "Gone (`handoff_expired`): a one-time request whose time is up.",
    413: "The request body is too large.",
    422: "Invalid input (`invalid_request`, `invalid_input`): `fields` maps each wrong value "
    "(dotted path, `__all__` for the whole request) to its messages.",
    429: "Too many requests from this address or account; try again later.",
}

#: Errors an operation returns that its shape does not show ("METHOD /path": statuses).
EXTRA_ERRORS: Final[dict[str, frozenset[int]]] = {
    # The body names a municipality and a procedure; an unknown or unpublished one is a 404.
    "POST /api/v1/applications": frozenset({404, 429}),
    "POST /api/v1/applications/signing-data": frozenset({404}),
    # Smartphone signing hand-off (docs/signing-handoff.md): answered already, or expired.
    "GET /api/v1/identity/signing-requests/{token}": frozenset({409, 410}),
    "POST /api/v1/identity/signing-requests/{token}/response": frozenset({410}),
}

#: The error body, as :func:`machi.api.error_response` renders it.
ERROR_BODY_SCHEMA: Final[dict[str, Any]] = {
    "title": ERROR_SCHEMA,
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "stable, for programs"},
                "message": {
                    "type": "string",
                    "description": "for people, in the language of Accept-Language (ja first)",
                },
                "fields": {
                    "type": "object",
                    "description": "messages per input value; empty when the error is not "
                    "about one value",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

_PENDING: Final = "x-machi-error-statuses"  # carried from operation_details to get_paths only


def operation_error_statuses(operation: Operation) -> set[int]:
    """The error statuses that follow from what ``operation`` is (see the module docstring)."""
    statuses: set[int] = set()
    methods = {method.upper() for method in operation.methods}
    if operation.auth_callbacks:
        statuses.add(401)
    if {type(auth).__name__ for auth in operation.auth_callbacks} & ROLE_CHECKED_AUTH:
        statuses.add(403)
    if methods & WRITE_METHODS:
        statuses |= {403, 409}
    if "{" in operation.path:
        statuses.add(404)
    if operation.models:
        statuses.add(422)
    if any(model.__ninja_param_source__ in ("body", "form", "file") for model in operation.models):
        statuses.add(413)
    if operation.throttle_objects:
        statuses.add(429)
    return statuses


def error_response(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}
        },
    }


class DocumentedErrorsSchema(OpenAPISchema):
    """ninja's schema, each operation with the error responses it can return."""

    def operation_details(self, operation: Operation) -> dict[str, Any]:
        details: dict[str, Any] = super().operation_details(operation)
        details[_PENDING] = operation_error_statuses(operation)
        self.schemas[ERROR_SCHEMA] = ERROR_BODY_SCHEMA
        return details

    def get_paths(self) -> dict[str, Any]:
        paths: dict[str, Any] = super().get_paths()
        for path, operations in paths.items():
            for method, details in operations.items():
                # ninja shares one dict between the methods of an operation: pop once.
                statuses = set(details.pop(_PENDING, ()))
                statuses |= EXTRA_ERRORS.get(f"{method.upper()} {path}", frozenset())
                responses = details["responses"]
                for status in sorted(statuses):
                    responses.setdefault(status, error_response(status))
                details["responses"] = dict(sorted(responses.items()))
        return paths


class MachiAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document lists the error responses too."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return DocumentedErrorsSchema(api=self, path_prefix=path_prefix)


# --- The committed copy ------------------------------------------------------------------------


def committed_path() -> Path:
    """``docs/openapi.json`` of the source tree."""
    return Path(settings.PROJECT_DIR) / "docs" / "openapi.json"


def served_api() -> NinjaAPI:
    """The API at ``/api/v1/``, found through the URL conf (``machi.api`` sits above every app
    and is not imported here)."""
    view = resolve(reverse("api-v1:openapi-json")).func
    api: NinjaAPI = view.keywords["api"]  # type: ignore[attr-defined]
    return api


def document() -> dict[str, Any]:
    """The document ``/api/v1/openapi.json`` serves, as plain JSON data (in Japanese)."""
    with translation.override(settings.LANGUAGE_CODE):
        schema = served_api().get_openapi_schema()
        data: dict[str, Any] = json.loads(json.dumps(schema, cls=NinjaJSONEncoder))
    return data


def render(data: dict[str, Any]) -> str:
    """The committed file's text: stable, readable, one trailing newline."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
