"""``python -m machi payments_reconcile --date YYYY-MM-DD``: the daily payment reconciliation.

First checks open payments left behind (a lost provider call, a payer who never came back)
with their provider, then compares each municipality's payments of the day with the
providers' records and prints every discrepancy. ``--strict`` exits 1 when any is found.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from machi.payments import selectors, services
from machi.payments.models import Payment
from machi.payments.providers import default_provider_id


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}") from exc


class Command(BaseCommand):
    help = "Reconcile one day's payments with the payment providers' records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="day to reconcile (YYYY-MM-DD; default: yesterday)")
        parser.add_argument(
            "--municipality",
            action="append",
            default=[],
            help="only this municipality code (repeatable)",
        )
        parser.add_argument(
            "--strict", action="store_true", help="exit with status 1 when a discrepancy is found"
        )
        parser.add_argument(
            "--no-refresh",
            action="store_true",
            help="do not check stale open payments with the provider first",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        day = _date(options["date"]) if options["date"] else timezone.localdate() - timedelta(1)
        if not options["no_refresh"]:
            changed = services.payments_refresh_stale()
            self.stdout.write(f"refreshed stale payments: {changed} changed")
        codes = options["municipality"] or selectors.municipalities_with_payments(day)
        provider_ids = {default_provider_id()} | set(
            Payment.objects.filter(municipality_id__in=codes)
            .values_list("provider", flat=True)
            .distinct()
        )
        records, errors = selectors.provider_records_for_day(day, provider_ids)
        for error in errors:
            self.stderr.write(f"provider error: {error}")
        extra = {
            r.metadata.get("machi_municipality", "") for rs in records.values() for r in rs
        } - {""}
        if not options["municipality"]:
            codes = sorted(set(codes) | extra)
        problems = len(errors)
        for code in codes:
            report = selectors.reconciliation_report(
                municipality_code=code, day=day, provider_records=records
            )
            matched = len(report.of_kind(selectors.Discrepancy.MATCHED))
            self.stdout.write(
                f"{code} {day}: {len(report.items)} lines, {matched} matched, "
                f"{len(report.discrepancies)} discrepancies"
            )
            for item in report.discrepancies:
                problems += 1
                self.stdout.write(
                    f"  {item.kind}: {item.provider}:{item.provider_ref or '-'} "
                    f"payment={item.payment_id or '-'} machi={item.machi_amount} "
                    f"provider={item.provider_amount} {item.machi_status}/{item.provider_status}"
                )
        if options["strict"] and problems:
            raise CommandError(f"{problems} discrepancies or errors")
