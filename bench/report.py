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

from common import DOCUMENT_MUNICIPALITY, FULL, PROJECT_DIR, server_connections
from measure import IDLE_REPEAT
from scenarios import Goal, ScenarioResult, WrkResult
from server import Server

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
