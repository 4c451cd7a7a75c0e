"""``python -m machi verify-audit``: check every audit chain and checkpoint, name what is broken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from machi.core.audit_checkpoints import EXPORT_FORMAT, checkpoint_from_dict
from machi.core.audit_verify import ChainBreak, audit_verify
from machi.core.models import AuditCheckpoint

REASONS = {
    "missing": "an entry is missing (deleted)",
    "prev_hash_mismatch": "the entry does not link to its predecessor",
    "content_changed": "the entry was changed or forged (its link is not the keyed HMAC of its content)",
    "unknown_key": "the entry names a chain key that is not configured (forged?)",
    "tail_missing": "entries at the end of the chain are missing (deleted)",
}


def break_line(broken: ChainBreak) -> str:
    """One report line; the format is relied on by operators' monitoring: keep it stable."""
    chain = broken.chain
    if broken.reason == "checkpoint_missing":
        first, last = broken.sequence, broken.last_sequence
        span = f"entry {first}" if first == last else f"entries {first}–{last}"
        return f"BROKEN chain {chain}: {span} missing (checkpoint at {last})."
    if broken.reason == "checkpoint_mismatch":
        return (
            f"BROKEN chain {chain}: entry {broken.sequence} (entry id {broken.entry_id}) is not "
            f"the entry checkpoint {broken.checkpoint} recorded (replaced)."
        )
    entry = f" (entry id {broken.entry_id})" if broken.entry_id else ""
    return (
        f"BROKEN chain {chain}: first bad entry is sequence {broken.sequence}{entry}: "
        f"{REASONS.get(broken.reason, broken.reason)}."
    )


def _exported(path: str) -> list[AuditCheckpoint]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if document.get("format") != EXPORT_FORMAT:
            raise ValueError(f"format is not {EXPORT_FORMAT}")
        return [checkpoint_from_dict(item) for item in document["checkpoints"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CommandError(f"cannot read the exported checkpoints {path}: {exc}") from exc


class Command(BaseCommand):
    help = (
        "Verify the audit log's keyed chains and time-stamped checkpoints; exit 1 and name the "
        "first broken entry of each chain, or the missing range."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--against",
            metavar="FILE",
            help="also hold the database against checkpoints exported earlier (audit-export)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        exported = _exported(options["against"]) if options.get("against") else None
        result = audit_verify(exported=exported)
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"OK: {result.entries_checked} audit entries in "
                    f"{result.chains_checked} chains verified; "
                    f"{result.checkpoints_checked} checkpoints verified."
                )
            )
            return
        for problem in result.checkpoint_problems:
            self.stderr.write(f"BROKEN checkpoint {problem.number}: {problem.reason}.")
        for broken in result.breaks:
            self.stderr.write(break_line(broken))
        failures = len(result.breaks) + len(result.checkpoint_problems)
        raise CommandError(f"{failures} audit chain(s) or checkpoint(s) failed verification.")
