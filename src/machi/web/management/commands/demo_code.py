"""``.venv/bin/python -m machi demo-code``: the current TOTP code of the demo accounts' shared secret."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django_otp.oath import TOTP

from machi.core.demo import DEMO_TOTP_KEY_HEX


class Command(BaseCommand):
    help = "Print the current 6-digit code for the demo TOTP secret (demo accounts only)."

    def handle(self, *args: Any, **options: Any) -> None:
        totp = TOTP(bytes.fromhex(DEMO_TOTP_KEY_HEX), step=30, digits=6)
        totp.time = time.time()
        remaining = 30 - int(time.time()) % 30
        self.stdout.write(f"{totp.token():06d}  (valid for about {remaining} s)")
