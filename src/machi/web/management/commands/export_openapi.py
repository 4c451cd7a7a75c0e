"""``python -m machi export-openapi [FILE]``: write the API's OpenAPI document (``make openapi``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from machi.openapi import committed_path, document, render


class Command(BaseCommand):
    help = "Write the OpenAPI document of /api/v1/ (default: docs/openapi.json)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", type=Path, help="default: docs/openapi.json")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"] or committed_path()
        path.write_text(render(document()), encoding="utf-8")
        self.stdout.write(f"wrote {path}")
