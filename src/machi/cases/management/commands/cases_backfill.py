"""``python -m machi cases_backfill``: create missing cases and re-sync stale ones (repair)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from machi.cases.services import cases_backfill


class Command(BaseCommand):
    help = (
        "Create the case of every submitted application that has none and re-sync stale cases "
        "(for data from before the cases app; new submissions get their case in their own "
        "transaction)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--municipality", default="", help="only this municipality code")

    def handle(self, *args: Any, **options: Any) -> None:
        result = cases_backfill(municipality_code=options["municipality"] or None)
        self.stdout.write(f"created {result.created} case(s), synced {result.synced} case(s)")
