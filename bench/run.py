"""`make bench`: production-like Machi on PostgreSQL under load; writes docs/benchmarks.md.

Steps: check wrk/pgbench → recreate the bench database and migrate → load bench data through
Machi's services (plus a ≥ 5,000-procedure catalog in bulk) → bulk-load 1,000,000 cases over 40
municipalities (``--cases``) and a 担当者 to work them → VACUUM ANALYZE → start gunicorn on a
free loopback port → sign in (password + TOTP: the 団体管理者, and the 担当者 for the case
queue) → for each scenario capture the SQL Django runs per request, then load it with wrk
(scenarios with a goal also at one connection per worker) → stop gunicorn → run the same SQL
through pgbench (for writes: the captured SQL with fresh values per transaction) → issue signed,
time-stamped documents in-process for 30 s and compare with pyHanko alone
(``bench/document_rate.py``) → write the report, with each goal of the issue judged met or not.

Add a benchmark by appending to ``SCENARIOS``. Knobs: ``python bench/run.py --help``;
``--quick`` for a short developer run (100,000 cases, 5 s runs; about 3 minutes).
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
PKI_DIR = OUT_DIR / "var" / "documents-pki"
HOST = "127.0.0.1"


class BenchError(Exception):
    """A step failed: the run stops and the report is not written."""


# --- Scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """A target from the issue: a rate at least and/or a p95 latency at most."""

    text: str
    min_rps: float | None = None
    max_p95_ms: float | None = None

    def met(self, result: WrkResult) -> bool:
        if self.min_rps is not None and result.rps < self.min_rps:
            return False
        return self.max_p95_ms is None or result.latency_us["p95"] / 1000 <= self.max_p95_ms


@dataclass(frozen=True)
class Scenario:
    """One HTTP endpoint under load, and its raw-database equivalent.

    ``db_sql``: the pgbench script body; None means "the SQL Django runs for one request",
    captured in-process (same settings, middleware and session) before the load test. A write
    scenario gives ``db_script`` instead: it turns the captured SQL into a pgbench script that
    makes fresh unique values per transaction (see ``write_script``).
    ``check``: validates the decoded JSON body of a sample response; returns an error or None.
    ``paths``: when set, requests rotate through them (wrk and pgbench alike); ``path`` is the
    label. ``body``: the JSON body (POST), built from the bench data. ``unique_header``: a
    header that gets a fresh value per request. ``expect_status``: the only good status.
    ``created_sql``: counts the rows one request creates, to check that every counted request
    (and pgbench transaction) really did the work. ``invariant_sql`` must count 0 afterwards.
    ``goal``: the issue's target, checked at the server's own concurrency and at wrk's.
    ``explain_query``: a regex choosing the captured query to EXPLAIN (default: the first).
    ``session``: whose staff session (``"admin"`` or ``"handler"``, see ``main``).
    ``results``: how many results a (decoded) response shows, for the report.
    """

    name: str
    method: str
    path: str
    description: str
    staff_session: bool = False
    db_sql: str | None = None
    check: Callable[[Any, dict[str, Any]], str | None] | None = None
    paths: tuple[str, ...] = ()
    body: Callable[[dict[str, Any]], Any] | None = None
    unique_header: str | None = None
    expect_status: int | None = None
    db_script: Callable[[Capture], str] | None = None
    created_sql: str | None = None
    invariant_sql: str | None = None
    invariant_note: str = ""  # what invariant_sql = 0 means, for the report
    goal: Goal | None = None
    # per request path: EXPLAIN ANALYZE of a query (the first one containing ``explain_query``,
    # else the first), and the request's time in-process when idle
    explain: bool = False
    explain_query: str = ""
    # with staff_session: whose session ("admin": 団体管理者 of 加古川市, "handler": its 担当者)
    session: str = "admin"
    # the number of results a response shows (the report's "Results" column); JSON lists: len
    results: Callable[[Any], int] | None = None

    @property
    def request_paths(self) -> tuple[str, ...]:
        return self.paths or (self.path,)


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


def _check_submission(body: Any, data: dict[str, Any]) -> str | None:
    if body.get("status") != "submitted" or not body.get("receipt_number"):
        return f"not a submitted application with a receipt number: {str(body)[:300]}"
    if body.get("procedure") != data["submit_procedure"] or body.get("channel") != "api":
        return f"unexpected procedure or channel: {str(body)[:300]}"
    if [h["to_status"] for h in body.get("history", [])] != ["submitted"]:
        return f"expected one status change to submitted: {body.get('history')!r}"
    return None


def _check_catalog(body: Any, data: dict[str, Any]) -> str | None:
    if not isinstance(body, list) or not body:
        return f"expected a non-empty list of procedures, got {str(body)[:200]}"
    if any("form_version" not in row or "url" not in row for row in body):
        return "catalog rows lack form_version/url"
    return None


# What residents type: kanji, hiragana, half-width katakana; long and two-character words.
CATALOG_QUERIES = ("じゅうみんひょう", "住民票", "ｼﾞｭｳﾐﾝﾋｮｳ", "転出", "児童手当", "ごみ")


QUEUE_PAGE_SIZE = 50  # machi.cases.selectors.PAGE_SIZE: the first page shows this many cases
_QUEUE_ROW = re.compile(r'<input type="checkbox" name="cases" value="\d+"')


def queue_rows(body: Any) -> int:
    """Cases on a queue page: one tick box per row (the signed-in 担当者 may act on them)."""
    return len(_QUEUE_ROW.findall(body)) if isinstance(body, str) else 0


def _check_queue(*markers: str) -> Callable[[Any, dict[str, Any]], str | None]:
    """A full first page with a next page and capped tab counts; each marker on every row."""

    def check(body: Any, data: dict[str, Any]) -> str | None:
        if not isinstance(body, str) or "<table" not in body:
            return f"expected the HTML queue page, got {str(body)[:200]}"
        rows = queue_rows(body)
        if rows != QUEUE_PAGE_SIZE:
            return f"expected a full first page of {QUEUE_PAGE_SIZE} cases, got {rows}"
        if "page=2" not in body:
            return "no link to a second page: the filter matched too few cases"
        if '<span class="count">1,000+</span>' not in body:
            return "no tab count reached the cap: the handler does not see the bulk cases"
        for marker in markers:
            if body.count(marker) < QUEUE_PAGE_SIZE:
                return f"{body.count(marker)} rows show {marker!r}, expected all {rows}"
        return None

    return check


def _queue_description(what: str) -> str:
    return (
        f"案件一覧 (the staff queue, HTML): {what} Signed in (password + TOTP) as the 担当者 of "
        "加古川市 whose queue opens on their department, the one holding all of 加古川市's bulk "
        "cases (see *Case queue data*). The page runs the first page (51 rows, along an index) "
        "and capped per-status tab counts, plus the filter form's choices (departments, "
        "procedures, staff). The check: 50 rows (one tick box each), a next page, a tab count "
        "at its 1,000+ cap. Raw-DB equivalent: every query Django runs for the request."
    )


def _submission_body(data: dict[str, Any]) -> Any:
    return data["submit_payload"]


def _submission_script(capture: Capture) -> str:
    return write_script(capture)


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
    Scenario(
        name="submit-application",
        method="POST",
        path="/api/v1/applications",
        description=(
            "Online procedures: one complete application per request through the JSON API, "
            "anonymous (加古川市 粗大ごみ収集申込, assurance level none; 2 steps, name + address "
            "+ phone + e-mail, 3 items, collection date; validated once in-process with "
            "`formengine.validate_answers` before the run). Each request carries a fresh "
            "`Idempotency-Key`, so every one creates a new application: draft, full form "
            "validation, receipt number (locked counter), status history, audit entries "
            "(locked chain head), outbox notification, all in one transaction; then, after "
            "commit, the case the staff side opens (cases listener, own transaction) and the "
            "e-mail delivery from the outbox (own transaction; `MACHI_EMAIL_BACKEND` is "
            "Django's dummy backend, so no SMTP or file I/O). Only 201 counts as success. "
            "Raw-DB equivalent: the SQL of one captured submission replayed with fresh values "
            "per transaction (application id, idempotency key, receipt number and audit "
            "sequence/hashes taken under the same row locks, ids returned by INSERTs); same "
            "transactions, same statements, same locks."
        ),
        check=_check_submission,
        body=_submission_body,
        unique_header="Idempotency-Key",
        expect_status=201,
        db_script=_submission_script,
        created_sql=(
            "SELECT count(*) FROM procedures_application WHERE channel = 'api' "
            "AND status = 'submitted'"
        ),
        invariant_sql=(
            "SELECT (SELECT count(*) FROM core_outboxmessage WHERE status <> 'sent') "
            "+ (SELECT count(*) FROM procedures_application a WHERE a.status = 'submitted' "
            "AND NOT EXISTS (SELECT 1 FROM cases_case c WHERE c.application_id = a.id))"
        ),
        invariant_note=(
            "Afterwards every outbox message is sent and every submitted application has its "
            "case, for the HTTP and the pgbench submissions alike."
        ),
        goal=Goal("≥ 300 submissions/s and p95 ≤ 150 ms", min_rps=300, max_p95_ms=150),
    ),
    Scenario(
        name="catalog-search",
        method="GET",
        path="/api/v1/procedures?q=…",
        paths=tuple(
            f"/api/v1/procedures?q={urllib.parse.quote(query)}" for query in CATALOG_QUERIES
        ),
        description=(
            "Catalog search over every published procedure (≥ 5,000), anonymous, rotating "
            f"through {len(CATALOG_QUERIES)} queries: "
            + ", ".join(CATALOG_QUERIES)
            + " (first page, up to 50 results). Raw-DB equivalent: the SQL Django runs for "
            "each query, one pgbench script per query, picked at random."
        ),
        check=_check_catalog,
        goal=Goal("p95 ≤ 20 ms", max_p95_ms=20),
        explain=True,
    ),
    *[
        Scenario(
            name=name,
            method="GET",
            path=path,
            description=_queue_description(what),
            staff_session=True,
            session="handler",
            check=_check_queue(*markers),
            goal=Goal("p95 ≤ 100 ms (first page, 1,000,000 cases)", max_p95_ms=100),
            explain=True,
            explain_query=r'FROM "cases_case" .* LIMIT 51$',
            results=queue_rows,
        )
        for name, path, what, markers in (
            (
                "case-queue",
                "/staff/cases/",
                "the default view — open cases of the handler's department, nearest deadline "
                "first.",
                (),
            ),
            (
                "case-queue-review-overdue",
                "/staff/cases/?status=in_review&overdue=1",
                "filtered to 審査中 and past the deadline (期限超過).",
                ('class="status status-in_review"', 'class="overdue"'),
            ),
            (
                "case-queue-unassigned",
                "/staff/cases/?assignee=none",
                "filtered to unassigned open cases (担当者: 未割当).",
                (),
            ),
        )
    ],
]


# --- Raw-DB scripts for writes -----------------------------------------------------------------
#
# The captured SQL of a write holds values that must differ per transaction (primary keys,
# unique keys, numbers read under a row lock). ``write_script`` replays the captured statements
# unchanged except for those values: pgbench variables for fresh random ones (\set), values
# read under the same row locks (\gset) and ids returned by INSERT … RETURNING (\gset).

UUID_VAR = ":u1-0000-4000-8000-:u2"  # 8 + 12 random decimal digits: a valid, fresh UUID
SCRIPT_HEADER = "\\set u1 random(10000000, 99999999)\n\\set u2 random(100000000000, 999999999999)\n"
# Integer columns that hold another row's id without a foreign key.
EXTRA_REFERENCES = {("cases_case", "history_applied_id"): "procedures_statuschange"}
_INSERT_RE = re.compile(
    r'^INSERT INTO "(\w+)" \((.*?)\) VALUES \((.*)\)( RETURNING "\w+"\."(\w+)")?$', re.S
)
_REFERENCE_RE = re.compile(r'(?:"(\w+)"\.)?"(\w+)" = (\d+)\b')
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


@dataclass
class Capture:
    """One request made in-process while recording its SQL."""

    path: str
    sql: list[str]
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    script: str = ""  # the pgbench script replayed for it
    plan: str = ""  # EXPLAIN ANALYZE of its first query, where the scenario asks for it
    idle_ms: float = 0.0  # median time of the request in-process on an idle server (GET)

    @property
    def statements(self) -> int:
        """Round trips to the database (transaction control included, BEGIN/COMMIT not)."""
        return sum(1 for sql in self.sql if sql.strip().upper() not in _CONTROL)

    @property
    def transactions(self) -> int:
        """Database transactions: explicit blocks, and every statement outside one."""
        count, in_block = 0, False
        for sql in self.sql:
            word = sql.strip().upper()
            if word == "BEGIN":
                count, in_block = count + 1, True
            elif word in ("COMMIT", "ROLLBACK"):
                in_block = False
            elif not in_block:
                count += 1
        return count


def split_values(text: str) -> list[str]:
    """The top-level items of an SQL VALUES tuple as Django writes it (quotes, E'', parens)."""
    parts: list[str] = []
    depth, start, index, quote, escapes = 0, 0, 0, False, False
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and escapes:
                index += 1
            elif char == "'":
                if text[index + 1 : index + 2] == "'":
                    index += 1
                else:
                    quote = False
        elif char == "'":
            quote, escapes = True, index > 0 and text[index - 1] in "Ee"
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
        index += 1
    parts.append(text[start:].strip())
    return parts


def foreign_keys() -> dict[tuple[str, str], str]:
    """(table, column) → the table it points to, for every model, plus EXTRA_REFERENCES."""
    from django.apps import apps

    keys = dict(EXTRA_REFERENCES)
    for model in apps.get_models(include_auto_created=True):
        for model_field in model._meta.concrete_fields:
            if model_field.is_relation and model_field.related_model is not None:
                related = model_field.related_model._meta.db_table  # type: ignore[union-attr]
                keys[(model._meta.db_table, model_field.column)] = related
    return keys


def returned_ids(sql: list[str]) -> list[int]:
    """The ids the capture's INSERT … RETURNING statements got, in statement order.

    Read back from the tables right after the capture (nothing else writes meanwhile).
    """
    from django.db import connection

    tables = [m.group(1) for m in map(_INSERT_RE.match, sql) if m and m.group(4)]
    ids: dict[str, list[int]] = {}
    with connection.cursor() as cursor:
        for table in set(tables):
            cursor.execute(
                f'SELECT "id" FROM "{table}" ORDER BY "id" DESC LIMIT %s', [tables.count(table)]
            )
            ids[table] = sorted(row[0] for row in cursor.fetchall())
    return [ids[table].pop(0) for table in tables]


def write_script(capture: Capture) -> str:
    """The pgbench script for a captured submission: same statements, fresh values.

    Fresh per transaction: the application id (UUID_VAR), the idempotency key, the receipt
    number (counter row read FOR UPDATE, + 1), audit entries (chain head read FOR UPDATE:
    sequence + 1, its hash as prev_hash, a fresh entry hash) and every id an INSERT returned.
    Fails when the captured SQL no longer has the expected shape.
    """
    app_id = str(capture.body["id"])
    receipt = str(capture.body["receipt_number"])
    key = capture.headers["Idempotency-Key"]
    year = receipt.split("-")[0]
    literals = {
        f"'{app_id.replace('-', '')}'::uuid": f"'{UUID_VAR}'::uuid",
        app_id: UUID_VAR,
        key: f"bench-{UUID_VAR}",
        receipt: f"{year}-:receipt",
    }
    fks = foreign_keys()
    ids = iter(returned_ids(capture.sql))
    returned: list[tuple[str, int, str]] = []  # (table, captured id, pgbench variable)
    old_hashes: list[str] = []
    audit_entries = 0
    seen = {"head": 0, "counter": 0}
    lines = [SCRIPT_HEADER.rstrip("\n")]

    def reference(table: str | None, column: str, value: str) -> str | None:
        for target, captured, variable in reversed(returned):
            if str(captured) != value:
                continue
            if (column == "id" and table == target) or fks.get((table or "", column)) == target:
                return f":{variable}"
        return None

    for number, original in enumerate(capture.sql):
        sql = original.strip()
        for old, new in literals.items():
            sql = sql.replace(old, new)
        suffix = ";"
        extra: list[str] = []
        insert = _INSERT_RE.match(sql)
        if insert:
            table, columns_sql, values_sql = insert.group(1), insert.group(2), insert.group(3)
            columns = [c.strip().strip('"') for c in columns_sql.split(",")]
            values = split_values(values_sql)
            if len(columns) != len(values):
                raise BenchError(f"cannot read the VALUES of statement {number}: {sql[:200]}")
            for index, (column, value) in enumerate(zip(columns, values, strict=True)):
                replacement = reference(table, column, value)
                if replacement:
                    values[index] = replacement
            if table == "core_auditentry":
                audit_entries += 1
                slots = {column: index for index, column in enumerate(columns)}
                old_hashes.append(values[slots["entry_hash"]].strip("'"))
                values[slots["sequence"]] = ":head_last_sequence + 1"
                values[slots["prev_hash"]] = "':head_last_hash'"
                values[slots["entry_hash"]] = f"':u1-:u2-a{audit_entries}'"
            sql = (
                f'INSERT INTO "{table}" ({columns_sql}) VALUES ({", ".join(values)})'
                f"{insert.group(4) or ''}"
            )
            if insert.group(4):
                variable = f"r{len(returned) + 1}_"
                returned.append((table, next(ids), f"{variable}{insert.group(5)}"))
                suffix = f" \\gset {variable}"
        else:
            updated = re.match(r'^UPDATE "(\w+)"', sql)
            main = updated.group(1) if updated else None

            def swap(match: re.Match[str], main: str | None = main) -> str:
                found = reference(match.group(1) or main, match.group(2), match.group(3))
                text = match.group(0)
                return text[: -len(match.group(3))] + found if found else text

            sql = _REFERENCE_RE.sub(swap, sql)
        if sql.startswith("SELECT") and sql.endswith("FOR UPDATE"):
            if 'FROM "core_auditchainhead"' in sql:
                suffix, seen["head"] = " \\gset head_", seen["head"] + 1
            elif 'FROM "procedures_receiptcounter"' in sql:
                suffix, seen["counter"] = " \\gset rc_", seen["counter"] + 1
                extra.append("\\set receipt :rc_last_number + 1")
        elif sql.startswith('UPDATE "core_auditchainhead" SET'):
            sql, replaced = re.subn(
                r'"last_sequence" = \d+, "last_hash" = \'[0-9a-f]{64}\'',
                f'"last_sequence" = :head_last_sequence + 1, "last_hash" = \':u1-:u2-a{audit_entries}\'',
                sql,
            )
            if replaced != 1:
                raise BenchError(f"unexpected audit chain update: {sql[:200]}")
        elif sql.startswith('UPDATE "procedures_receiptcounter" SET'):
            sql, replaced = re.subn(r'"last_number" = \d+', '"last_number" = :receipt', sql)
            if replaced != 1:
                raise BenchError(f"unexpected receipt counter update: {sql[:200]}")
        lines.append(sql + suffix)
        lines.extend(extra)
    script = "\n".join(lines) + "\n"
    if not (seen["head"] and seen["counter"] and audit_entries):
        raise BenchError(
            "the captured submission no longer locks the audit chain head and the receipt "
            f"counter as bench/run.py expects ({seen}, {audit_entries} audit entries)"
        )
    stale = [value for value in [*literals, *old_hashes] if value in script]
    if stale:
        raise BenchError(f"captured values left in the pgbench script: {stale}")
    return script


# --- Results -----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    non_2xx: int
    errors: dict[str, int]
    latency_us: dict[str, float]
    connections: int = 0

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
    captures: list[Capture] = field(default_factory=list)
    http: WrkResult | None = None  # at wrk's connections: the throughput run
    http_server: WrkResult | None = None  # at the server's concurrency (goal scenarios)
    http_requests: int = 0  # every response wrk counted, warm-up included
    http_served: int = 0  # requests the server completed (rows created, where countable)
    http_unseen: int = 0  # at most this many more: in flight when a wrk run stopped
    setup_transactions: int = 0  # sample, warm-up, capture, EXPLAIN, idle timing, row counts
    settled_s: float = 0.0  # waited for the backlog of the wrk run before the goal run
    db: PgbenchResult | None = None
    db_transactions: int = 0  # every pgbench transaction, warm-up included
    notes: list[str] = field(default_factory=list)

    @property
    def statements(self) -> float:
        return sum(c.statements for c in self.captures) / len(self.captures)

    @property
    def transactions(self) -> float:
        return sum(c.transactions for c in self.captures) / len(self.captures)

    def statements_label(self) -> str:
        counts = sorted({c.statements for c in self.captures})
        if len(counts) == 1:
            return str(counts[0])
        return f"{counts[0]}–{counts[-1]} (mean {self.statements:.1f})"


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

    def settle(self, *, linger_s: float, timeout_s: float = 60) -> tuple[int, float]:
        """Wait until the requests left by a finished wrk run are served (probes, seconds).

        A ``/healthz`` probe queues behind every connection still in the backlog, so a fast
        answer means they have all been taken by a worker; the ones still in a worker finish
        within about one request's time, ``linger_s``.
        """
        started = time.monotonic()
        probes = 0
        while time.monotonic() - started < timeout_s:
            begin = time.monotonic()
            status, _headers, _body = http_request(self.port, "GET", "/healthz", timeout=30)
            probes += 1
            if status != 200:
                raise BenchError(f"/healthz answered {status} while settling")
            if time.monotonic() - begin < 0.05:
                time.sleep(linger_s)
                return probes, time.monotonic() - started
        raise BenchError(f"gunicorn did not settle within {timeout_s:g} s")

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


def request_headers(scenario: Scenario, session_key: str | None) -> dict[str, str]:
    headers = {}
    if scenario.staff_session and session_key:
        headers["Cookie"] = f"sessionid={session_key}"
    if scenario.body is not None:
        headers["Content-Type"] = "application/json"
    return headers


def request_body(scenario: Scenario, data: dict[str, Any]) -> bytes | None:
    if scenario.body is None:
        return None
    return json.dumps(scenario.body(data), ensure_ascii=False).encode("utf-8")


def capture_sql(
    scenario: Scenario, path: str, session_key: str | None, data: dict[str, Any]
) -> Capture:
    """The SQL Django runs for one (warm) request of the scenario, in order."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST)
    if scenario.staff_session and session_key:
        client.cookies["sessionid"] = session_key
    body = request_body(scenario, data) or ""
    content_type = "application/json" if scenario.body is not None else "application/octet-stream"

    def headers(purpose: str) -> dict[str, str]:
        if scenario.unique_header is None:
            return {}
        return {scenario.unique_header: f"bench-{purpose}-{secrets.token_hex(8)}"}

    # warm per-process caches first
    client.generic(scenario.method, path, body, content_type, headers=headers("warm"))
    sent = headers("capture")
    with CaptureQueriesContext(connection) as captured:
        response = client.generic(scenario.method, path, body, content_type, headers=sent)
    expected = scenario.expect_status
    if (expected and response.status_code != expected) or not 200 <= response.status_code < 300:
        raise BenchError(
            f"{scenario.method} {path} answered {response.status_code} in-process: "
            f"{response.content[:300]!r}"
        )
    return Capture(
        path=path,
        sql=[query["sql"] for query in captured.captured_queries],
        status=response.status_code,
        body=decode_body(response.content, response.get("Content-Type", "")),
        headers=sent,
    )


