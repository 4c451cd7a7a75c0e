"""Measurements over HTTP: SQL capture in-process, EXPLAIN, idle timings and wrk runs."""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import time
from typing import Any

from capture import Capture
from common import HOST, LUA_SCRIPT, OUT_DIR, BenchError, run
from scenarios import Scenario, WrkResult
from server import Server, http_request

# --- Measurements ------------------------------------------------------------------------------


def session_cookie() -> str:
    """The session cookie's name (Django's setting: the bench follows what the server uses)."""
    from django.conf import settings

    return str(settings.SESSION_COOKIE_NAME)


def request_headers(scenario: Scenario, session_key: str | None) -> dict[str, str]:
    headers = {}
    if scenario.staff_session and session_key:
        headers["Cookie"] = f"{session_cookie()}={session_key}"
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
        client.cookies[session_cookie()] = session_key
    body = request_body(scenario, data) or ""
    content_type = "application/json" if scenario.body is not None else "application/octet-stream"

    def headers(purpose: str) -> dict[str, str]:
        if scenario.unique_header is None:
            return {}
        return {scenario.unique_header: f"bench-{purpose}-{secrets.token_hex(8)}"}

    # warm per-process caches first; a write's warm-up says which tables to snapshot
    with CaptureQueriesContext(connection) as warm:
        client.generic(scenario.method, path, body, content_type, headers=headers("warm"))
    snapshot = {}
    if scenario.unique_header is not None:
        import writes

        snapshot = writes.max_ids([query["sql"] for query in warm.captured_queries])
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
        snapshot=snapshot,
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


def explained_query(scenario: Scenario, sql: list[str]) -> str | None:
    """The captured query to EXPLAIN: the first matching ``explain_query`` (None when none
    does: the code changed, the report then shows no plan), else the first SELECT."""
    selects = [query for query in sql if query.lstrip().upper().startswith(("SELECT", "WITH"))]
    if not scenario.explain_query:
        return selects[0] if selects else None
    pattern = re.compile(scenario.explain_query, re.S)
    return next((query for query in selects if pattern.search(query)), None)


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
        client.cookies[session_cookie()] = session_key
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
    strict: bool = True,
    warmup: bool = False,
) -> WrkResult:
    """One wrk run. ``strict``: any unexpected status or socket error fails the bench (else
    they are counted in the result, for the report). A ``warmup`` may end before any response
    (slow pages on a busy machine); a measured run may not."""
    connections = connections or args.connections
    threads = min(args.wrk_threads, connections)
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",  # wrk takes whole seconds
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
    output = run([*cmd, base_url + scenario.request_paths[0]], env=env, timeout=seconds + 90)
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
    if (result.requests == 0 and not warmup) or (strict and (result.non_2xx or socket_errors)):
        raise BenchError(
            f"{label}: {result.non_2xx} unexpected responses (first status "
            f"{raw['first_bad_status']}), socket errors {socket_errors or 'none'}, "
            f"{result.requests} requests — see {OUT_DIR / f'wrk-{label}.txt'}"
        )
    return result
