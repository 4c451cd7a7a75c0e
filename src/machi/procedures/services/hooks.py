"""Dispatch of the ``ApplicationHooks`` that higher apps (cases, payments) register.

The services call these at fixed points of an application's life (see
``machi.procedures.extensions.ApplicationHooks``): every registered hooks object, in registry
order.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from machi.core.exceptions import ApplicationError
from machi.procedures.extensions import ApplicationHooks, application_hooks
from machi.procedures.models import Application

logger = logging.getLogger(__name__)


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
