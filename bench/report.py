"""Machine facts and docs/benchmarks.md: each goal of the issue judged met or not."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from common import FULL, PROJECT_DIR, server_connections
from demo import DemoResult
from measure import IDLE_REPEAT
from report_sections import render_cases, render_delivery, render_demo, render_documents
from scenarios import Goal, ScenarioResult, WrkResult
from server import Server
from task_delivery import GOAL_P95_S, DeliveryResult

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
            f"{wrk_version}: `-t{args.wrk_threads} -c{args.goal_connections} -d{args.duration:g}s` "
            f"(the goals) and `-c{args.connections}` (queueing), after a {args.warmup:g} s "
            "warm-up, same machine"
        ),
        "Raw DB": (
            f"{first_line(['pgbench', '--version'])}: each scenario's minimal SQL, `-n -M simple "
            f"-c {args.db_clients} -j {min(args.wrk_threads, args.db_clients)} "
            f"-T {round(args.duration)}` after a {args.warmup:g} s warm-up"
        ),
        "Commit": commit + (" (+ uncommitted changes)" if dirty not in ("", "?") else ""),
    }


def ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.2f}"


def judge(
    goal: Goal, result: WrkResult | None, by_name: dict[str, ScenarioResult], goal_run: bool
) -> bool | None:
    """Met, not met, or None (not measured, or its reference scenario did not run)."""
    if result is None:
        return None
    reference = None
    if goal.share_of is not None and goal.share_of in by_name:
        other = by_name[goal.share_of]
        reference = other.http_goal if goal_run else other.http
    return goal.met(result, reference)


def verdict_text(value: bool | None, bold: bool = True) -> str:
    if value is None:
        return "—"
    text = "met" if value else "not met"
    return f"**{text}**" if bold else text


def ratio(result: ScenarioResult) -> str:
    if result.http_goal is None or result.db is None or result.db.tps <= 0:
        return "—"
    return f"{result.http_goal.rps / result.db.tps:.3f}"


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
    delivery: DeliveryResult | None = None,
    demo_result: DemoResult | None = None,
) -> str:
    extra = " ".join(sys.argv[1:])
    command = f".venv/bin/python bench/run.py {extra}" if extra else "make bench"
    low, high = args.goal_connections, args.connections
    lines = [
        "# Benchmarks",
        "",
        "<!-- Written by bench/run.py (`make bench`); rewritten on every run, do not edit. -->",
        "",
        "Production-like Machi (gunicorn, `MACHI_PRODUCTION=1`, PostgreSQL) under load from "
        "wrk on loopback, next to pgbench running each scenario's minimal SQL straight against "
        "the database; then the SQLite demo server as `make demo` runs it.",
        "",
        "## How to read this",
        "",
        "All numbers come from one run on one shared machine: the load generator, gunicorn and "
        "PostgreSQL compete for the same CPUs, and machines (and neighbours on them) are noisy. "
        "Compare **ratios within one run** and runs only on the same machine; do not quote "
        "bare req/s or milliseconds as facts about production. Every scenario runs at "
        f"**{low} connections** — the issue's goals are judged there: with {server_connections(args)} "
        f"gunicorn workers almost every request finds a free worker, so the latency is the "
        f"server's own at full load — and at {high} connections, where a request waits for "
        f"about {high / server_connections(args):g} others in gunicorn's backlog (queueing, "
        "shown for comparison). **Minimal SQL** is, per scenario, the fewest statements its "
        "job needs, hand-written from the models (`bench/reads.py`, `bench/writes.py`) — not a "
        "replay of what the code runs today — with fresh values per transaction; pgbench runs "
        f"it with {args.db_clients} clients. **HTTP ÷ minimal** = req/s at {low} connections ÷ "
        "minimal-SQL tps: the share of what the database could do for the same job that "
        "survives Django, middleware, templates and HTTP (near 1: the database is the "
        "bottleneck; small: time goes to Python). The statements Django really ran for one "
        "request are counted in *SQL per request* and listed per scenario below and in "
        "`bench/out/<scenario>-captured.sql`.",
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
        "`MACHI_APPLICATION_RATE_LIMIT=1000000/s` (one load generator, one address), "
        "`MACHI_EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend` (no SMTP, no "
        f"files), {'`MACHI_REDIS_URL` ' + args.redis_url if args.redis_url else 'no Redis'}, "
        f"database `{args.db_name}` (dropped and recreated each run, left for inspection).",
        "",
        "## Summary",
        "",
        f"| Scenario | SQL per request | Minimal SQL | Minimal tps | req/s at {low} | "
        f"p95 ms at {low} | req/s at {high} | p95 ms at {high} | HTTP ÷ minimal | Goal | "
        f"Verdict at {low} (at {high}) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    by_name = {r.scenario.name: r for r in results}
    for result in results:
        assert result.http is not None and result.http_goal is not None
        goal = result.scenario.goal
        goal_cells = "— | "
        if goal is not None:
            at_low = verdict_text(judge(goal, result.http_goal, by_name, True))
            at_high = verdict_text(judge(goal, result.http, by_name, False), bold=False)
            goal_cells = f"{goal.text} | {at_low} ({at_high})"
        tps = f"{result.db.tps:,.0f}" if result.db else "—"
        lines.append(
            f"| `{result.scenario.method} {result.scenario.path}` | {result.statements_label()} "
            f"| {result.minimal_label()} | {tps} | {result.http_goal.rps:,.0f} | "
            f"{ms(result.http_goal.latency_us['p95'])} | {result.http.rps:,.0f} | "
            f"{ms(result.http.latency_us['p95'])} | {ratio(result)} | {goal_cells} |"
        )
    lines += ["", *render_goals(results, args, command, cases, delivery, demo_result)]
    if cases is not None:
        lines += ["", *render_cases(cases, data)]
    for result in results:
        lines += ["", *render_scenario(result, args)]
    lines += ["", *render_delivery(delivery)]
    if demo_result is not None:
        lines += ["", *render_demo(demo_result, args)]
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
    delivery: DeliveryResult | None = None,
    demo_result: DemoResult | None = None,
) -> list[str]:
    """Every goal of the issue with its verdict at the goal's connections."""
    low, high = args.goal_connections, args.connections
    lines = ["## Goals", ""]
    if cases is not None and cases["cases"] != FULL["cases"]:
        lines += [
            f"> **Not the issue's data size:** the case queue ran over {cases['cases']:,} "
            f"cases, not {FULL['cases']:,}; its verdicts are indicative only.",
            "",
        ]
    lines += [
        f"Judged at {low} connections; {high} connections (queueing in the backlog) for "
        f"comparison. Reproduce with `{command}` (`.venv/bin/python bench/run.py --quick` for "
        "a shorter developer run; `--help` for the knobs).",
        "",
        f"| Scenario | Goal | Verdict at {low} | p95 at {low} | req/s at {low} | "
        f"Verdict at {high} | p95 at {high} | req/s at {high} |",
        "| --- | --- | --- | ---: | ---: | --- | ---: | ---: |",
    ]
    by_name = {r.scenario.name: r for r in results}
    judged = [r for r in results if r.scenario.goal is not None]
    for result in judged:
        goal, low_run, high_run = result.scenario.goal, result.http_goal, result.http
        assert goal is not None and low_run is not None and high_run is not None
        lines.append(
            f"| `{result.scenario.method} {result.scenario.path}` | {goal.text} | "
            f"{verdict_text(judge(goal, low_run, by_name, True))} | "
            f"{ms(low_run.latency_us['p95'])} ms | {low_run.rps:,.0f} | "
            f"{verdict_text(judge(goal, high_run, by_name, False), bold=False)} | "
            f"{ms(high_run.latency_us['p95'])} ms | {high_run.rps:,.0f} |"
        )
    if delivery is not None and not delivery.skipped and not delivery.error:
        lines.append(
            f"| task delivery (enqueue on commit → handler ran) | p95 ≤ {GOAL_P95_S:g} s | "
            f"{verdict_text(delivery.met)} | {delivery.p95_ms:.1f} ms | | | | |"
        )
    else:
        why = (
            "not measured (`--task-count 0`)"
            if delivery is None
            else "skipped: " + delivery.skipped
            if delivery.skipped
            else "probe failed: " + delivery.error
        )
        lines.append(
            f"| task delivery (enqueue on commit → handler ran) | p95 ≤ {GOAL_P95_S:g} s | "
            f"— ({why}) | | | | | |"
        )
    if not judged:
        lines.append("| (no scenario with a goal ran) | | | | | | | |")
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


