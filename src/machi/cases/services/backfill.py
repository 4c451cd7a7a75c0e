"""Repair for old data: the case of every submitted application that has none, stale cases re-synced.

Kept as the visible repair (``manage.py cases_backfill``) for installations that had applications
before ``cases`` existed; since the hooks create a case in the submission's own transaction,
a new installation never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F

from machi.cases.models import Case
from machi.cases.services.creation import case_create_for_application, case_sync
from machi.procedures.selectors import applications_in_status
from machi.procedures.states import ApplicationStatus


@dataclass(frozen=True)
class BackfillResult:
    created: int
    synced: int


def cases_backfill(*, municipality_code: str | None = None) -> BackfillResult:
    """Create the missing case of every submitted application and re-sync stale cases.

    Submitted applications come from procedures' selector; "without a case" is cases' own
    filter on the reverse relation.
    """
    applications = applications_in_status(
        excluding=[ApplicationStatus.DRAFT], municipality_code=municipality_code
    ).filter(case__isnull=True)
    stale = Case.objects.exclude(status=F("application__status"))
    if municipality_code:
        stale = stale.filter(municipality_id=municipality_code)
    created = 0
    for application in applications.iterator(chunk_size=500):
        case_create_for_application(application=application)
        created += 1
    synced = 0
    for case in stale.select_related("application").iterator(chunk_size=500):
        case_sync(application=case.application)
        synced += 1
    return BackfillResult(created=created, synced=synced)
