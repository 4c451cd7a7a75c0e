"""A worker killed mid-task loses nothing: SIGKILL a real worker process inside a handler, start
another, and the message is delivered, its effect applied exactly once (both engines)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from machi.core.tests.child_processes import (
    child_env,
    drop_queue,
    fresh_var_dir,
    kill_group,
    query,
    redis_url_or_skip,
    run_machi,
    start,
    unique_queue,
    wait_for,
)

CHILD = "machi.core.tests.task_child"


def _engine_env(engine: str) -> tuple[dict[str, str], str | None]:
    if engine == "database":
        return {"MACHI_TASKS_BACKEND": "database"}, None
    url = redis_url_or_skip()
    queue = unique_queue()
    return {
        "MACHI_TASKS_BACKEND": "redis",
        "MACHI_TASKS_REDIS_URL": url,
        "MACHI_TASKS_QUEUE": queue,
    }, queue


@pytest.mark.parametrize("engine", ["database", "redis"])
def test_a_worker_killed_mid_task_loses_nothing(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, engine: str
) -> None:
    engine_env, queue = _engine_env(engine)
    var_dir = fresh_var_dir(tmp_path_factory, tmp_path / "var")
    box = tmp_path / "box"
    box.mkdir()
    env = child_env(
        var_dir,
        MACHI_OUTBOX_REDELIVER_SECONDS="2",
        MACHI_OUTBOX_SWEEP_SECONDS="0.5",
        **engine_env,
    )
    (box / "block").touch()
    message_id = int(machi_child(env, "enqueue", str(box)))
    first = second = None
    try:
        first = start(
            env, "-m", CHILD, "worker", str(box), "--interval", "0.05", log=tmp_path / "w1.log"
        )
        wait_for(lambda: (box / "started").exists(), timeout=60, what="the first worker's handler")
        kill_group(first, signal.SIGKILL)
        assert first.returncode == -signal.SIGKILL
        # The delivery died with its transaction: the message is still owed, nothing happened.
        status = query(
            var_dir, "SELECT status, attempts FROM core_outboxmessage WHERE id = ?", message_id
        )
        assert status == [("pending", 0)]
        assert not (box / "effects.log").exists()

        (box / "block").unlink()
        second = start(
            env, "-m", CHILD, "worker", str(box), "--interval", "0.05", log=tmp_path / "w2.log"
        )
        wait_for(
            lambda: (
                query(var_dir, "SELECT status FROM core_outboxmessage WHERE id = ?", message_id)
                == [("sent",)]
            ),
            timeout=60,
            what="the message to be delivered after the restart",
        )
        assert (box / "effects.log").read_text() == "effect 1\n"  # exactly once
        starts = (box / "starts.log").read_text().split()
        assert starts == ["start", str(first.pid), "start", str(second.pid)]
        assert query(
            var_dir, "SELECT attempts FROM core_outboxmessage WHERE id = ?", message_id
        ) == [(1,)]

        # The latency probe the bench uses, through the same running worker.
        report = json.loads(
            run_machi(env, "task-latency", "--samples", "10", "--pause", "0.01").strip()
        )
        assert (report["samples"], report["delivered"]) == (10, 10)
        assert 0 <= report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]
        assert query(
            var_dir, "SELECT count(*) FROM core_outboxmessage WHERE kind = 'core.probe'"
        ) == [(0,)]
    finally:
        for process in (first, second):
            if process is not None:
                kill_group(process, signal.SIGTERM)
        if queue:
            drop_queue(engine_env["MACHI_TASKS_REDIS_URL"], queue)


def machi_child(env: dict[str, str], *args: str) -> str:
    import subprocess
    import sys

    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-m", CHILD, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()
