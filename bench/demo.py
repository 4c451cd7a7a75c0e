"""The embedded default under load: `make demo`'s server on SQLite with the demo data.

A fresh var directory (bench/out/demo-var: SQLite database, files, mail, generated secret key),
``migrate``, ``collectstatic`` and ``load-demo`` as `make demo` runs them, then gunicorn with the
arguments of the demo recipe in the Makefile (read from it, so the bench follows the recipe), no
broker, development settings as `make demo` has them. Anonymous submissions of 加古川市's
粗大ごみ収集申込 (the demo catalog, the same body as the PostgreSQL scenario) at 1, 4 and 16
connections; errors (5xx such as "database is locked", socket resets) are counted and reported,
not fatal. The SQLite database is read afterwards to count the applications really created.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import HOST, OUT_DIR, PROJECT_DIR, BenchError, free_port, log, run
from scenarios import Scenario, WrkResult

DEMO_DIR = OUT_DIR / "demo-var"
DEFAULT_GUNICORN = ["--workers", "2", "--threads", "4", "--backlog", "2048"]
MAKEFILE = PROJECT_DIR / "Makefile"


@dataclass
class DemoResult:
    gunicorn_args: list[str]
    source: str  # where the arguments came from
    background: list[list[str]] = field(default_factory=list)  # `python -m machi` commands
    setup_s: float = 0.0
    runs: list[WrkResult] = field(default_factory=list)
    created: int = 0  # applications created in the SQLite database by the measured runs
    responses_201: int = 0
    error: str = ""


def _demo_recipe(makefile: str) -> str | None:
    """The ``demo`` recipe's commands as one line (continuations joined)."""
    lines = makefile.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if re.match(r"^demo\s*:", line))
    except StopIteration:
        return None
    text = ""
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        line = line.strip()
        # a trailing backslash continues the command; otherwise each line is one command
        text += line[:-1] + " " if line.endswith("\\") else line + " ; "
    return text


def demo_background_commands(makefile: str) -> list[list[str]]:
    """The ``python -m machi`` commands the demo recipe starts in the background (``… &``),
    such as the task worker beside gunicorn."""
    text = _demo_recipe(makefile) or ""
    return [
        shlex.split(match.group(1))
        for match in re.finditer(r"\$\(MANAGE\)\s+([^&;|]+?)\s*&(?!&)", text)
    ]


def demo_gunicorn_args(makefile: str) -> list[str] | None:
    """The gunicorn options of the Makefile's ``demo`` recipe (no bind, no log files).

    None when the recipe starts no gunicorn itself (e.g. a supervisor script does).
    """
    text = _demo_recipe(makefile)
    if text is None:
        return None
    match = re.search(r"gunicorn\s+machi\.wsgi:application([^;&|]*)", text)
    if not match:
        return None
    words = shlex.split(match.group(1))
    args: list[str] = []
    skip = {"--bind", "-b", "--access-logfile", "--error-logfile", "--log-file"}
    index = 0
    while index < len(words):
        word = words[index]
        name = word.split("=", 1)[0]
        if name in skip:
            index += 1 if "=" in word else 2
            continue
        args.append(word)
        index += 1
    return args


