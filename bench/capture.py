"""pgbench scripts for write scenarios, built from the SQL Django ran for one request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from common import BenchError

# --- Raw-DB scripts for writes -----------------------------------------------------------------
#
# The captured SQL of a write holds values that must differ per transaction (primary keys,
# unique keys, numbers read under a row lock). ``write_script`` replays the captured statements
# unchanged except for those values: pgbench variables for fresh random ones (\set), values
# read under the same row locks (\gset) and ids returned by INSERT … RETURNING (\gset).

UUID_VAR = ":u1-0000-4000-8000-:u2"  # 8 + 12 random decimal digits: a valid, fresh UUID
SCRIPT_HEADER = "\\set u1 random(10000000, 99999999)\n\\set u2 random(100000000000, 999999999999)\n"
# Integer columns that hold another row's id without a foreign key.
EXTRA_REFERENCES = {("cases_case", "history_applied_id"): "procedures_statuschange"}
_INSERT_RE = re.compile(
    r'^INSERT INTO "(\w+)" \((.*?)\) VALUES \((.*)\)( RETURNING "\w+"\."(\w+)")?$', re.S
)
_REFERENCE_RE = re.compile(r'(?:"(\w+)"\.)?"(\w+)" = (\d+)\b')
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


@dataclass
class Capture:
    """One request made in-process while recording its SQL."""

    path: str
    sql: list[str]
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    script: str = ""  # the pgbench script replayed for it
    plan: str = ""  # EXPLAIN ANALYZE of its first query, where the scenario asks for it
    idle_ms: float = 0.0  # median time of the request in-process on an idle server (GET)

    @property
    def statements(self) -> int:
        """Round trips to the database (transaction control included, BEGIN/COMMIT not)."""
        return sum(1 for sql in self.sql if sql.strip().upper() not in _CONTROL)

    @property
    def transactions(self) -> int:
        """Database transactions: explicit blocks, and every statement outside one."""
        count, in_block = 0, False
        for sql in self.sql:
            word = sql.strip().upper()
            if word == "BEGIN":
                count, in_block = count + 1, True
            elif word in ("COMMIT", "ROLLBACK"):
                in_block = False
            elif not in_block:
                count += 1
        return count


def split_values(text: str) -> list[str]:
    """The top-level items of an SQL VALUES tuple as Django writes it (quotes, E'', parens)."""
    parts: list[str] = []
    depth, start, index, quote, escapes = 0, 0, 0, False, False
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and escapes:
                index += 1
            elif char == "'":
                if text[index + 1 : index + 2] == "'":
                    index += 1
                else:
                    quote = False
        elif char == "'":
            quote, escapes = True, index > 0 and text[index - 1] in "Ee"
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
        index += 1
    parts.append(text[start:].strip())
    return parts


def foreign_keys() -> dict[tuple[str, str], str]:
    """(table, column) → the table it points to, for every model, plus EXTRA_REFERENCES."""
    from django.apps import apps

    keys = dict(EXTRA_REFERENCES)
    for model in apps.get_models(include_auto_created=True):
        for model_field in model._meta.concrete_fields:
            if model_field.is_relation and model_field.related_model is not None:
                related = model_field.related_model._meta.db_table  # type: ignore[union-attr]
                keys[(model._meta.db_table, model_field.column)] = related
    return keys


def returned_ids(sql: list[str]) -> list[int]:
    """The ids the capture's INSERT … RETURNING statements got, in statement order.

    Read back from the tables right after the capture (nothing else writes meanwhile).
    """
    from django.db import connection

    tables = [m.group(1) for m in map(_INSERT_RE.match, sql) if m and m.group(4)]
    ids: dict[str, list[int]] = {}
    with connection.cursor() as cursor:
        for table in set(tables):
            cursor.execute(
                f'SELECT "id" FROM "{table}" ORDER BY "id" DESC LIMIT %s', [tables.count(table)]
            )
            ids[table] = sorted(row[0] for row in cursor.fetchall())
    return [ids[table].pop(0) for table in tables]


def write_script(capture: Capture) -> str:
    """The pgbench script for a captured submission: same statements, fresh values.

    Fresh per transaction: the application id (UUID_VAR), the idempotency key, the receipt
    number (counter row read FOR UPDATE, + 1), audit entries (chain head read FOR UPDATE:
    sequence + 1, its hash as prev_hash, a fresh entry hash) and every id an INSERT returned.
    Fails when the captured SQL no longer has the expected shape.
    """
    app_id = str(capture.body["id"])
    receipt = str(capture.body["receipt_number"])
    key = capture.headers["Idempotency-Key"]
    year = receipt.split("-")[0]
    literals = {
        f"'{app_id.replace('-', '')}'::uuid": f"'{UUID_VAR}'::uuid",
        app_id: UUID_VAR,
        key: f"bench-{UUID_VAR}",
        receipt: f"{year}-:receipt",
    }
    fks = foreign_keys()
    ids = iter(returned_ids(capture.sql))
    returned: list[tuple[str, int, str]] = []  # (table, captured id, pgbench variable)
    old_hashes: list[str] = []
    audit_entries = 0
    seen = {"head": 0, "counter": 0}
    lines = [SCRIPT_HEADER.rstrip("\n")]

    def reference(table: str | None, column: str, value: str) -> str | None:
        for target, captured, variable in reversed(returned):
            if str(captured) != value:
                continue
            if (column == "id" and table == target) or fks.get((table or "", column)) == target:
                return f":{variable}"
        return None

    for number, original in enumerate(capture.sql):
        sql = original.strip()
        for old, new in literals.items():
            sql = sql.replace(old, new)
        suffix = ";"
        extra: list[str] = []
        insert = _INSERT_RE.match(sql)
        if insert:
            table, columns_sql, values_sql = insert.group(1), insert.group(2), insert.group(3)
            columns = [c.strip().strip('"') for c in columns_sql.split(",")]
            values = split_values(values_sql)
            if len(columns) != len(values):
                raise BenchError(f"cannot read the VALUES of statement {number}: {sql[:200]}")
            for index, (column, value) in enumerate(zip(columns, values, strict=True)):
                replacement = reference(table, column, value)
                if replacement:
                    values[index] = replacement
            if table == "core_auditentry":
                audit_entries += 1
                slots = {column: index for index, column in enumerate(columns)}
                old_hashes.append(values[slots["entry_hash"]].strip("'"))
                values[slots["sequence"]] = ":head_last_sequence + 1"
                values[slots["prev_hash"]] = "':head_last_hash'"
                values[slots["entry_hash"]] = f"':u1-:u2-a{audit_entries}'"
            sql = (
                f'INSERT INTO "{table}" ({columns_sql}) VALUES ({", ".join(values)})'
                f"{insert.group(4) or ''}"
            )
            if insert.group(4):
                variable = f"r{len(returned) + 1}_"
                returned.append((table, next(ids), f"{variable}{insert.group(5)}"))
                suffix = f" \\gset {variable}"
        else:
            updated = re.match(r'^UPDATE "(\w+)"', sql)
            main = updated.group(1) if updated else None

            def swap(match: re.Match[str], main: str | None = main) -> str:
                found = reference(match.group(1) or main, match.group(2), match.group(3))
                text = match.group(0)
                return text[: -len(match.group(3))] + found if found else text

            sql = _REFERENCE_RE.sub(swap, sql)
        if sql.startswith("SELECT") and sql.endswith("FOR UPDATE"):
            if 'FROM "core_auditchainhead"' in sql:
                suffix, seen["head"] = " \\gset head_", seen["head"] + 1
            elif 'FROM "procedures_receiptcounter"' in sql:
                suffix, seen["counter"] = " \\gset rc_", seen["counter"] + 1
                extra.append("\\set receipt :rc_last_number + 1")
        elif sql.startswith('UPDATE "core_auditchainhead" SET'):
            sql, replaced = re.subn(
                r'"last_sequence" = \d+, "last_hash" = \'[0-9a-f]{64}\'',
                f'"last_sequence" = :head_last_sequence + 1, "last_hash" = \':u1-:u2-a{audit_entries}\'',
                sql,
            )
            if replaced != 1:
                raise BenchError(f"unexpected audit chain update: {sql[:200]}")
        elif sql.startswith('UPDATE "procedures_receiptcounter" SET'):
            sql, replaced = re.subn(r'"last_number" = \d+', '"last_number" = :receipt', sql)
            if replaced != 1:
                raise BenchError(f"unexpected receipt counter update: {sql[:200]}")
        lines.append(sql + suffix)
        lines.extend(extra)
    script = "\n".join(lines) + "\n"
    if not (seen["head"] and seen["counter"] and audit_entries):
        raise BenchError(
            "the captured submission no longer locks the audit chain head and the receipt "
            f"counter as bench/run.py expects ({seen}, {audit_entries} audit entries)"
        )
    stale = [value for value in [*literals, *old_hashes] if value in script]
    if stale:
        raise BenchError(f"captured values left in the pgbench script: {stale}")
    return script
