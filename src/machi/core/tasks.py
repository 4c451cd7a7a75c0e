"""Background tasks: one API for everything that runs after commit (docs/decisions/0007).

Machi's code uses Django's Tasks API (the ``django-tasks`` backport until Django 6): define a
module-level function with ``@task()`` and hand it to ``enqueue_after_commit(some_task, arg)``.
Two engines sit behind it, chosen by ``MACHI_TASKS_BACKEND``:

* ``database`` (embedded default, no broker): the task is a row of this database
  (``django_tasks_db``) written *in the caller's transaction*, so it exists exactly when the
  change does and costs no extra commit; ``python -m machi tasks-worker`` runs it.
* ``redis`` (production): the task is sent to RQ on Redis once the transaction has committed;
  ``python -m machi tasks-worker`` on any number of machines runs it.

A task may be lost (a worker killed mid-task, Redis flushed, the process killed between commit
and send): work that must not be lost is an outbox message (``core.outbox``), whose row is the
record of what is owed and which every worker's sweep sends again. Tasks are therefore run *at
least once* and their handlers are idempotent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks import task as _task
from django_tasks.base import Task
from django_tasks_db.backend import DatabaseBackend

logger = logging.getLogger(__name__)

__all__ = ["enqueue_after_commit", "run_ready_tasks", "stores_tasks_in_database", "task"]


def task(**options: Any) -> Callable[[Callable[..., Any]], Task[Any, Any]]:
    """``@task()`` of Django's Tasks API, on the installation's queue (``MACHI_TASKS_QUEUE``)."""
    options.setdefault("queue_name", settings.MACHI_TASKS_QUEUE)
    return _task(**options)


def stores_tasks_in_database() -> bool:
    """True when tasks are rows of the default database (the embedded default)."""
    return isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend)


def _routed(some_task: Task[Any, Any]) -> Task[Any, Any]:
    # Every Machi task goes to the installation's queue (several installations may share Redis).
    return some_task.using(queue_name=settings.MACHI_TASKS_QUEUE)


def _send(some_task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        _routed(some_task).enqueue(*args, **kwargs)
    except Exception:  # the broker is down: the change stands, the outbox sweep sends it later
        logger.exception("task not enqueued", extra={"task": some_task.module_path})


def enqueue_after_commit(some_task: Task[Any, Any], *args: Any, **kwargs: Any) -> None:
    """Run ``some_task(*args, **kwargs)`` in a worker once the current transaction commits.

    Arguments must be JSON values (ids, not objects). Database engine: the task row is written
    now, in the same transaction (it is never visible before the change, and vanishes with a
    rollback). Broker: sent on commit; nothing is sent for a rolled-back transaction.
    """
    if stores_tasks_in_database() and connection.in_atomic_block:
        _routed(some_task).enqueue(*args, **kwargs)
    else:
        transaction.on_commit(lambda: _send(some_task, args, kwargs))


def run_ready_tasks(*, limit: int = 10_000) -> int:
    """Run the tasks that are ready, in this process and thread, and return how many ran.

    What ``tasks-worker --burst`` does and what tests use instead of a worker process ("the
    worker ran"). Database engine: claims rows like the worker does; RQ: an in-process worker
    in burst mode.
    """
    if stores_tasks_in_database():
        from machi.core.tasks_worker import run_database_tasks

        return run_database_tasks(limit=limit)
    from django_tasks.signals import task_started

    from machi.core.tasks_worker import rq_worker

    started: list[object] = []

    def count(**kwargs: Any) -> None:
        started.append(kwargs["task_result"])

    task_started.connect(count, weak=False)  # RQ keeps its job counts in Redis only
    try:
        rq_worker(in_process=True).work(burst=True, max_jobs=limit)
    finally:
        task_started.disconnect(count)
    return len(started)


def wait_until(predicate: Any, *, timeout: float, step: float = 0.01) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass (probes and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
