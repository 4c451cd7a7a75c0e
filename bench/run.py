"""`make bench`: production-like Machi on PostgreSQL under load; writes docs/benchmarks.md.

Steps: check wrk/pgbench → recreate the bench database and migrate → load bench data through
Machi's services → start gunicorn on a free loopback port → sign in (password + TOTP) →
for each scenario capture the SQL Django runs per request, then load it with wrk → stop
gunicorn → run the same SQL through pgbench → write the report.

Add a benchmark by appending to ``SCENARIOS``. Knobs: ``python bench/run.py --help``.
Artifacts of the last run (pgbench scripts, raw tool output, gunicorn log) go to bench/out/.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import http.client
import importlib.metadata
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
REPORT = PROJECT_DIR / "docs" / "benchmarks.md"
LUA_SCRIPT = BENCH_DIR / "wrk_report.lua"
HOST = "127.0.0.1"


class BenchError(Exception):
    """A step failed: the run stops and the report is not written."""


# --- Scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One HTTP endpoint under load, and its raw-database equivalent.

    ``db_sql``: the pgbench script body; None means "the SQL Django runs for one request",
    captured in-process (same settings, middleware and session) before the load test.
    ``check``: validates the decoded JSON body of a sample response; returns an error or None.
    """

    name: str
    method: str
    path: str
    description: str
    staff_session: bool = False
    db_sql: str | None = None
    check: Callable[[Any, dict[str, Any]], str | None] | None = None


def _check_health(body: Any, data: dict[str, Any]) -> str | None:
    if body.get("status") != "ok" or body.get("database") != "postgresql":
        return f"unexpected /healthz answer {body!r}"
    return None


def _check_departments(body: Any, data: dict[str, Any]) -> str | None:
    expected = data["admin_departments"]
    if not isinstance(body, list) or len(body) != expected:
        return f"expected a list of {expected} departments, got {str(body)[:200]}"
    if {row["municipality_code"] for row in body} != {data["admin_municipality"]}:
        return "departments of another municipality leaked into the tenant-scoped list"
    return None


SCENARIOS: list[Scenario] = [
    Scenario(
        name="healthz",
        method="GET",
        path="/healthz",
        description="Liveness + database check (no session). Raw-DB equivalent: `SELECT 1`.",
        check=_check_health,
    ),
    Scenario(
        name="staff-departments",
        method="GET",
        path="/api/v1/staff/departments",
        description=(
            "Tenant-scoped list: the departments of the signed-in 団体管理者's municipality "
            "(session + TOTP-verified staff). Raw-DB equivalent: every query Django runs for "
            "the request (session, user, OTP device, memberships, departments)."
        ),
        staff_session=True,
        check=_check_departments,
    ),
]


# --- Results -----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    non_2xx: int
    errors: dict[str, int]
    latency_us: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s


@dataclass
class PgbenchResult:
    tps: float
    latency_ms: float
    transactions: int


@dataclass
class ScenarioResult:
    scenario: Scenario
    sql: list[str] = field(default_factory=list)
    http: WrkResult | None = None
    warmup_requests: int = 0
    db: PgbenchResult | None = None


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


# --- The server --------------------------------------------------------------------------------


