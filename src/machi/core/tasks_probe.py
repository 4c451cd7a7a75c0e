"""Task delivery latency: from the commit that enqueues an outbox message to its handler's end.

For the bench (``python -m machi task-latency``) and for operators checking a deployment: the
probe commits ``samples`` messages of kind ``core.probe`` one by one, ``pause`` seconds apart, and
reads each one's ``sent_at`` (written by the worker when the handler has run). Running workers
are needed (``python -m machi tasks-worker``); with workers on other machines, clocks must agree
(NTP) to the millisecond for the numbers to mean anything.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from machi.core import outbox
from machi.core.models import OutboxMessage, OutboxStatus


@dataclass(frozen=True)
class LatencyReport:
    samples: int
    delivered: int
    p50_ms: float
    p95_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "samples": self.samples,
            "delivered": self.delivered,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "max_ms": self.max_ms,
        }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure_delivery_latency(
    *, samples: int = 100, pause: float = 0.02, timeout: float = 30.0
) -> LatencyReport:
    """Commit ``samples`` probe messages and measure commit → delivered (milliseconds).

    Undelivered messages after ``timeout`` count in ``samples`` but not in ``delivered`` (and
    not in the percentiles). The probe's rows are deleted afterwards.
    """
    committed: dict[int, float] = {}
    for _ in range(samples):
        with transaction.atomic():
            message = outbox.enqueue(outbox.PROBE_KIND, {})
        committed[message.pk] = timezone.now().timestamp()  # just after commit
        time.sleep(pause)
    deadline = time.monotonic() + timeout
    sent: dict[int, float] = {}
    while len(sent) < samples and time.monotonic() < deadline:
        for pk, sent_at in OutboxMessage.objects.filter(
            pk__in=[pk for pk in committed if pk not in sent], status=OutboxStatus.SENT
        ).values_list("pk", "sent_at"):
            if sent_at is not None:  # always set with the status; typed as optional
                sent[pk] = sent_at.timestamp()
        time.sleep(0.01)
    OutboxMessage.objects.filter(pk__in=list(committed)).delete()
    latencies = [max(0.0, (sent[pk] - committed[pk]) * 1000) for pk in sent]
    if not latencies:
        return LatencyReport(samples, 0, float("nan"), float("nan"), float("nan"))
    return LatencyReport(
        samples=samples,
        delivered=len(latencies),
        p50_ms=round(statistics.median(latencies), 1),
        p95_ms=round(_percentile(latencies, 0.95), 1),
        max_ms=round(max(latencies), 1),
    )
