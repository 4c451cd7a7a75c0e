"""Every submitted application becomes a case (in the submission's transaction, backfill)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from machi.cases import services
from machi.cases.business_days import add_business_days, is_business_day, national_holidays
from machi.cases.models import Case, StepTiming
from machi.cases.tests.helpers import case_of, submit
from machi.core.exceptions import Conflict
from machi.core.models import AuditEntry
from machi.procedures import services as procedure_services
from machi.procedures.models import Application, ApplicationStatus, Channel, StatusChange

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("channel", [Channel.ONLINE, Channel.COUNTER, Channel.PAPER, Channel.POST])
def test_submission_of_any_channel_opens_a_case(procedure, channel):
    # No on_commit callback runs here (the test transaction never commits): the case exists
    # because it is written in the submission's own transaction.
    application = submit(procedure, channel=channel, create_case=False)
    case = case_of(application)
    assert case.channel == channel
    assert case.status == ApplicationStatus.SUBMITTED
    assert case.is_open
    assert case.municipality_id == procedure.municipality_id
    assert case.department_id == procedure.department_id
    assert case.receipt_number == application.receipt_number
    assert case.due_date == services.compute_due_date(submitted_at=case.submitted_at, days=5)
    timing = StepTiming.objects.get(case=case)
    assert timing.step == ApplicationStatus.SUBMITTED and timing.left_at is None


def test_case_creation_is_idempotent(procedure):
    application = submit(procedure)  # the hook, then the explicit call again
    first = case_of(application)
    again = services.case_create_for_application(application=application)
    assert again.pk == first.pk
    assert Case.objects.filter(application=application).count() == 1
    assert StepTiming.objects.filter(case=first).count() == 1


def test_draft_cannot_become_a_case(procedure):
    started = procedure_services.application_start(procedure=procedure, applicant=None)
    with pytest.raises(services.Conflict):
        services.case_create_for_application(application=started.application)


def test_submission_is_refused_when_its_case_cannot_be_created(procedure, monkeypatch):
    started = procedure_services.application_start(
        procedure=procedure, applicant=None, contact_email="resident@example.jp"
    )
    application = started.application
    procedure_services.application_save_step(
        application=application, step_key="main", step_answers={"name": "山田 太郎"}
    )
    history = StatusChange.objects.filter(application=application).count()
    audits = AuditEntry.objects.count()
    version = Application.objects.get(pk=application.pk).lock_version

    def broken(**kwargs):
        raise RuntimeError("case table unavailable")

    monkeypatch.setattr(services, "case_open_for_submission", broken)
    with pytest.raises(Conflict) as refused:
        procedure_services.application_submit(application=application, actor=None)
    assert refused.value.code == "case_write_failed"
    assert str(refused.value.message) == (
        "申請の受付を完了できませんでした。何も変更されていません。時間をおいてもう一度お試しください。"
    )
    stored = Application.objects.get(pk=application.pk)
    assert stored.status == ApplicationStatus.DRAFT
    assert (stored.receipt_number, stored.submitted_at) == (None, None)
    assert stored.lock_version == version
    assert Case.objects.count() == 0
    assert StatusChange.objects.filter(application=application).count() == history
    assert AuditEntry.objects.count() == audits
    # Once case creation works again the same draft submits, with its case.
    monkeypatch.undo()
    submitted = procedure_services.application_submit(application=application, actor=None)
    assert case_of(submitted).status == ApplicationStatus.SUBMITTED


def test_a_status_change_is_refused_when_its_case_cannot_be_synced(
    procedure, kakogawa_handler, monkeypatch
):
    application = submit(procedure)

    def broken(**kwargs):
        raise RuntimeError("case table unavailable")

    monkeypatch.setattr(services, "case_sync", broken)
    with pytest.raises(Conflict):
        procedure_services.application_transition(
            application=application, to_status=ApplicationStatus.IN_REVIEW, actor=kakogawa_handler
        )
    assert Application.objects.get(pk=application.pk).status == ApplicationStatus.SUBMITTED
    assert case_of(application).status == ApplicationStatus.SUBMITTED


def test_backfill_creates_missing_cases_and_syncs_stale_ones(procedure, kakogawa_handler):
    # Data from before cases existed: an application without a case, and a stale case.
    without_case = submit(procedure)
    Case.objects.filter(application=without_case).delete()
    stale = submit(procedure)
    procedure_services.application_transition(
        application=stale, to_status=ApplicationStatus.IN_REVIEW, actor=kakogawa_handler
    )
    case = case_of(stale)
    StepTiming.objects.filter(case=case).delete()
    Case.objects.filter(pk=case.pk).update(status=ApplicationStatus.SUBMITTED, history_applied_id=0)
    result = services.cases_backfill()
    assert result.created == 1
    assert result.synced == 1
    assert case_of(without_case).status == ApplicationStatus.SUBMITTED
    synced = case_of(stale)
    assert synced.status == ApplicationStatus.IN_REVIEW
    steps = list(StepTiming.objects.filter(case=synced).values_list("step", "left_at"))
    assert steps[0][0] == ApplicationStatus.SUBMITTED and steps[0][1] is not None
    assert steps[1] == (ApplicationStatus.IN_REVIEW, None)
    assert len(steps) == 2


def test_case_follows_transitions_made_elsewhere(procedure):
    application = submit(procedure)
    procedure_services.application_withdraw(application=application, actor=None, reason="不要")
    case = case_of(application)
    assert case.status == ApplicationStatus.WITHDRAWN
    assert not case.is_open
    assert not StepTiming.objects.filter(case=case, left_at__isnull=True).exists()


def test_due_date_counts_business_days():
    # 2026-05-01 (Fri) + 1 business day skips the weekend and ゴールデンウィーク (5/6 振替休日).
    assert add_business_days(dt.date(2026, 5, 1), 1) == dt.date(2026, 5, 7)
    assert not is_business_day(dt.date(2026, 1, 2))  # 年末年始
    assert not is_business_day(dt.date(2026, 9, 21))  # 敬老の日
    assert not is_business_day(dt.date(2026, 9, 22))  # 国民の休日 (between two holidays)
    assert add_business_days(dt.date(2026, 5, 9), 0) == dt.date(2026, 5, 11)  # Saturday → Monday


def test_due_date_skips_one_off_holidays():
    # 2019: 4/29 昭和の日, 4/30 and 5/2 国民の休日, 5/1 即位の日, 5/3–5/6 — ten days closed.
    assert add_business_days(dt.date(2019, 4, 26), 1) == dt.date(2019, 5, 7)
    assert not is_business_day(dt.date(2019, 5, 1))  # 即位の日
    assert not is_business_day(dt.date(2019, 10, 22))  # 即位礼正殿の儀
    assert add_business_days(dt.date(2019, 10, 21), 1) == dt.date(2019, 10, 23)
    # 2020: 海の日 and スポーツの日 moved to 7/23–7/24 for the Olympics; 7/20 was a work day.
    assert is_business_day(dt.date(2020, 7, 20))
    assert add_business_days(dt.date(2020, 7, 22), 1) == dt.date(2020, 7, 27)


def test_due_date_skips_the_new_year_closing():
    # 12/29–1/3 is closed (年末年始) although only 1/1 is a national holiday.
    assert add_business_days(dt.date(2026, 12, 28), 1) == dt.date(2027, 1, 4)
    assert dt.date(2027, 1, 1) in national_holidays(2027)
    assert dt.date(2026, 12, 29) not in national_holidays(2026)
    assert not is_business_day(dt.date(2026, 12, 29))


def test_no_standard_processing_days_means_no_due_date():
    assert services.compute_due_date(submitted_at=dt.datetime.now(dt.UTC), days=None) is None


def test_backfill_command_reports_what_it_repaired(procedure):
    application = submit(procedure)
    Case.objects.filter(application=application).delete()
    out = io.StringIO()
    call_command("cases_backfill", stdout=out)
    assert out.getvalue() == "created 1 case(s), synced 0 case(s)\n"
    assert case_of(application).status == ApplicationStatus.SUBMITTED