def sample_request(
    server: Server,
    scenario: Scenario,
    path: str,
    headers: dict[str, str],
    data: dict[str, Any],
) -> None:
    headers = dict(headers)
    if scenario.unique_header:
        headers[scenario.unique_header] = f"bench-sample-{secrets.token_hex(8)}"
    status, response_headers, body = http_request(
        server.port, scenario.method, path, headers=headers, body=request_body(scenario, data)
    )
    if not 200 <= status < 300 or (scenario.expect_status and status != scenario.expect_status):
        raise BenchError(f"{scenario.method} {path} answered {status}: {body[:300]!r}")
    if scenario.check is not None:
        problem = scenario.check(decode_body(body, response_headers.get("Content-Type", "")), data)
        if problem:
            raise BenchError(f"{path}: {problem}")


def decode_body(content: bytes, content_type: str) -> Any:
    """A response body: decoded JSON, or the text of anything else (HTML pages)."""
    if content_type.split(";")[0].strip() == "application/json":
        return json.loads(content)
    return content.decode("utf-8", errors="replace")


def explained_query(scenario: Scenario, sql: list[str]) -> str:
    """The captured query to EXPLAIN: the first matching ``explain_query``, else the first."""
    if not scenario.explain_query:
        return sql[0]
    pattern = re.compile(scenario.explain_query, re.S)
    found = next((query for query in sql if pattern.search(query)), None)
    if found is None:
        raise BenchError(f"{scenario.name}: no captured query matches {scenario.explain_query!r}")
    return found


