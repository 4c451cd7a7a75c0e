"""One scenario over HTTP: sample, capture the SQL, build its minimal SQL, then wrk at the
queueing connections and at the goal's (gunicorn is up)."""

from __future__ import annotations

import argparse
from typing import Any

from common import OUT_DIR, BenchError, log, server_connections
from measure import (
    IDLE_REPEAT,
    capture_sql,
    count_rows,
    explain,
    explained_query,
    idle_time,
    request_headers,
    run_wrk,
    sample_request,
)
from pgbench import check_after_http
from report import ms
from scenarios import ScenarioResult, WrkResult
from server import Server


def build_minimal(result: ScenarioResult, capture: Any, data: dict[str, Any]) -> None:
    """The scenario's minimal SQL for this captured request (right after it: a write's plan
    reads the rows the request wrote). A failure is reported, not fatal."""
    scenario = result.scenario
    if scenario.minimal is None or result.minimal_error:
        return
    try:
        capture.minimal = scenario.minimal(capture, data)
    except Exception as exc:  # the models changed under the builder: say so in the report
        result.minimal_error = f"cannot build the minimal SQL: {type(exc).__name__}: {exc}"[:800]
        log(f"{scenario.name}: {result.minimal_error}")


def write_captured(result: ScenarioResult) -> None:
    """bench/out/<scenario>[-n]-captured.sql: every statement one request ran."""
    for index, capture in enumerate(result.captures):
        suffix = f"-{index + 1}" if len(result.captures) > 1 else ""
        (OUT_DIR / f"{result.scenario.name}{suffix}-captured.sql").write_text(
            f"-- {result.scenario.method} {capture.path}: {capture.statements} statements in "
            f"{capture.transactions} transactions, captured in-process\n"
            + "".join(f"{sql};\n" for sql in capture.sql),
            encoding="utf-8",
        )


def measure_http(
    args: argparse.Namespace,
    server: Server,
    result: ScenarioResult,
    sessions: dict[str, str],
    data: dict[str, Any],
) -> None:
    """Sample, capture the SQL, build the minimal SQL, then load the scenario with wrk at the
    queueing connections and at the goal's (gunicorn is up)."""
    scenario = result.scenario
    session_key = sessions.get(scenario.session) if scenario.staff_session else None
    if scenario.staff_session and not session_key:
        raise BenchError(f"{scenario.name}: no signed-in {scenario.session} session")
    headers = request_headers(scenario, session_key)
    for path in scenario.request_paths:
        sample_request(server, scenario, path, headers, data)
        capture = capture_sql(scenario, path, session_key, data)
        build_minimal(result, capture, data)
        # sample (HTTP), warm-up and captured request (in-process)
        result.setup_transactions += 3 * capture.transactions
        if scenario.explain:
            query = explained_query(scenario, capture.sql)
            capture.plan = explain(query) if query else ""
            capture.idle_ms = idle_time(path, IDLE_REPEAT, session_key)
            result.setup_transactions += 2 + IDLE_REPEAT * capture.transactions
        result.captures.append(capture)
    write_captured(result)
    created_before = count_rows(scenario.created_sql()) if scenario.created_sql else 0
    result.setup_transactions += 2 if scenario.created_sql else 0
    log(
        f"{scenario.name}: {result.statements_label()} SQL per request in "
        f"{result.transactions:g} transactions (minimal: {result.minimal_label()}); wrk"
    )

    def wrk(seconds: float, label: str, connections: int, warmup: bool = False) -> WrkResult:
        return run_wrk(
            args,
            scenario,
            server.base_url,
            headers,
            seconds,
            label,
            data=data,
            connections=connections,
            warmup=warmup,
        )

    # wrk stops with up to one request per connection still queued in gunicorn's backlog:
    # those would delay the first requests of the next run by seconds (slow pages), so every
    # run starts once they are served.
    runs = [wrk(args.warmup, f"{scenario.name}-warmup", args.connections, warmup=True)]
    warm = runs[0].latency_us["p50"] / 1e6 * server_connections(args) / args.connections
    probes, _waited = server.settle(linger_s=min(3.0, 2 * warm))
    result.setup_transactions += probes
    result.http = wrk(args.duration, scenario.name, args.connections)
    runs.append(result.http)
    low = args.goal_connections
    service_s = result.http.latency_us["p50"] / 1e6 * server_connections(args) / args.connections
    probes, waited = server.settle(linger_s=min(3.0, 2 * service_s))
    result.setup_transactions += probes
    result.settled_s = waited
    result.http_goal = wrk(args.duration, f"{scenario.name}-c{low}", low)
    runs.append(result.http_goal)
    log(
        f"{scenario.name}: {result.http_goal.rps:,.0f} req/s, p95 "
        f"{ms(result.http_goal.latency_us['p95'])} ms at {low} connections; "
        f"{result.http.rps:,.0f} req/s, p95 {ms(result.http.latency_us['p95'])} ms at "
        f"{args.connections}"
    )
    probes, _waited = server.settle(linger_s=min(3.0, 2 * service_s))
    result.setup_transactions += probes
    result.http_requests = result.http_served = sum(run.requests for run in runs)
    result.http_unseen = sum(run.connections for run in runs)
    if scenario.created_sql:
        created = count_rows(scenario.created_sql()) - created_before
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
    check_after_http(result)
