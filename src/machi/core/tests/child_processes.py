"""Helpers for tests that run Machi in child processes (workers, gunicorn) on a file database."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import machi

SRC = str(Path(machi.__file__).resolve().parent.parent)


def redis_url_or_skip() -> str:
    """MACHI_TEST_REDIS_URL when set and answering (`.ci/run` sets it), else skip with why."""
    from django.conf import settings

    url = settings.TEST_REDIS_URL
    if not url:
        pytest.skip("real broker: MACHI_TEST_REDIS_URL is not set (.ci/run sets it)")
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(url, socket_connect_timeout=2).ping()
    except (RedisError, OSError) as exc:
        pytest.skip(f"real broker: Redis at {url} does not answer ({exc})")
    return url


def child_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a child: its own var/ (SQLite file), this checkout's code first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MACHI_")}
    env.update(
        DJANGO_SETTINGS_MODULE="machi.settings",
        PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        MACHI_VAR_DIR=str(var_dir),
        MACHI_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def run_machi(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run ``python -m machi ARGS`` to completion and return its output (fails on errors)."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-m", "machi", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def start(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    """Start a child in its own process group (so a SIGKILL takes all of its processes)."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def query(var_dir: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the child's SQLite database directly (independent of Django in the test process)."""
    with sqlite3.connect(var_dir / "machi.sqlite3", timeout=20) as db:
        return db.execute(sql, params).fetchall()


_TEMPLATES: dict[Path, Path] = {}


def fresh_var_dir(tmp_path_factory: pytest.TempPathFactory, target: Path) -> Path:
    """A copy of a var/ migrated and loaded with the demo data once per test session."""
    base = tmp_path_factory.getbasetemp()
    if base not in _TEMPLATES:
        template = tmp_path_factory.mktemp("machi-var-template") / "var"
        env = child_env(template)
        run_machi(env, "migrate", "--noinput", "-v0")
        run_machi(env, "load-demo", "--quiet")
        _TEMPLATES[base] = template
    shutil.copytree(_TEMPLATES[base], target)
    return target


def unique_queue() -> str:
    return f"machi-test-{uuid.uuid4().hex[:12]}"


def drop_queue(redis_url: str, name: str) -> None:
    """Remove a test queue, its jobs and registries (only keys naming this unique queue)."""
    from redis import Redis
    from rq import Queue

    redis = Redis.from_url(redis_url)
    Queue(name, connection=redis).delete(delete_jobs=True)
    for key in redis.scan_iter(match=f"rq:*:{name}"):
        redis.delete(key)
