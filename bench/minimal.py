"""The minimal SQL of a scenario: the fewest statements its job needs, as a pgbench script.

The bench quotes HTTP req/s against what PostgreSQL does for the same job written by hand (not
a replay of whatever the code runs today). Reads are hand-written per scenario (``reads.py``).
A submission's script is derived from what one captured request wrote (``write_plan``), so it
follows the models through refactors: the SAME ROWS in the fewest statements —

- one INSERT per table the request inserted into (multi-row when it wrote several rows; a row
  other rows point to gets its own ``INSERT … RETURNING`` so its new id can be used), the row
  values copied from the captured request's rows as they are after it (a draft INSERTed and then
  UPDATEd becomes one INSERT of the final row);
- primary keys, unique columns and ids of rows of the same transaction fresh per transaction;
- the audit entries in one multi-row INSERT, then ONE update moving the chain head onto the last
  of them; each pgbench client on its own chain head (as each worker process should be);
- the receipt number: where the request took it from a sequence (``nextval``), inline in the
  rows that show it; where it took a counter row, LAST: one statement updates the counter and
  writes the number into those rows (``WITH n AS (UPDATE … RETURNING) UPDATE …``), so the row
  lock is held only until COMMIT;
- all in one transaction, no savepoints, no re-reads.

Table and column names come from ``Model._meta`` (never typed here). This module's builders are
pure (unit-tested in tests/test_bench.py); ``write_plan`` reads the captured rows through Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

UUID_VAR = ":u1-0000-4000-{n:04d}-:u2"  # 8 + 12 random decimal digits: a valid, fresh UUID
SCRIPT_HEADER = (
    "\\set u1 random(10000000, 99999999)",
    "\\set u2 random(100000000000, 999999999999)",
)
HEAD_KEY_PREFIX = "pgb."  # the chain heads of the pgbench clients: pgb.0, pgb.1, …


@dataclass
class MinimalSQL:
    """One request's job as a pgbench script (one transaction per request)."""

    script: str
    setup: list[str] = field(default_factory=list)  # run once before pgbench (autocommit)
    teardown: list[str] = field(default_factory=list)  # run once after it
    notes: list[str] = field(default_factory=list)  # what the script leaves out, and why

    @property
    def statements(self) -> int:
        return script_statements(self.script)


def script_statements(script: str) -> int:
    """SQL statements per transaction of a pgbench script (meta-commands, BEGIN/COMMIT not)."""
    count = 0
    for line in script.splitlines():
        text = line.strip()
        if not text or text.startswith(("\\", "--")):
            continue
        if text.rstrip(";").strip().upper() in ("BEGIN", "COMMIT", "END"):
            continue
        count += 1
    return count


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | None) -> str:
    """An SQL string literal (or NULL) for a value held as text."""
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def fresh_uuid(n: int) -> str:
    """A fresh UUID per transaction; ``n`` tells apart the columns of one transaction."""
    return literal(UUID_VAR.format(n=n))


def fresh_text(n: int, max_length: int | None) -> str:
    """A fresh short string per transaction (fits ``max_length``)."""
    value = f"b:u1:u2.{n}"
    if max_length is not None and 1 + 8 + 12 + 1 + len(str(n)) > max_length:
        raise ValueError(
            f"a fresh value needs {22 + len(str(n))} characters, the column has {max_length}"
        )
    return literal(value)


@dataclass
class InsertStep:
    """One INSERT of the script: one or more rows of one table."""

    table: str
    columns: list[str]
    rows: list[list[str]]  # SQL expressions, one per column
    returning: str | None = None  # a column to \gset into ``{prefix}{column}``
    prefix: str = ""

    def sql(self) -> str:
        values = ", ".join("(" + ", ".join(row) + ")" for row in self.rows)
        text = (
            f"INSERT INTO {ident(self.table)} ({', '.join(ident(c) for c in self.columns)}) "
            f"VALUES {values}"
        )
        if self.returning:
            return f"{text} RETURNING {ident(self.returning)} \\gset {self.prefix}"
        return text + ";"


