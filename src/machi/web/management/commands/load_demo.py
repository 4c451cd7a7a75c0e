"""``.venv/bin/python -m machi load-demo``: demo tenants, staff and data; prints how to sign in.

Refused under production settings: the demo's passwords and TOTP secret are public.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from machi.cases.demo import load_cases_demo
from machi.core.demo import DEMO_PASSWORD, DEMO_TOTP_BASE32, load_core_demo
from machi.core.models import User
from machi.documents.demo import load_documents_demo
from machi.identity.demo import DEMO_RESIDENT_PASSWORD, load_identity_demo
from machi.procedures.demo import load_procedures_demo

PRODUCTION_REFUSAL = (
    "本番設定（MACHI_PRODUCTION=1）ではデモデータを読み込めません。"
    "デモのアカウントのパスワードと TOTP の秘密鍵は公開されています。何も作成していません。\n"
    "load-demo refuses to run with production settings (MACHI_PRODUCTION=1): the demo accounts' "
    "passwords and TOTP secret are public. Nothing was created."
)
#: Where the demo is served when neither --base-url nor MACHI_PUBLIC_BASE_URL says (`make demo`).
DEFAULT_BASE_URL = "http://localhost:8000"


def demo_base_url(option: str | None) -> str:
    """The address printed: --base-url, else the public base URL setting, else the default."""
    base = option or getattr(settings, "MACHI_PUBLIC_BASE_URL", "") or DEFAULT_BASE_URL
    return str(base).rstrip("/")


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class Command(BaseCommand):
    help = "Load the demo data (idempotent) and print the demo sign-ins. Refused in production."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default=None,
            help=f"address printed (default: MACHI_PUBLIC_BASE_URL, else {DEFAULT_BASE_URL})",
        )
        parser.add_argument("--quiet", action="store_true", help="load without printing logins")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(PRODUCTION_REFUSAL)
        logins = load_core_demo()
        load_procedures_demo()
        load_cases_demo()
        load_documents_demo()
        demo_card = load_identity_demo()
        if options["quiet"]:
            return
        base = demo_base_url(options["base_url"])
        host = urlsplit(base).hostname or ""
        out = self.stdout.write
        out("")
        out(self.style.SUCCESS("Machi demo is ready / デモの準備ができました"))
        out(f"  Resident portal (住民ポータル):  {base}/")
        out(f"  Staff console  (職員コンソール): {base}/staff/")
        out(f"  API (OpenAPI 3):                 {base}/api/v1/openapi.json")
        out(f"  Health:                          {base}/healthz")
        out(f"  Verify a document (文書の検証):  {base}/verify/")
        if is_ip_address(host):
            # Browsers refuse an IP address as a WebAuthn relying party ID.
            out(
                f"  Passkeys (パスキー) need a host name, not {host}: run `make demo HOST=localhost`"
            )
        else:
            out(f"  Passkeys (パスキー) work at {base}/ (open every page at this host, {host})")
        out("")
        out(f"  Demo password for every account: {DEMO_PASSWORD}")
        out(f"  TOTP secret (base32) for every demo account: {DEMO_TOTP_BASE32}")
        out("    add it to an authenticator app, or print the current code with")
        out("    `.venv/bin/python -m machi demo-code`")
        out("")
        out("  Resident (住民) sign-in: " + f"{base}/account/sign-in/")
        out(f"    e-mail {demo_card.resident_email}, password {DEMO_RESIDENT_PASSWORD}")
        out(f"    simulated My Number card: {demo_card.card_path}")
        out("    sign what the review page shows with:")
        out(f"    .venv/bin/python -m machi card sign {demo_card.card_path} --data data.bin")
        out("")
        out("  Staff accounts (username — role — municipality code):")
        for login in logins:
            out(f"    {login.username:<20} {login.role:<12} {login.municipality}")
        # Added by the cases demo: the second approver of the two-step routes (課長決裁).
        for extra in User.objects.filter(username__startswith="kakogawa-kacho"):
            out(f"    {extra.username:<20} {'決裁者（課長）':<10} 282103")