class Server:
    """gunicorn serving machi.wsgi on loopback; always stopped by ``stop``."""

    def __init__(self, env: dict[str, str], args: argparse.Namespace) -> None:
        self.env = env
        self.args = args
        self.port = free_port()
        self.log_path = OUT_DIR / "gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "machi.wsgi:application",
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.args.workers),
            "--worker-class",
            self.args.worker_class,
            "--threads",
            str(self.args.worker_threads),
            "--log-level",
            "warning",
            "--error-logfile",
            str(self.log_path),
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
        ]
        if Path("/dev/shm").is_dir():
            cmd += ["--worker-tmp-dir", "/dev/shm"]
        log(f"starting gunicorn on {self.base_url} ({self.describe()})")
        self.process = subprocess.Popen(
            cmd,
            env=self.env,
            cwd=PROJECT_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                status, _headers, _body = http_request(self.port, "GET", "/healthz", timeout=2)
                if status == 200:
                    return
            time.sleep(0.25)
        raise BenchError(f"gunicorn did not answer /healthz within 60 s:\n{self.log_tail()}")

    def describe(self) -> str:
        threads = (
            f" × {self.args.worker_threads} threads" if self.args.worker_class == "gthread" else ""
        )
        return f"{self.args.workers} {self.args.worker_class} workers{threads}"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        log("stopping gunicorn")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # our own session: master + workers
            process.wait(timeout=5)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return "(no gunicorn log)"


def http_request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def response_cookies(headers: http.client.HTTPMessage) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for value in headers.get_all("Set-Cookie") or []:
        parsed = SimpleCookie()
        parsed.load(value)
        cookies.update({name: morsel.value for name, morsel in parsed.items()})
    return cookies


def sign_in(port: int, username: str, password: str) -> str:
    """Sign in through the staff login form (password + TOTP); returns the session key."""
    import dataset

    status, headers, body = http_request(port, "GET", "/staff/login/")
    if status != 200:
        raise BenchError(f"GET /staff/login/ answered {status}")
    csrf_cookie = response_cookies(headers).get("csrftoken")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if not csrf_cookie or not match:
        raise BenchError("no CSRF cookie/token on the staff login page")
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": match.group(1).decode(),
            "username": username,
            "password": password,
            "otp_token": dataset.current_totp(username),
            "next": "",
        }
    ).encode()
    status, headers, body = http_request(
        port,
        "POST",
        "/staff/login/",
        headers={
            "Cookie": f"csrftoken={csrf_cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=form,
    )
    session = response_cookies(headers).get("sessionid")
    if status != 302 or not session:
        raise BenchError(f"staff sign-in failed: {status} {body[:300]!r}")
    return session


# --- Measurements ------------------------------------------------------------------------------


def capture_sql(scenario: Scenario, session_key: str | None) -> list[str]:
    """The SQL Django runs for one (warm) request of the scenario, in order."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST)
    if scenario.staff_session and session_key:
        client.cookies["sessionid"] = session_key
    client.generic(scenario.method, scenario.path)  # warm per-process caches first
    with CaptureQueriesContext(connection) as captured:
        response = client.generic(scenario.method, scenario.path)
    if not 200 <= response.status_code < 300:
        raise BenchError(f"{scenario.path} answered {response.status_code} in-process")
    return [query["sql"] for query in captured.captured_queries]


def sample_request(
    server: Server, scenario: Scenario, headers: dict[str, str], data: dict[str, Any]
) -> None:
    status, _headers, body = http_request(
        server.port, scenario.method, scenario.path, headers=headers
    )
    if not 200 <= status < 300:
        raise BenchError(f"{scenario.method} {scenario.path} answered {status}: {body[:300]!r}")
    if scenario.check is not None:
        problem = scenario.check(json.loads(body), data)
        if problem:
            raise BenchError(f"{scenario.path}: {problem}")


def run_wrk(
    args: argparse.Namespace,
    url: str,
    headers: dict[str, str],
    seconds: float,
    label: str,
) -> WrkResult:
    cmd = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
    ]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    output = run([*cmd, url], timeout=seconds + 60)
    (OUT_DIR / f"wrk-{label}.txt").write_text(output, encoding="utf-8")
    line = next((ln for ln in output.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise BenchError(f"wrk printed no BENCH_JSON line:\n{output[-2000:]}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    result = WrkResult(
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        non_2xx=raw["non_2xx"],
        errors=raw["errors"],
        latency_us=raw["latency_us"],
    )
    socket_errors = {k: v for k, v in result.errors.items() if k != "status" and v}
    if result.non_2xx or socket_errors or result.requests == 0:
        raise BenchError(
            f"{label}: {result.non_2xx} non-2xx responses (first status "
            f"{raw['first_bad_status']}), socket errors {socket_errors or 'none'}, "
            f"{result.requests} requests — see {OUT_DIR / f'wrk-{label}.txt'}"
        )
    return result


def run_pgbench(
    args: argparse.Namespace, pg_env: dict[str, str], script: Path, seconds: float
) -> PgbenchResult:
    clients = args.db_clients
    cmd = [
        "pgbench",
        "-n",
        "-M",
        "simple",
        "-c",
        str(clients),
        "-j",
        str(min(args.wrk_threads, clients)),
        "-T",
        f"{max(1, round(seconds))}",
        "-f",
        str(script),
        args.db_name,
    ]
    output = run(cmd, env=pg_env, timeout=seconds + 60)
    (OUT_DIR / f"pgbench-{script.stem}-{round(seconds)}s.txt").write_text(output, encoding="utf-8")
    tps = re.search(r"^tps = ([0-9.]+)", output, re.MULTILINE)
    latency = re.search(r"^latency average = ([0-9.]+) ms", output, re.MULTILINE)
    processed = re.search(r"actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    if not (tps and latency and processed) or (failed and int(failed.group(1))):
        raise BenchError(f"pgbench run of {script.name} failed or was unreadable:\n{output}")
    return PgbenchResult(
        tps=float(tps.group(1)),
        latency_ms=float(latency.group(1)),
        transactions=int(processed.group(1)),
    )


# --- Machine facts and the report --------------------------------------------------------------


def machine_facts(args: argparse.Namespace, server: Server) -> dict[str, str]:
    import django
    from django.db import connection

    def first_line(cmd: list[str]) -> str:
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except OSError:
            return "?"
        return ((result.stdout or result.stderr).strip().splitlines() or ["?"])[0]

    def proc_field(path: str, pattern: str) -> str:
        with contextlib.suppress(OSError):
            match = re.search(pattern, Path(path).read_text(encoding="utf-8"))
            if match:
                return match.group(1).strip()
        return "?"

    mem_kb = proc_field("/proc/meminfo", r"MemTotal:\s+(\d+)")
    memory = f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?"
    cpu = proc_field("/proc/cpuinfo", r"model name\s*:\s*(.+)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    commit = first_line(["git", "-C", str(PROJECT_DIR), "rev-parse", "--short", "HEAD"])
    dirty = first_line(["git", "-C", str(PROJECT_DIR), "status", "--porcelain"])
    wrk_version = first_line(["wrk", "-v"]).split(" [")[0]
    return {
        "CPU": f"{cpu}, {os.cpu_count()} logical CPUs (`nproc`)",
        "Memory": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "PostgreSQL": f"{pg_version} on 127.0.0.1:5432 (same machine)",
        "gunicorn": f"{importlib.metadata.version('gunicorn')}, {server.describe()}",
        "psycopg": importlib.metadata.version("psycopg"),
        "Load generator": (
            f"{wrk_version}: `-t{args.wrk_threads} -c{args.connections} -d{args.duration:g}s` "
            f"after a {args.warmup:g} s warm-up, same machine"
        ),
        "Raw DB": (
            f"{first_line(['pgbench', '--version'])}: `-n -M simple -c {args.db_clients} "
            f"-j {min(args.wrk_threads, args.db_clients)} -T {round(args.duration)}` "
            f"after a {args.warmup:g} s warm-up"
        ),
        "Commit": commit + (" (+ uncommitted changes)" if dirty not in ("", "?") else ""),
    }


def ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.2f}"


def render_report(
    *,
    started: dt.datetime,
    elapsed_s: float,
    facts: dict[str, str],
    data: dict[str, Any],
    results: list[ScenarioResult],
    server_check: str,
    args: argparse.Namespace,
) -> str:
    extra = " ".join(sys.argv[1:])
    command = f".venv/bin/python bench/run.py {extra}" if extra else "make bench"
    lines = [
        "# Benchmarks",
        "",
        "<!-- Written by bench/run.py (`make bench`); rewritten on every run, do not edit. -->",
        "",
        "Production-like Machi (gunicorn, `MACHI_PRODUCTION=1`, PostgreSQL) under load from "
        "wrk on loopback, next to pgbench running the same SQL straight against the database.",
        "",
        "## How to read this",
        "",
        "All numbers come from one run on one shared machine: the load generator, gunicorn and "
        "PostgreSQL compete for the same CPUs, and machines (and neighbours on them) are noisy. "
        "Compare **ratios within one run** — HTTP req/s ÷ pgbench tps says what share of the "
        "database's raw rate for the same queries survives Django, middleware, JSON and HTTP — "
        "and compare runs only on the same machine. Do not quote bare req/s or milliseconds as "
        "facts about production. A pgbench *transaction* is one pass over all the queries one "
        "request runs, so a ratio near 1 means the database is the bottleneck; a small ratio "
        "means time goes to Python. pgbench runs with as many clients as gunicorn has "
        "database connections (workers × threads), the most the database sees from the server. "
        "Latency percentiles are per request under "
        f"{args.connections} concurrent connections (queueing in gunicorn's backlog included).",
        "",
        "## Run",
        "",
        f"- Command: `{command}`, {elapsed_s:.0f} s in all",
        f"- Date: {started.isoformat(timespec='seconds')}",
    ]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    lines += [
        f"- Data: {data['municipalities']} tenants (兵庫県 280003 and "
        f"{data['municipalities'] - 1} of its municipalities, "
        f"real 全国地方公共団体コード), {data['departments']} departments; the bench user is "
        f"団体管理者 of {data['admin_municipality']} (加古川市) with a TOTP device, so the staff "
        f"list returns {data['admin_departments']} rows. Loaded through `machi.core.services`.",
        "- Settings: `MACHI_PRODUCTION=1`, `MACHI_SSL_REDIRECT=0` (plain HTTP on loopback), "
        "`MACHI_LOG_LEVEL=WARNING`, random `MACHI_SECRET_KEY`, `CONN_MAX_AGE=60`, "
        f"database `{args.db_name}` (dropped and recreated each run, left for inspection).",
        "",
        "## Summary",
        "",
        "| Scenario | HTTP req/s | p50 ms | p95 ms | p99 ms | SQL per request | pgbench tps | "
        "HTTP ÷ DB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        assert result.http is not None and result.db is not None
        http_result, db = result.http, result.db
        lat = http_result.latency_us
        lines.append(
            f"| `{result.scenario.method} {result.scenario.path}` | {http_result.rps:,.0f} | "
            f"{ms(lat['p50'])} | {ms(lat['p95'])} | {ms(lat['p99'])} | {len(result.sql)} | "
            f"{db.tps:,.0f} | {http_result.rps / db.tps:.3f} |"
        )
    for result in results:
        assert result.http is not None and result.db is not None
        http_result, db = result.http, result.db
        lat = http_result.latency_us
        lines += [
            "",
            f"## `{result.scenario.method} {result.scenario.path}`",
            "",
            result.scenario.description,
            "",
            "| Measure | Value |",
            "| --- | ---: |",
            f"| HTTP throughput | {http_result.rps:,.1f} req/s |",
            f"| Requests (non-2xx, socket errors) | {http_result.requests:,} "
            f"({http_result.non_2xx}, {sum(v for k, v in http_result.errors.items() if k != 'status')}) |",
            f"| Latency p50 / p95 / p99 | {ms(lat['p50'])} / {ms(lat['p95'])} / "
            f"{ms(lat['p99'])} ms |",
            f"| Latency mean / max | {ms(lat['mean'])} / {ms(lat['max'])} ms |",
            f"| Raw DB (pgbench, same SQL) | {db.tps:,.1f} tps, {db.latency_ms:.3f} ms average |",
            f"| HTTP req/s ÷ pgbench tps | {http_result.rps / db.tps:.3f} |",
            "",
            f"<details><summary>SQL per request ({len(result.sql)} "
            f"quer{'y' if len(result.sql) == 1 else 'ies'}, "
            f"{'captured from Django' if result.scenario.db_sql is None else 'given'}; "
            "the pgbench script)</summary>",
            "",
            "```sql",
            *[f"{sql};" for sql in result.sql],
            "```",
            "",
            "</details>",
        ]
    lines += [
        "",
        "## Server-side check",
        "",
        server_check,
        "",
    ]
    return "\n".join(lines)


# --- Main --------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    cpus = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2 * cpus, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--worker-threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument(
        "--db-clients",
        type=int,
        default=None,
        help="pgbench clients (default: the server's database connections, workers × threads)",
    )
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--db-name", default="machi_bench")
    parser.add_argument("--output", type=Path, default=REPORT)
    args = parser.parse_args()
    if args.worker_class == "sync":
        args.worker_threads = 1
    if args.db_clients is None:
        args.db_clients = args.workers * args.worker_threads
    return args


def main() -> int:
    args = parse_args()
    started = dt.datetime.now().astimezone()
    clock = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop gunicorn
    OUT_DIR.mkdir(exist_ok=True)

    check_tools()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "machi.settings",
        "MACHI_DATABASE_URL": f"{args.pg_url}/{args.db_name}",
        "MACHI_PRODUCTION": "1",
        "MACHI_SSL_REDIRECT": "0",
        "MACHI_SECRET_KEY": secrets.token_urlsafe(50),
        "MACHI_ALLOWED_HOSTS": HOST,
        "MACHI_LOG_LEVEL": "WARNING",
        "MACHI_STATIC_ROOT": str(OUT_DIR / "static"),
        "MACHI_MEDIA_ROOT": str(OUT_DIR / "files"),
        "MACHI_VAR_DIR": str(OUT_DIR / "var"),
    }
    for name in ("MACHI_TEST_DATABASE_URL", "MACHI_REDIS_URL", "MACHI_DEBUG", "MACHI_OIDC_ENABLED"):
        env.pop(name, None)
    pg = urllib.parse.urlsplit(args.pg_url)
    pg_env = {
        **os.environ,
        "PGHOST": pg.hostname or HOST,
        "PGPORT": str(pg.port or 5432),
        "PGUSER": pg.username or "postgres",
    }
    if pg.password:
        pg_env["PGPASSWORD"] = pg.password

    log(f"recreating database {args.db_name}")
    recreate_database(args.pg_url, args.db_name)
    log("migrating and collecting static files")
    run([sys.executable, "-m", "machi", "migrate", "--noinput", "--verbosity", "0"], env=env)
    run([sys.executable, "-m", "machi", "collectstatic", "--noinput", "--verbosity", "0"], env=env)

    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    import dataset
    from django.db import connection

    log("loading bench data through machi.core.services")
    data = dataclasses.asdict(dataset.load())
    connection.close()  # its backend flushes its statistics on exit

    results = [ScenarioResult(scenario) for scenario in SCENARIOS]
    server = Server(env, args)
    transactions_before = settled_db_transactions(args.pg_url, args.db_name)
    try:
        server.start()
        session_key = sign_in(server.port, data["admin_username"], data["admin_password"])
        log("signed in as the bench staff user (password + TOTP)")
        for result in results:
            scenario = result.scenario
            headers = {"Cookie": f"sessionid={session_key}"} if scenario.staff_session else {}
            sample_request(server, scenario, headers, data)
            result.sql = capture_sql(scenario, session_key)
            url = server.base_url + scenario.path
            log(f"{scenario.name}: {len(result.sql)} SQL per request; wrk warm-up + run")
            result.warmup_requests = run_wrk(
                args, url, headers, args.warmup, f"{scenario.name}-warmup"
            ).requests
            result.http = run_wrk(args, url, headers, args.duration, scenario.name)
            log(
                f"{scenario.name}: {result.http.rps:,.0f} req/s, "
                f"p99 {ms(result.http.latency_us['p99'])} ms"
            )
        connection.close()
    finally:
        server.stop()
    transactions = settled_db_transactions(args.pg_url, args.db_name) - transactions_before

    for result in results:
        script = OUT_DIR / f"{result.scenario.name}.sql"
        body = result.scenario.db_sql or "".join(f"{sql};\n" for sql in result.sql)
        if result.scenario.db_sql:
            result.sql = [result.scenario.db_sql.strip().rstrip(";")]
        script.write_text(body, encoding="utf-8")
        log(f"{result.scenario.name}: pgbench warm-up + run")
        run_pgbench(args, pg_env, script, args.warmup)
        result.db = run_pgbench(args, pg_env, script, args.duration)
        log(f"{result.scenario.name}: {result.db.tps:,.0f} tps")

    expected = sum(
        len(r.sql) * (r.warmup_requests + (r.http.requests if r.http else 0)) for r in results
    )
    server_check = (
        f"PostgreSQL counted {transactions:,} transactions in `{args.db_name}` while gunicorn "
        f"ran (pg_stat_database); the captured SQL × requests served predicts {expected:,} "
        f"(ratio {transactions / expected:.3f}; the excess is sign-in, SQL capture and "
        "connection set-up, plus requests wrk abandoned at the end of each run). A ratio "
        "well above 1 would mean the server runs queries the in-process capture missed."
        if expected
        else "No requests were counted."
    )
    if expected and transactions / expected > 1.05:
        log(f"WARNING: server ran {transactions / expected:.2f}× the captured SQL")

    facts = machine_facts(args, server)
    connection.close()
    report = render_report(
        started=started,
        elapsed_s=time.monotonic() - clock,
        facts=facts,
        data=data,
        results=results,
        server_check=server_check,
        args=args,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
