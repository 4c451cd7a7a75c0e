"""Shared by the bench modules: paths, errors, logging, subprocesses, the database and the
run profiles (``--quick`` or the full run)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
REPORT = PROJECT_DIR / "docs" / "benchmarks.md"
LUA_SCRIPT = BENCH_DIR / "wrk_report.lua"
PKI_DIR = OUT_DIR / "var" / "documents-pki"
HOST = "127.0.0.1"


class BenchError(Exception):
    """A step failed: the run stops and the report is not written."""


FULL: dict[str, float] = {
    "duration": 15,
    "warmup": 3,
    "cases": 1_000_000,
    "documents_seconds": 30,
    "task_count": 200,
}
# `--quick`: about 4 minutes on a 2-core machine (every step, shorter and over fewer cases)
QUICK: dict[str, float] = {
    "duration": 3,
    "warmup": 1,
    "cases": 80_000,
    "documents_seconds": 3,
    "task_count": 30,
}
CASE_MUNICIPALITIES = 40  # the issue: 1,000,000 cases in 40 municipalities
DOCUMENT_MUNICIPALITY = "282103"  # 加古川市 issues the bench documents
MIN_CASES = 80_000


def server_connections(args: argparse.Namespace) -> int:
    """How many requests gunicorn serves at once (and database connections it holds)."""
    return int(args.workers * args.worker_threads)


# --- Helpers -----------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def run(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command; its stdout, or BenchError with its output tail."""
    result = subprocess.run(
        cmd, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-3000:]
        raise BenchError(f"`{' '.join(cmd[:4])} …` exited {result.returncode}:\n{tail}")
    return result.stdout


def check_tools() -> None:
    if shutil.which("wrk") is None:
        if os.geteuid() != 0:
            raise BenchError(
                "wrk is not installed. Install it with `sudo apt-get install -y wrk` "
                "(Debian/Ubuntu) and run `make bench` again."
            )
        log("wrk missing: installing it with apt-get (we are root)")
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], env=apt_env)
        run(
            ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=300", "wrk"],
            env=apt_env,
        )
        if shutil.which("wrk") is None:
            raise BenchError("apt-get install wrk ran but wrk is still not on PATH")
    if shutil.which("pgbench") is None:
        raise BenchError(
            "pgbench is not installed. It ships with the PostgreSQL server packages "
            "(Debian: `apt-get install -y postgresql-15`) and run `make bench` again."
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pg_connect(pg_url: str, dbname: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"{pg_url}/{dbname}", autocommit=True, connect_timeout=5)


def recreate_database(pg_url: str, dbname: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", dbname):
        raise BenchError(f"refusing odd database name {dbname!r}")
    try:
        with pg_connect(pg_url, "postgres") as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {dbname} ENCODING 'UTF8' TEMPLATE template0")
    except psycopg.OperationalError as exc:
        raise BenchError(f"cannot reach PostgreSQL at {pg_url}: {exc}") from exc


def db_transactions(pg_url: str, dbname: str) -> int:
    """Committed + rolled-back transactions of the database so far (pg_stat_database)."""
    with pg_connect(pg_url, "postgres") as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (dbname,),
        ).fetchone()
    return int(row[0]) if row else 0


def settled_db_transactions(pg_url: str, dbname: str) -> int:
    """Wait until no backend is connected to the database, then read its counter.

    Backends flush their statistics when they exit, so the count is complete only then.
    """
    deadline = time.monotonic() + 15
    with pg_connect(pg_url, "postgres") as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,)
            ).fetchone()
            if row and row[0] == 0:
                break
            time.sleep(0.2)
    time.sleep(0.5)
    return db_transactions(pg_url, dbname)
