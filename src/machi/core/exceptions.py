"""Domain errors. One handler per interface (API, pages) maps them to HTTP responses."""

from __future__ import annotations

from django.utils.functional import Promise


class ApplicationError(Exception):
    """A business rule said no. ``code`` is stable for API clients; ``message`` is for people."""

    status = 400
    default_code = "application_error"

    def __init__(
        self,
        message: str | Promise,
        *,
        code: str | None = None,
        field_errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code or self.default_code
        self.field_errors = field_errors or {}


class InvalidInput(ApplicationError):
    """The input does not satisfy the rules; ``field_errors`` says where."""

    status = 422
    default_code = "invalid_input"


class NotFound(ApplicationError):
    """No such record, or not one the user may see (never tell which)."""

    status = 404
    default_code = "not_found"


class NotAuthenticated(ApplicationError):
    """Signing in is needed first."""

    status = 401
    default_code = "not_authenticated"


class Forbidden(ApplicationError):
    """The user is known but lacks the role for this action."""

    status = 403
    default_code = "forbidden"


class Conflict(ApplicationError):
    """The record changed or already exists."""

    status = 409
    default_code = "conflict"
