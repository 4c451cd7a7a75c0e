"""`make bench`: production-like Machi on PostgreSQL under load; writes docs/benchmarks.md.

Steps: check wrk/pgbench → recreate the bench database and migrate → load bench data through
Machi's services (plus a ≥ 5,000-procedure catalog in bulk) → bulk-load 1,000,000 cases over 40
municipalities (``--cases``) and a 担当者 to work them → VACUUM ANALYZE → start gunicorn on a
free loopback port → sign in (password + TOTP: the 団体管理者, and the 担当者 for the case
queue) → for each scenario capture the SQL Django runs per request (listed in
bench/out/<scenario>-captured.sql) and build its MINIMAL SQL (the fewest statements the job
needs, ``reads.py`` / ``writes.py``), then load it with wrk at ``--connections`` (32: queueing)
and at ``--goal-connections`` (4: the issue's goals are judged there) → stop gunicorn → task
delivery latency through the task engine's probe (skipped while there is none,
``task_delivery.py``) → each minimal SQL through pgbench (``--db-clients``, default 4): the ratio
is HTTP req/s at 4 connections ÷ minimal-SQL tps → the SQLite demo server (`make demo`'s
gunicorn, demo data, no broker): submissions at 1, 4 and 16 connections (``demo.py``) → issue
signed, time-stamped documents in-process and compare with pyHanko alone
(``document_rate.py``) → write the report, each goal of the issue judged met or not at 4.

Modules: ``scenarios`` (``SCENARIOS``, goals and results), ``minimal`` (pgbench script
builders), ``reads`` / ``writes`` (each scenario's minimal SQL, from ``Model._meta``),
``capture`` (one captured request), ``http_run`` (one scenario over HTTP), ``server``
(gunicorn, requests, sign-in), ``measure`` (SQL capture, EXPLAIN, wrk), ``pgbench``, ``demo``,
``task_delivery``, ``report`` / ``report_sections`` (machine facts, docs/benchmarks.md),
``common`` (paths, helpers, run profiles); this file runs the steps. Add a benchmark by
appending to ``SCENARIOS`` in ``scenarios.py`` (with its ``minimal``). Tests of the pure parts:
tests/test_bench.py.

Knobs (``python bench/run.py --help``):
  --quick                 short developer run: 80,000 cases, 3 s runs, 1 s warm-ups, 3 s of
                          documents, 30 probe tasks (about 4 minutes); explicit options win
  --duration S            seconds per measured run (default 15)
  --warmup S              seconds of warm-up per scenario and pgbench script (default 3)
  --connections N         wrk connections of the queueing run (default 32)
  --goal-connections N    wrk connections the goals are judged at (default 4)
  --db-clients N          pgbench clients for the minimal SQL (default: --goal-connections)
  --cases N               cases bulk-loaded for the queue (default 1,000,000; 0 skips the queue)
  --demo-clients 1,4,16   connections of the SQLite demo runs (empty: skip the demo)
  --task-count N          probe tasks for the delivery latency (default 200; 0 skips it)
  --task-workers N        task workers (`python -m machi tasks-worker`) the bench starts for it
  --documents-seconds S   seconds of issuing signed documents (default 30; 0 skips it)
  --workers / --worker-class / --worker-threads   gunicorn (default 2 × CPUs sync workers)
  --redis-url URL         give the server MACHI_REDIS_URL (cache/sessions on Redis); default none
  --only NAME             run only this scenario (repeatable)
  --pg-url / --db-name / --output / --catalog-csv / --wrk-threads
Artifacts of the last run (captured SQL, minimal pgbench scripts, raw tool output, gunicorn
logs, the demo's SQLite database) go to bench/out/.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import secrets
import signal
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import demo
import task_delivery
from common import (
    CASE_MUNICIPALITIES,
    DOCUMENT_MUNICIPALITY,
    FULL,
    HOST,
    MIN_CASES,
    OUT_DIR,
    PKI_DIR,
    QUICK,
    REPORT,
    BenchError,
    check_tools,
    log,
    recreate_database,
    run,
    settled_db_transactions,
)
from http_run import measure_http
from pgbench import measure_db
from report import load_average, machine_facts, render_report
from scenarios import SCENARIOS, ScenarioResult
from server import Server, sign_in

# --- Main --------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    cpus = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"for developers: {QUICK['cases']:,} cases, {QUICK['duration']:g} s runs, "
        f"{QUICK['warmup']:g} s warm-ups, {QUICK['documents_seconds']:g} s of documents, "
        f"{QUICK['task_count']:g} probe tasks (explicit options still win)",
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
    parser.add_argument(
        "--task-count",
        type=int,
        default=None,
        help="probe tasks for the task delivery latency (default 200; 0 skips it)",
    )
    parser.add_argument(
        "--task-workers", type=int, default=2, help="task workers the bench starts (default 2)"
    )
    parser.add_argument(
        "--demo-clients",
        default="1,4,16",
        help="connections of the SQLite demo runs, comma-separated (empty: skip the demo)",
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="wrk connections of the queueing run"
    )
    parser.add_argument(
        "--goal-connections",
        type=int,
        default=4,
        help="wrk connections the issue's goals are judged at (default 4)",
    )
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2 * cpus, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--worker-threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument(
        "--db-clients",
        type=int,
        default=None,
        help="pgbench clients for the minimal SQL (default: --goal-connections)",
    )
    parser.add_argument("--redis-url", default="", help="MACHI_REDIS_URL for the server")
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
    try:
        args.demo_clients = [int(n) for n in args.demo_clients.split(",") if n.strip()]
    except ValueError:
        parser.error("--demo-clients: comma-separated numbers, e.g. 1,4,16")
    if args.worker_class == "sync":
        args.worker_threads = 1
    if args.db_clients is None:
        args.db_clients = args.goal_connections
    return args


def queue_timings(username: str) -> list[dict[str, Any]]:
    """The queue's selectors in-process for the user, per filter combination (idle DB)."""
    from machi.cases import benchmark
    from machi.core.models import User

    user = User.objects.get(username=username)
    try:
        timings = benchmark.time_queue_scenarios(user=user, repeat=5)
    except Exception as exc:  # the queue's own helper changed: the HTTP numbers still stand
        log(f"queue timings in-process failed: {exc!r}")
        return []
    return [dataclasses.asdict(timing) for timing in timings]


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
        # one load generator sends every anonymous submission from 127.0.0.1
        "MACHI_APPLICATION_RATE_LIMIT": "1000000/s",
    }
    for name in ("MACHI_TEST_DATABASE_URL", "MACHI_REDIS_URL", "MACHI_DEBUG", "MACHI_OIDC_ENABLED"):
        env.pop(name, None)
    if args.redis_url:
        env["MACHI_REDIS_URL"] = args.redis_url
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
    data["db_clients"] = args.db_clients
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
        data["handler_department_id"] = cases["handler_department_id"]
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

    delivery = None
    if args.task_count:
        delivery = task_delivery.measure(env, count=args.task_count, workers=args.task_workers)
        if delivery.skipped:
            log(f"task delivery: skipped — {delivery.skipped}")
        connection.close()

    for result in results:
        measure_db(args, pg_env, result)
    connection.close()

    demo_result = None
    submit = next((s for s in SCENARIOS if s.name == "submit-application"), None)
    if args.demo_clients and submit is not None and (not args.only or submit.name in args.only):
        log("demo: the SQLite demo server (migrate, collectstatic, load-demo)")
        try:
            demo_result = demo.measure_demo(args, submit, data, args.demo_clients)
        except Exception as exc:  # reported: the PostgreSQL numbers stand on their own
            log(f"demo: FAILED: {exc}")
            demo_result = demo.DemoResult(gunicorn_args=[], source="", error=str(exc)[:1500])

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
        except Exception as exc:  # reported: the other numbers stand on their own
            log(f"signed documents: FAILED: {exc!r}")
            documents = {"error": repr(exc)[:1500]}
        else:
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
        delivery=delivery,
        demo_result=demo_result,
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
