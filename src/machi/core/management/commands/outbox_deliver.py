"""``python -m machi outbox-deliver``: send pending outbox messages (run from cron or a loop)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from machi.core.outbox import deliver_due


class Command(BaseCommand):
    help = "Deliver due outbox messages (e-mails, notifications), retrying failed ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep running, every --interval s")
        parser.add_argument("--interval", type=float, default=10.0)
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            sent, failed = deliver_due(limit=options["limit"])
            if sent or failed or not options["loop"]:
                self.stdout.write(f"sent {sent}, failed {failed}")
            if not options["loop"]:
                return
            time.sleep(options["interval"])