@dataclass
class HeadStep:
    """ONE update of the pgbench client's own audit chain head, after its entries' INSERT:
    moved forward by the number of entries, onto the last one (sequence and link)."""

    table: str
    key_column: str
    key_expr: str  # this client's head, e.g. 'pgb.:client_id'
    sequence_column: str
    hash_column: str | None
    entries: int = 1
    last_hash_expr: str = "''"  # the last entry's link

    def sequence_expr(self, index: int) -> str:
        """The sequence of the entry ``index`` (from 0) of this transaction."""
        return (
            f"((SELECT {ident(self.sequence_column)} FROM {ident(self.table)} WHERE "
            f"{ident(self.key_column)} = {self.key_expr}) + {index + 1})"
        )

    def sql(self) -> str:
        column = ident(self.sequence_column)
        sets = [f"{column} = {column} + {self.entries}"]
        if self.hash_column:
            sets.append(f"{ident(self.hash_column)} = {self.last_hash_expr}")
        return (
            f"UPDATE {ident(self.table)} SET {', '.join(sets)} WHERE {ident(self.key_column)} = "
            f"{self.key_expr};"
        )


@dataclass
class ReceiptStep:
    """The receipt number taken last from a counter row, written into the rows that show it
    (with a sequence instead, ``receipt_expr`` puts it inline into those rows' INSERTs)."""

    number_sql: str  # a SELECT-able expression source, see ``sql``
    prefix: str
    width: int  # zero-padded width of the number (0: not padded)
    targets: list[tuple[str, str, str, str]]  # (table, column, key column, key expression)
    counter: tuple[str, str, str, str] | None = None  # (table, number column, key col, key)

    def sql(self) -> str:
        if self.counter:
            table, number, key_column, key = self.counter
            source = (
                f"n AS (UPDATE {ident(table)} SET {ident(number)} = {ident(number)} + 1 "
                f"WHERE {ident(key_column)} = {key} RETURNING {ident(number)} AS v)"
            )
        else:
            source = f"n AS (SELECT {self.number_sql} AS v)"
        digits = (
            f"lpad(v::text, greatest({self.width}, length(v::text)), '0')"
            if self.width
            else "v::text"
        )
        parts = [source, f"r AS (SELECT {literal(self.prefix)} || {digits} AS receipt FROM n)"]
        updates = [
            f"UPDATE {ident(table)} SET {ident(column)} = r.receipt FROM r "
            f"WHERE {ident(table)}.{ident(key_column)} = {key}"
            for table, column, key_column, key in self.targets
        ]
        if not updates:
            return f"WITH {', '.join(parts)} SELECT receipt FROM r;"
        parts += [f"w{index} AS ({sql} RETURNING 1)" for index, sql in enumerate(updates[:-1])]
        return f"WITH {', '.join(parts)} {updates[-1]};"


def submission_script(
    inserts: list[InsertStep],
    head: HeadStep | None = None,
    entries: InsertStep | None = None,
    receipt: ReceiptStep | None = None,
) -> str:
    """The pgbench script of one submission: one transaction; the audit entries, then their
    chain head moved onto the last of them, then the receipt counter (when there is one)."""
    lines = [*SCRIPT_HEADER, "BEGIN;"]
    lines += [step.sql() for step in inserts]
    if entries is not None:
        lines.append(entries.sql())
    if head is not None:
        lines.append(head.sql())
    if receipt is not None:
        lines.append(receipt.sql())
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def receipt_expr(sequence: str, prefix: str, width: int, *, first: bool) -> str:
    """A receipt number from a sequence, inline: ``nextval`` in the first row, ``currval`` after."""
    value = f"{'nextval' if first else 'currval'}({literal(sequence)})"
    digits = f"lpad({value}::text, {width}, '0')" if width else f"{value}::text"
    return f"{literal(prefix)} || {digits}"


