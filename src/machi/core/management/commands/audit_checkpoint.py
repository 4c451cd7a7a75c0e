"""``python -m machi audit-checkpoint``: time-stamp every audit chain head (cron / systemd timer)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from machi.core.audit_checkpoints import TimestampInvalid, checkpoint_create
from machi.core.exceptions import Conflict


class Command(BaseCommand):
    help = (
        "Hash every audit chain head together, get an RFC 3161 time stamp from the configured "
        "TSA (MACHI_TSA_URL; built-in when empty) and store it as the next checkpoint."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint = checkpoint_create()
        except (Conflict, TimestampInvalid, KeyError, OSError) as exc:
            raise CommandError(f"no checkpoint taken: {exc}") from exc
        except Exception as exc:  # the TSA client raises its own kinds (TimestampRequestError…)
            raise CommandError(f"no checkpoint taken: the TSA failed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint {checkpoint.number}: {len(checkpoint.heads)} chains, "
                f"digest {checkpoint.digest}, time-stamped {checkpoint.timestamped_at:%Y-%m-%dT%H:%M:%SZ} "
                f"by {checkpoint.tsa}."
            )
        )
