"""The raw-database reference: each scenario's minimal SQL through pgbench."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from common import OUT_DIR, BenchError, log, run
from measure import count_rows
from scenarios import PgbenchResult, ScenarioResult


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


def _execute_all(statements: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def measure_db(args: argparse.Namespace, pg_env: dict[str, str], result: ScenarioResult) -> None:
    """Run the scenario's minimal SQL through pgbench (gunicorn is stopped).

    A minimal script that cannot be run is reported (``minimal_error``), not fatal: the HTTP
    numbers stand on their own.
    """
    scenario = result.scenario
    minimal = [c.minimal for c in result.captures if c.minimal is not None]
    if result.minimal_error or not minimal:
        return
    scripts = []
    for index, item in enumerate(minimal):
        suffix = f"-{index + 1}" if len(minimal) > 1 else ""
        script = OUT_DIR / f"{scenario.name}{suffix}-minimal.sql"
        script.write_text(item.script, encoding="utf-8")
        scripts.append(script)
    setup = list(dict.fromkeys(s for item in minimal for s in item.setup))
    teardown = list(dict.fromkeys(s for item in minimal for s in item.teardown))
    created_before = count_rows(scenario.created_sql()) if scenario.created_sql else 0
    log(f"{scenario.name}: minimal SQL ({result.minimal_label()} statements) through pgbench")
    try:
        _execute_all(setup)
        warmup = run_pgbench(args, pg_env, scripts, args.warmup, scenario.name)
        result.db = run_pgbench(args, pg_env, scripts, args.duration, scenario.name)
    except BenchError as exc:
        result.minimal_error = f"pgbench failed: {str(exc)[:1500]}"
        log(f"{scenario.name}: {result.minimal_error}")
        return
    except Exception as exc:  # a setup statement the database refused
        result.minimal_error = f"setup failed: {exc!r}"[:1500]
        log(f"{scenario.name}: {result.minimal_error}")
        return
    finally:
        try:
            _execute_all(teardown)
        except Exception as exc:
            log(f"{scenario.name}: teardown failed: {exc!r}")
    result.db_transactions = warmup.transactions + result.db.transactions
    log(f"{scenario.name}: {result.db.tps:,.0f} tps")
    if scenario.created_sql:
        created = count_rows(scenario.created_sql()) - created_before
        result.notes.append(
            f"pgbench: {result.db_transactions:,} transactions (warm-up included) created "
            f"{created:,} rows."
        )
        if created < result.db_transactions:
            result.minimal_error = (
                f"pgbench created {created} rows in {result.db_transactions} transactions: "
                "the minimal script does not do the work"
            )
            result.db = None


def check_after_http(result: ScenarioResult) -> None:
    """The scenario's invariant (fatal) and pending work (reported) after its HTTP runs."""
    scenario = result.scenario
    if scenario.invariant_sql:
        left = count_rows(scenario.invariant_sql())
        if left:
            raise BenchError(f"{scenario.name}: invariant check counted {left}, expected 0")
        if scenario.invariant_note:
            result.notes.append(scenario.invariant_note)
    if scenario.pending_sql:
        pending = count_rows(scenario.pending_sql())
        result.notes.append(f"{pending:,} {scenario.pending_note}.")
