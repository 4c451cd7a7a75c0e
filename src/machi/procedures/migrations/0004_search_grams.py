"""Catalog search by unigrams and bigrams (procedures.search), for queries of any length.

Adds ``search_grams``, fills it from every row's ``search_text`` and, on PostgreSQL, indexes
it with GIN (``grams @> ARRAY[…]``) in place of the trigram index of 0002, which could not
serve one- or two-character queries (転出, ごみ) and is no longer used by any query.
"""

from django.db import migrations, models

import machi.procedures.search

BATCH = 500


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    from machi.procedures.search import search_grams

    procedure_model = apps.get_model("procedures", "Procedure")
    rows = procedure_model.objects.using(schema_editor.connection.alias).only("pk", "search_text")
    batch = []
    for procedure in rows.iterator(chunk_size=BATCH):
        procedure.search_grams = search_grams(procedure.search_text)
        batch.append(procedure)
        if len(batch) == BATCH:
            procedure_model.objects.bulk_update(batch, ["search_grams"])
            batch = []
    if batch:
        procedure_model.objects.bulk_update(batch, ["search_grams"])


def create_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS procedure_search_grams ON procedures_procedure "
        # no pending list: the catalog is written seldom and searched constantly (a pending
        # list is scanned by every search until a vacuum merges it)
        "USING gin (search_grams) WITH (fastupdate = off)"
    )
    schema_editor.execute("DROP INDEX IF EXISTS procedure_search_trgm")


def drop_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS procedure_search_grams")
    schema_editor.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN "
        "CREATE INDEX IF NOT EXISTS procedure_search_trgm ON procedures_procedure "
        "USING gin (search_text gin_trgm_ops); END IF; END $$"
    )


class Migration(migrations.Migration):
    dependencies = [("procedures", "0003_correction_changes")]

    operations = [
        migrations.AddField(
            model_name="procedure",
            name="search_grams",
            field=machi.procedures.search.SearchGramsField(
                blank=True, default=list, editable=False
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(create_index, drop_index),
        migrations.AddIndex(
            model_name="procedure",
            index=models.Index(
                fields=["municipality", "name_kana", "name"], name="procedure_catalog_order"
            ),
        ),
    ]
