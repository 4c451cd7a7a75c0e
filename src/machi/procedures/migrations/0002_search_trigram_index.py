"""PostgreSQL: a trigram index so catalog search (LIKE '%…%' on search_text) need not scan.

Needs the pg_trgm extension; where the database user may not create it, the index is skipped
(search still works, by sequential scan). SQLite: nothing to do.
"""

from django.db import migrations, transaction


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic():
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # no privilege to create extensions: keep the sequential scan
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS procedure_search_trgm ON procedures_procedure "
        "USING gin (search_text gin_trgm_ops)"
    )


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS procedure_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("procedures", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
