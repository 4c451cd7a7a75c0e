"""``python -m machi documents_storage …``: check and tidy the stored PDFs of issued documents.

    python -m machi documents_storage check [--signatures]   # every file there, size + SHA-256
    python -m machi documents_storage sweep [--older-than-hours 1]

``check`` reads every issued document through ``document_read`` (the same check as a download)
and, with ``--signatures``, validates its PAdES signature again; it exits 1 when any document
fails (run it after restoring a backup). ``sweep`` removes files no document names (left by a
process killed between writing a file and committing its row).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from machi.documents.models import IssuedDocument
from machi.documents.pki import configured_trust_roots
from machi.documents.stored import DocumentUnavailable, document_read, document_sweep_orphans
from machi.documents.validation import validate_pdf

CHUNK = 200


class Command(BaseCommand):
    help = "Check the stored PDFs of issued documents (size, SHA-256, signature) or sweep orphans."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="read every document back and compare its digest")
        check.add_argument(
            "--signatures", action="store_true", help="also validate each PAdES signature"
        )
        sweep = sub.add_parser("sweep", help="remove files that no document names")
        sweep.add_argument("--older-than-hours", type=float, default=1.0)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "sweep":
            hours = max(options["older_than_hours"], 0.0)
            removed = document_sweep_orphans(older_than=timedelta(hours=hours))
            self.stdout.write(f"removed {len(removed)} unreferenced file(s)")
            return
        self._check(signatures=options["signatures"])

    def _check(self, *, signatures: bool) -> None:
        roots = configured_trust_roots() if signatures else []
        checked = failed = 0
        for document in IssuedDocument.objects.order_by("created_at", "pk").iterator(CHUNK):
            checked += 1
            try:
                data = document_read(document=document)
            except DocumentUnavailable as exc:
                failed += 1
                self.stderr.write(f"{document.pk} {document.verification_id}: {exc.code}")
                continue
            if signatures:
                reports = validate_pdf(data, trust_roots=roots)
                if not reports or not reports[-1].ok:
                    failed += 1
                    self.stderr.write(f"{document.pk} {document.verification_id}: signature")
        self.stdout.write(f"checked {checked} document(s), {failed} failed")
        if failed:
            raise CommandError(f"{failed} of {checked} stored document(s) failed the check")
