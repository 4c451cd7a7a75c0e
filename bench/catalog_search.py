"""Quick catalog-search measurement: p50/p95 of 1-, 2- and 3+-character queries, in process.

    MACHI_DATABASE_URL=postgres://postgres@127.0.0.1:5432/machi_search_bench \\
        PYTHONPATH=src python bench/catalog_search.py [--procedures 10000] [--rounds 200]

Loads (into an empty, migrated database; reused on a second run) ``--procedures`` published
procedures from the real catalog CSV spread over as many 兵庫県 municipalities as needed, then
times each query through the API view in process (Django test client: routing, the selector
and its in-memory index, serialisation; no HTTP server) and the SQL alone (what the database
spends on the request's statements), then the index's own costs (a rebuild; the catalog version
read by a statement of its own or from the shared cache, the alternatives to reading it in the
page's statement). On PostgreSQL it also times the statement the old selector ran (every column, a
form-number subquery per row, ``LIKE`` under the trigram index) for comparison. Not part of
``make bench``; numbers go to the report of the change, not to a test.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

QUERIES = {
    "1 char": ("税", "犬", "み"),
    "2 chars": ("転出", "ごみ", "児童"),
    "3+ chars": ("住民票", "じゅうみんひょう", "ｼﾞｭｳﾐﾝﾋｮｳ", "児童手当"),
}


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "machi.settings")
    os.environ.setdefault("MACHI_ALLOWED_HOSTS", "testserver")
    import django

    django.setup()


def _load(procedures: int) -> int:
    """Tenants, departments and ``procedures`` catalog rows (if the database has none)."""
    import dataset
    from django.core.management import call_command
    from django.db import transaction

    from machi.core import services
    from machi.core.models import MunicipalityKind
    from machi.procedures.models import Procedure

    call_command("migrate", verbosity=0)
    existing = Procedure.objects.filter(is_published=True).count()
    if existing:
        return existing
    with dataset.CATALOG_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    per_municipality = min(len(rows), procedures)
    count = -(-procedures // per_municipality)
    with transaction.atomic():
        code, name, kana, name_en = dataset.PREFECTURE
        services.municipality_create(
            code=code, name=name, name_kana=kana, name_en=name_en, kind=MunicipalityKind.PREFECTURE
        )
        codes = []
        for body, name, kana, name_en, kind in dataset.MUNICIPALITIES[:count]:
            municipality = services.municipality_create(
                code=dataset.full_code(body),
                name=name,
                name_kana=kana,
                name_en=name_en,
                kind=kind,
                prefecture_code=code,
            )
            codes.append(municipality.code)
            for dept_code, dept_name, dept_kana in dataset.DEPARTMENTS:
                services.department_create(
                    actor=None,
                    municipality_code=municipality.code,
                    code=dept_code,
                    name=dept_name,
                    name_kana=dept_kana,
                )
        with tempfile.TemporaryDirectory() as folder:
            for index, municipality_code in enumerate(codes):
                part = Path(folder) / f"{index}.csv"
                wanted = min(per_municipality, procedures - index * per_municipality)
                with part.open("w", encoding="utf-8", newline="") as handle:
                    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows[:wanted])
                dataset.load_catalog(part, [municipality_code])
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Procedure.objects.filter(is_published=True).count()


@contextmanager
def _sql_timer(spent: list[float]) -> Iterator[None]:
    from django.db import connection

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent.append(time.perf_counter() - started)

    with connection.execute_wrapper(wrapper):
        yield


def _old_statement(q: str) -> Callable[[], int]:
    """The statement the selector ran before the gram index (for comparison, PostgreSQL)."""
    queryset = _old_queryset(q)
    return lambda: len(list(queryset[:50]))


def _old_queryset(q: str) -> Any:
    from django.db.models import OuterRef, Subquery

    from machi.core.japanese import search_key
    from machi.procedures.models import FormVersion, Procedure

    queryset = Procedure.objects.filter(municipality__is_active=True, is_published=True)
    for word in q.split():
        queryset = queryset.filter(search_text__contains=search_key(word))
    number = Subquery(
        FormVersion.objects.filter(procedure=OuterRef("pk"), published_at__isnull=False)
        .order_by("-number")
        .values("number")[:1]
    )
    queryset = (
        queryset.select_related("municipality", "department")
        .annotate(current_form_number=number)
        .order_by("municipality_id", "name_kana", "name")
    )
    return queryset


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def _measure(rounds: int) -> list[tuple[str, str, float, float, float, float, int]]:
    from django.db import connection
    from django.test import Client

    client = Client()
    results = []
    for label, queries in QUERIES.items():
        request_times: list[float] = []
        sql_times: list[float] = []
        hits = 0
        for round_number in range(rounds + 10):
            for q in queries:
                spent: list[float] = []
                url = f"/api/v1/procedures?q={urllib.parse.quote(q)}"
                started = time.perf_counter()
                with _sql_timer(spent):
                    response = client.get(url)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.content[:200]
                if round_number >= 10:  # the first rounds warm caches and connections
                    request_times.append(elapsed)
                    sql_times.append(sum(spent))
                    hits = max(hits, len(response.json()))
        results.append((label, "api", *_percentiles(request_times), *_percentiles(sql_times), hits))
        if connection.vendor == "postgresql":
            old_times: list[float] = []
            for round_number in range(rounds + 10):
                for q in queries:
                    run = _old_statement(q)
                    started = time.perf_counter()
                    run()
                    if round_number >= 10:
                        old_times.append(time.perf_counter() - started)
            p50, p95 = _percentiles(old_times)
            results.append((label, "old SQL", p50, p95, p50, p95, 0))
    return results


def _executions(rounds: int) -> list[tuple[str, float, float, float, float]]:
    """PostgreSQL's own execution time (EXPLAIN ANALYZE) of the page query, new and old."""
    import re

    from django.db import connection

    from machi.procedures import selectors

    def execution_ms(sql: str, params: Any) -> float:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE) {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        found = re.search(r"Execution Time: ([0-9.]+) ms", plan)
        assert found, plan
        return float(found.group(1)) / 1000

    results = []
    for label, queries in QUERIES.items():
        new: list[float] = []
        old: list[float] = []
        for _round in range(rounds):
            for q in queries:
                page = selectors.procedure_search(query=selectors.CatalogQuery(q=q))[:50]
                new.append(execution_ms(*page.query.sql_with_params()))
                old.append(execution_ms(*_old_queryset(q)[:50].query.sql_with_params()))
        results.append((label, *_percentiles(new), *_percentiles(old)))
    return results


def _sqlite_alternatives(rounds: int) -> list[tuple[str, float, float, float, float]]:
    """SQLite: the LIKE on search_text (what the selector does) against LIKEs on the grams."""
    from machi.core.japanese import search_key
    from machi.procedures.models import Procedure
    from machi.procedures.search import key_grams

    published = Procedure.objects.filter(is_published=True, municipality__is_active=True)
    results = []
    for label, queries in QUERIES.items():
        text_times: list[float] = []
        gram_times: list[float] = []
        for _round in range(rounds):
            for q in queries:
                key = search_key(q)
                by_text = published.filter(search_text__contains=key).values_list("pk")[:50]
                by_grams = published.filter(search_grams__holds_all=key_grams(key))
                if len(key) > 2:
                    by_grams = by_grams.filter(search_text__contains=key)
                for queryset, times in ((by_text, text_times), (by_grams, gram_times)):
                    started = time.perf_counter()
                    list(queryset.values_list("pk")[:50])
                    times.append(time.perf_counter() - started)
        results.append((label, *_percentiles(text_times), *_percentiles(gram_times)))
    return results


def _index_costs(rounds: int) -> list[tuple[str, float, float]]:
    """What the in-memory index costs: a rebuild, and reading the catalog version on its own.

    The API reads the version inside the page's own statement (no extra round trip); the other
    two rows are the alternatives it was measured against: a statement of its own per request,
    or a key in the configured shared cache (``MACHI_REDIS_URL``; local memory without it).
    """
    from django.core.cache import cache
    from django.db import connection

    from machi.procedures import search

    def timed(run: Callable[[], Any], times: int) -> tuple[float, float]:
        samples = []
        for _ in range(times):
            started = time.perf_counter()
            run()
            samples.append(time.perf_counter() - started)
        return _percentiles(samples)

    def read_version() -> Any:
        with connection.cursor() as cursor:
            cursor.execute(search.CATALOG_VERSION_SQL)
            return cursor.fetchone()

    costs = [
        ("index rebuild", *timed(lambda: search.build_catalog_index(connection.alias), 10)),
        ("version: own SELECT", *timed(read_version, rounds * 10)),
    ]
    try:
        cache.set("bench:catalog-version", "1", 60)
    except ImportError as exc:  # the Redis backend without its client library
        print(f"(shared cache not measured: {exc})")
        return costs
    costs.append(
        (
            f"version: cache.get ({type(cache).__name__})",
            *timed(lambda: cache.get("bench:catalog-version"), rounds * 10),
        )
    )
    return costs


def _with_trigram_index() -> bool:
    """Recreate the trigram index of migration 0002 so the old statement runs as it used to."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS bench_search_trgm ON procedures_procedure "
            "USING gin (search_text gin_trgm_ops)"
        )
        cursor.execute("ANALYZE procedures_procedure")
    return True


def _drop_trigram_index() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS bench_search_trgm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procedures", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    _setup()
    from django.db import connection

    total = _load(args.procedures)
    trigram = _with_trigram_index()
    try:
        results = _measure(args.rounds)
        executions = _executions(args.rounds) if trigram else []
    finally:
        if trigram:
            _drop_trigram_index()
    costs = _index_costs(args.rounds)
    print(f"{connection.vendor}: {total:,} published procedures, {args.rounds} rounds per query")
    print(
        f"{'queries':<9} {'what':<8} {'p50 ms':>8} {'p95 ms':>8} {'SQL p50':>8} {'SQL p95':>8} hits"
    )
    for label, what, p50, p95, sql50, sql95, hits in results:
        print(f"{label:<9} {what:<8} {p50:8.2f} {p95:8.2f} {sql50:8.2f} {sql95:8.2f} {hits:4}")
    print("In-memory index (p50 / p95 ms)")
    for what, c50, c95 in costs:
        print(f"  {what:<32} {c50:7.3f} / {c95:7.3f}")
    if executions:
        print(
            "PostgreSQL execution time of procedure_search's page query (EXPLAIN ANALYZE, p50 / p95 ms)"
        )
        for label, n50, n95, o50, o95 in executions:
            print(f"{label:<9} new {n50:6.2f} / {n95:6.2f}   old {o50:6.2f} / {o95:6.2f}")
    if connection.vendor == "sqlite":
        print("SQLite, first 50 ids: LIKE on search_text vs LIKE per gram (p50 / p95 ms)")
        for label, t50, t95, g50, g95 in _sqlite_alternatives(args.rounds):
            print(f"{label:<9} search_text {t50:6.2f} / {t95:6.2f}   grams {g50:6.2f} / {g95:6.2f}")


if __name__ == "__main__":
    main()
