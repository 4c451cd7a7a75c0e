"""Sections of docs/benchmarks.md beside the scenarios: the case data, signed documents, the
SQLite demo server and the task delivery latency."""

from __future__ import annotations

import argparse
from typing import Any

from common import DOCUMENT_MUNICIPALITY
from demo import DemoResult
from task_delivery import GOAL_P95_S, PROBE_FUNCTION, PROBE_MODULE, DeliveryResult


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
    if "error" in documents:
        return [
            "## Signed and time-stamped documents",
            "",
            f"**Failed:** `{documents['error']}`",
        ]
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


def render_demo(result: DemoResult, args: argparse.Namespace) -> list[str]:
    """The SQLite demo server: submissions/s and latency at each connection count."""
    if result.error:
        return [
            "## The embedded default: `make demo` on SQLite",
            "",
            f"**Failed:** {result.error}",
        ]
    beside = (
        "beside it "
        + ", ".join(f"`python -m machi {' '.join(c)}`" for c in result.background)
        + " (started in the background by the recipe)"
        if result.background
        else "nothing beside it (the recipe starts no background command)"
    )
    lines = [
        "## The embedded default: `make demo` on SQLite",
        "",
        "The demo as `make demo` serves it — development settings, SQLite (a fresh var "
        "directory, `bench/out/demo-var`), the demo data (`load-demo`), no broker — with "
        f"gunicorn `{' '.join(result.gunicorn_args)}` ({result.source}) and {beside}; set up "
        f"(migrate, collectstatic, load-demo) in {result.setup_s:.0f} s. Load: the same "
        "anonymous submission as the PostgreSQL scenario (加古川市 粗大ごみ収集申込, a fresh "
        f"`Idempotency-Key` each), {args.duration:g} s per run after a {args.warmup:g} s "
        "warm-up at 4 connections. Errors are counted, not fatal. No goal in the issue: it asks "
        "that a small municipality could run the demo as is.",
        "",
        "| Connections | Submissions/s (201) | p50 ms | p95 ms | p99 ms | max ms | non-201 | "
        "socket errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in result.runs:
        lat = run.latency_us
        good = (run.requests - run.non_2xx) / run.duration_s
        socket_errors = sum(v for k, v in run.errors.items() if k != "status")
        lines.append(
            f"| {run.connections} | {good:,.1f} | {lat['p50'] / 1000:.1f} | "
            f"{lat['p95'] / 1000:.1f} | {lat['p99'] / 1000:.1f} | {lat['max'] / 1000:.1f} | "
            f"{run.non_2xx:,} | {socket_errors:,} |"
        )
    lines += [
        "",
        f"The SQLite database holds {result.created:,} applications from the measured runs for "
        f"{result.responses_201:,} 201 responses wrk counted (the extra are requests in flight "
        "when a run stopped).",
    ]
    return lines


def render_delivery(result: DeliveryResult | None) -> list[str]:
    """Task delivery: enqueued on commit → handler ran, through the task engine's probe."""
    lines = ["## Task delivery", ""]
    if result is None:
        return [*lines, "Not measured (`--task-count 0`)."]
    if result.skipped:
        return [*lines, f"**Skipped:** {result.skipped}"]
    if result.error:
        return [*lines, f"**Failed:** the probe `{PROBE_MODULE}` raised `{result.error}`."]
    verdict = "**met**" if result.met else "**not met**"
    return [
        *lines,
        f"`{PROBE_MODULE}.{PROBE_FUNCTION}`: {result.samples} probe messages, each enqueued on "
        "the commit of its own transaction 50 ms apart, delivered by "
        f"{result.workers} worker process{'' if result.workers == 1 else 'es'} the bench started (`python -m machi tasks-worker`, "
        f"tasks backend {result.backend}, PostgreSQL, production settings); the time from "
        "that commit to the worker's `sent_at`.",
        "",
        "| Measure | Value |",
        "| --- | ---: |",
        f"| Before it: workers started and worked off the HTTP runs' backlog | "
        f"{result.drained_s:.1f} s |",
        f"| Delivered | {result.delivered} of {result.samples} within 60 s |",
        f"| p50 / p95 / max | {result.p50_ms:.1f} / {result.p95_ms:.1f} / {result.max_ms:.1f} ms |",
        f"| Goal (issue): p95 ≤ {GOAL_P95_S:g} s, every one delivered | {verdict} |",
    ]