def _run_rows(label: str, run: WrkResult, expected: str) -> list[str]:
    lat = run.latency_us
    socket_errors = sum(v for k, v in run.errors.items() if k != "status")
    return [
        f"| {label}: throughput | {run.rps:,.1f} req/s ({run.requests:,} requests, "
        f"{run.non_2xx} {expected}, {socket_errors} socket errors) |",
        f"| {label}: latency p50 / p95 / p99 / max | {ms(lat['p50'])} / {ms(lat['p95'])} / "
        f"{ms(lat['p99'])} / {ms(lat['max'])} ms |",
    ]


def render_scenario(result: ScenarioResult, args: argparse.Namespace) -> list[str]:
    assert result.http is not None and result.http_goal is not None
    scenario, db = result.scenario, result.db
    expected = f"non-{scenario.expect_status}" if scenario.expect_status else "non-2xx"
    low, high = args.goal_connections, args.connections
    lines = [
        f"## `{scenario.method} {scenario.path}`",
        "",
        scenario.description,
        "",
        "| Measure | Value |",
        "| --- | ---: |",
        *_run_rows(f"At {low} connections", result.http_goal, expected),
        *_run_rows(f"At {high} connections", result.http, expected),
        f"| SQL per request (captured from Django) | {result.statements_label()} statements in "
        f"{result.transactions:g} transactions |",
        f"| Minimal SQL per request | {result.minimal_label()} statements |",
    ]
    if db is not None:
        lines += [
            f"| Minimal SQL through pgbench ({args.db_clients} clients) | {db.tps:,.1f} tps, "
            f"{db.latency_ms:.3f} ms average |",
            f"| HTTP req/s at {low} ÷ minimal tps | {ratio(result)} |",
        ]
    else:
        lines.append(f"| Minimal SQL through pgbench | not run: {result.minimal_error or '—'} |")
    if scenario.goal:
        lines.append(
            f"| Goal (issue): {scenario.goal.text} | see *Goals* (judged at {low} connections) |"
        )
    notes = [*result.notes]
    notes += [note for c in result.captures if c.minimal for note in c.minimal.notes]
    if notes:
        lines += ["", *[f"- {note}" for note in dict.fromkeys(notes)]]
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
    for index, capture in enumerate(result.captures):
        where = f" for `{urllib.parse.unquote(capture.path)}`" if len(result.captures) > 1 else ""
        suffix = f"-{index + 1}" if len(result.captures) > 1 else ""
        lines += [
            "",
            f"<details><summary>SQL per request{where} ({capture.statements} "
            f"statement{'' if capture.statements == 1 else 's'} in {capture.transactions} "
            f"transaction{'' if capture.transactions == 1 else 's'}, captured from Django; all "
            f"of them in `bench/out/{scenario.name}{suffix}-captured.sql`)</summary>",
            "",
            "```sql",
            *compact_sql(capture.sql),
            "```",
            "",
            "</details>",
        ]
        if capture.minimal is not None:
            lines += [
                "",
                f"<details><summary>Minimal SQL{where} ({capture.minimal.statements} "
                f"statement{'' if capture.minimal.statements == 1 else 's'}: the pgbench "
                "script)</summary>",
                "",
                "```sql",
                capture.minimal.script.rstrip("\n"),
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
    return lines
