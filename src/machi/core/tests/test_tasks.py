"""The task engine behind the outbox: enqueued with the change, delivered by a worker, swept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks import task_backends
from django_tasks_db.models import DBTaskResult
from freezegun import freeze_time

from machi.core import notifications, outbox, tasks
from machi.core.models import OutboxMessage, OutboxStatus

pytestmark = pytest.mark.django_db

DUMMY_TASKS = {
    "default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend", "QUEUES": ["machi"]}
}


class _Boom(Exception):
    pass


def test_the_task_is_written_in_the_transaction_of_the_change():
    with transaction.atomic():
        message = outbox.enqueue("test.kind", {"n": 1}, municipality_code="282103")
        task_row = DBTaskResult.objects.get()
    assert task_row.task_path == "machi.core.outbox.deliver_task"
    assert task_row.args_kwargs == {"args": [message.pk], "kwargs": {}}
    assert task_row.queue_name == "machi"
    assert task_row.status == "READY"


def test_a_rolled_back_change_leaves_neither_message_nor_task():
    with pytest.raises(_Boom), transaction.atomic():
        outbox.enqueue("test.kind", {"n": 1})
        raise _Boom
    assert not OutboxMessage.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_nothing_is_delivered_by_the_caller_then_the_worker_delivers(
    run_tasks, django_capture_on_commit_callbacks
):
    seen: list[dict] = []
    with outbox.handlers.override(**{"test.kind": seen.append}):
        with django_capture_on_commit_callbacks(execute=True):
            message = outbox.enqueue("test.kind", {"n": 1})
        assert seen == []
        assert OutboxMessage.objects.get().status == OutboxStatus.PENDING
        assert run_tasks() == 1
    assert seen == [{"n": 1}]
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 1, "")
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert run_tasks() == 0


def test_delivery_looks_the_message_up_by_primary_key_only():
    with outbox.handlers.override(**{"test.kind": lambda payload: None}):
        message = outbox.enqueue("test.kind", {})
        with CaptureQueriesContext(connection) as queries:
            assert outbox.deliver(message.pk) is True
    statements = [q["sql"] for q in queries.captured_queries if "core_outboxmessage" in q["sql"]]
    assert len(statements) == 2  # the locked read by primary key, and the update
    select, update = statements
    assert select.startswith("SELECT")
    where = select.split("WHERE", 1)[1]
    assert '"core_outboxmessage"."id" = ' in where
    assert "status" not in where and "next_attempt_at" not in where
    assert update.startswith("UPDATE")


def test_a_second_task_for_a_delivered_message_does_nothing():
    seen: list[dict] = []
    with outbox.handlers.override(**{"test.kind": seen.append}):
        message = outbox.enqueue("test.kind", {"n": 1})
        assert outbox.deliver(message.pk) is True
        assert outbox.deliver(message.pk) is True
        assert outbox.deliver(message.pk + 1000) is False  # no such message
    assert seen == [{"n": 1}]
    message.refresh_from_db()
    assert message.attempts == 1


def test_the_sweep_enqueues_again_a_message_whose_task_was_lost(settings, run_tasks):
    settings.MACHI_OUTBOX_REDELIVER_SECONDS = 120
    seen: list[dict] = []
    with freeze_time("2026-04-01 09:00:00"):
        message = outbox.enqueue("test.kind", {"n": 7})
    DBTaskResult.objects.all().delete()  # the broker lost it, or the worker died with it
    assert message.next_attempt_at == datetime(2026, 4, 1, 9, 2, tzinfo=UTC)
    with freeze_time("2026-04-01 09:01:59"):
        assert outbox.sweep() == 0
    with freeze_time("2026-04-01 09:02:00"):
        assert outbox.sweep() == 1
        assert outbox.sweep() == 0  # moved ahead: another worker's sweep does not send it twice
    message.refresh_from_db()
    assert message.next_attempt_at == datetime(2026, 4, 1, 9, 4, tzinfo=UTC)
    assert DBTaskResult.objects.get().args_kwargs["args"] == [message.pk]
    with outbox.handlers.override(**{"test.kind": seen.append}):
        assert run_tasks() == 1
    assert seen == [{"n": 7}]
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT


def test_a_failed_delivery_is_retried_by_the_sweep_when_due(run_tasks):
    calls = {"n": 0}

    def flaky(payload: dict) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("mail server down")

    with outbox.handlers.override(**{"test.kind": flaky}):
        with freeze_time("2026-04-01 09:00:00"):
            outbox.enqueue("test.kind", {})
            assert run_tasks() == 1
        message = OutboxMessage.objects.get()
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
        assert message.last_error == "ConnectionError: mail server down"
        with freeze_time("2026-04-01 09:00:29"):
            assert outbox.sweep() == 0  # back-off: 30 s after the first failure
        with freeze_time("2026-04-01 09:00:30"):
            assert outbox.sweep() == 1
            assert run_tasks() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, calls["n"]) == (OutboxStatus.SENT, 2, 2)


def test_sent_and_failed_messages_are_never_swept():
    with freeze_time("2026-04-01 09:00:00"):
        sent = outbox.enqueue("test.kind", {})
        failed = outbox.enqueue("test.kind", {})
    OutboxMessage.objects.filter(pk=sent.pk).update(status=OutboxStatus.SENT)
    OutboxMessage.objects.filter(pk=failed.pk).update(status=OutboxStatus.FAILED)
    with freeze_time("2026-04-02 09:00:00"):
        assert outbox.sweep() == 0


def test_with_a_broker_the_task_is_sent_only_on_commit(
    settings, django_capture_on_commit_callbacks
):
    settings.TASKS = DUMMY_TASKS
    backend = task_backends["default"]
    assert not tasks.stores_tasks_in_database()
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue("test.kind", {})
        assert backend.results == []  # still inside the transaction
    assert [(r.task.module_path, r.args) for r in backend.results] == [
        ("machi.core.outbox.deliver_task", [message.pk])
    ]
    assert backend.results[0].task.queue_name == "machi"
    assert not DBTaskResult.objects.exists()


def test_with_a_broker_nothing_is_sent_for_a_rolled_back_change(
    settings, django_capture_on_commit_callbacks
):
    settings.TASKS = DUMMY_TASKS
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(_Boom),
        transaction.atomic(),
    ):
        outbox.enqueue("test.kind", {})
        raise _Boom
    assert callbacks == []
    assert task_backends["default"].results == []
    assert not OutboxMessage.objects.exists()


def test_a_broker_that_is_down_does_not_fail_the_committed_change(
    settings, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    settings.TASKS = DUMMY_TASKS
    backend = task_backends["default"]

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(backend, "enqueue", down)
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue("test.kind", {})
    message = OutboxMessage.objects.get()
    assert message.status == OutboxStatus.PENDING  # the sweep sends it once the broker is back
    assert "task not enqueued" in caplog.text


def test_notifications_reach_the_channel_only_through_a_worker(run_tasks):
    with freeze_time("2026-04-01 09:00:00"):
        notifications.notify(
            notifications.Notification(
                subject="受付しました", body="本文", address={"email": "taro@example.jp"}
            )
        )
    from django.core import mail

    assert mail.outbox == []
    assert run_tasks() == 1
    assert [(m.to, m.subject) for m in mail.outbox] == [(["taro@example.jp"], "受付しました")]


def test_the_probe_kind_is_handled_and_the_probe_report_has_percentiles():
    from machi.core.tasks_probe import _percentile

    message = outbox.enqueue(outbox.PROBE_KIND, {})
    assert outbox.deliver(message.pk) is True
    values = [float(n) for n in range(1, 101)]
    assert (_percentile(values, 0.5), _percentile(values, 0.95)) == (51.0, 95.0)


def test_sweep_without_anything_due_writes_nothing(django_assert_num_queries):
    outbox.enqueue("test.kind", {})
    with django_assert_num_queries(3):  # savepoint, the due read, release
        assert outbox.sweep() == 0
    assert OutboxMessage.objects.get().next_attempt_at > timezone.now() + timedelta(seconds=200)


def test_finished_task_rows_are_pruned_after_a_day_failed_ones_kept(run_tasks):
    from machi.core.tasks_worker import prune_finished_tasks

    with freeze_time("2026-04-01 09:00:00"):
        with outbox.handlers.override(**{"test.kind": lambda payload: None}):
            outbox.enqueue("test.kind", {})
            assert run_tasks() == 1
        message = outbox.enqueue("test.other", {})
        DBTaskResult.objects.filter(args_kwargs__args=[message.pk]).update(
            task_path="machi.core.tests.test_tasks.no_such_task"
        )
        assert run_tasks() == 1  # fails: the path is no task
    assert sorted(DBTaskResult.objects.values_list("status", flat=True)) == [
        "FAILED",
        "SUCCESSFUL",
    ]
    with freeze_time("2026-04-02 08:59:59"):
        assert prune_finished_tasks() == 0
    with freeze_time("2026-04-02 09:00:01"):
        assert prune_finished_tasks() == 1
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["FAILED"]
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 1
