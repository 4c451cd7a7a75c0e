"""The raw-database equivalent: the same SQL through pgbench."""

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
