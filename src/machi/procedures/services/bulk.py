"""Rows for benchmarks and demo data, written through procedures (nobody else writes its rows).

These write directly, without hooks, audit entries or notifications: they build synthetic
data sets (``make bench``, demo loaders), never a resident's or staff member's action.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from machi.core.models import Department
from machi.procedures.models import Application, ApplicationStatus, FormVersion, Procedure
from machi.procedures.services.catalog import _definition_hash, parse_definition


@transaction.atomic
def bench_procedure_ensure(
    *,
    municipality_code: str,
    slug: str,
    name: str,
    definition: dict[str, Any],
    department: Department | None = None,
    **values: Any,
) -> tuple[Procedure, FormVersion]:
    """The procedure ``slug`` of a municipality with a published version 1 of ``definition``.

    Created when missing (``values`` are further procedure fields); an existing one is kept.
    """
    procedure, _created = Procedure.objects.get_or_create(
        municipality_id=municipality_code,
        slug=slug,
        defaults={"name": name, "department": department, **values},
    )
    normalised = parse_definition(definition).to_json()
    version, _created = FormVersion.objects.get_or_create(
        procedure=procedure,
        number=1,
        defaults={
            "definition": normalised,
            "definition_sha256": _definition_hash(normalised),
            "published_at": timezone.now(),
        },
    )
    return procedure, version


def application_build(**fields: Any) -> Application:
    """An unsaved application row with ``fields`` (for ``applications_bulk_create``)."""
    return Application(**fields)


def applications_bulk_create(
    *, applications: Sequence[Application], batch_size: int = 1000
) -> list[Application]:
    """Insert many built applications at once (benchmark data sets)."""
    return Application.objects.bulk_create(list(applications), batch_size=batch_size)


def application_create_submitted(
    *,
    form_version: FormVersion,
    cleaned: dict[str, Any],
    receipt_number: str,
    channel: str,
) -> Application:
    """One submitted application with ``cleaned`` answers (benchmarks of the later steps)."""
    procedure = form_version.procedure
    return Application.objects.create(
        municipality_id=procedure.municipality_id,
        procedure=procedure,
        form_version=form_version,
        status=ApplicationStatus.SUBMITTED,
        channel=channel,
        answers=cleaned,
        cleaned=cleaned,
        receipt_number=receipt_number,
        submitted_at=timezone.now(),
    )
