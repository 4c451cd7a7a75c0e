"""``python -m machi task-latency``: commit probe messages, print delivery latency as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from machi.core.tasks_probe import measure_delivery_latency


class Command(BaseCommand):
    help = (
        "Measure commit → delivered latency of outbox messages through the running task "
        "workers; prints {samples, delivered, p50_ms, p95_ms, max_ms}. Exits 1 if any was "
        "not delivered within --timeout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--samples", type=int, default=100)
        parser.add_argument("--pause", type=float, default=0.02, help="seconds between commits")
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args: Any, **options: Any) -> None:
        report = measure_delivery_latency(
            samples=options["samples"], pause=options["pause"], timeout=options["timeout"]
        )
        self.stdout.write(json.dumps(report.as_dict()))
        if report.delivered < report.samples:
            raise SystemExit(1)
