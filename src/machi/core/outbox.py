"""Transactional outbox: side effects saved with the change, delivered after commit, retried.

Higher layers register a handler per message kind in ``handlers`` (a ``Registry``:
``outbox.handlers.register(kind, handler)``) from their ``AppConfig.ready()``; lower layers only
``enqueue``. Delivery runs right after commit in the
same process (embedded default) and again from ``python -m machi outbox-deliver`` (cron or a
worker loop) for anything that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

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


def enqueue(kind: str, payload: dict[str, Any], *, municipality_code: str = "") -> OutboxMessage:
    """Save a message in the current transaction; try to deliver it once the transaction commits."""
    message = OutboxMessage.objects.create(
        kind=kind,
        payload=payload,
        municipality_code=municipality_code,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: deliver(message.pk))
    return message


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def deliver(message_id: int) -> bool:
    """Try to deliver one message now. Returns True when it was sent (or already had been)."""
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update()
            .filter(pk=message_id, status=OutboxStatus.PENDING)
            .first()
        )
        if message is None:
            return OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.SENT).exists()
        message.attempts += 1
        try:
            handler = handlers.get(message.kind)  # KeyError names the kind: retried later
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


def deliver_due(*, limit: int = 100) -> tuple[int, int]:
    """Deliver pending messages whose next attempt is due. Returns (sent, failed)."""
    due = list(
        OutboxMessage.objects.filter(
            status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = sum(1 for pk in due if deliver(pk))
    return sent, len(due) - sent
