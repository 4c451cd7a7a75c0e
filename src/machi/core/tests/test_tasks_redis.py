"""The outbox on the real broker: RQ on Redis (MACHI_TEST_REDIS_URL, set by `.ci/run`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction
from django_rq import get_queue

from machi.core import outbox, tasks
from machi.core.models import OutboxMessage, OutboxStatus
from machi.core.tests.child_processes import drop_queue, redis_url_or_skip, unique_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(settings) -> Iterator[str]:
    url = redis_url_or_skip()
    queue = unique_queue()  # engineers and CI runs share the Redis of the machine
    settings.MACHI_TASKS_QUEUE = queue
    settings.RQ_QUEUES = {queue: {"URL": url, "DEFAULT_TIMEOUT": 60}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [queue]}}
    yield queue
    drop_queue(url, queue)


def test_enqueued_on_commit_delivered_by_an_rq_worker(
    broker, run_tasks, django_capture_on_commit_callbacks
):
    seen: list[dict] = []
    assert not tasks.stores_tasks_in_database()
    with outbox.handlers.override(**{"test.kind": seen.append}):
        with django_capture_on_commit_callbacks(execute=True):
            message = outbox.enqueue("test.kind", {"n": 1})
            assert get_queue(broker).count == 0  # not before the commit
        assert get_queue(broker).count == 1
        assert seen == []
        assert run_tasks() == 1
    assert seen == [{"n": 1}]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
    assert get_queue(broker).count == 0


def test_a_rolled_back_change_sends_nothing_to_redis(broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                outbox.enqueue("test.kind", {})
                raise RuntimeError("refused")
        except RuntimeError:
            pass
    assert get_queue(broker).count == 0
    assert not OutboxMessage.objects.exists()


def test_the_sweep_sends_a_lost_message_to_redis_again(
    broker, run_tasks, django_capture_on_commit_callbacks
):
    seen: list[dict] = []
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue("test.kind", {"n": 2})
    get_queue(broker).empty()  # Redis lost it (flushed, failed over without persistence)
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.sweep() == 1
    assert get_queue(broker).count == 1
    with outbox.handlers.override(**{"test.kind": seen.append}):
        assert run_tasks() == 1
    assert seen == [{"n": 2}]
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT
