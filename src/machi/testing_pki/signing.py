"""The "demo card" signing client: one button, the simulator's card key signs on the server.

Demo and test installations only: it is registered only when ``MACHI_PRODUCTION`` is off and
refuses to work if production is switched on later. It stands in for the resident's card and
PIN, nothing more: the signature it makes goes through the same verification as any other
(chain, validity, key usage, revocation) in the service that receives it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from machi.core.exceptions import Forbidden, InvalidInput
from machi.identity.signing_clients import (
    CardSignatureResult,
    SigningClient,
    SigningTask,
    client_choice,
)
from machi.testing_pki.wallet import WalletCard, wallet_card_for, wallet_cards


class DemoCardClient(SigningClient):
    """Sign with the demo resident's simulated card in one click (never in production)."""

    id = "demo-card"
    label = gettext_lazy("デモ用カードで署名する")
    template_name = "identity/signing/_demo_card.html"
    order = 10

    def _cards(self, task: SigningTask) -> list[WalletCard]:
        if settings.PRODUCTION:
            return []
        if task.user is not None and task.user.is_authenticated:
            own = wallet_card_for(task.user.email)
            return [own] if own is not None else []
        return wallet_cards()  # card sign-in: nobody is signed in yet

    def available(self, request: HttpRequest, task: SigningTask) -> bool:
        return bool(self._cards(task))

    def context(self, request: HttpRequest, task: SigningTask) -> dict[str, Any]:
        return {"cards": self._cards(task)}

    def receive(self, request: HttpRequest, task: SigningTask) -> CardSignatureResult:
        if settings.PRODUCTION:
            raise Forbidden(_("この署名の方法は使えません。別の方法を選んでください。"))
        cards = self._cards(task)
        chosen = client_choice(request)  # the button's card id
        if chosen or len(cards) > 1:
            cards = [card for card in cards if card.card_id == chosen]
        if not cards:
            raise InvalidInput(
                _("デモ用カードが見つかりません。別の方法で署名してください。"),
                code="demo_card_unknown",
            )
        card = cards[0].card
        return CardSignatureResult(
            signature=card.sign_for(task.purpose, task.data),
            certificate_pem=card.certificate_pem(task.purpose),
            client_id=self.id,
        )
