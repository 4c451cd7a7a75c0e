"""The catalog version: a token the database changes with every change of what the catalog lists.

``procedures.search.CatalogIndex`` (an in-memory index per process, with the entries it has
shown) is used only while this token is the one it was built at. Triggers, not services, change
it, so every write counts (services, ``bulk_create``, ``QuerySet.update``, the admin, a test's
flush, another process): any write of a procedure; a form version's creation, deletion or
publication (an entry shows its newest published number); a municipality's name or activation;
a department's name.

The token is never reused, so a rolled-back change cannot make an index built inside that
transaction look current: a sequence number on PostgreSQL (``nextval`` is not rolled back), 16
random bytes on SQLite. A plain table with no model: ``flush`` (tests) leaves it alone. On
SQLite a later migration that rebuilds one of these tables (SQLite's ``ALTER`` by copy) drops
its triggers: ``test_catalog_index`` fails then, and the migration must create them again.
"""

from django.db import migrations

# (table, PostgreSQL events, SQLite events): what an entry shows or whether it is listed.
WATCHED = [
    (
        "procedures_procedure",
        "INSERT OR DELETE OR TRUNCATE OR UPDATE",
        ["INSERT", "DELETE", "UPDATE"],
    ),
    (
        "procedures_formversion",
        "INSERT OR DELETE OR TRUNCATE OR UPDATE OF procedure_id, number, published_at",
        ["INSERT", "DELETE", "UPDATE OF procedure_id, number, published_at"],
    ),
    ("core_municipality", "UPDATE OF is_active, name", ["UPDATE OF is_active, name"]),
    ("core_department", "UPDATE OF name", ["UPDATE OF name"]),
]


def _postgresql() -> list[str]:
    statements = [
        "CREATE SEQUENCE procedures_catalog_version_seq",
        "CREATE TABLE procedures_catalog_version "
        "(id integer PRIMARY KEY CHECK (id = 1), token text NOT NULL)",
        "INSERT INTO procedures_catalog_version (id, token) "
        "VALUES (1, nextval('procedures_catalog_version_seq')::text)",
        "CREATE FUNCTION procedures_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE procedures_catalog_version "
        "SET token = nextval('procedures_catalog_version_seq')::text WHERE id = 1; "
        "RETURN NULL; END $$",
    ]
    # Statement-level: a bulk load bumps it once, not once per row.
    statements += [
        f"CREATE TRIGGER procedures_catalog_changed AFTER {events} ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION procedures_catalog_changed()"
        for table, events, _sqlite in WATCHED
    ]
    return statements


def _postgresql_reverse() -> list[str]:
    return [
        *(f"DROP TRIGGER IF EXISTS procedures_catalog_changed ON {table}" for table, *_ in WATCHED),
        "DROP FUNCTION IF EXISTS procedures_catalog_changed()",
        "DROP TABLE IF EXISTS procedures_catalog_version",
        "DROP SEQUENCE IF EXISTS procedures_catalog_version_seq",
    ]


def _sqlite_triggers() -> list[tuple[str, str, str]]:
    """(trigger name, event, table) of every SQLite trigger (SQLite has one event per trigger)."""
    triggers = []
    for table, _postgresql_events, events in WATCHED:
        for event in events:
            triggers.append((f"{table}_catalog_{event.split()[0].lower()}", event, table))
    return triggers


def _sqlite() -> list[str]:
    bump = "UPDATE procedures_catalog_version SET token = lower(hex(randomblob(16)))"
    return [
        "CREATE TABLE procedures_catalog_version "
        "(id integer PRIMARY KEY CHECK (id = 1), token text NOT NULL)",
        "INSERT INTO procedures_catalog_version (id, token) VALUES (1, lower(hex(randomblob(16))))",
        *(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {bump}; END"
            for name, event, table in _sqlite_triggers()
        ),
    ]


def _sqlite_reverse() -> list[str]:
    return [
        *(f"DROP TRIGGER IF EXISTS {name}" for name, _event, _table in _sqlite_triggers()),
        "DROP TABLE IF EXISTS procedures_catalog_version",
    ]


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in _postgresql() if postgresql else _sqlite():
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in _postgresql_reverse() if postgresql else _sqlite_reverse():
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0005_prune_indexes"), ("procedures", "0005_prune_indexes")]

    operations = [migrations.RunPython(create, drop)]
