"""``python -m machi verify-audit``: check every audit chain, name the first broken entry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from machi.core.selectors import audit_verify

REASONS = {
    "missing": "an entry is missing (deleted)",
    "prev_hash_mismatch": "the entry does not link to its predecessor",
    "content_changed": "the entry's content was changed after it was written",
    "tail_missing": "entries at the end of the chain are missing (deleted)",
}


class Command(BaseCommand):
    help = "Verify the hash chains of the audit log; exit 1 and name the first broken entry."

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify()
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"OK: {result.entries_checked} audit entries in "
                    f"{result.chains_checked} chains verified."
                )
            )
            return
        for broken in result.breaks:
            chain = broken.chain
            entry = f" (entry id {broken.entry_id})" if broken.entry_id else ""
            self.stderr.write(
                f"BROKEN chain {chain}: first bad entry is sequence {broken.sequence}{entry}: "
                f"{REASONS.get(broken.reason, broken.reason)}."
            )
        raise CommandError(f"{len(result.breaks)} audit chain(s) failed verification.")
