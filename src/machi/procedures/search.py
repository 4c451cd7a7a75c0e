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

from bisect import bisect_left
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


# --- In-memory catalog index ----------------------------------------------------------------

CATALOG_VERSION_SQL = "SELECT token FROM procedures_catalog_version WHERE id = 1"
# Keys whose matches are kept (a key's matches cost one scan of every search_text to find).
_CACHED_KEYS = 4096


class CatalogIndex:
    """The published catalog of active municipalities in catalog order, held by one process.

    Built from one query (id, municipality, ``search_text`` of every listed procedure, ordered
    by municipality, reading and name) and labelled with the catalog version that query read
    (migration ``0006``: a token the database changes on every change of what the catalog lists
    or shows). A search is a substring test on the held texts, the same test as the ``LIKE`` the
    database runs, so results and order are those of ``selectors.procedure_search``. ``entries``
    keeps the entries (``selectors.CatalogEntry``) of the ids already shown, so a page whose
    entries are all known costs the caller one statement: reading the version.
    """

    def __init__(self, *, version: str | None, rows: list[tuple[int, str, str]]) -> None:
        self.version = version
        self.ids = [row[0] for row in rows]
        self._texts = [row[2] for row in rows]
        # Rows are ordered by municipality first: each municipality is one slice of positions.
        self._spans: dict[str, tuple[int, int]] = {}
        for position, (_id, municipality, _text) in enumerate(rows):
            start, _end = self._spans.get(municipality, (position, position))
            self._spans[municipality] = (start, position + 1)
        self._matches: dict[str, list[int]] = {}
        self.entries: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def _positions(self, key: str) -> list[int]:
        """Positions (ascending) of the procedures whose ``search_text`` contains ``key``."""
        found = self._matches.get(key)
        if found is None:
            found = [position for position, text in enumerate(self._texts) if key in text]
            if len(self._matches) >= _CACHED_KEYS:
                self._matches.clear()  # bounded: a flood of distinct queries cannot grow it
            self._matches[key] = found
        return found

    def search(
        self, *, keys: list[str], municipality_code: str, offset: int, limit: int
    ) -> list[int]:
        """Ids of the ``limit`` procedures from ``offset`` matching every key, in catalog order."""
        start, end = (0, len(self.ids))
        if municipality_code:
            start, end = self._spans.get(municipality_code, (0, 0))
        if not keys:
            return self.ids[min(start + offset, end) : min(start + offset + limit, end)]
        # The fewest matches first; the other keys are tested on those texts only.
        first, *others = sorted(set(keys), key=lambda key: len(self._positions(key)))
        positions = self._positions(first)
        positions = positions[bisect_left(positions, start) : bisect_left(positions, end)]
        if others:
            texts = self._texts
            positions = [p for p in positions if all(key in texts[p] for key in others)]
        return [self.ids[p] for p in positions[offset : offset + limit]]


# One index per database alias, replaced when found stale (in place, only its caches grow).
_indexes: dict[str, CatalogIndex] = {}


def catalog_index(using: str) -> CatalogIndex | None:
    """This process's index of database ``using`` as last built (possibly stale), if any."""
    return _indexes.get(using)


def catalog_version(using: str) -> str | None:
    """The catalog version of database ``using`` now (``None`` without its row)."""
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute(CATALOG_VERSION_SQL)
        found = cursor.fetchone()
    return found[0] if found else None


def build_catalog_index(using: str) -> CatalogIndex:
    """Rebuild the index of ``using`` from one query (two if the catalog is empty)."""
    from django.db.models.expressions import RawSQL

    from machi.procedures.models import Procedure

    rows = list(
        Procedure.objects.using(using)
        .filter(is_published=True, municipality__is_active=True)
        .order_by("municipality_id", "name_kana", "name", "id")
        # Read in the rows' own statement: the version is exactly the one of these rows.
        .values_list(
            "id",
            "municipality_id",
            "search_text",
            RawSQL(CATALOG_VERSION_SQL, ()),  # noqa: S611 - a constant statement, no parameters
        )
    )
    version = rows[0][3] if rows else catalog_version(using)
    index = CatalogIndex(version=version, rows=[(row[0], row[1], row[2]) for row in rows])
    _indexes[using] = index
    return index


def forget_catalog_indexes() -> None:
    """Drop every index of this process (the next search rebuilds)."""
    _indexes.clear()
