"""``python -m machi audit-export``: write the audit checkpoints as JSON for the prefecture."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from machi.core.audit_checkpoints import checkpoints_export


class Command(BaseCommand):
    help = (
        "Write every audit checkpoint (chain heads, digest, RFC 3161 token as base64 DER) as "
        "JSON, to keep outside this installation; `verify-audit --against FILE` checks against it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        parser.add_argument("--since", type=int, default=1, help="first checkpoint number")

    def handle(self, *args: Any, **options: Any) -> None:
        document = checkpoints_export(since=max(1, int(options["since"])))
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        output = options.get("output")
        if not output:
            self.stdout.write(text, ending="")
            return
        path = Path(output)
        # Owner-only: the file names every chain of every municipality.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.stderr.write(f"{len(document['checkpoints'])} checkpoints written to {path}.")
