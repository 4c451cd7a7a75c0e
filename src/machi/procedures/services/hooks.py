"""Extension points for higher layers (payments, cases), registered from their AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from machi.core.exceptions import ApplicationError
from machi.procedures.models import (
    Application,
)

SubmissionCheck = Callable[[Application, dict[str, Any]], None]
TransitionCheck = Callable[[Application, str, str], None]
TransitionListener = Callable[[Application, str, str], None]
_submission_checks: list[SubmissionCheck] = []
_transition_checks: list[TransitionCheck] = []
_transition_listeners: list[TransitionListener] = []


def register_submission_check(check: SubmissionCheck) -> None:
    """Run ``check(application, cleaned)`` before every submission; it raises to refuse."""
    _submission_checks.append(check)


def register_transition_check(check: TransitionCheck) -> None:
    """Run ``check(application, to_status, outcome)`` before every transition; raise to refuse."""
    _transition_checks.append(check)


def register_transition_listener(listener: TransitionListener) -> None:
    """Call ``listener(application, from_status, to_status)`` after a transition commits."""
    _transition_listeners.append(listener)


def submission_problems(
    application: Application, cleaned: dict[str, Any]
) -> list[ApplicationError]:
    """What the registered submission checks would refuse now (e.g. the fee is not paid yet).

    Runs the checks in a savepoint that is always rolled back, so nothing they write stays.
    """
    problems: list[ApplicationError] = []
    try:
        with transaction.atomic():
            for check in list(_submission_checks):
                try:
                    check(application, cleaned)
                except ApplicationError as exc:
                    problems.append(exc)
            raise _RollBack
    except _RollBack:
        pass
    return problems


class _RollBack(Exception):
    """Undoes whatever a dry run of the submission checks wrote."""


def _after_commit_listeners(application: Application, from_status: str, to_status: str) -> None:
    for listener in list(_transition_listeners):
        transaction.on_commit(
            lambda listener=listener: listener(application, from_status, to_status)  # type: ignore[misc]
        )
