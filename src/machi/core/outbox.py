"""Transactional outbox: side effects saved with the change, delivered after commit, retried.

Higher layers register a handler per message kind in ``handlers`` (a ``Registry``:
``outbox.handlers.register(kind, handler)``) from their ``AppConfig.ready()``; lower layers only
``enqueue``. ``enqueue`` saves the message in the caller's transaction together with a task
``deliver_task(message_id)`` (``core.tasks``: a row of the same transaction on the database
engine, sent on commit to the broker otherwise); a worker delivers it by primary key, never in
the web request. The row is the record of what is owed: ``sweep`` (run by every worker) sends
again the pending messages whose task was lost or whose delivery failed and is due again, so
handlers must be idempotent (a message may be handled twice when a worker dies after the
effect but before its commit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from machi.core import tasks
from machi.core.models import OutboxMessage, OutboxStatus
from machi.core.registry import Registry

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]

# One handler per message kind; a second handler for a kind is refused (``replace=True`` to
# override on purpose).
handlers: Registry[Handler] = Registry(
    "core.outbox_handlers", description="deliver one outbox message kind (after commit, retried)"
)

MAX_ATTEMPTS = 10


PROBE_KIND = "core.probe"  # the latency probe's message (core.tasks_probe)


def probe_handler(payload: dict[str, Any]) -> None:
    """Handles the latency probe's messages: nothing to do, being delivered is the point."""


def _redeliver_at() -> Any:
    """When the sweep sends a message again if its task has not delivered it by then."""
    return timezone.now() + timedelta(seconds=settings.MACHI_OUTBOX_REDELIVER_SECONDS)


def enqueue(kind: str, payload: dict[str, Any], *, municipality_code: str = "") -> OutboxMessage:
    """Save a message in the current transaction; a worker delivers it after commit."""
    message = OutboxMessage.objects.create(
        kind=kind,
        payload=payload,
        municipality_code=municipality_code,
        next_attempt_at=_redeliver_at(),
    )
    tasks.enqueue_after_commit(deliver_task, message.pk)
    return message


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def deliver(message_id: int) -> bool:
    """Try to deliver one message now. Returns True when it was sent (or already had been).

    Looked up by primary key and locked (a second task for the same message waits, then finds
    it sent); the handler runs inside that transaction, so a worker killed mid-handler leaves
    the message pending for the sweep.
    """
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status != OutboxStatus.PENDING:
            return message is not None and message.status == OutboxStatus.SENT
        message.attempts += 1
        try:
            handler = handlers.get(message.kind)  # KeyError names the kind: retried later
            # No savepoint: a handler may record its attempt before raising (refunds do). One
            # whose failed statement dooms the transaction leaves the message to the sweep.
            handler(message.payload)
        except Exception as exc:  # any failure is retried later; the change itself stands
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = OutboxStatus.FAILED
            message.next_attempt_at = timezone.now() + _backoff(message.attempts)
            message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            logger.warning("outbox delivery failed", extra={"kind": message.kind, "id": message.pk})
            return False
        message.status = OutboxStatus.SENT
        message.sent_at = timezone.now()
        message.last_error = ""
        message.save(update_fields=["attempts", "status", "sent_at", "last_error"])
        return True


@tasks.task()
def deliver_task(message_id: int) -> bool:
    """The worker's side of ``enqueue``: deliver one message by primary key."""
    return deliver(message_id)


def sweep(*, limit: int = 500) -> int:
    """Enqueue again the pending messages that are due (lost task, or a retry after a failure).

    Each one's next attempt moves ``MACHI_OUTBOX_REDELIVER_SECONDS`` ahead in the same
    transaction, so sweeps running on several workers at once do not send it twice (rows being
    delivered or claimed by another sweep are skipped on PostgreSQL; SQLite has one writer).
    Returns how many were enqueued.
    """
    with transaction.atomic():
        due = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if due:
            OutboxMessage.objects.filter(pk__in=due).update(next_attempt_at=_redeliver_at())
        for pk in due:
            tasks.enqueue_after_commit(deliver_task, pk)
    return len(due)


def deliver_due(*, limit: int = 100) -> tuple[int, int]:
    """Deliver pending messages whose next attempt is due, in this process. Returns (sent, failed).

    For ``python -m machi outbox-deliver`` (by hand, or cron without a worker); workers use
    ``sweep`` instead.
    """
    due = list(
        OutboxMessage.objects.filter(
            status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = sum(1 for pk in due if deliver(pk))
    return sent, len(due) - sent
