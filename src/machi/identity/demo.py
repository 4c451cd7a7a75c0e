"""Demo resident and My Number card (test CA only), so the demo runs the real verification code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings

from machi.identity import services
from machi.identity.card_authority import CardAuthority, CardFile
from machi.identity.selectors import resident_get_by_email

DEMO_RESIDENT_EMAIL = "hanako@demo.machi.example"
DEMO_RESIDENT_PASSWORD = "machi-demo-2026"  # noqa: S105 - published demo password, demo data only


@dataclass(frozen=True)
class DemoCard:
    resident_email: str
    card_path: Path


def load_identity_demo() -> DemoCard:
    """Create the test card authority, a verified demo resident and their card file (idempotent)."""
    authority = CardAuthority.from_settings()
    authority.init()
    if resident_get_by_email(email=DEMO_RESIDENT_EMAIL) is None:
        user = services.resident_sign_up(
            email=DEMO_RESIDENT_EMAIL, password=DEMO_RESIDENT_PASSWORD, display_name="加古川 花子"
        )
        services.resident_email_verify(token=services.email_verification_token(user=user))
    card_path = Path(settings.VAR_DIR) / "demo-card.json"
    if not card_path.exists():
        card = authority.issue(
            name="加古川 花子",
            sex="2",
            birth_date=date(1990, 1, 2),
            address="兵庫県加古川市加古川町北在家2000",
        )
        card.save(card_path)
    else:
        CardFile.load(card_path)  # fail early if the file is damaged
    return DemoCard(DEMO_RESIDENT_EMAIL, card_path)
