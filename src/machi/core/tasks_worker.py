"""The worker behind ``python -m machi tasks-worker``, for either task engine.

* database: django-tasks-db's worker loop (rows claimed with ``SELECT … FOR UPDATE SKIP
  LOCKED`` on PostgreSQL, an exclusive transaction on SQLite), polling every ``interval`` s.
* redis: an RQ worker that runs jobs in its own process (no fork per job: lower latency, one
  database connection kept per worker); start as many as there are cores, on any machine.

Beside either loop a thread runs the outbox sweep every ``MACHI_OUTBOX_SWEEP_SECONDS``: it sends
again the pending messages whose task was lost. A worker killed mid-task loses nothing: its
task's outbox message is still pending (the transaction that would have marked it sent died with
the process) and the next sweep, by any worker, sends it again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS
from rq.worker import BaseWorker, SimpleWorker

logger = logging.getLogger(__name__)


def _database_worker(*, interval: float, max_tasks: int | None, batch: bool) -> Any:
    from django_tasks_db.management.commands.db_worker import Worker

    return Worker(
        queue_names=[settings.MACHI_TASKS_QUEUE],
        interval=interval,
        batch=batch,
        backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=get_random_string(32),
        excluded_queue_names=[],
    )


def run_database_tasks(*, limit: int) -> int:
    """Claim and run ready task rows one by one in this thread, until none is left or ``limit``.

    Unlike the worker loop it never closes the connection, so it also runs inside a test's
    transaction.
    """
    from django_tasks_db.models import DBTaskResult
    from django_tasks_db.utils import exclusive_transaction

    worker = _database_worker(interval=0, max_tasks=None, batch=True)
    ran = 0
    while ran < limit:
        ready = DBTaskResult.objects.ready().filter(
            backend_name=DEFAULT_TASK_BACKEND_ALIAS, queue_name=settings.MACHI_TASKS_QUEUE
        )
        with exclusive_transaction(ready.db):
            claimed = ready.get_locked()
            if claimed is not None:
                claimed.claim(worker.worker_id)
        if claimed is None:
            return ran
        worker.run_task(claimed)
        ran += 1
    return ran


class MachiRQWorker(SimpleWorker):
    """RQ's in-process worker that, like a request, drops stale database connections per job."""

    def execute_job(self, job: Any, queue: Any) -> Any:
        close_old_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            close_old_connections()


def rq_worker(*, in_process: bool = False, name: str | None = None) -> BaseWorker:
    """An RQ worker on the installation's queue (``in_process``: plain SimpleWorker, for tests)."""
    from django_rq.workers import get_worker

    # By import path: django-rq's annotation names rq.Worker, which SimpleWorker is not (both
    # are BaseWorkers).
    worker_class = "rq.worker.SimpleWorker" if in_process else f"{__name__}.MachiRQWorker"
    return get_worker(
        settings.MACHI_TASKS_QUEUE,
        job_class="django_tasks_rq.Job",
        worker_class=worker_class,
        name=name,
    )


PRUNE_EVERY_SECONDS = 3600.0
KEEP_FINISHED_TASKS = timedelta(days=1)


def prune_finished_tasks(*, keep: timedelta = KEEP_FINISHED_TASKS, limit: int = 5000) -> int:
    """Delete successful task rows finished more than ``keep`` ago (database engine), at most
    ``limit`` at a time; failed ones stay for inspection. Returns how many were deleted.

    The outbox message, not the task row, records a delivery, so nothing is lost."""
    from django_tasks_db.models import DBTaskResult

    old = DBTaskResult.objects.successful().filter(finished_at__lt=timezone.now() - keep)
    ids = list(old.values_list("pk", flat=True)[:limit])
    return DBTaskResult.objects.filter(pk__in=ids).delete()[0] if ids else 0


class SweepThread(threading.Thread):
    """Runs ``outbox.sweep()`` every ``every`` seconds until stopped (daemon: dies with the worker)."""

    def __init__(self, every: float) -> None:
        super().__init__(name="outbox-sweep", daemon=True)
        self.every = every
        self.stopped = threading.Event()

    def run(self) -> None:
        from machi.core import outbox, tasks

        pruned_at = 0.0
        while not self.stopped.is_set():
            try:
                resent = outbox.sweep()
                if resent:
                    logger.info("outbox sweep re-enqueued messages", extra={"count": resent})
                # Hourly, so a demo without cron does not grow its task table forever.
                if tasks.stores_tasks_in_database() and (
                    time.monotonic() - pruned_at >= PRUNE_EVERY_SECONDS
                ):
                    pruned_at = time.monotonic()
                    prune_finished_tasks()
            except Exception:  # a database hiccup must not end the sweeping
                logger.exception("outbox sweep failed")
            finally:
                connection.close()
            self.stopped.wait(self.every)

    def stop(self) -> None:
        self.stopped.set()
