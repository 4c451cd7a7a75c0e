"""The pure parts of the benchmark harness (bench/): minimal-SQL scripts, goals, the report.

The harness itself runs against PostgreSQL with wrk and pgbench (`make bench`); these tests
pin what it writes and how it judges, without running any load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import pytest
from django.db import connection

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH_DIR))

import demo  # noqa: E402
import minimal  # noqa: E402
import report  # noqa: E402
import scenarios  # noqa: E402
import task_delivery  # noqa: E402
import writes  # noqa: E402
from capture import Capture  # noqa: E402
from scenarios import SCENARIOS, Goal, PgbenchResult, ScenarioResult, WrkResult  # noqa: E402

from machi.procedures.tests.conftest import shimin, simple_procedure  # noqa: E402, F401 - fixtures


def wrk(rps: float, p95_ms: float, connections: int = 4, non_2xx: int = 0) -> WrkResult:
    return WrkResult(
        requests=int(rps * 10),
        duration_s=10.0,
        non_2xx=non_2xx,
        errors={"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
        latency_us={
            "p50": p95_ms * 500,
            "p95": p95_ms * 1000,
            "p99": p95_ms * 1200,
            "mean": p95_ms * 600,
            "max": p95_ms * 2000,
        },
        connections=connections,
    )


# --- minimal-SQL scripts -----------------------------------------------------------------------


def test_script_statements_counts_sql_only():
    script = (
        "\\set u1 random(1, 2)\nBEGIN;\nSELECT 1;\n-- note\nINSERT INTO t VALUES (1);\nCOMMIT;\n"
    )
    assert minimal.script_statements(script) == 2


def test_submission_script_exact():
    inserts = [
        minimal.InsertStep(
            table="app",
            columns=["id", "key", "receipt"],
            rows=[[minimal.fresh_uuid(1), minimal.fresh_text(2, 80), "NULL"]],
        ),
        minimal.InsertStep(
            table="case",
            columns=["application_id", "receipt"],
            rows=[[minimal.fresh_uuid(1), "''"]],
            returning="id",
            prefix="t1r0_",
        ),
    ]
    head = minimal.HeadStep(
        table="head",
        key_column="chain",
        key_expr="'pgb.:client_id'",
        sequence_column="last_sequence",
        hash_column="last_hash",
        entries=2,
        last_hash_expr="'b:u1:u2.4'",
    )
    entries = minimal.InsertStep(
        table="entry",
        columns=["chain", "sequence", "entry_hash"],
        rows=[["'pgb.:client_id'", head.sequence_expr(i), f"'b:u1:u2.{3 + i}'"] for i in range(2)],
    )
    receipt = minimal.ReceiptStep(
        number_sql="",
        prefix="2026-",
        width=6,
        targets=[
            ("app", "receipt", "id", minimal.fresh_uuid(1)),
            ("case", "receipt", "id", ":t1r0_id"),
        ],
        counter=("counter", "last_number", "id", "7"),
    )
    script = minimal.submission_script(inserts, head=head, entries=entries, receipt=receipt)
    assert script.splitlines() == [
        "\\set u1 random(10000000, 99999999)",
        "\\set u2 random(100000000000, 999999999999)",
        "BEGIN;",
        'INSERT INTO "app" ("id", "key", "receipt") VALUES '
        "(':u1-0000-4000-0001-:u2', 'b:u1:u2.2', NULL);",
        'INSERT INTO "case" ("application_id", "receipt") VALUES '
        "(':u1-0000-4000-0001-:u2', '') RETURNING \"id\" \\gset t1r0_",
        'INSERT INTO "entry" ("chain", "sequence", "entry_hash") VALUES '
        '(\'pgb.:client_id\', ((SELECT "last_sequence" FROM "head" WHERE "chain" = '
        "'pgb.:client_id') + 1), 'b:u1:u2.3'), "
        '(\'pgb.:client_id\', ((SELECT "last_sequence" FROM "head" WHERE "chain" = '
        "'pgb.:client_id') + 2), 'b:u1:u2.4');",
        # the head moves after its entries, onto the last one (the audit guard checks that)
        'UPDATE "head" SET "last_sequence" = "last_sequence" + 2, "last_hash" = '
        "'b:u1:u2.4' WHERE \"chain\" = 'pgb.:client_id';",
        'WITH n AS (UPDATE "counter" SET "last_number" = "last_number" + 1 WHERE "id" = 7 '
        "RETURNING \"last_number\" AS v), r AS (SELECT '2026-' || "
        "lpad(v::text, greatest(6, length(v::text)), '0') AS receipt FROM n), "
        'w0 AS (UPDATE "app" SET "receipt" = r.receipt FROM r WHERE "app"."id" = '
        "':u1-0000-4000-0001-:u2' RETURNING 1) "
        'UPDATE "case" SET "receipt" = r.receipt FROM r WHERE "case"."id" = :t1r0_id;',
        "COMMIT;",
    ]
    # the receipt counter is the last statement before COMMIT: its lock lasts until COMMIT only
    assert minimal.script_statements(script) == 5


def test_receipt_inline_from_a_sequence():
    assert minimal.receipt_expr("machi_receipt_282103_2026", "2026-", 6, first=True) == (
        "'2026-' || lpad(nextval('machi_receipt_282103_2026')::text, 6, '0')"
    )
    assert minimal.receipt_expr("s", "R", 0, first=False) == "'R' || currval('s')::text"


def test_receipt_from_a_sequence_when_no_counter():
    step = minimal.ReceiptStep(number_sql="nextval('s')", prefix="R", width=0, targets=[])
    assert step.sql() == (
        "WITH n AS (SELECT nextval('s') AS v), r AS (SELECT 'R' || v::text AS receipt FROM n) "
        "SELECT receipt FROM r;"
    )


@pytest.mark.parametrize(
    ("receipt", "expected"),
    [
        ("2026-000123", ("2026-", 6, 123)),
        ("2026-123", ("2026-", 0, 123)),
        ("A7", ("A", 0, 7)),
    ],
)
def test_receipt_format(receipt, expected):
    assert minimal.receipt_format(receipt) == expected


def test_receipt_format_refuses_a_number_without_digits():
    with pytest.raises(ValueError, match="does not end in digits"):
        minimal.receipt_format("2026-abc")


def test_fresh_text_refuses_a_column_too_short():
    assert minimal.fresh_text(3, 32) == "'b:u1:u2.3'"
    with pytest.raises(ValueError, match="characters"):
        minimal.fresh_text(3, 16)


def test_literal_quotes_and_null():
    assert minimal.literal("it's") == "'it''s'"
    assert minimal.literal(None) == "NULL"
    assert minimal.ident('a"b') == '"a""b"'


def test_order_steps_puts_referenced_tables_first():
    assert minimal.order_steps(["case", "status", "app"], {"case": {"status", "app"}}) == [
        "status",
        "app",
        "case",
    ]
    with pytest.raises(ValueError, match="cycle"):
        minimal.order_steps(["a", "b"], {"a": {"b"}, "b": {"a"}})


def test_search_sql_uses_bigrams_and_rechecks():
    sql = minimal.search_sql(
        table="p",
        columns=["id", "name"],
        search_column="search_text",
        keys=["転出届"],
        where=['"is_published"'],
        order_by=["name"],
        limit=50,
    )
    assert sql == (
        'SELECT "id", "name" FROM "p" WHERE "is_published" AND '
        "bench_bigrams(\"search_text\") @> ARRAY['転出', '出届']::text[] AND "
        '"search_text" LIKE \'%転出届%\' ORDER BY "name" LIMIT 50'
    )
    assert minimal.bigram_terms("ごみごみ") == ["ごみ", "みご"]
    assert minimal.like_pattern("5%_") == "%5\\%\\_%"


def test_capped_counts_is_one_statement():
    sql = minimal.capped_counts_sql(
        table="cases_case", status_column="status", statuses=["a", "b"], where=["t.x = 1"], cap=1001
    )
    assert sql == (
        'SELECT s.status, (SELECT count(*) FROM (SELECT 1 FROM "cases_case" t WHERE t.x = 1 '
        "AND t.\"status\" = s.status LIMIT 1001) capped) FROM unnest(ARRAY['a', 'b']::text[]) "
        "AS s(status)"
    )
    assert minimal.script_statements(minimal.select_script(sql)) == 1


def test_written_tables_from_captured_sql():
    sql = [
        'SELECT "x" FROM "a"',
        'INSERT INTO "app" ("id") VALUES (\'1\'::uuid)',
        'UPDATE "app" SET "status" = \'submitted\' WHERE "id" = 1',
        'INSERT INTO "entry" ("id") SELECT * FROM UNNEST((\'{1,2}\')::integer[])',
        'INSERT INTO "app" ("id") VALUES (\'2\'::uuid)',
        'UPDATE "counter" SET "n" = 2',
    ]
    assert writes.inserted_tables(sql) == ["app", "entry"]
    assert writes.updated_tables(sql) == ["app", "counter"]


# --- goals and the report ----------------------------------------------------------------------


def test_goal_met_absolute_and_relative():
    submission = Goal("x", min_rps=300, max_p95_ms=150)
    assert submission.met(wrk(300, 150)) is True
    assert submission.met(wrk(299, 10)) is False
    assert submission.met(wrk(500, 151)) is False
    share = Goal("y", share_of="healthz", min_share=0.5)
    assert share.met(wrk(500, 10), wrk(1000, 5)) is True
    assert share.met(wrk(499, 10), wrk(1000, 5)) is False
    assert share.met(wrk(499, 10), None) is None


def test_every_scenario_has_minimal_sql_and_the_issue_goals():
    goals = {s.name: s.goal for s in SCENARIOS}
    assert all(s.minimal is not None for s in SCENARIOS)
    assert goals["healthz"] is None
    assert goals["submit-application"] == Goal(
        "≥ 300 submissions/s and p95 ≤ 150 ms", min_rps=300, max_p95_ms=150
    )
    assert goals["catalog-search"].max_p95_ms == 5
    assert {goals[n].max_p95_ms for n in goals if n.startswith("case-queue")} == {50}
    assert goals["staff-departments"].share_of == "healthz"
    assert goals["staff-departments"].min_share == 0.5


def _args() -> argparse.Namespace:
    return argparse.Namespace(
        goal_connections=4,
        connections=32,
        db_clients=4,
        workers=4,
        worker_threads=1,
        redis_url="",
        db_name="machi_bench",
        duration=3,
        warmup=1,
    )


def _result(name: str, low: WrkResult, high: WrkResult, tps: float | None) -> ScenarioResult:
    scenario = next(s for s in SCENARIOS if s.name == name)
    capture = Capture(path=scenario.path, sql=["SELECT 1"], status=200, body={})
    capture.minimal = minimal.MinimalSQL(script="SELECT 1;\n")
    result = ScenarioResult(scenario, captures=[capture], http=high, http_goal=low)
    if tps is not None:
        result.db = PgbenchResult(tps=tps, latency_ms=0.1, transactions=int(tps * 3))
    return result


def test_goals_judged_at_four_connections_against_healthz():
    results = [
        _result("healthz", wrk(2000, 2), wrk(2100, 16, 32), 20000),
        _result("staff-departments", wrk(1100, 4), wrk(900, 40, 32), None),
    ]
    lines = report.render_goals(results, _args(), "make bench", None, None, None)
    row = next(line for line in lines if "/api/v1/staff/departments" in line)
    # 1,100 ≥ 50% of 2,000 at 4 connections; 900 < 50% of 2,100 at 32
    assert row == (
        "| `GET /api/v1/staff/departments` | ≥ 50% of `/healthz`'s req/s (authenticated "
        "5-query list) | **met** | 4.00 ms | 1,100 | not met | 40.00 ms | 900 |"
    )
    assert lines[-1] == (
        "| task delivery (enqueue on commit → handler ran) | p95 ≤ 1 s | — (not measured "
        "(`--task-count 0`)) | | | | | |"
    )


def test_report_summary_ratio_and_skipped_task_delivery():
    results = [_result("healthz", wrk(2000, 2), wrk(2100, 16, 32), 20000)]
    skipped = task_delivery.DeliveryResult(skipped="no probe")
    text = report.render_report(
        started=dt.datetime(2026, 12, 3, 14, 0, tzinfo=dt.UTC),
        elapsed_s=200,
        facts={"CPU": "test"},
        data={
            "catalog_municipalities": ["281000"],
            "municipalities": 42,
            "departments": 1065,
            "admin_municipality": "282103",
            "admin_departments": 26,
            "published_procedures": 5978,
            "demo_procedures": 34,
            "catalog_rows": 2972,
        },
        results=results,
        server_check="checked",
        args=_args(),
        delivery=skipped,
    )
    assert (
        "| `GET /healthz` | 1 | 1 | 20,000 | 2,000 | 2.00 | 2,100 | 16.00 | 0.100 | — |  |"
        in text.splitlines()
    )
    assert "## Task delivery\n\n**Skipped:** no probe" in text
    assert (
        "| task delivery (enqueue on commit → handler ran) | p95 ≤ 1 s | — (skipped: no probe)"
        in text
    )


def test_demo_section_counts_errors():
    result = demo.DemoResult(gunicorn_args=["--workers", "2"], source="the Makefile", setup_s=20)
    result.runs = [wrk(40, 100, 1), wrk(40, 2000, 16, non_2xx=50)]
    lines = report.render_demo(result, _args())
    assert "| 1 | 40.0 | 50.0 | 100.0 | 120.0 | 200.0 | 0 | 0 |" in lines
    assert "| 16 | 35.0 | 1000.0 | 2000.0 | 2400.0 | 4000.0 | 50 | 0 |" in lines


# --- the SQLite demo and the task delivery probe -----------------------------------------------


def test_demo_gunicorn_args_from_the_makefile_recipe():
    makefile = (
        "demo: install\n"
        "\t$(MANAGE) migrate --noinput\n"
        "\t$(VENV)/bin/gunicorn machi.wsgi:application --workers 2 --threads 4 \\\n"
        "\t\t--bind $(HOST):$(PORT) --backlog 2048 --access-logfile - --error-logfile -\n"
        "\n"
        "test: lint\n"
    )
    assert demo.demo_gunicorn_args(makefile) == [
        "--workers",
        "2",
        "--threads",
        "4",
        "--backlog",
        "2048",
    ]
    assert demo.demo_background_commands(makefile) == []
    assert demo.demo_gunicorn_args("demo:\n\t$(PY) scripts/serve.py\n") is None
    assert demo.demo_gunicorn_args("test:\n\tpytest\n") is None


def test_demo_with_a_worker_beside_gunicorn():
    makefile = (
        "demo: install\n"
        "\t$(DEMO_ENV) $(MANAGE) load-demo --base-url http://$(HOST):$(PORT)\n"
        "\t$(DEMO_ENV) $(MANAGE) tasks-worker & worker=$$!; \\\n"
        "\ttrap 'kill $$worker 2>/dev/null' EXIT INT TERM; \\\n"
        "\t$(DEMO_ENV) $(VENV)/bin/gunicorn machi.wsgi:application --workers 2 --threads 4 \\\n"
        "\t\t--bind $(HOST):$(PORT) --backlog 2048 --access-logfile - --error-logfile -\n"
    )
    assert demo.demo_background_commands(makefile) == [["tasks-worker"]]
    assert demo.demo_gunicorn_args(makefile) == [
        "--workers",
        "2",
        "--threads",
        "4",
        "--backlog",
        "2048",
    ]


def test_demo_gunicorn_args_of_this_repository():
    args = demo.demo_gunicorn_args((BENCH_DIR.parent / "Makefile").read_text(encoding="utf-8"))
    assert args is None or "--bind" not in args


def test_task_delivery_skipped_without_probe(monkeypatch):
    monkeypatch.setattr(task_delivery, "PROBE_MODULE", "machi.no_such_module.probe")
    result = task_delivery.measure({}, count=5, workers=0)
    assert result.skipped.startswith("`machi.no_such_module.probe` is not importable")
    assert result.samples == 0 and result.met is None
    assert report.render_delivery(result)[-1].startswith("**Skipped:**")


def test_task_delivery_goal():
    done = task_delivery.DeliveryResult(samples=10, delivered=10, p50_ms=40, p95_ms=1000)
    assert done.met is True
    assert task_delivery.DeliveryResult(samples=10, delivered=10, p95_ms=1001).met is False
    # one message never delivered: not met, however fast the others were
    assert task_delivery.DeliveryResult(samples=10, delivered=9, p95_ms=5).met is False
    lines = report.render_delivery(done)
    assert "| Goal (issue): p95 ≤ 1 s, every one delivered | **met** |" in lines


@pytest.mark.django_db
def test_row_counts_are_built_from_the_models():
    from django.db import connection

    assert scenarios.submission_created_sql() == (
        'SELECT count(*) FROM "procedures_application" WHERE "channel" = \'api\' '
        "AND \"status\" = 'submitted'"
    )
    submit = next(s for s in SCENARIOS if s.name == "submit-application")
    assert submit.invariant_sql is not None and submit.pending_sql is not None
    with connection.cursor() as cursor:
        for sql in (
            scenarios.submission_created_sql(),
            submit.invariant_sql(),
            submit.pending_sql(),
        ):
            cursor.execute(sql)
            assert cursor.fetchone()[0] == 0


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the minimal SQL reads the captured rows with PostgreSQL's quote_nullable",
)
@pytest.mark.django_db
@pytest.mark.usefixtures("simple_procedure")
def test_minimal_submission_writes_what_the_request_wrote():
    """Against today's submission path: every table it inserts into, none of its values."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    payload = {
        "municipality_code": "282103",
        "procedure": "simple",
        "answers": {"main": {"name": "ベンチ 太郎", "copies": 2}, "confirm": {"agree": True}},
        "contact_email": "bench@example.jp",
    }

    def post(key: str):
        return client.post(
            "/api/v1/applications",
            payload,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key,
        )

    with CaptureQueriesContext(connection) as warm:
        assert post("bench-warm-key").status_code == 201
    snapshot = writes.max_ids([query["sql"] for query in warm.captured_queries])
    with CaptureQueriesContext(connection) as captured:
        response = post("bench-captured-key")
    assert response.status_code == 201, response.content
    body = response.json()
    sql = [query["sql"] for query in captured.captured_queries]

    plan = writes.write_plan(sql=sql, snapshot=snapshot, receipt=body["receipt_number"], clients=2)

    lines = plan.script.splitlines()
    assert lines[:3] == [*minimal.SCRIPT_HEADER, "BEGIN;"]
    assert lines[-1] == "COMMIT;"
    special = {"core_auditchainhead", "procedures_receiptcounter"}
    written = [table for table in writes.inserted_tables(sql) if table not in special]
    assert "procedures_application" in written and "core_auditentry" in written
    for table in written:
        assert f'INSERT INTO "{table}" (' in plan.script
    # fresh values per transaction: nothing unique from the captured request is replayed
    for value in (body["id"], body["id"].replace("-", ""), "bench-captured-key"):
        assert value not in plan.script
    # one INSERT per table (plus one per row others point to), the chain head, the receipt
    assert plan.statements <= len(written) + 4
    assert [statement.split(" SELECT ")[0] for statement in plan.setup[:2]] == [
        'INSERT INTO "core_auditchainhead" ("chain", "last_sequence", "last_hash")',
        'INSERT INTO "core_auditchainhead" ("chain", "last_sequence", "last_hash")',
    ]
