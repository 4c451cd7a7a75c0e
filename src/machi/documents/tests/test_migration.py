"""Migrations 0002–0004 move existing BLOBs to the documents storage and drop the column; and back."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from machi.documents.models import IssuedDocument
from machi.documents.services import document_read

BEFORE = [("documents", "0001_initial")]
AFTER = [("documents", "0004_drop_issued_pdf_blob")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def legacy_row(model, application, *, data: bytes, sha256: str | None = None):
    now = timezone.now()
    return model.objects.create(
        id=uuid.uuid4(),
        municipality_id=application.municipality_id,
        application_id=application.pk,
        kind="certificate",
        title="住民票の写し",
        verification_id=uuid.uuid4().hex[:12].upper().replace("I", "1").replace("O", "0"),
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size=len(data),
        pdf=data,
        signer_subject="CN=加古川市長",
        signer_serial="1",
        signed_at=now,
        timestamp_at=now,
        tsa_name="Machi TEST TSA",
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.django_db(transaction=True)
def test_blobs_move_to_storage_and_back(make_application, documents_root):
    first, second = make_application(), make_application()
    genuine = b"%PDF-1.7 issued document one\n%%EOF\n"
    damaged = b"%PDF-1.7 a BLOB already damaged in the database\n"
    try:
        old_apps = migrate(BEFORE)
        legacy = old_apps.get_model("documents", "IssuedDocument")
        ok = legacy_row(legacy, first, data=genuine)
        bad = legacy_row(legacy, second, data=damaged, sha256="0" * 64)

        migrate(AFTER)

        moved = IssuedDocument.objects.get(pk=ok.pk)
        assert (documents_root / moved.storage_name).read_bytes() == genuine
        assert document_read(document=moved) == genuine
        assert moved.size == len(genuine)
        # The damaged BLOB is moved as it was; reading it is refused like any damaged file.
        kept = IssuedDocument.objects.get(pk=bad.pk)
        assert (documents_root / kept.storage_name).read_bytes() == damaged
        assert len(files_under(documents_root)) == 2
        columns = [
            c.name
            for c in connection.introspection.get_table_description(
                connection.cursor(), IssuedDocument._meta.db_table
            )
        ]
        assert "pdf" not in columns and "storage_name" in columns

        old_apps = migrate(BEFORE)
        legacy = old_apps.get_model("documents", "IssuedDocument")
        assert bytes(legacy.objects.get(pk=ok.pk).pdf) == genuine
        assert bytes(legacy.objects.get(pk=bad.pk).pdf) == damaged
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