def receipt_format(receipt: str) -> tuple[str, int, int]:
    """(prefix, zero-padded width or 0, number) of a receipt number such as 2026-000123."""
    match = re.fullmatch(r"(.*?)(\d+)", receipt)
    if not match:
        raise ValueError(f"receipt number {receipt!r} does not end in digits")
    digits = match.group(2)
    width = len(digits) if digits.startswith("0") and len(digits) > 1 else 0
    return match.group(1), width, int(digits)


def order_steps(names: list[str], needs: dict[str, set[str]]) -> list[str]:
    """``names`` in their order, moved so that each comes after the ones it ``needs``."""
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise ValueError(f"rows of {name} refer to each other in a cycle")
        visiting.add(name)
        for other in names:
            if other in needs.get(name, set()) and other != name:
                visit(other)
        visiting.discard(name)
        done.append(name)

    for name in names:
        visit(name)
    return done


# --- Reads: one statement each -----------------------------------------------------------------


def select_script(sql: str) -> str:
    """A read scenario's pgbench script: the statement alone (autocommit, like Django's)."""
    return sql.strip().rstrip(";") + ";\n"


def bigram_terms(key: str) -> list[str]:
    """The distinct two-character pieces of a normalised search key (its order kept)."""
    pieces: list[str] = []
    for index in range(len(key) - 1):
        piece = key[index : index + 2]
        if piece not in pieces:
            pieces.append(piece)
    return pieces


def like_pattern(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


BIGRAM_FUNCTION = "bench_bigrams"
BIGRAM_INDEX = "bench_procedure_bigrams"


def bigram_setup(table: str, column: str) -> list[str]:
    """A bench-only GIN index of the search column's bigrams (what a bigram column gives)."""
    return [
        f"CREATE OR REPLACE FUNCTION {BIGRAM_FUNCTION}(t text) RETURNS text[] LANGUAGE sql "
        "IMMUTABLE PARALLEL SAFE AS $$ SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), "
        "'{}') FROM generate_series(1, length(t) - 1) AS i $$",
        f"CREATE INDEX IF NOT EXISTS {BIGRAM_INDEX} ON {ident(table)} USING gin "
        f"({BIGRAM_FUNCTION}({ident(column)}))",
        f"ANALYZE {ident(table)}",
    ]


def bigram_teardown() -> list[str]:
    return [
        f"DROP INDEX IF EXISTS {BIGRAM_INDEX}",
        f"DROP FUNCTION IF EXISTS {BIGRAM_FUNCTION}(text)",
    ]


def search_sql(
    *,
    table: str,
    columns: list[str],
    search_column: str,
    keys: list[str],
    where: list[str],
    order_by: list[str],
    limit: int,
) -> str:
    """One index SELECT: every key's bigrams through the GIN index, rechecked with LIKE."""
    terms = [term for key in keys for term in bigram_terms(key)]
    conditions = list(where)
    if terms:
        array = "ARRAY[" + ", ".join(literal(term) for term in terms) + "]::text[]"
        conditions.append(f"{BIGRAM_FUNCTION}({ident(search_column)}) @> {array}")
    conditions += [f"{ident(search_column)} LIKE {literal(like_pattern(key))}" for key in keys]
    return (
        f"SELECT {', '.join(ident(c) for c in columns)} FROM {ident(table)} "
        f"WHERE {' AND '.join(conditions) or 'TRUE'} "
        f"ORDER BY {', '.join(ident(c) for c in order_by)} LIMIT {limit}"
    )


def capped_counts_sql(
    *, table: str, status_column: str, statuses: list[str], where: list[str], cap: int
) -> str:
    """Every status tab's capped count in ONE statement (each an index range, at most ``cap``)."""
    condition = " AND ".join([*where, f"t.{ident(status_column)} = s.status"])
    values = ", ".join(literal(status) for status in statuses)
    return (
        f"SELECT s.status, (SELECT count(*) FROM (SELECT 1 FROM {ident(table)} t WHERE "
        f"{condition} LIMIT {cap}) capped) FROM unnest(ARRAY[{values}]::text[]) AS s(status)"
    )
