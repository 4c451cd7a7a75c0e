"""The catalog version: a token the database changes with every change of the searchable catalog.

``procedures.search.CatalogIndex`` (an in-memory index per process) compares it with the token
it was built at, read in the same statement as the page's rows. Triggers, not services, change
it, so every write counts (services, ``bulk_create``, ``QuerySet.update``, the admin, a test's
flush, another process): any insert or delete of a procedure, an update of a column that decides
whether or where it is listed, and a municipality's activation or deactivation.

The token is never reused, so a rolled-back change cannot make an index built inside that
transaction look current: a sequence number on PostgreSQL (``nextval`` is not rolled back), 16
random bytes on SQLite. A plain table with no model: ``flush`` (tests) leaves it alone.
"""

from django.db import migrations

# Updates of these columns change a search's result set or order; others (counters, template
# links) do not and must not make every process rebuild its index.
LISTED_COLUMNS = "search_text, is_published, municipality_id, name_kana, name"

POSTGRESQL = [
    "CREATE SEQUENCE procedures_catalog_version_seq",
    "CREATE TABLE procedures_catalog_version (id integer PRIMARY KEY CHECK (id = 1), token text NOT NULL)",
    "INSERT INTO procedures_catalog_version (id, token) VALUES (1, nextval('procedures_catalog_version_seq')::text)",
    "CREATE FUNCTION procedures_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN UPDATE procedures_catalog_version SET token = nextval('procedures_catalog_version_seq')::text "
    "WHERE id = 1; RETURN NULL; END $$",
    # Statement-level: a bulk load bumps it once, not once per row.
    "CREATE TRIGGER procedures_catalog_changed "
    f"AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF {LISTED_COLUMNS} ON procedures_procedure "
    "FOR EACH STATEMENT EXECUTE FUNCTION procedures_catalog_changed()",
    "CREATE TRIGGER procedures_catalog_municipality AFTER UPDATE OF is_active "
    "ON core_municipality FOR EACH STATEMENT EXECUTE FUNCTION procedures_catalog_changed()",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS procedures_catalog_municipality ON core_municipality",
    "DROP TRIGGER IF EXISTS procedures_catalog_changed ON procedures_procedure",
    "DROP FUNCTION IF EXISTS procedures_catalog_changed()",
    "DROP TABLE IF EXISTS procedures_catalog_version",
    "DROP SEQUENCE IF EXISTS procedures_catalog_version_seq",
]

_SQLITE_BUMP = "BEGIN UPDATE procedures_catalog_version SET token = lower(hex(randomblob(16))); END"
SQLITE = [
    "CREATE TABLE procedures_catalog_version (id integer PRIMARY KEY CHECK (id = 1), token text NOT NULL)",
    "INSERT INTO procedures_catalog_version (id, token) VALUES (1, lower(hex(randomblob(16))))",
    f"CREATE TRIGGER procedures_catalog_insert AFTER INSERT ON procedures_procedure {_SQLITE_BUMP}",
    f"CREATE TRIGGER procedures_catalog_delete AFTER DELETE ON procedures_procedure {_SQLITE_BUMP}",
    f"CREATE TRIGGER procedures_catalog_update AFTER UPDATE OF {LISTED_COLUMNS} "
    f"ON procedures_procedure {_SQLITE_BUMP}",
    "CREATE TRIGGER procedures_catalog_municipality AFTER UPDATE OF is_active "
    f"ON core_municipality {_SQLITE_BUMP}",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS procedures_catalog_municipality",
    "DROP TRIGGER IF EXISTS procedures_catalog_update",
    "DROP TRIGGER IF EXISTS procedures_catalog_delete",
    "DROP TRIGGER IF EXISTS procedures_catalog_insert",
    "DROP TABLE IF EXISTS procedures_catalog_version",
]


def _run(schema_editor, statements):  # type: ignore[no-untyped-def]
    for statement in statements:
        schema_editor.execute(statement, params=None)


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    postgresql = schema_editor.connection.vendor == "postgresql"
    _run(schema_editor, POSTGRESQL if postgresql else SQLITE)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    postgresql = schema_editor.connection.vendor == "postgresql"
    _run(schema_editor, POSTGRESQL_REVERSE if postgresql else SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("core", "0005_prune_indexes"), ("procedures", "0005_prune_indexes")]

    operations = [migrations.RunPython(create, drop)]