def explain(sql: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a captured SELECT, after one warm execution."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


IDLE_REPEAT = 15


def idle_time(path: str, repeat: int, session_key: str | None = None) -> float:
    """Median milliseconds of a GET in-process (test client: no HTTP, no queueing).

    Anonymous, or with the given staff session.
    """
    from django.test import Client

    client = Client(HTTP_HOST=HOST)
    if session_key:
        client.cookies["sessionid"] = session_key
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[repeat // 2]


def count_rows(sql: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


def run_wrk(
    args: argparse.Namespace,
    scenario: Scenario,
    base_url: str,
    headers: dict[str, str],
    seconds: float,
    label: str,
    *,
    data: dict[str, Any],
    connections: int | None = None,
) -> WrkResult:
    connections = connections or args.connections
    threads = min(args.wrk_threads, connections)
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
    ]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    env = {**os.environ}
    body = request_body(scenario, data)
    if body is not None:
        body_file = OUT_DIR / f"{scenario.name}-body.json"
        body_file.write_bytes(body)
        env["BENCH_WRK_BODY_FILE"] = str(body_file)
    if len(scenario.request_paths) > 1:
        paths_file = OUT_DIR / f"{scenario.name}-paths.txt"
        paths_file.write_text("\n".join(scenario.request_paths) + "\n", encoding="utf-8")
        env["BENCH_WRK_PATHS_FILE"] = str(paths_file)
    if scenario.unique_header:
        # unique across runs too: the prefix is new for every wrk process
        env["BENCH_WRK_UNIQUE_HEADER"] = (
            f"{scenario.unique_header}: bench-{label}-{secrets.token_hex(6)}"
        )
    if scenario.expect_status:
        env["BENCH_WRK_EXPECT_STATUS"] = str(scenario.expect_status)
    output = run([*cmd, base_url + scenario.request_paths[0]], env=env, timeout=seconds + 60)
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
        connections=connections,
    )
    socket_errors = {k: v for k, v in result.errors.items() if k != "status" and v}
    if result.non_2xx or socket_errors or result.requests == 0:
        raise BenchError(
            f"{label}: {result.non_2xx} unexpected responses (first status "
            f"{raw['first_bad_status']}), socket errors {socket_errors or 'none'}, "
            f"{result.requests} requests — see {OUT_DIR / f'wrk-{label}.txt'}"
        )
    return result


def run_pgbench(
    args: argparse.Namespace,
    pg_env: dict[str, str],
    scripts: list[Path],
    seconds: float,
    label: str,
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
    ]
    for script in scripts:
        cmd += ["-f", str(script)]
    output = run([*cmd, args.db_name], env=pg_env, timeout=seconds + 60)
    (OUT_DIR / f"pgbench-{label}-{round(seconds)}s.txt").write_text(output, encoding="utf-8")
    tps = re.search(r"^tps = ([0-9.]+)", output, re.MULTILINE)
    latency = re.search(r"^latency average = ([0-9.]+) ms", output, re.MULTILINE)
    processed = re.search(r"actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    if not (tps and latency and processed) or (failed and int(failed.group(1))):
        raise BenchError(f"pgbench run of {label} failed or was unreadable:\n{output}")
    return PgbenchResult(
        tps=float(tps.group(1)),
        latency_ms=float(latency.group(1)),
        transactions=int(processed.group(1)),
    )


# --- Machine facts and the report --------------------------------------------------------------


def load_average() -> str:
    """The 1/5/15-minute load averages (other work on the machine skews every number)."""
    with contextlib.suppress(OSError):
        return " / ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    return "?"


def machine_facts(args: argparse.Namespace, server: Server, load_before: str) -> dict[str, str]:
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
        cursor.execute(
            "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) "
            "FROM pg_settings WHERE name IN "
            "('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections')"
        )
        pg_settings = cursor.fetchone()[0]
    commit = first_line(["git", "-C", str(PROJECT_DIR), "rev-parse", "--short", "HEAD"])
    dirty = first_line(["git", "-C", str(PROJECT_DIR), "status", "--porcelain"])
    wrk_version = first_line(["wrk", "-v"]).split(" [")[0]
    return {
        "CPU": f"{cpu}, {os.cpu_count()} logical CPUs (`nproc`)",
        "Memory": memory,
        "Load average": f"{load_before} when the run started, {load_average()} at its end",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "PostgreSQL": f"{pg_version} on 127.0.0.1:5432 (same machine; {pg_settings})",
        "gunicorn": f"{importlib.metadata.version('gunicorn')}, {server.describe()}",
        "psycopg": importlib.metadata.version("psycopg"),
        "Load generator": (
            f"{wrk_version}: `-t{args.wrk_threads} -c{args.connections} -d{args.duration:g}s` "
            f"after a {args.warmup:g} s warm-up, same machine; scenarios with a goal get a "
            f"second run at the server's concurrency, `-c{server_connections(args)}`"
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


def verdict(goal: Goal, result: WrkResult | None) -> str:
    if result is None:
        return "—"
    return "**met**" if goal.met(result) else "**not met**"


def render_report(
    *,
    started: dt.datetime,
    elapsed_s: float,
    facts: dict[str, str],
    data: dict[str, Any],
    results: list[ScenarioResult],
    server_check: str,
    args: argparse.Namespace,
    cases: dict[str, Any] | None = None,
    documents: dict[str, Any] | None = None,
) -> str:
    extra = " ".join(sys.argv[1:])
    command = f".venv/bin/python bench/run.py {extra}" if extra else "make bench"
    low = server_connections(args)
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
        f"{args.connections} concurrent connections (queueing in gunicorn's backlog included): "
        f"with {low} busy workers, a request waits for about {args.connections / low:g} others, "
        "so these percentiles are mostly queueing. Scenarios with a goal from the issue are "
        f"therefore also run with {low} connections, one per worker: every worker has a request "
        "and nothing waits in the backlog, so the latency is the server's own at full load (the "
        "rate can be a little lower: gunicorn's sync workers close the connection after each "
        "response, and a worker idles while wrk reconnects). That run starts once gunicorn has "
        f"served what the {args.connections}-connection run left in its backlog (a `/healthz` "
        "probe answers fast, plus about one request's time), else its first requests would wait "
        "for up to a second behind them. The goal is judged on that run; the verdict at "
        f"{args.connections} connections is shown too.",
        "",
        "## Run",
        "",
        f"- Command: `{command}`, {elapsed_s:.0f} s in all",
        f"- Date: {started.isoformat(timespec='seconds')}",
    ]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    catalog_names = "、".join(data["catalog_municipalities"])
    lines += [
        f"- Data: {data['municipalities']} tenants (兵庫県 280003 and "
        f"{data['municipalities'] - 1} of its municipalities, "
        f"real 全国地方公共団体コード), {data['departments']} departments; the bench user is "
        f"団体管理者 of {data['admin_municipality']} (加古川市) with a TOTP device, so the staff "
        f"list returns {data['admin_departments']} rows. Loaded through `machi.core.services`.",
        f"- Procedures: {data['published_procedures']:,} published. {data['demo_procedures']} "
        "from the demo catalog (加古川市, with forms, and 稲美町's adoptions) through "
        "`machi.procedures.services`; plus the real list of procedures residents file with "
        f"local governments ({data['catalog_rows']:,} rows of "
        "`resident_to_local_gov_applications.csv`: 手続名, 法令名 + 根拠条項号, ライフイベント, "
        f"所管府省庁 → department, オンライン化 → channels) offered by each of {catalog_names}, "
        "bulk-inserted with `search_text` from `procedure_search_text` (what "
        "`procedure_create` stores). `VACUUM ANALYZE` after loading.",
        "- Settings: `MACHI_PRODUCTION=1`, `MACHI_SSL_REDIRECT=0` (plain HTTP on loopback), "
        "`MACHI_LOG_LEVEL=WARNING`, random `MACHI_SECRET_KEY`, `CONN_MAX_AGE=60`, "
        "`MACHI_EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend` (outbox e-mails "
        "are delivered after commit as in production, but to Django's dummy backend: no SMTP, "
        f"no files), database `{args.db_name}` (dropped and recreated each run, left for "
        "inspection).",
        "",
        "## Summary",
        "",
        "| Scenario | HTTP req/s | p50 ms | p95 ms | p99 ms | SQL per request | pgbench tps | "
        f"HTTP ÷ DB | Goal | at {low} conns | at {args.connections} conns |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for result in results:
        assert result.http is not None and result.db is not None
        http_result, db = result.http, result.db
        lat = http_result.latency_us
        goal = result.scenario.goal
        goal_cells = (
            f"{goal.text} | {verdict(goal, result.http_server)} | {verdict(goal, http_result)}"
            if goal
            else "— | | "
        )
        lines.append(
            f"| `{result.scenario.method} {result.scenario.path}` | {http_result.rps:,.0f} | "
            f"{ms(lat['p50'])} | {ms(lat['p95'])} | {ms(lat['p99'])} | "
            f"{result.statements_label()} | {db.tps:,.0f} | {http_result.rps / db.tps:.3f} | "
            f"{goal_cells} |"
        )
    lines += ["", *render_goals(results, args, command, cases)]
    if cases is not None:
        lines += ["", *render_cases(cases, data)]
    for result in results:
        assert result.http is not None and result.db is not None
        lines += ["", *render_scenario(result, args)]
    if documents is not None:
        lines += ["", *render_documents(documents, args)]
    lines += [
        "",
        "## Server-side check",
        "",
        server_check,
        "",
    ]
    return "\n".join(lines)


def render_goals(
    results: list[ScenarioResult],
    args: argparse.Namespace,
    command: str,
    cases: dict[str, Any] | None = None,
) -> list[str]:
    """Every goal of the issue with its verdict and the numbers behind it."""
    low = server_connections(args)
    lines = ["## Goals", ""]
    if cases is not None and cases["cases"] != FULL["cases"]:
        lines += [
            f"> **Not the issue's data size:** the case queue ran over {cases['cases']:,} "
            f"cases, not {FULL['cases']:,}; its verdicts are indicative only.",
            "",
        ]
    lines += [
        f"Judged at {low} connections (one per gunicorn worker: the server's own latency at "
        f"full load); {args.connections} connections (queueing in the backlog) for comparison. "
        f"Reproduce with `{command}` (`.venv/bin/python bench/run.py --quick` for a shorter "
        "developer run; `--help` for the knobs).",
        "",
        f"| Scenario | Goal | Verdict | p95 at {low} conns | req/s at {low} | "
        f"p95 at {args.connections} conns | req/s at {args.connections} |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    judged = [r for r in results if r.scenario.goal is not None]
    for result in judged:
        goal, low_run, high_run = result.scenario.goal, result.http_server, result.http
        assert goal is not None and low_run is not None and high_run is not None
        lines.append(
            f"| `{result.scenario.method} {result.scenario.path}` | {goal.text} | "
            f"{'met' if goal.met(low_run) else 'not met'} at {low} "
            f"({'met' if goal.met(high_run) else 'not met'} at {args.connections}) | "
            f"{ms(low_run.latency_us['p95'])} ms | {low_run.rps:,.0f} | "
            f"{ms(high_run.latency_us['p95'])} ms | {high_run.rps:,.0f} |"
        )
    if not judged:
        lines.append("| (no scenario with a goal ran) | | | | | | |")
    return lines


def render_cases(cases: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """The bulk case data behind the queue scenarios, and the queue's selectors in-process."""
    lines = [
        "## Case queue data",
        "",
        f"{cases['cases']:,} applications with their cases, bulk-inserted by "
        f"`machi.cases.benchmark.bulk_create_cases(n={cases['cases']:_}, "
        f"municipalities={cases['municipalities']})` after the data above (batches of 5,000; "
        f"no services, no audit entries): {cases['cases'] // cases['municipalities']:,} per "
        f"municipality in {cases['municipalities']} of 兵庫県's, one bench procedure each in its "
        f"own department, submitted over the last two years with a 14-day deadline; "
        f"{cases['open_cases']:,} open (受付, 審査中, 補正依頼中, 決裁中: most of them overdue), "
        "the rest 完了 (90 %) or 取下げ; a tenth assigned to the municipality's 担当者. "
        f"{cases['seconds']:.0f} s including `VACUUM ANALYZE` of both tables, then "
        "`VACUUM ANALYZE` of the database.",
        "",
        f"The queue scenarios sign in (password + TOTP, through the login form) as "
        f"`{cases['handler_username']}`, a 担当者 of {cases['handler_municipality']} (加古川市) "
        "only — not the 団体管理者 `bench-admin` of the other scenarios, whose queue would open "
        "on all departments, since an admin has no department of their own. The handler may "
        f"read {cases['handler_readable']:,} cases (加古川市's); their queue opens on their "
        f"department {cases['handler_department']}, which holds "
        f"{cases['handler_department_cases']:,} of them, {cases['handler_default_open']:,} "
        f"open; {cases['handler_assigned']:,} are assigned to them.",
    ]
    timings = cases.get("timings") or []
    if timings:
        lines += [
            "",
            "The queue's data for this handler in-process, idle database, no HTTP, no template "
            "(`machi.cases.benchmark.time_queue_scenarios`: `case_queue_page` + "
            "`case_status_counts`, 5 runs each) — the filter combinations a handler uses:",
            "",
            "| Filters | Rows | SQL statements | Best ms | Median ms |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for timing in timings:
            lines.append(
                f"| {timing['scenario']} | {timing['rows']} | {timing['queries']} | "
                f"{timing['best_ms']:.2f} | {timing['median_ms']:.2f} |"
            )
    return lines


def render_documents(documents: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Signed-and-time-stamped documents per second, its breakdown and the raw pyHanko rate."""
    raw = documents["raw"]
    lines = [
        "## Signed and time-stamped documents",
        "",
        "In the bench process after the HTTP runs (gunicorn stopped; one thread, so one CPU), "
        "with production settings: `machi.documents.benchmark.documents_per_second"
        f"({args.documents_seconds:g}, municipality_code={DOCUMENT_MUNICIPALITY!r})`. Each "
        "document is a 証明書 for a fresh application of 加古川市, through "
        "`documents.services.document_issue`: render the PDF, sign it PAdES "
        f"{documents['pades_level']} with the municipality's organisation certificate, "
        f"time-stamp it ({documents['tsa']} TSA), verify it, then store it and complete the "
        "application in one transaction. The certificates are the TEST document PKI "
        "(`python -m machi documents_pki init`), its two roots trusted through "
        "`MACHI_DOCUMENTS_TRUST_ROOTS`. No goal is given in the issue. Raw equivalent: pyHanko "
        "alone signing the last rendered PDF again and again — same certificate, TSA and "
        "signature settings (B-LT validation data from the same roots and CRLs), keys and "
        "certificates loaded once, no TSA check, no verification, no database "
        "(`bench/document_rate.py`).",
        "",
        "| Measure | Value |",
        "| --- | ---: |",
        f"| Documents issued (after 1 warm-up) | {documents['documents']:,} in "
        f"{documents['wall_seconds']:.1f} s |",
        f"| Documents per second (time inside `document_issue`) | {documents['per_second']:.2f} |",
        f"| Per document p50 / p95 / max | {documents['p50_ms']:.1f} / "
        f"{documents['p95_ms']:.1f} / {documents['max_ms']:.1f} ms |",
        f"| Mean signed PDF size | {documents['mean_pdf_bytes']:,} bytes "
        f"(unsigned: {raw['pdf_bytes']:,}) |",
        f"| Raw: pyHanko sign + time stamp + B-LT data | {raw['per_second']:.2f} documents/s, "
        f"p50 / p95 {raw['p50_ms']:.1f} / {raw['p95_ms']:.1f} ms ({raw['documents']:,} "
        "signatures) |",
        f"| Documents/s ÷ raw pyHanko/s | {documents['per_second'] / raw['per_second']:.3f} |",
        f"| One verification of a signed PDF (`validate_pdf`), for scale | "
        f"{raw['verify_ms']:.1f} ms |",
        "",
        "Where a document's time goes (mean per document, timers around the steps):",
        "",
        "| Step | Mean ms | Share |",
        "| --- | ---: | ---: |",
    ]
    import document_rate

    breakdown = documents["breakdown_ms"]
    total = breakdown["issue"] or 1.0
    for key, label in document_rate.STEPS:
        depth = len(label) - len(label.lstrip(" "))
        text = label.strip()
        if depth:
            text = "↳ " * (depth // 2) + text
        lines.append(f"| {text} | {breakdown[key]:.1f} | {breakdown[key] / total:.0%} |")
    return lines


def compact_sql(statements: list[str]) -> list[str]:
    """The statements for the report: a run of ones that differ only in numbers shown once."""
    lines: list[str] = []
    index = 0
    while index < len(statements):
        shape = re.sub(r"\b\d+\b", "N", statements[index])
        end = index + 1
        while end < len(statements) and re.sub(r"\b\d+\b", "N", statements[end]) == shape:
            end += 1
        lines.append(f"{statements[index]};")
        if end - index > 1:
            lines.append(f"-- … and {end - index - 1} more like it, with other ids")
        index = end
    return lines


def render_scenario(result: ScenarioResult, args: argparse.Namespace) -> list[str]:
    assert result.http is not None and result.db is not None
    scenario, http_result, db = result.scenario, result.http, result.db
    lat = http_result.latency_us
    socket_errors = sum(v for k, v in http_result.errors.items() if k != "status")
    expected = f"non-{scenario.expect_status}" if scenario.expect_status else "non-2xx"
    lines = [
        f"## `{scenario.method} {scenario.path}`",
        "",
        scenario.description,
        "",
        "| Measure | Value |",
        "| --- | ---: |",
        f"| HTTP throughput ({args.connections} connections) | {http_result.rps:,.1f} req/s |",
        f"| Requests ({expected}, socket errors) | {http_result.requests:,} "
        f"({http_result.non_2xx}, {socket_errors}) |",
        f"| Latency p50 / p95 / p99 | {ms(lat['p50'])} / {ms(lat['p95'])} / {ms(lat['p99'])} ms |",
        f"| Latency mean / max | {ms(lat['mean'])} / {ms(lat['max'])} ms |",
    ]
    low = result.http_server
    if low is not None:
        low_lat = low.latency_us
        lines += [
            f"| At {low.connections} connections (one per worker): throughput | "
            f"{low.rps:,.1f} req/s ({low.requests:,} requests, {low.non_2xx} {expected}) |",
            f"| At {low.connections} connections: latency p50 / p95 / p99 | "
            f"{ms(low_lat['p50'])} / {ms(low_lat['p95'])} / {ms(low_lat['p99'])} ms |",
            f"| Before it: waited for the previous run's backlog to drain | "
            f"{result.settled_s:.2f} s |",
        ]
    lines += [
        f"| Raw DB (pgbench, same SQL) | {db.tps:,.1f} tps, {db.latency_ms:.3f} ms average |",
        f"| HTTP req/s ÷ pgbench tps | {http_result.rps / db.tps:.3f} |",
    ]
    if scenario.goal:
        goal = scenario.goal
        lines += [
            f"| Goal (issue): {goal.text} | {verdict(goal, low)} at "
            f"{low.connections if low else '?'} connections; {verdict(goal, http_result)} at "
            f"{args.connections} |",
        ]
    if result.notes:
        lines += ["", *[f"- {note}" for note in result.notes]]
    if scenario.explain:
        lines += [
            "",
            "Per request, on the idle server before the load (Django test client in the bench "
            f"process: no HTTP, no queueing; median of {IDLE_REPEAT}):",
            "",
            "| Request | Results | SQL statements | Main query (EXPLAIN ANALYZE) | Time |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for capture in result.captures:
            found = re.search(r"Execution Time: ([0-9.]+) ms", capture.plan)
            count: int | str = "—"
            if scenario.results is not None:
                count = scenario.results(capture.body)
            elif isinstance(capture.body, list):
                count = len(capture.body)
            lines.append(
                f"| `{urllib.parse.unquote(capture.path)}` | {count} | {capture.statements} | "
                f"{found.group(1) if found else '?'} ms | {capture.idle_ms:.1f} ms |"
            )
    what_explained = "page's case query" if scenario.explain_query else "search"
    for capture in result.captures:
        where = f" for `{urllib.parse.unquote(capture.path)}`" if len(result.captures) > 1 else ""
        origin = "given" if scenario.db_sql is not None else "captured from Django"
        lines += [
            "",
            f"<details><summary>SQL per request{where} ({capture.statements} "
            f"statement{'' if capture.statements == 1 else 's'} in {capture.transactions} "
            f"transaction{'' if capture.transactions == 1 else 's'}, {origin})</summary>",
            "",
            "```sql",
            *compact_sql(capture.sql),
            "```",
            "",
            "</details>",
        ]
        if capture.plan:
            lines += [
                "",
                f"<details><summary>Query plan of the {what_explained}{where} "
                "(EXPLAIN ANALYZE, idle server)</summary>",
                "",
                "```",
                capture.plan,
                "```",
                "",
                "</details>",
            ]
        if scenario.db_script is not None:
            lines += [
                "",
                "<details><summary>The pgbench script replayed for it (fresh values per "
                "transaction)</summary>",
                "",
                "```sql",
                capture.script.rstrip("\n"),
                "```",
                "",
                "</details>",
            ]
    return lines


# --- Main --------------------------------------------------------------------------------------


FULL: dict[str, float] = {
    "duration": 15,
    "warmup": 3,
    "cases": 1_000_000,
    "documents_seconds": 30,
}
QUICK: dict[str, float] = {
    "duration": 5,
    "warmup": 1,
    "cases": 100_000,
    "documents_seconds": 5,
}
CASE_MUNICIPALITIES = 40  # the issue: 1,000,000 cases in 40 municipalities
DOCUMENT_MUNICIPALITY = "282103"  # 加古川市 issues the bench documents
MIN_CASES = 80_000


def parse_args() -> argparse.Namespace:
    cpus = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"for developers: {QUICK['cases']:,} cases, {QUICK['duration']:g} s runs, "
        f"{QUICK['warmup']:g} s warm-ups, {QUICK['documents_seconds']:g} s of documents "
        "(explicit options still win)",
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per measured run (default 15)"
    )
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds of warm-up per run (default 3)"
    )
    parser.add_argument(
        "--cases",
        type=int,
        default=None,
        help="cases bulk-loaded for the queue scenarios, over 40 municipalities (default "
        "1,000,000; 0 skips the queue scenarios)",
    )
    parser.add_argument(
        "--documents-seconds",
        type=float,
        default=None,
        help="seconds of issuing signed, time-stamped documents (default 30; 0 skips it)",
    )
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
    parser.add_argument(
        "--catalog-csv",
        type=Path,
        default=None,
        help="the real procedure list loaded into the catalog (default: dataset.CATALOG_CSV)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[s.name for s in SCENARIOS],
        help="run only this scenario (repeatable; for trying things out)",
    )
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.cases and args.cases < MIN_CASES:
        # the queue pages' checks need full pages and a capped tab count in every filter
        parser.error(
            f"--cases: at least {MIN_CASES:,} "
            f"({MIN_CASES // CASE_MUNICIPALITIES:,} per municipality), or 0"
        )
    if args.worker_class == "sync":
        args.worker_threads = 1
    if args.db_clients is None:
        args.db_clients = args.workers * args.worker_threads
    return args


def measure_http(
    args: argparse.Namespace,
    server: Server,
    result: ScenarioResult,
    sessions: dict[str, str],
    data: dict[str, Any],
) -> None:
    """Sample, capture the SQL, then load the scenario with wrk (gunicorn is up)."""
    scenario = result.scenario
    session_key = sessions.get(scenario.session) if scenario.staff_session else None
    if scenario.staff_session and not session_key:
        raise BenchError(f"{scenario.name}: no signed-in {scenario.session} session")
    headers = request_headers(scenario, session_key)
    for path in scenario.request_paths:
        sample_request(server, scenario, path, headers, data)
        capture = capture_sql(scenario, path, session_key, data)
        capture.script = (
            scenario.db_script(capture)
            if scenario.db_script
            else scenario.db_sql or "".join(f"{sql};\n" for sql in capture.sql)
        )
        # sample (HTTP), warm-up and captured request (in-process)
        result.setup_transactions += 3 * capture.transactions
        if scenario.explain:
            capture.plan = explain(explained_query(scenario, capture.sql))
            capture.idle_ms = idle_time(path, IDLE_REPEAT, session_key)
            result.setup_transactions += 2 + IDLE_REPEAT * capture.transactions
        result.captures.append(capture)
    if scenario.db_sql:
        for capture in result.captures:
            capture.sql = [scenario.db_sql.strip().rstrip(";")]
    created_before = count_rows(scenario.created_sql) if scenario.created_sql else 0
    result.setup_transactions += 2 if scenario.created_sql else 0
    log(
        f"{scenario.name}: {result.statements_label()} SQL per request in "
        f"{result.transactions:g} transactions; wrk warm-up + run"
    )
    runs = [
        run_wrk(
            args,
            scenario,
            server.base_url,
            headers,
            args.warmup,
            f"{scenario.name}-warmup",
            data=data,
        ),
    ]
    result.http = run_wrk(
        args, scenario, server.base_url, headers, args.duration, scenario.name, data=data
    )
    runs.append(result.http)
    message = (
        f"{scenario.name}: {result.http.rps:,.0f} req/s, "
        f"p95 {ms(result.http.latency_us['p95'])} ms at {args.connections} connections"
    )
    if scenario.goal:
        low = server_connections(args)
        # wrk stops with up to one request per connection still queued in gunicorn's backlog:
        # those would delay the first requests of the next run by seconds (slow pages).
        service_s = result.http.latency_us["p50"] / 1e6 * low / args.connections
        probes, waited = server.settle(linger_s=min(3.0, 2 * service_s))
        result.setup_transactions += probes
        result.settled_s = waited
        result.http_server = run_wrk(
            args,
            scenario,
            server.base_url,
            headers,
            args.duration,
            f"{scenario.name}-c{low}",
            data=data,
            connections=low,
        )
        runs.append(result.http_server)
        message += (
            f"; {result.http_server.rps:,.0f} req/s, p95 "
            f"{ms(result.http_server.latency_us['p95'])} ms at {low}"
        )
    result.http_requests = result.http_served = sum(run.requests for run in runs)
    result.http_unseen = sum(run.connections for run in runs)
    log(message)
    if scenario.created_sql:
        created = count_rows(scenario.created_sql) - created_before
        result.http_served, result.http_unseen = created, 0
        result.notes.append(
            f"HTTP: wrk counted {result.http_requests:,} {scenario.expect_status or '2xx'} "
            f"responses (warm-up included); {created:,} rows were created (the extra are "
            "requests still in flight when a wrk run stopped, up to one per connection and "
            "run; they count in the server-side check)."
        )
        if created < result.http_requests:
            raise BenchError(
                f"{scenario.name}: {created} rows created for {result.http_requests} responses"
            )


def queue_timings(username: str) -> list[dict[str, Any]]:
    """The queue's selectors in-process for the user, per filter combination (idle DB)."""
    from machi.cases import benchmark
    from machi.core.models import User

    user = User.objects.get(username=username)
    return [
        dataclasses.asdict(timing) for timing in benchmark.time_queue_scenarios(user=user, repeat=5)
    ]


def measure_db(args: argparse.Namespace, pg_env: dict[str, str], result: ScenarioResult) -> None:
    """Run the scenario's SQL through pgbench (gunicorn is stopped)."""
    scenario = result.scenario
    scripts = []
    for index, capture in enumerate(result.captures):
        suffix = f"-{index + 1}" if len(result.captures) > 1 else ""
        script = OUT_DIR / f"{scenario.name}{suffix}.sql"
        script.write_text(capture.script, encoding="utf-8")
        scripts.append(script)
    created_before = count_rows(scenario.created_sql) if scenario.created_sql else 0
    log(f"{scenario.name}: pgbench warm-up + run")
    warmup = run_pgbench(args, pg_env, scripts, args.warmup, scenario.name)
    result.db = run_pgbench(args, pg_env, scripts, args.duration, scenario.name)
    result.db_transactions = warmup.transactions + result.db.transactions
    log(f"{scenario.name}: {result.db.tps:,.0f} tps")
    if scenario.created_sql:
        created = count_rows(scenario.created_sql) - created_before
        result.notes.append(
            f"pgbench: {result.db_transactions:,} transactions (warm-up included) created "
            f"{created:,} rows."
        )
        if created < result.db_transactions:
            raise BenchError(
                f"{scenario.name}: pgbench created {created} rows in "
                f"{result.db_transactions} transactions: the script does not do the work"
            )
    if scenario.invariant_sql:
        left = count_rows(scenario.invariant_sql)
        if left:
            raise BenchError(f"{scenario.name}: invariant check counted {left}, expected 0")
        if scenario.invariant_note:
            result.notes.append(scenario.invariant_note)


def server_connections(args: argparse.Namespace) -> int:
    """How many requests gunicorn serves at once (and database connections it holds)."""
    return int(args.workers * args.worker_threads)


def main() -> int:
    args = parse_args()
    started = dt.datetime.now().astimezone()
    load_before = load_average()
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
        "MACHI_AUDIT_KEY": secrets.token_urlsafe(50),
        "MACHI_ALLOWED_HOSTS": HOST,
        "MACHI_LOG_LEVEL": "WARNING",
        "MACHI_STATIC_ROOT": str(OUT_DIR / "static"),
        "MACHI_MEDIA_ROOT": str(OUT_DIR / "files"),
        "MACHI_VAR_DIR": str(OUT_DIR / "var"),
        # Signed documents: the TEST document PKI (made by `documents_pki init` below), its
        # roots trusted explicitly, as production requires of real ones.
        "MACHI_DOCUMENTS_PKI_DIR": str(PKI_DIR),
        "MACHI_DOCUMENTS_TRUST_ROOTS": ",".join(
            str(PKI_DIR / "authority" / name) for name in ("org-ca.pem", "tsa-root.pem")
        ),
        "MACHI_TSA_URL": "",  # the built-in TSA, in-process
        # Outbox e-mails are still delivered after each commit, to a backend that drops them.
        "MACHI_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
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

    log("loading bench data through the services (and the catalog CSV in bulk)")
    catalog_csv = args.catalog_csv or dataset.CATALOG_CSV
    try:
        data = dataclasses.asdict(dataset.load(catalog_csv))
        dataset.validate_submission(data["submit_payload"])
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        raise BenchError(str(exc)) from exc
    log(
        f"{data['published_procedures']:,} published procedures; the submission's answers "
        "pass formengine.validate_answers"
    )
    scenarios = [s for s in SCENARIOS if not args.only or s.name in args.only]
    cases: dict[str, Any] | None = None
    if args.cases:
        log(f"bulk-loading {args.cases:,} cases over {CASE_MUNICIPALITIES} municipalities")
        try:
            cases = dataclasses.asdict(dataset.load_cases(args.cases, CASE_MUNICIPALITIES))
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc
        data["handler_username"] = cases["handler_username"]
        data["handler_password"] = cases["handler_password"]
        # bulk_create_cases added a bench department to each case municipality
        from machi.core.models import Department

        data["departments"] = Department.objects.count()
        data["admin_departments"] = Department.objects.filter(
            municipality_id=data["admin_municipality"]
        ).count()
        log(
            f"{cases['cases']:,} cases in {cases['seconds']:.0f} s; the 担当者 reads "
            f"{cases['handler_readable']:,}, their default queue holds "
            f"{cases['handler_default_open']:,} open ones"
        )
    else:
        scenarios = [s for s in scenarios if s.session != "handler"]
        log("--cases 0: no case queue scenarios")
    if args.documents_seconds:
        from django.core.management import call_command

        call_command("documents_pki", "init", "--municipality", DOCUMENT_MUNICIPALITY)
    log("VACUUM ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # planner statistics as a settled database has them
    if cases is not None:
        cases["timings"] = queue_timings(cases["handler_username"])
    connection.close()  # its backend flushes its statistics on exit

    results = [ScenarioResult(scenario) for scenario in scenarios]
    server = Server(env, args)
    transactions_before = settled_db_transactions(args.pg_url, args.db_name)
    try:
        server.start()
        sessions = {"admin": sign_in(server.port, data["admin_username"], data["admin_password"])}
        log("signed in as the bench 団体管理者 (password + TOTP)")
        if any(s.staff_session and s.session == "handler" for s in scenarios):
            sessions["handler"] = sign_in(
                server.port, data["handler_username"], data["handler_password"]
            )
            log("signed in as the bench 担当者 (password + TOTP)")
        for result in results:
            measure_http(args, server, result, sessions, data)
        connection.close()
    finally:
        server.stop()
    transactions = settled_db_transactions(args.pg_url, args.db_name) - transactions_before

    for result in results:
        measure_db(args, pg_env, result)
    connection.close()

    documents: dict[str, Any] | None = None
    if args.documents_seconds:
        import document_rate

        raw_seconds = min(10.0, max(2.0, args.documents_seconds / 3))
        log(
            f"signed documents: issuing for {args.documents_seconds:g} s, then raw pyHanko "
            f"signing for {raw_seconds:g} s"
        )
        try:
            documents = document_rate.measure(
                args.documents_seconds, DOCUMENT_MUNICIPALITY, raw_seconds
            )
        except Exception as exc:
            raise BenchError(f"signed documents: {exc!r}") from exc
        log(
            f"{documents['per_second']:.1f} documents/s (p95 {documents['p95_ms']:.0f} ms); "
            f"raw pyHanko {documents['raw']['per_second']:.1f}/s"
        )
        connection.close()

    expected = sum(r.transactions * r.http_served for r in results)
    unseen = sum(r.transactions * r.http_unseen for r in results)
    expected += sum(r.setup_transactions for r in results)
    server_check = (
        f"PostgreSQL counted {transactions:,} transactions in `{args.db_name}` while gunicorn "
        "ran (pg_stat_database); the captured transactions per request (each statement "
        "outside a transaction block counts as one) × requests served (wrk's count, or "
        "the rows created where a request creates one), plus the bench's own samples, "
        "captures, EXPLAINs, idle timings and settling probes, predict "
        f"{expected:,.0f} (ratio {transactions / expected:.3f}), plus up to {unseen:,.0f} for "
        "requests still in flight when a wrk run stopped (one per connection and run; wrk "
        "does not count them, the server completes them) — ratio "
        f"{transactions / (expected + unseen):.3f} with all of them. The rest of the excess "
        "is sign-in, connection set-up and autovacuum. A ratio "
        "well above 1 would mean the server runs queries the in-process capture missed."
        if expected
        else "No requests were counted."
    )
    if expected and transactions / (expected + unseen) > 1.05:
        log(f"WARNING: server ran {transactions / expected:.2f}× the captured transactions")

    facts = machine_facts(args, server, load_before)
    connection.close()
    report = render_report(
        started=started,
        elapsed_s=time.monotonic() - clock,
        facts=facts,
        data=data,
        results=results,
        server_check=server_check,
        args=args,
        cases=cases,
        documents=documents,
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
