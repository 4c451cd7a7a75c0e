"""Notifications to residents through channels (e-mail built in; LINE, SMS, push as plugins).

A notification is saved to the outbox in the caller's transaction and sent after commit by every
channel that can reach the recipient, so a failing channel is retried and never loses the change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.core.mail import send_mail

from machi.core import outbox
from machi.core.registry import Registry

OUTBOX_KIND = "notification"


@dataclass(frozen=True)
class Notification:
    """What to tell one person. ``address`` maps channel id → address (e-mail, LINE user id…)."""

    subject: str
    body: str
    address: dict[str, str]
    municipality_code: str = ""
    reference: str = ""


class Channel(ABC):
    """A way to reach residents. Subclass, set ``id`` and ``channels.register(c.id, c)``."""

    id: ClassVar[str] = ""
    verbose_name: ClassVar[str] = ""

    @abstractmethod
    def send(self, *, address: str, subject: str, body: str, reference: str) -> None:
        """Deliver one message; raise on failure so the outbox retries."""


class EmailChannel(Channel):
    """E-mail through Django's configured backend (SMTP in production)."""

    id = "email"
    verbose_name = "E-mail"

    def send(self, *, address: str, subject: str, body: str, reference: str) -> None:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=False)


channels: Registry[Channel] = Registry(
    "core.notification_channels",
    description="ways to reach residents by id (e-mail built in; LINE, SMS, push as plugins)",
)


def notify(notification: Notification) -> None:
    """Queue ``notification`` on every registered channel the recipient has an address for."""
    for channel_id, address in notification.address.items():
        if channel_id in channels and address:
            outbox.enqueue(
                OUTBOX_KIND,
                {
                    "channel": channel_id,
                    "address": address,
                    "subject": notification.subject,
                    "body": notification.body,
                    "reference": notification.reference,
                },
                municipality_code=notification.municipality_code,
            )


def _deliver(payload: dict[str, Any]) -> None:
    channel = channels.get(payload["channel"])  # KeyError: retried until it is registered
    channel.send(
        address=payload["address"],
        subject=payload["subject"],
        body=payload["body"],
        reference=payload.get("reference", ""),
    )


_EMAIL = EmailChannel()  # one instance, so registering again (tests, reloads) is a no-op


def install_defaults() -> None:
    """Register the built-in e-mail channel and the outbox handler (from CoreConfig.ready)."""
    channels.register(EmailChannel.id, _EMAIL)
    outbox.handlers.register(OUTBOX_KIND, _deliver)
