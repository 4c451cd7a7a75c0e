"""What other apps use instead of writing or querying procedures' rows themselves."""

from __future__ import annotations

import uuid

import pytest

from machi.core.exceptions import NotFound
from machi.procedures import selectors, services
from machi.procedures.models import Application, FormVersion, Procedure
from machi.procedures.states import ApplicationStatus, Channel
from machi.procedures.tests.conftest import SIMPLE_FORM

pytestmark = pytest.mark.django_db


def test_bench_procedure_is_created_once(kakogawa):
    first = services.bench_procedure_ensure(
        municipality_code="282103", slug="bench", name="ベンチ", definition=SIMPLE_FORM
    )
    again = services.bench_procedure_ensure(
        municipality_code="282103", slug="bench", name="別名", definition=SIMPLE_FORM
    )
    assert [o.pk for o in first] == [o.pk for o in again]
    procedure, version = again
    assert (procedure.name, version.number) == ("ベンチ", 1)
    assert version.definition_sha256 == services._definition_hash(version.definition)
    assert version.published_at is not None
    assert (Procedure.objects.count(), FormVersion.objects.count()) == (1, 1)


def test_bulk_and_single_benchmark_applications(kakogawa):
    procedure, version = services.bench_procedure_ensure(
        municipality_code="282103", slug="bench", name="ベンチ", definition=SIMPLE_FORM
    )
    built = [
        services.application_build(
            id=uuid.uuid4(),
            municipality_id="282103",
            procedure=procedure,
            form_version=version,
            status=ApplicationStatus.SUBMITTED,
            channel=Channel.ONLINE,
            receipt_number=f"B-{n}",
        )
        for n in range(3)
    ]
    services.applications_bulk_create(applications=built, batch_size=2)
    one = services.application_create_submitted(
        form_version=version,
        cleaned={"main": {"name": "ベンチ"}},
        receipt_number="B-9",
        channel="online",
    )
    assert Application.objects.count() == 4
    assert (one.status, one.cleaned, one.answers) == (
        "submitted",
        {"main": {"name": "ベンチ"}},
        {"main": {"name": "ベンチ"}},
    )


def test_selectors_for_other_apps_keep_municipalities_apart(simple_procedure, kobe):
    draft = services.application_start(procedure=simple_procedure, applicant=None).application
    Application.objects.filter(pk=draft.pk).update(
        answers={"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    )
    draft.refresh_from_db()
    submitted = services.application_submit(application=draft, actor=None)
    other = services.application_start(procedure=simple_procedure, applicant=None).application
    assert list(selectors.applications_in_status(excluding=[ApplicationStatus.DRAFT])) == [
        submitted
    ]
    assert list(selectors.applications_in_status(statuses=["draft"])) == [other]
    assert list(selectors.applications_in_status(municipality_code=kobe.code)) == []
    assert (
        selectors.application_get_visible(
            application_id=submitted.pk, municipality_codes={"282103"}
        )
        == submitted
    )
    with pytest.raises(NotFound):
        selectors.application_get_visible(
            application_id=submitted.pk, municipality_codes={kobe.code}
        )
    with pytest.raises(NotFound):
        selectors.application_get_visible(
            application_id="not-a-uuid", municipality_codes={"282103"}
        )
    assert (
        selectors.procedure_get_visible(
            procedure_id=simple_procedure.pk, municipality_codes={"282103"}
        )
        == simple_procedure
    )
    with pytest.raises(NotFound):
        selectors.procedure_get_visible(
            procedure_id=simple_procedure.pk, municipality_codes={kobe.code}
        )
    assert list(selectors.procedure_list(municipality_code=kobe.code)) == []
    assert list(selectors.procedure_list(department_id=simple_procedure.department_id)) == [
        simple_procedure
    ]
