"""Catalog search index: the one- and two-character grams of a procedure's ``search_text``.

``search_text`` is the space-separated ``core.japanese.search_key`` of names, readings and
keywords (``services.catalog.procedure_search_text``); a query word matches when its key is a
substring of it. Trigrams cannot serve keys of one or two characters (転出, ごみ), so each
procedure also stores the set of its unigrams and bigrams, never spanning a space:

* a 1-character key matches exactly the procedures holding it as a unigram,
* a 2-character key exactly those holding it as a bigram,
* a longer key at most those holding all its bigrams (the substring test then decides).

PostgreSQL keeps the set as ``text[]`` under a GIN index (``grams @> ARRAY[…]``, created by
migration ``0004``); SQLite keeps it as space-separated text and the search there is the
``LIKE`` on ``search_text`` (no index serves ``%…%`` on SQLite; a scan of the small catalogs
SQLite installations hold takes a few milliseconds, see ``docs/indexes.md``).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.lookups import Lookup
from django.db.models.sql.compiler import SQLCompiler


def search_grams(search_text: str) -> list[str]:
    """Every unigram and bigram of each space-separated part of ``search_text``, sorted."""
    grams: set[str] = set()
    for part in search_text.split():
        grams.update(part)
        grams.update(part[i : i + 2] for i in range(len(part) - 1))
    return sorted(grams)


def key_grams(key: str) -> list[str]:
    """The grams a procedure must hold to match ``key`` (a ``search_key``, no spaces)."""
    if len(key) == 1:
        return [key]
    return sorted({key[i : i + 2] for i in range(len(key) - 1)})


def grams_are_exact(key: str) -> bool:
    """Whether holding ``key_grams(key)`` is the same as containing ``key`` (keys of 1–2 chars)."""
    return len(key) <= 2


def _is_postgresql(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "postgresql"


class SearchGramsField(models.Field):
    """The grams of another text field of the row (``source``), recomputed on every save.

    ``text[]`` on PostgreSQL, space-separated ``text`` elsewhere. Derived in ``pre_save`` so a
    save or ``bulk_create`` can never store grams that disagree with ``search_text``
    (``QuerySet.update`` and ``bulk_update`` bypass it: set both there).
    """

    description = "grams of a search text"

    def __init__(self, *args: Any, source: str = "search_text", **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("default", list)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.source != "search_text":
            kwargs["source"] = self.source
        return name, path, args, kwargs

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "text[]" if _is_postgresql(connection) else "text"

    def cast_db_type(self, connection: BaseDatabaseWrapper) -> str:
        return self.db_type(connection)

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        grams = [str(gram) for gram in (value or [])]
        return grams if _is_postgresql(connection) else " ".join(grams)

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        if value is None:
            return []
        return value.split() if isinstance(value, str) else list(value)

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, str):
            return value.split()
        return list(value or [])

    def pre_save(self, model_instance: models.Model, add: bool) -> list[str]:
        grams = search_grams(getattr(model_instance, self.source) or "")
        setattr(model_instance, self.attname, grams)
        return grams


@SearchGramsField.register_lookup
class HoldsAll(Lookup):
    """``grams__holds_all=[…]``: the row holds every gram (PostgreSQL: ``@>``, GIN-served)."""

    lookup_name = "holds_all"

    def get_db_prep_lookup(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        return ("%s", [self.lhs.output_field.get_db_prep_value(value, connection)])

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} @> ({rhs})::text[]", [*lhs_params, *rhs_params]

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> Any:
        # Elsewhere the grams are " a b ab " text: one LIKE per gram (a scan, like search_text's).
        lhs, lhs_params = self.process_lhs(compiler, connection)
        grams = [str(gram) for gram in self.rhs]
        if not grams:
            return "1 = 1", []
        clauses = [f"(' ' || {lhs} || ' ') LIKE %s ESCAPE '\\'" for _gram in grams]
        params: list[Any] = []
        for gram in grams:
            escaped = gram.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.extend([*lhs_params, f"% {escaped} %"])
        return "(" + " AND ".join(clauses) + ")", params
