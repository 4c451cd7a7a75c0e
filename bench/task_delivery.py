"""Task delivery latency: a task enqueued on commit → its handler ran in a worker (p95 ≤ 1 s).

Measured through a probe the task engine offers, ``PROBE_MODULE``; skipped, with a line in the
report saying so, while it is not importable (``importlib.util.find_spec``). The probe's
contract (what this module calls):

- ``measure_delivery(*, count: int, interval_s: float, timeout_s: float) -> list[float]``:
  enqueue ``count`` probe tasks, each from its own committed transaction (enqueued on commit, as
  the outbox does), ``interval_s`` apart; return, per task, the seconds from that commit to its
  handler starting in a worker. Raise on ``timeout_s`` without every handler having run.
- ``worker_command() -> list[str]`` (optional): the argv of ONE worker process. When present,
  the bench starts ``--task-workers`` of them with the bench's environment (production settings,
  PostgreSQL, ``MACHI_TASKS_*`` as set) before measuring and stops them afterwards; when absent
  the probe is expected to need none (or to start its own).

Runs in the bench process (Django set up against the bench database) after the HTTP runs.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from common import OUT_DIR, PROJECT_DIR, log

PROBE_MODULE = "machi.core.tasks.probe"
GOAL_P95_S = 1.0


@dataclass
class DeliveryResult:
    skipped: str = ""  # why it did not run
    latencies_s: list[float] = field(default_factory=list)
    workers: int = 0
    error: str = ""

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_s)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]

    @property
    def met(self) -> bool | None:
        if not self.latencies_s:
            return None
        return self.percentile(0.95) <= GOAL_P95_S

    def summary(self) -> dict[str, float]:
        if not self.latencies_s:
            return {}
        return {
            "count": len(self.latencies_s),
            "p50": statistics.median(self.latencies_s),
            "p95": self.percentile(0.95),
            "max": max(self.latencies_s),
        }


def probe_available() -> bool:
    try:
        return importlib.util.find_spec(PROBE_MODULE) is not None
    except (ImportError, ValueError):  # a parent is missing or is not a package
        return False


def measure(env: dict[str, str], *, count: int, workers: int) -> DeliveryResult:
    if not probe_available():
        return DeliveryResult(
            skipped=f"`{PROBE_MODULE}` is not importable: the task engine's probe is not "
            "there yet, so the delivery latency was not measured."
        )
    probe: Any = importlib.import_module(PROBE_MODULE)
    result = DeliveryResult()
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []
    command = getattr(probe, "worker_command", None)
    try:
        if command is not None and workers:
            argv = list(command())
            for index in range(workers):
                log_file = (OUT_DIR / f"task-worker-{index}.log").open("wb")
                logs.append(log_file)
                processes.append(
                    subprocess.Popen(
                        argv,
                        env=env,
                        cwd=PROJECT_DIR,
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            result.workers = workers
            time.sleep(2)  # let the workers connect before the first task
        log(f"task delivery: {count} probe tasks through {PROBE_MODULE}")
        result.latencies_s = [
            float(s) for s in probe.measure_delivery(count=count, interval_s=0.05, timeout_s=60)
        ]
    except Exception as exc:  # the probe is another engineer's code: report, don't crash
        result.error = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        for log_file in logs:
            log_file.close()
    return result
