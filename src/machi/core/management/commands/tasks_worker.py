"""``python -m machi tasks-worker``: run background tasks (and the outbox sweep) until stopped."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from machi.core import outbox, tasks
from machi.core.tasks_worker import SweepThread, _database_worker, rq_worker


class Command(BaseCommand):
    help = (
        "Run background tasks from the configured engine (MACHI_TASKS_BACKEND: the database or "
        "RQ on Redis), with the outbox sweep beside them. Start several, on several machines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=0.1,
            help="database engine: seconds between polls when idle (default 0.1)",
        )
        parser.add_argument(
            "--sweep-every",
            type=float,
            default=None,
            help="seconds between outbox sweeps (default MACHI_OUTBOX_SWEEP_SECONDS; 0: none)",
        )
        parser.add_argument(
            "--burst", action="store_true", help="sweep once, run what is ready, then exit"
        )
        parser.add_argument("--max-tasks", type=int, default=None, help="exit after this many")
        parser.add_argument("--name", default=None, help="worker name (RQ; default: generated)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] < 0:
            raise CommandError("--interval must be zero or more")
        every = options["sweep_every"]
        every = settings.MACHI_OUTBOX_SWEEP_SECONDS if every is None else every
        if options["burst"]:
            resent = outbox.sweep() if every else 0
            ran = tasks.run_ready_tasks(limit=options["max_tasks"] or 1_000_000)
            self.stdout.write(f"re-enqueued {resent}, ran {ran}")
            return
        sweeper = SweepThread(every) if every > 0 else None
        if sweeper:
            sweeper.start()
        try:
            if tasks.stores_tasks_in_database():
                worker = _database_worker(
                    interval=options["interval"], max_tasks=options["max_tasks"], batch=False
                )
                # SIGINT/SIGTERM: finish the task at hand, then exit (a second one: at once).
                worker.configure_signals()
                worker.run()
            else:
                rq = rq_worker(name=options["name"])
                connections.close_all()
                rq.work(max_jobs=options["max_tasks"])
        finally:
            if sweeper:
                sweeper.stop()
