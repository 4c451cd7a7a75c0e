"""Extension points of ``procedures`` that higher apps plug into (never imported the other way).

``application_hooks``: checks and reactions around submissions and status changes (see
``ApplicationHooks``); cases and payments register theirs.

``application_sections``: parts of a page about one application, contributed by higher apps
(documents: download links and the issue form; payments: the fee panel and the pay link).
Procedures' and cases' templates render them with
``{% load machi_sections %}{% application_sections "resident_detail" application %}``.

Places:
- ``resident_detail``: the applicant's "my application" page.
- ``review``: the review page before submission (``incomplete`` is in the context there).
- ``staff_case``: the case page in the staff console.
- ``withdraw_confirm``: the page asking the applicant to confirm a withdrawal (取下げ); say
  what happens to fees already paid (payments: refunded or not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from machi.core.registry import Registry
from machi.procedures.models import Application

PLACES = ("resident_detail", "review", "staff_case", "withdraw_confirm")


@dataclass(frozen=True)
class ApplicationSection:
    """A template rendered in one place of the application pages.

    ``context`` builds the template's context from the request and the application, or returns
    None when the section has nothing to show for this application (then nothing is rendered).
    """

    place: str
    template_name: str
    context: Callable[[HttpRequest | None, Application, dict[str, Any]], dict[str, Any] | None]
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.place not in PLACES:
            raise ValueError(f"unknown application page place {self.place!r}")


application_sections: Registry[ApplicationSection] = Registry(
    "procedures.application_sections",
    description="parts of the application pages contributed by higher apps",
)


def render_sections(
    place: str,
    *,
    request: HttpRequest | None,
    application: Application,
    page_context: dict[str, Any] | None = None,
) -> SafeString:
    """The HTML of every section registered for ``place``, in registry order."""
    parts: list[str] = []
    for section in application_sections:
        if section.place != place:
            continue
        context = section.context(request, application, dict(page_context or {}))
        if context is None:
            continue
        parts.append(render_to_string(section.template_name, context, request=request))
    return mark_safe("".join(parts))  # noqa: S308 - each part is an auto-escaped template


class ApplicationHooks:
    """What a higher app adds to the life of an application: one protocol for every hook.

    Subclass, override what you need and register an instance in ``application_hooks`` from the
    app's ``AppConfig.ready()`` (``application_hooks.register("payments", PaymentHooks())``).
    ``procedures.services`` calls every registered hooks object in registry order:

    - ``check_submission(application, cleaned)`` before a submission; raise an
      ``ApplicationError`` to refuse it (e.g. the fee is not paid yet). Also run as a dry run to
      list what would be refused (its writes are rolled back then).
    - ``check_transition(application, to_status, outcome)`` before any status change; raise to
      refuse.
    - ``in_transaction(application, from_status, to_status)`` inside the same transaction as the
      status change, after it is written: an exception rolls the whole change back (cases create
      the case of a submitted application here, so no application is ever left without one).
    - ``after_commit(application, from_status, to_status)`` once the change has committed, for
      side effects that may fail without undoing it; retried work goes through the outbox.
    """

    def check_submission(self, application: Application, cleaned: dict[str, Any]) -> None:
        """Raise an ``ApplicationError`` to refuse the submission."""

    def check_transition(self, application: Application, to_status: str, outcome: str) -> None:
        """Raise an ``ApplicationError`` to refuse the status change."""

    def in_transaction(self, application: Application, from_status: str, to_status: str) -> None:
        """Write what must exist together with the new status (same transaction)."""

    def after_commit(self, application: Application, from_status: str, to_status: str) -> None:
        """React once the status change has committed."""


application_hooks: Registry[ApplicationHooks] = Registry(
    "procedures.application_hooks",
    description="checks and reactions of higher apps around submissions and status changes",
)


def correction_diff_section() -> ApplicationSection:
    """The staff case page's table of what each answered correction (補正) changed."""

    def context(
        request: HttpRequest | None, application: Application, page: dict[str, Any]
    ) -> dict[str, Any] | None:
        from machi.procedures.selectors import correction_diff

        changes = correction_diff(application)
        return {"changes": changes} if changes else None

    return ApplicationSection(
        place="staff_case", template_name="procedures/_correction_diff.html", context=context
    )
