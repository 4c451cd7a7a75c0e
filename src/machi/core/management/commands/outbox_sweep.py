"""``python -m machi outbox-sweep``: enqueue again the due pending outbox messages (once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from machi.core.outbox import sweep


class Command(BaseCommand):
    help = (
        "Enqueue again the outbox messages whose task was lost or whose retry is due. Every "
        "tasks-worker already does this every MACHI_OUTBOX_SWEEP_SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"re-enqueued {sweep(limit=options['limit'])}")
