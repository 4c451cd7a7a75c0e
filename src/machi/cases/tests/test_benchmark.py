"""The bench helpers run (timings are reported by bench/run.py, never asserted here)."""

from __future__ import annotations

import pytest

from machi.cases import benchmark
from machi.cases.models import Case

pytestmark = pytest.mark.django_db


def test_bulk_create_and_time_the_queue(kakogawa, kobe):
    data = benchmark.bulk_create_cases(n=120, municipalities=3, batch_size=50)
    assert data.cases == 120 == Case.objects.count()
    assert len(data.municipalities) == 3  # two existing, one created
    handler = benchmark.bench_handler(data.municipalities[0])
    timings = benchmark.time_queue_scenarios(user=handler, repeat=1)
    assert sorted(t.scenario for t in timings) == [
        "all departments open",
        "assigned to me",
        "channel 窓口",
        "closed",
        "department open, by due date",
        "newest first",
        "older than 30 days",
        "overdue",
        "procedure",
        "status 受付",
        "unassigned",
    ]
    assert all(t.queries > 0 for t in timings)
    assert Case.objects.exclude(municipality_id__in=data.municipalities).count() == 0
    assert benchmark.explain_queue(user=handler)
