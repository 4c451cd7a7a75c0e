"""``python -m machi load-demo``: demo tenants, staff and data; prints how to sign in."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from machi.cases.demo import load_cases_demo
from machi.core.demo import DEMO_PASSWORD, DEMO_TOTP_BASE32, load_core_demo
from machi.core.models import User
from machi.documents.demo import load_documents_demo
from machi.identity.demo import DEMO_RESIDENT_PASSWORD, load_identity_demo
from machi.procedures.demo import load_procedures_demo


class Command(BaseCommand):
    help = "Load the demo data (idempotent) and print the demo sign-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--quiet", action="store_true", help="load without printing logins")

    def handle(self, *args: Any, **options: Any) -> None:
        logins = load_core_demo()
        load_procedures_demo()
        load_cases_demo()
        load_documents_demo()
        demo_card = load_identity_demo()
        if options["quiet"]:
            return
        base = options["base_url"].rstrip("/")
        out = self.stdout.write
        out("")
        out(self.style.SUCCESS("Machi demo is ready / デモの準備ができました"))
        out(f"  Resident portal (住民ポータル):  {base}/")
        out(f"  Staff console  (職員コンソール): {base}/staff/")
        out(f"  API (OpenAPI 3):                 {base}/api/v1/openapi.json")
        out(f"  Health:                          {base}/healthz")
        out(f"  Verify a document (文書の検証):  {base}/verify/")
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
