"""One request captured in-process: the SQL Django ran for it, and helpers to read that SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minimal import MinimalSQL

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


@dataclass
class Capture:
    """One request made in-process while recording its SQL."""

    path: str
    sql: list[str]
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    snapshot: dict[str, int] = field(default_factory=dict)  # max ids before it (writes)
    minimal: MinimalSQL | None = None  # the fewest statements its job needs (pgbench)
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
