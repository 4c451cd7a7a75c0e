"""Issued PDFs move out of the database (2 of 3): each BLOB is written to the documents storage.

Not atomic on purpose: with a million documents one transaction would hold every row (and
SQLite's write lock) for the whole copy. Each row is written to storage first and then gets
its ``storage_name`` in its own short UPDATE, so an interrupted run leaves rows either moved or
untouched, and running ``migrate`` again carries on with the rest. Reversible: the way back
reads each file into ``pdf`` again (the files are left in place; delete them by hand).
"""

import hashlib
import logging

from django.db import migrations

logger = logging.getLogger("machi.documents.migrations")
BATCH = 200


def _pending(model):
    return model.objects.filter(storage_name__isnull=True).order_by("pk")


def pdfs_to_storage(apps, schema_editor):
    from machi.documents.storage import document_storage, new_storage_name, write_bytes

    model = apps.get_model("documents", "IssuedDocument")
    storage = document_storage()
    moved = 0
    while True:
        batch = list(_pending(model).only("pk", "municipality_id", "sha256", "pdf")[:BATCH])
        if not batch:
            break
        for row in batch:
            data = bytes(row.pdf)
            if hashlib.sha256(data).hexdigest() != row.sha256:
                # Moved as it is: every read checks the digest and refuses this document.
                logger.error("issued document %s: BLOB does not match its SHA-256", row.pk)
            name = write_bytes(storage, new_storage_name(row.municipality_id), data)
            model.objects.filter(pk=row.pk, storage_name__isnull=True).update(storage_name=name)
            moved += 1
    if moved:
        logger.info("moved %d issued documents to the documents storage", moved)


def pdfs_back_to_database(apps, schema_editor):
    from machi.documents.storage import document_storage

    model = apps.get_model("documents", "IssuedDocument")
    storage = document_storage()
    for row in model.objects.exclude(storage_name__isnull=True).only("pk", "storage_name"):
        with storage.open(row.storage_name, "rb") as handle:
            data = handle.read()
        model.objects.filter(pk=row.pk).update(pdf=data, storage_name=None)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("documents", "0002_issueddocument_storage_name")]

    operations = [migrations.RunPython(pdfs_to_storage, pdfs_back_to_database, elidable=False)]
