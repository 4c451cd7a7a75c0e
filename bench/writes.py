"""The minimal SQL of a write scenario, derived from the rows one captured request wrote.

See ``minimal.py`` for the rules. Here, through Django (set up against the bench database):
which tables the request INSERTed into (from its captured SQL), which rows are its own (ids
above the ones there before it, or the primary keys its INSERTs named), their values as they
are after it, and the models' metadata (foreign keys, unique columns, the audit chain head and
the receipt counter).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from minimal import (
    HEAD_KEY_PREFIX,
    HeadStep,
    InsertStep,
    MinimalSQL,
    ReceiptStep,
    fresh_text,
    fresh_uuid,
    ident,
    literal,
    order_steps,
    receipt_expr,
    receipt_format,
    submission_script,
)

_INSERT_TABLE = re.compile(r'^\s*INSERT INTO "(\w+)" \((.*?)\) VALUES \((.*)\)', re.S)
_INSERT_INTO = re.compile(r'^\s*INSERT INTO "?(\w+)"?')  # VALUES, or SELECT … FROM UNNEST(…)
_UPDATE_TABLE = re.compile(r'^\s*UPDATE "?(\w+)"? SET')
# Integer columns holding another row's id without a foreign key: (table label, column) → model.
EXTRA_REFERENCES = {("cases.Case", "history_applied_id"): "procedures.StatusChange"}
AUDIT_ENTRY = "core.AuditEntry"
AUDIT_HEAD = "core.AuditChainHead"
RECEIPT_COUNTER = "procedures.ReceiptCounter"


class PlanError(Exception):
    """The captured request no longer has a shape this module can write minimally."""


def inserted_tables(sql: list[str]) -> list[str]:
    """Tables the statements INSERT into, in order of the first INSERT."""
    tables: list[str] = []
    for statement in sql:
        match = _INSERT_INTO.match(statement)
        if match and match.group(1) not in tables:
            tables.append(match.group(1))
    return tables


def updated_tables(sql: list[str]) -> list[str]:
    tables: list[str] = []
    for statement in sql:
        match = _UPDATE_TABLE.match(statement)
        if match and match.group(1) not in tables:
            tables.append(match.group(1))
    return tables


def _models() -> dict[str, Any]:
    from django.apps import apps

    return {model._meta.db_table: model for model in apps.get_models()}


def _model(label: str) -> Any:
    from django.apps import apps

    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _auto_pk(model: Any) -> bool:
    from django.db import models

    return isinstance(
        model._meta.pk, models.AutoField | models.BigAutoField | models.SmallAutoField
    )


def max_ids(sql: list[str]) -> dict[str, int]:
    """The highest id of each table with an integer id the statements INSERT into (before)."""
    from django.db import connection

    models = _models()
    snapshot: dict[str, int] = {}
    with connection.cursor() as cursor:
        for table in inserted_tables(sql):
            model = models.get(table)
            if model is None or not _auto_pk(model):
                continue
            cursor.execute(
                f"SELECT coalesce(max({ident(model._meta.pk.column)}), 0) FROM {ident(table)}"
            )
            snapshot[table] = int(cursor.fetchone()[0])
    return snapshot


def _named_keys(sql: list[str], table: str, pk_column: str) -> list[str]:
    """The primary keys the INSERTs into ``table`` named (non-integer keys, e.g. UUIDs)."""
    from capture import split_values

    keys: list[str] = []
    for statement in sql:
        match = _INSERT_TABLE.match(statement)
        if not match or match.group(1) != table:
            continue
        columns = [c.strip().strip('"') for c in match.group(2).split(",")]
        if pk_column not in columns:
            continue
        value = split_values(match.group(3))[columns.index(pk_column)]
        value = re.sub(r"::\w+$", "", value).strip("'")
        with contextlib.suppress(ValueError):
            value = str(uuid.UUID(value))  # Django writes UUIDs as 32 hex digits
        keys.append(value)
    return keys


@dataclass
class _Row:
    table: str
    pk: str  # the captured row's key, as text
    raw: dict[str, str | None]  # column → value as text
    literal: dict[str, str]  # column → SQL literal of the captured value
    expr: dict[str, str] = field(default_factory=dict)  # column → expression in the script


def _read_rows(model: Any, where: str, params: list[Any]) -> list[_Row]:
    from django.db import connection

    columns = [f.column for f in model._meta.concrete_fields]
    pk = model._meta.pk.column
    select = ", ".join(
        [f"{ident(pk)}::text"]
        + [f"{ident(c)}::text" for c in columns]
        + [f"quote_nullable({ident(c)})" for c in columns]
    )
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select} FROM {ident(table)} WHERE {where} ORDER BY 1", params)
        fetched = cursor.fetchall()
    rows = []
    for record in fetched:
        raw = dict(zip(columns, record[1 : 1 + len(columns)], strict=True))
        literals = dict(zip(columns, record[1 + len(columns) :], strict=True))
        rows.append(_Row(table=table, pk=record[0], raw=raw, literal=literals))
    return rows


def _unique_sets(model: Any) -> list[list[str]]:
    from django.db.models import UniqueConstraint

    sets = [[f.column] for f in model._meta.concrete_fields if f.unique and not f.primary_key]
    for constraint in model._meta.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.fields:
            sets.append([model._meta.get_field(name).column for name in constraint.fields])
    for together in model._meta.unique_together:
        sets.append([model._meta.get_field(name).column for name in together])
    return sets


def write_plan(
    *, sql: list[str], snapshot: dict[str, int], receipt: str | None, clients: int
) -> MinimalSQL:
    """The minimal pgbench script writing the same rows as the captured request ``sql``."""
    models = _models()
    notes: list[str] = []
    entry_model, head_model, counter_model = (
        _model(AUDIT_ENTRY),
        _model(AUDIT_HEAD),
        _model(RECEIPT_COUNTER),
    )
    special = {m._meta.db_table for m in (head_model, counter_model) if m is not None}
    tables = [t for t in inserted_tables(sql) if t not in special]
    skipped = [t for t in updated_tables(sql) if t not in tables and t not in special]
    if skipped:
        notes.append(
            "Rows the request only UPDATEd (not written by the minimal script): "
            + ", ".join(f"`{t}`" for t in skipped)
        )
    rows: dict[str, list[_Row]] = {}
    for table in tables:
        model = models.get(table)
        if model is None:
            raise PlanError(f"no model for table {table}")
        pk = model._meta.pk.column
        if _auto_pk(model):
            found = _read_rows(model, f"{ident(pk)} > %s", [snapshot.get(table, 0)])
        else:
            keys = _named_keys(sql, table, pk)
            found = _read_rows(model, f"{ident(pk)}::text = ANY(%s)", [keys]) if keys else []
        if not found:
            notes.append(f"`{table}`: the request's rows are gone afterwards; not written")
            continue
        rows[table] = found
    tables = [t for t in tables if t in rows]
    if not tables:
        raise PlanError("the captured request inserted no rows")

    # Which rows others point to (foreign keys, EXTRA_REFERENCES) or show the receipt number.
    targets: dict[tuple[str, str], str] = {}  # (table, captured pk) → expression of the new key
    needs: dict[str, set[str]] = {t: set() for t in tables}
    references: list[tuple[_Row, str, str]] = []  # (row, column, target table)
    for table in tables:
        model = models[table]
        for model_field in model._meta.concrete_fields:
            target = None
            if model_field.is_relation and model_field.related_model is not None:
                target = model_field.related_model._meta.db_table
            extra = EXTRA_REFERENCES.get((model._meta.label, model_field.column))
            if extra and _model(extra) is not None:
                target = _model(extra)._meta.db_table
            if target in rows:
                for row in rows[table]:
                    if any(r.pk == row.raw[model_field.column] for r in rows[target]):
                        references.append((row, model_field.column, target))
                        needs[table].add(target)
    referenced = {(target, row.raw[column]) for row, column, target in references}
    holders = [
        (row, column)
        for table in tables
        for row in rows[table]
        for column, value in row.raw.items()
        if receipt and value == receipt
    ]
    setup: list[str] = []
    teardown: list[str] = []
    counter, sequence = _receipt_source(sql, receipt, counter_model, notes, setup, teardown)
    if counter is not None:
        referenced |= {(row.table, row.pk) for row, _column in holders}
    prefix, width, _number = receipt_format(receipt) if receipt else ("", 0, 0)
    receipt_taken = False

    fresh = 0
    # Keys the script makes itself (UUIDs…): fresh per transaction, and wherever the captured
    # rows mention them (an outbox payload's reference, an audit entry's target) the new one.
    renamed: dict[str, str] = {}
    for table in tables:
        model = models[table]
        if _auto_pk(model):
            continue
        for row in rows[table]:
            fresh += 1
            key = (
                fresh_uuid(fresh)
                if _is_uuid(model._meta.pk)
                else fresh_text(fresh, model._meta.pk.max_length)
            )
            targets[(table, row.pk)] = key
            if len(row.pk) >= 32:  # long enough not to match unrelated text
                renamed[row.pk] = key.strip("'")
    entry_table = entry_model._meta.db_table if entry_model is not None else None
    steps: dict[str, list[InsertStep]] = {}
    head: HeadStep | None = None
    entries: InsertStep | None = None
    for table in order_steps(tables, needs):
        model = models[table]
        auto = _auto_pk(model)
        pk = model._meta.pk.column
        columns = [f.column for f in model._meta.concrete_fields if not (auto and f.primary_key)]
        for index, row in enumerate(rows[table]):
            if not auto:
                row.expr[pk] = targets[(table, row.pk)]
            elif (table, row.pk) in referenced:
                targets[(table, row.pk)] = f":t{tables.index(table)}r{index}_{pk}"
        for row, column, target in references:
            if row.table == table:
                row.expr[column] = targets[(target, str(row.raw[column]))]
        for row, column in holders:
            if row.table != table:
                continue
            if sequence is not None:  # the number inline, as the request took it
                row.expr[column] = receipt_expr(sequence, prefix, width, first=not receipt_taken)
                receipt_taken = True
            else:  # a placeholder, overwritten by the counter statement at the end
                holder = _field(model, column)
                fresh += 1
                row.expr[column] = "NULL" if holder.null else fresh_text(fresh, holder.max_length)
        if table == entry_table and head_model is not None:
            head, head_setup = _head(head_model, rows[table], clients)
            setup += head_setup
            chain_column = head_model._meta.pk.column
            for index, row in enumerate(rows[table]):
                if chain_column in row.raw:
                    row.expr[chain_column] = head.key_expr
                if head.sequence_column in row.raw or "sequence" in row.raw:
                    row.expr["sequence"] = head.sequence_expr(index)
        for unique in _unique_sets(model):
            for row in rows[table]:
                if any(c in row.expr or row.raw.get(c) is None for c in unique):
                    continue  # already fresh per transaction, or NULL (never collides)
                column = unique[-1]
                fresh += 1
                row.expr[column] = _fresh_for(_field(model, column), fresh)
        for row in rows[table]:
            for column, value in row.literal.items():
                for captured, new_key in renamed.items():
                    if column not in row.expr and captured in value:
                        value = value.replace(captured, new_key)
                row.literal[column] = value
            row.literal.update(row.expr)
        if table == entry_table and head is not None:
            head.entries = len(rows[table])
            if head.hash_column and "entry_hash" in rows[table][-1].literal:
                head.last_hash_expr = rows[table][-1].literal["entry_hash"]
            else:
                head.hash_column = None
        # rows whose new id others need: one INSERT … RETURNING each (a non-integer key is
        # made by the script itself, so those rows need no RETURNING)
        single = [
            (index, row)
            for index, row in enumerate(rows[table])
            if auto and (table, row.pk) in referenced
        ]
        rest = [row for row in rows[table] if not (auto and (table, row.pk) in referenced)]
        table_steps = [
            InsertStep(
                table=table,
                columns=columns,
                rows=[[row.literal[c] for c in columns]],
                returning=pk,
                prefix=f"t{tables.index(table)}r{index}_",
            )
            for index, row in single
        ]
        if rest:
            table_steps.append(
                InsertStep(
                    table=table,
                    columns=columns,
                    rows=[[r.literal[c] for c in columns] for r in rest],
                )
            )
        steps[table] = table_steps
    if entry_table in steps:
        if head is None or len(steps[entry_table]) != 1:
            raise PlanError("audit entries without a chain head, or referenced by other rows")
        (entries,) = steps.pop(entry_table)  # referenced by nothing: one multi-row INSERT
    inserts = [step for table in order_steps(tables, needs) for step in steps.get(table, [])]
    receipt_step = None
    if counter is not None:
        receipt_step = ReceiptStep(
            number_sql="",
            prefix=prefix,
            width=width,
            targets=[
                (row.table, column, models[row.table]._meta.pk.column, targets[(row.table, row.pk)])
                for row, column in holders
            ],
            counter=counter,
        )
    script = submission_script(inserts, head=head, entries=entries, receipt=receipt_step)
    return MinimalSQL(script=script, setup=setup, teardown=teardown, notes=notes)


def _is_uuid(model_field: Any) -> bool:
    from django.db import models

    return isinstance(model_field, models.UUIDField)


def _field(model: Any, column: str) -> Any:
    for model_field in model._meta.concrete_fields:
        if model_field.column == column:
            return model_field
    raise PlanError(f"{model._meta.db_table} has no column {column}")


def _fresh_for(model_field: Any, n: int) -> str:
    from django.db import models

    if isinstance(model_field, models.UUIDField):
        return fresh_uuid(n)
    if isinstance(model_field, models.CharField | models.TextField):
        return fresh_text(n, model_field.max_length)
    raise PlanError(
        f"cannot make a fresh value per transaction for the unique column "
        f"{model_field.model._meta.db_table}.{model_field.column}"
    )


def _head(head_model: Any, entries: list[_Row], clients: int) -> tuple[HeadStep, list[str]]:
    """This pgbench client's own chain head (one per client, copied from the request's head)."""
    table = head_model._meta.db_table
    key_column = head_model._meta.pk.column
    columns = [f.column for f in head_model._meta.concrete_fields]
    if "last_sequence" not in columns:
        raise PlanError(f"{table} has no last_sequence column")
    chain = entries[0].raw.get(key_column)
    if chain is None:
        raise PlanError(f"audit entries have no {key_column} column naming their chain head")
    setup = []
    for client in range(clients):
        values = []
        for column in columns:
            if column == key_column:
                values.append(literal(f"{HEAD_KEY_PREFIX}{client}"))
            elif column == "last_sequence":
                values.append("0")
            else:
                values.append(ident(column))
        setup.append(
            f"INSERT INTO {ident(table)} ({', '.join(ident(c) for c in columns)}) SELECT "
            f"{', '.join(values)} FROM {ident(table)} WHERE {ident(key_column)} = {literal(chain)} "
            "ON CONFLICT DO NOTHING"
        )
    step = HeadStep(
        table=table,
        key_column=key_column,
        key_expr=literal(f"{HEAD_KEY_PREFIX}:client_id"),
        sequence_column="last_sequence",
        hash_column="last_hash" if "last_hash" in columns else None,
    )
    return step, setup


_NEXTVAL = re.compile(r"nextval\((?:to_regclass\()?'(\w+)'")
BENCH_SEQUENCE = "bench_receipt_numbers"


def _receipt_source(
    sql: list[str],
    receipt: str | None,
    counter_model: Any,
    notes: list[str],
    setup: list[str],
    teardown: list[str],
) -> tuple[tuple[str, str, str, str] | None, str | None]:
    """Where the receipt number comes from: (counter row, None) or (None, sequence name).

    The sequence the request called ``nextval`` on; else the counter row that holds the
    captured number; else a bench sequence (noted).
    """
    from django.db import connection

    if not receipt:
        return None, None
    _prefix, _width, number = receipt_format(receipt)
    for statement in sql:
        found = _NEXTVAL.search(statement)
        if found:
            return None, found.group(1)
    if counter_model is not None:
        table = counter_model._meta.db_table
        pk = counter_model._meta.pk.column
        if "last_number" in [f.column for f in counter_model._meta.concrete_fields]:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {ident(pk)} FROM {ident(table)} WHERE {ident('last_number')} = %s "
                    "ORDER BY 1 DESC LIMIT 1",
                    [number],
                )
                row = cursor.fetchone()
            if row:
                return (table, "last_number", pk, str(row[0])), None
    notes.append(
        "The captured request took its receipt number from neither a sequence nor a counter row "
        f"this script knows: the script takes it from a sequence (`{BENCH_SEQUENCE}`)."
    )
    setup.append(f"CREATE SEQUENCE IF NOT EXISTS {BENCH_SEQUENCE} START {number + 1_000_000}")
    teardown.append(f"DROP SEQUENCE IF EXISTS {BENCH_SEQUENCE}")
    return None, BENCH_SEQUENCE
