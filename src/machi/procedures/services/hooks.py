"""Dispatch of the ``ApplicationHooks`` that higher apps (cases, payments) register.

The services call these at fixed points of an application's life (see
``machi.procedures.extensions.ApplicationHooks``): every registered hooks object, in registry
order. ``register_submission_check`` / ``register_transition_check`` /
``register_transition_listener`` are the old three-list API, kept as thin adapters that
register an ``ApplicationHooks`` wrapper until every caller registers hooks directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

from machi.core.exceptions import ApplicationError
from machi.procedures.extensions import ApplicationHooks, application_hooks
from machi.procedures.models import Application

logger = logging.getLogger(__name__)

SubmissionCheck = Callable[[Application, dict[str, Any]], None]
TransitionCheck = Callable[[Application, str, str], None]
TransitionListener = Callable[[Application, str, str], None]


def run_submission_checks(application: Application, cleaned: dict[str, Any]) -> None:
    """Every hooks object's ``check_submission``; the first refusal propagates."""
    for hooks in application_hooks:
        hooks.check_submission(application, cleaned)


def submission_problems(
    application: Application, cleaned: dict[str, Any]
) -> list[ApplicationError]:
    """What the registered submission checks would refuse now (e.g. the fee is not paid yet).

    Runs the checks in a savepoint that is always rolled back, so nothing they write stays.
    """
    problems: list[ApplicationError] = []
    try:
        with transaction.atomic():
            for hooks in application_hooks:
                try:
                    hooks.check_submission(application, cleaned)
                except ApplicationError as exc:
                    problems.append(exc)
            raise _RollBack
    except _RollBack:
        pass
    return problems


class _RollBack(Exception):
    """Undoes whatever a dry run of the submission checks wrote."""


def run_transition_checks(application: Application, to_status: str, outcome: str) -> None:
    """Every hooks object's ``check_transition`` before a status change; a refusal propagates."""
    for hooks in application_hooks:
        hooks.check_transition(application, to_status, outcome)


def status_changed(application: Application, from_status: str, to_status: str) -> None:
    """Call right after the new status is written, inside its transaction.

    ``in_transaction`` runs now (an exception rolls the whole change back); ``after_commit``
    runs once the transaction commits, and its failures are logged, never raised: the change
    the user asked for has already happened.
    """
    hooks_list = list(application_hooks.items())
    for _hooks_id, hooks in hooks_list:
        hooks.in_transaction(application, from_status, to_status)
    for hooks_id, hooks in hooks_list:
        transaction.on_commit(
            lambda hooks_id=hooks_id, hooks=hooks: _after_commit(  # type: ignore[misc]
                hooks_id, hooks, application, from_status, to_status
            )
        )


def _after_commit(
    hooks_id: str,
    hooks: ApplicationHooks,
    application: Application,
    from_status: str,
    to_status: str,
) -> None:
    try:
        hooks.after_commit(application, from_status, to_status)
    except Exception:
        logger.exception(
            "procedures.after_commit_failed hooks=%s application=%s %s->%s",
            hooks_id,
            application.pk,
            from_status,
            to_status,
        )


# --- The old three-list API, as adapters (to be removed once cases and payments use hooks) ---


class _CallableHooks(ApplicationHooks):
    """Wraps one old-style callable as an ``ApplicationHooks`` object."""

    def __init__(
        self,
        *,
        submission: SubmissionCheck | None = None,
        transition: TransitionCheck | None = None,
        listener: TransitionListener | None = None,
    ) -> None:
        self._submission = submission
        self._transition = transition
        self._listener = listener

    def check_submission(self, application: Application, cleaned: dict[str, Any]) -> None:
        if self._submission is not None:
            self._submission(application, cleaned)

    def check_transition(self, application: Application, to_status: str, outcome: str) -> None:
        if self._transition is not None:
            self._transition(application, to_status, outcome)

    def after_commit(self, application: Application, from_status: str, to_status: str) -> None:
        if self._listener is not None:
            self._listener(application, from_status, to_status)


def _callable_id(kind: str, func: Callable[..., None]) -> str:
    name = getattr(func, "__qualname__", repr(func))
    return f"{kind}:{getattr(func, '__module__', '')}.{name}"


def register_submission_check(check: SubmissionCheck) -> None:
    """Run ``check(application, cleaned)`` before every submission; it raises to refuse.

    Deprecated: register an ``ApplicationHooks`` in ``application_hooks`` instead.
    """
    application_hooks.register(
        _callable_id("submission", check), _CallableHooks(submission=check), replace=True
    )


def register_transition_check(check: TransitionCheck) -> None:
    """Run ``check(application, to_status, outcome)`` before every status change.

    Deprecated: register an ``ApplicationHooks`` in ``application_hooks`` instead.
    """
    application_hooks.register(
        _callable_id("transition", check), _CallableHooks(transition=check), replace=True
    )


def register_transition_listener(listener: TransitionListener) -> None:
    """Call ``listener(application, from_status, to_status)`` after a status change commits.

    Deprecated: register an ``ApplicationHooks`` in ``application_hooks`` instead.
    """
    application_hooks.register(
        _callable_id("listener", listener), _CallableHooks(listener=listener), replace=True
    )
