"""Demo cards kept on the server for demo residents (TEST ONLY, never in production).

A real card's private key never leaves the chip; in a demo the simulator's card file stands
in for it, so "sign with the demo card" can be one button in the browser. The wallet is a
directory (``VAR_DIR/demo-cards``) of files named after a
hash of the resident's e-mail address, readable by their owner only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from machi.testing_pki.builder import write_private
from machi.testing_pki.cards import CardAuthorityError, CardFile


@dataclass(frozen=True)
class WalletCard:
    """A demo card and the resident it belongs to."""

    card_id: str
    email: str
    card: CardFile


def wallet_dir() -> Path:
    return Path(settings.VAR_DIR) / "demo-cards"


def card_id_for(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:20]


def wallet_save(*, email: str, card: CardFile) -> WalletCard:
    """Keep ``card`` as the demo card of the resident with ``email``."""
    directory = wallet_dir()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    card_id = card_id_for(email)
    text = json.dumps({"email": email, "card": card.to_dict()}, ensure_ascii=False, indent=2)
    write_private(directory / f"{card_id}.json", (text + "\n").encode("utf-8"))
    return WalletCard(card_id, email, card)


def wallet_get(card_id: str) -> WalletCard | None:
    """The demo card ``card_id``, or ``None`` (unknown id, damaged file, production)."""
    if settings.PRODUCTION or not card_id.isalnum():
        return None
    path = wallet_dir() / f"{card_id}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return WalletCard(card_id, str(data["email"]), CardFile.from_dict(data["card"]))
    except (OSError, ValueError, KeyError, TypeError, CardAuthorityError):
        return None


def wallet_card_for(email: str) -> WalletCard | None:
    """The demo card of the resident with ``email``, if the demo gave them one."""
    return wallet_get(card_id_for(email)) if email else None


def wallet_cards() -> list[WalletCard]:
    """Every demo card (for the demo's card sign-in), by holder name."""
    if settings.PRODUCTION or not wallet_dir().is_dir():
        return []
    found = [wallet_get(path.stem) for path in sorted(wallet_dir().glob("*.json"))]
    return sorted((card for card in found if card is not None), key=lambda c: c.card.name)