def demo_env(port: int) -> dict[str, str]:
    """`make demo`'s environment: development settings, SQLite in a var dir of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MACHI_", "DJANGO_SETTINGS_MODULE"))
    }
    base_url = f"http://{HOST}:{port}"
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "machi.settings",
            "MACHI_VAR_DIR": str(DEMO_DIR),
            "MACHI_PUBLIC_BASE_URL": base_url,
            "MACHI_DOCUMENTS_VERIFY_BASE_URL": base_url,
            # one load generator sends every submission from 127.0.0.1
            "MACHI_APPLICATION_RATE_LIMIT": "1000000/s",
            "MACHI_LOG_LEVEL": "WARNING",
        }
    )
    return env


def count_created(database: Path) -> int:
    from scenarios import submission_created_sql

    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
        row = conn.execute(submission_created_sql()).fetchone()
    return int(row[0])


def measure_demo(
    args: argparse.Namespace, scenario: Scenario, data: dict[str, Any], clients: list[int]
) -> DemoResult:
    """Set up the SQLite demo, serve it as `make demo` does, and load it with submissions."""
    from measure import decode_body, request_body, run_wrk
    from server import http_request

    makefile = MAKEFILE.read_text(encoding="utf-8")
    found = demo_gunicorn_args(makefile)
    result = DemoResult(
        gunicorn_args=found if found is not None else DEFAULT_GUNICORN,
        source="the Makefile's demo recipe"
        if found is not None
        else "defaults (no gunicorn line in the Makefile's demo recipe)",
    )
    result.background = demo_background_commands(makefile)
    port = free_port()
    env = demo_env(port)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    started = time.monotonic()
    manage = [sys.executable, "-m", "machi"]
    run([*manage, "migrate", "--noinput", "--verbosity", "0"], env=env)
    run([*manage, "collectstatic", "--noinput", "--verbosity", "0"], env=env)
    run([*manage, "load-demo", "--quiet", "--base-url", env["MACHI_PUBLIC_BASE_URL"]], env=env)
    result.setup_s = time.monotonic() - started
    log_path = OUT_DIR / "demo-gunicorn.log"
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "machi.wsgi:application",
        *result.gunicorn_args,
        "--bind",
        f"{HOST}:{port}",
        "--access-logfile",
        "-",  # as the demo does: access log lines to stdout (here into the log file)
        "--error-logfile",
        "-",
    ]
    log(f"demo: gunicorn on SQLite ({' '.join(result.gunicorn_args)})")
    beside = _start_background(result.background, env)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            cmd,
            env=env,
            cwd=PROJECT_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_up(process, port)
            headers = {"Content-Type": "application/json", "Idempotency-Key": "bench-demo-sample"}
            status, response_headers, body = http_request(
                port, "POST", scenario.path, headers=headers, body=request_body(scenario, data)
            )
            if status != 201:
                raise BenchError(f"demo: sample submission answered {status}: {body[:300]!r}")
            if scenario.check is not None:
                problem = scenario.check(
                    decode_body(body, response_headers.get("Content-Type", "")), data
                )
                if problem:
                    raise BenchError(f"demo: {problem}")
            base_url = f"http://{HOST}:{port}"
            wrk_headers = {"Content-Type": "application/json"}
            run_wrk(
                args,
                scenario,
                base_url,
                wrk_headers,
                args.warmup,
                "demo-warmup",
                data=data,
                connections=4,
                strict=False,
                warmup=True,
            )
            measured_before = count_created(DEMO_DIR / "machi.sqlite3")
            for count in clients:
                _settle(port)
                run_result = run_wrk(
                    args,
                    scenario,
                    base_url,
                    wrk_headers,
                    args.duration,
                    f"demo-c{count}",
                    data=data,
                    connections=count,
                    strict=False,
                )
                result.runs.append(run_result)
                result.responses_201 += run_result.requests - run_result.non_2xx
                log(
                    f"demo: {run_result.rps - run_result.non_2xx / run_result.duration_s:,.0f} "
                    f"submissions/s, p95 {run_result.latency_us['p95'] / 1000:.0f} ms at {count}"
                )
            _settle(port)
            result.created = count_created(DEMO_DIR / "machi.sqlite3") - measured_before
        finally:
            _stop(process)
            for other, other_log in beside:
                _stop(other)
                other_log.close()
    return result


def _start_background(commands: list[list[str]], env: dict[str, str]) -> list[Any]:
    started = []
    for index, command in enumerate(commands):
        log_file = (OUT_DIR / f"demo-background-{index}.log").open("wb")
        started.append(
            (
                subprocess.Popen(
                    [sys.executable, "-m", "machi", *command],
                    env=env,
                    cwd=PROJECT_DIR,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
                log_file,
            )
        )
    return started


def _wait_up(process: subprocess.Popen[bytes], port: int) -> None:
    from server import http_request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError("demo: gunicorn exited early (see bench/out/demo-gunicorn.log)")
        try:
            status, _h, _b = http_request(port, "GET", "/healthz", timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise BenchError("demo: gunicorn did not answer /healthz within 60 s")


def _settle(port: int) -> None:
    """Wait until a /healthz probe answers fast: what the last run left queued is served."""
    from server import http_request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        begin = time.monotonic()
        with contextlib.suppress(OSError):
            http_request(port, "GET", "/healthz", timeout=30)
        if time.monotonic() - begin < 0.05:
            time.sleep(0.5)
            return


def _stop(process: subprocess.Popen[bytes]) -> None:

    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
