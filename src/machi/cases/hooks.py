"""How cases take part in an application's life: one ``ApplicationHooks`` object.

Registered from ``CasesConfig.ready()`` as ``application_hooks["cases"]``:

- ``in_transaction``: the case of a submitted application is created in the same transaction
  as the submission (and synced with every later status change), so an application is never
  left submitted without its case: if creating the case fails, the submission fails with it
  and nothing is left. ``services.cases_backfill`` remains the repair for data from before.
- ``check_transition``: a case in 決裁 completes only with the approved decision.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from machi.cases import services
from machi.core.exceptions import ApplicationError, Conflict
from machi.procedures.extensions import ApplicationHooks
from machi.procedures.states import ApplicationStatus

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors and services.
    from machi.procedures.selectors import Application


logger = logging.getLogger(__name__)


class CaseHooks(ApplicationHooks):
    """Cases' reactions to submissions and status changes."""

    def check_transition(self, application: Application, to_status: str, outcome: str) -> None:
        services.check_completion_allowed(application, to_status, outcome)

    def in_transaction(self, application: Application, from_status: str, to_status: str) -> None:
        try:
            if from_status == ApplicationStatus.DRAFT:
                services.case_open_for_submission(application=application)
            else:
                services.case_sync(application=application)
        except ApplicationError:
            raise
        except Exception as exc:
            # The status change is refused with the case (the transaction rolls back); the
            # person is told to try again instead of seeing a server error.
            logger.exception(
                "cases.case_write_failed application=%s %s->%s",
                application.pk,
                from_status,
                to_status,
            )
            raise Conflict(
                _(
                    "申請の受付を完了できませんでした。何も変更されていません。時間をおいてもう一度お試しください。"
                ),
                code="case_write_failed",
            ) from exc
