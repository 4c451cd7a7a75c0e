"""Demo resident and My Number card (test CA only), so the demo runs the real verification code."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings

from machi.identity import selectors, services
from machi.identity.models import ChallengePurpose
from machi.identity.selectors import resident_get_by_email
from machi.testing_pki.cards import CardAuthority, CardFile
from machi.testing_pki.wallet import wallet_save

DEMO_RESIDENT_EMAIL = "hanako@demo.machi.example"
DEMO_RESIDENT_PASSWORD = "machi-demo-2026"  # noqa: S105 - published demo password, demo data only


@dataclass(frozen=True)
class DemoCard:
    resident_email: str
    card_path: Path


def load_identity_demo() -> DemoCard:
    """Create the test card authority, a verified demo resident and their card (idempotent).

    The card is written to ``var/demo-card.json`` (for the command-line simulator), kept in the
    demo wallet (so the browser can sign with it in one click) and linked to the resident's
    account through the real linking service (so card sign-in works).
    """
    authority = CardAuthority.from_settings()
    authority.init()
    user = resident_get_by_email(email=DEMO_RESIDENT_EMAIL)
    if user is None:
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
        card = CardFile.load(card_path)  # fail early if the file is damaged
    wallet_save(email=DEMO_RESIDENT_EMAIL, card=card)
    if not selectors.card_link_list(user=user).exists():
        challenge = services.card_login_challenge_issue(purpose=ChallengePurpose.LINK, user=user)
        services.card_link(
            user=user,
            nonce=challenge.nonce,
            signature_b64=base64.b64encode(card.sign_login(challenge.message)).decode("ascii"),
            certificate_pem=card.auth_certificate_pem,
        )
    return DemoCard(DEMO_RESIDENT_EMAIL, card_path)
