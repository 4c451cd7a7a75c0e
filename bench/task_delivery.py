"""Task delivery latency: a task enqueued on commit → its handler ran in a worker (p95 ≤ 1 s).

Measured through the task engine's probe, ``PROBE_MODULE`` (``machi.core.tasks_probe``);
skipped, with a line in the report saying so, while it is not importable
(``importlib.util.find_spec``). What this module calls:

- ``measure_delivery_latency(*, samples: int, pause: float, timeout: float)``: commits
  ``samples`` outbox probe messages one by one, ``pause`` seconds apart, and returns a report
  with ``samples``, ``delivered``, ``p50_ms``, ``p95_ms``, ``max_ms`` (commit → the worker's
  ``sent_at``);
- workers: ``WORKER_COMMAND`` (``python -m machi tasks-worker``), ``--task-workers`` of them,
  started by the bench with its environment (production settings, PostgreSQL, the
  ``MACHI_TASKS_*`` the caller set: the database backend by default) and stopped afterwards;
  a ``worker_command()`` in the probe module overrides the command. Probe messages first
  wait until the workers take tasks and have worked off what the HTTP runs left queued (the
  submissions' deliveries): neither is the delivery time of a new task.

Runs in the bench process (Django set up against the bench database) after the HTTP runs.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from common import OUT_DIR, PROJECT_DIR, log

PROBE_MODULE = "machi.core.tasks_probe"
PROBE_FUNCTION = "measure_delivery_latency"
WORKER_COMMAND = [sys.executable, "-m", "machi", "tasks-worker"]
GOAL_P95_S = 1.0
DRAIN_LIMIT_S = 600.0  # at most this long for the workers to start and work off the backlog


@dataclass
class DeliveryResult:
    skipped: str = ""  # why it did not run
    error: str = ""
    samples: int = 0
    delivered: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0
    workers: int = 0
    backend: str = ""
    drained_s: float = 0.0  # workers starting + working off the backlog the HTTP runs left

    @property
    def met(self) -> bool | None:
        if self.skipped or self.error or not self.delivered:
            return None
        return self.delivered == self.samples and self.p95_ms <= GOAL_P95_S * 1000


def probe_available() -> bool:
    try:
        return importlib.util.find_spec(PROBE_MODULE) is not None
    except (ImportError, ValueError):  # a parent is missing or is not a package
        return False


def _start_workers(argv: list[str], env: dict[str, str], count: int) -> list[Any]:
    started = []
    for index in range(count):
        log_file = (OUT_DIR / f"task-worker-{index}.log").open("wb")
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=PROJECT_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append((process, log_file))
    return started


def _stop_workers(started: list[Any]) -> None:
    for process, _log in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process, log_file in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log_file.close()


def measure(env: dict[str, str], *, count: int, workers: int) -> DeliveryResult:
    if not probe_available():
        return DeliveryResult(
            skipped=f"`{PROBE_MODULE}` is not importable: the task engine's probe is not "
            "there, so the delivery latency was not measured."
        )
    result = DeliveryResult(backend=env.get("MACHI_TASKS_BACKEND", "database (default)"))
    started: list[Any] = []
    try:
        probe: Any = importlib.import_module(PROBE_MODULE)
        command = getattr(probe, "worker_command", None)
        argv = list(command()) if command is not None else WORKER_COMMAND
        started = _start_workers(argv, env, workers)
        result.workers = workers
        measure_latency = getattr(probe, PROBE_FUNCTION)
        # Warm-up: the workers up and taking tasks, and what the HTTP runs left queued (their
        # submissions' deliveries) worked off: neither is the delivery time of a new task.
        began = time.monotonic()
        while True:
            warm = measure_latency(samples=max(2, workers), pause=0.0, timeout=60.0)
            if warm.delivered == warm.samples:
                break
            if time.monotonic() - began > DRAIN_LIMIT_S:
                raise RuntimeError(f"the workers did not catch up within {DRAIN_LIMIT_S:g} s")
        result.drained_s = time.monotonic() - began
        log(f"task delivery: {count} probe tasks through {PROBE_MODULE}, {workers} workers")
        report = measure_latency(samples=count, pause=0.05, timeout=60.0)
        result.samples, result.delivered = int(report.samples), int(report.delivered)
        result.p50_ms, result.p95_ms = float(report.p50_ms), float(report.p95_ms)
        result.max_ms = float(report.max_ms)
        log(
            f"task delivery: {result.delivered}/{result.samples} delivered, p95 "
            f"{result.p95_ms:.0f} ms"
        )
    except Exception as exc:  # the probe is another module's code: report, don't crash
        result.error = f"{type(exc).__name__}: {exc}"[:500]
        log(f"task delivery: FAILED: {result.error}")
    finally:
        _stop_workers(started)
    return result
