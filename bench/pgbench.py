"""The raw-database equivalent: the same SQL through pgbench."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from common import OUT_DIR, BenchError, run
from scenarios import PgbenchResult


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
