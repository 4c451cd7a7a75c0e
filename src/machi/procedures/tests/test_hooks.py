"""The ApplicationHooks dispatch: where each hook runs and what a failing one does."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.utils import timezone

from machi.core.exceptions import Conflict, InvalidInput
from machi.core.models import AuditEntry
from machi.procedures import services
from machi.procedures.extensions import ApplicationHooks, application_hooks
from machi.procedures.models import Application, ReceiptCounter, StatusChange
from machi.procedures.states import ApplicationStatus

ANSWERS = {"main": {"name": "加古川 太郎", "copies": "2"}, "confirm": {"agree": "on"}}


class Recorder(ApplicationHooks):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def check_submission(self, application, cleaned):
        self.calls.append(("check_submission", application.status, cleaned["main"]["name"]))

    def check_transition(self, application, to_status, outcome):
        self.calls.append(("check_transition", application.status, to_status))

    def in_transaction(self, application, from_status, to_status):
        # The new status is already written when this runs.
        stored = Application.objects.get(pk=application.pk).status
        self.calls.append(("in_transaction", from_status, stored))

    def after_commit(self, application, from_status, to_status):
        self.calls.append(("after_commit", from_status, to_status))


def _draft(procedure):
    started = services.application_start(procedure=procedure, applicant=None)
    for step, answers in ANSWERS.items():
        services.application_save_step(
            application=started.application, step_key=step, step_answers=answers
        )
    return started.application


@pytest.mark.django_db
def test_submission_calls_every_hook_in_order(simple_procedure, django_capture_on_commit_callbacks):
    recorder = Recorder()
    application = _draft(simple_procedure)
    with (
        application_hooks.override({"recorder": recorder}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.application_submit(application=application, actor=None)
    assert recorder.calls == [
        ("check_submission", "draft", "加古川 太郎"),
        ("check_transition", "draft", "submitted"),
        ("in_transaction", "draft", "submitted"),
        ("after_commit", "draft", "submitted"),
    ]


@pytest.mark.django_db
def test_transition_calls_check_in_transaction_and_after_commit(
    simple_procedure, django_capture_on_commit_callbacks
):
    application = services.application_submit(application=_draft(simple_procedure), actor=None)
    recorder = Recorder()
    with (
        application_hooks.override({"recorder": recorder}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.application_transition(
            application=application, to_status=ApplicationStatus.IN_REVIEW, actor=None
        )
    assert recorder.calls == [
        ("check_transition", "submitted", "in_review"),
        ("in_transaction", "submitted", "in_review"),
        ("after_commit", "submitted", "in_review"),
    ]


@pytest.mark.django_db
def test_a_failing_in_transaction_hook_refuses_the_submission_and_writes_nothing(
    simple_procedure, django_capture_on_commit_callbacks
):
    class Broken(ApplicationHooks):
        def in_transaction(self, application, from_status, to_status):
            raise RuntimeError("the case could not be created")

    application = _draft(simple_procedure)
    audit_before = AuditEntry.objects.count()
    year = timezone.localdate().year
    given_before = services.receipt_numbers_given(municipality_code="282103", year=year)
    with (
        application_hooks.override({"broken": Broken()}),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        services.application_submit(application=application, actor=None)
    assert callbacks == []
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
    assert application.receipt_number is None
    assert application.submitted_at is None
    assert application.cleaned == {}
    assert not StatusChange.objects.filter(application=application).exists()
    assert AuditEntry.objects.count() == audit_before
    # SQLite: the counter row is rolled back with the rest, so no number is consumed. PostgreSQL
    # takes numbers from a sequence, which a rollback does not give back: a gap of one at most.
    gap = services.receipt_numbers_given(municipality_code="282103", year=year) - given_before
    if connection.vendor == "postgresql":
        assert gap in (0, 1)  # 0 when the rollback also undid the sequence's first creation
    else:
        assert gap == 0
        assert not ReceiptCounter.objects.exists()
    # Once the hook works again the same draft is submitted with the next receipt number.
    submitted = services.application_submit(application=application, actor=None)
    given_after = services.receipt_numbers_given(municipality_code="282103", year=year)
    assert submitted.receipt_number == f"{year}-{given_after:06d}"


@pytest.mark.django_db
def test_a_refusing_transition_check_changes_nothing(simple_procedure):
    class Refuse(ApplicationHooks):
        def check_transition(self, application, to_status, outcome):
            if to_status == ApplicationStatus.IN_REVIEW:
                raise Conflict("まだ審査できません。", code="not_yet")

    application = services.application_submit(application=_draft(simple_procedure), actor=None)
    version = application.lock_version
    with application_hooks.override({"refuse": Refuse()}), pytest.raises(Conflict) as excinfo:
        services.application_transition(
            application=application, to_status=ApplicationStatus.IN_REVIEW, actor=None
        )
    assert excinfo.value.code == "not_yet"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.lock_version == version
    assert StatusChange.objects.filter(application=application).count() == 1


@pytest.mark.django_db
def test_a_failing_after_commit_hook_is_logged_not_raised(
    simple_procedure, django_capture_on_commit_callbacks, caplog
):
    class Flaky(ApplicationHooks):
        def after_commit(self, application, from_status, to_status):
            raise RuntimeError("mail server down")

    recorder = Recorder()
    application = _draft(simple_procedure)
    with (
        application_hooks.override({"flaky": Flaky(), "recorder": recorder}),
        django_capture_on_commit_callbacks(execute=True),
        caplog.at_level(logging.ERROR, logger="machi.procedures.services.hooks"),
    ):
        submitted = services.application_submit(application=application, actor=None)
    assert submitted.status == ApplicationStatus.SUBMITTED
    assert recorder.calls[-1] == ("after_commit", "draft", "submitted")
    assert [r.getMessage() for r in caplog.records] == [
        f"procedures.after_commit_failed hooks=flaky application={application.pk} draft->submitted"
    ]


@pytest.mark.django_db
def test_submission_problems_is_a_dry_run_of_check_submission(simple_procedure):
    class Unpaid(ApplicationHooks):
        def check_submission(self, application, cleaned):
            ReceiptCounter.objects.create(
                municipality_id=application.municipality_id, year=1999, last_number=9
            )
            raise InvalidInput("手数料が未納です。", code="payment_required")

    application = _draft(simple_procedure)
    with application_hooks.override({"unpaid": Unpaid()}):
        problems = services.submission_problems(application, {"main": {}})
        with pytest.raises(InvalidInput):
            services.application_submit(application=application, actor=None)
    assert [p.code for p in problems] == ["payment_required"]
    assert not ReceiptCounter.objects.exists()
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
