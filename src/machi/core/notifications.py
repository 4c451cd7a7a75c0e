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
    """A way to reach residents. Subclass, set ``id`` and register with ``register_channel``."""

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


_channels: dict[str, Channel] = {}


def register_channel(channel: Channel) -> None:
    """Make a channel available (called from an app's ``ready()``)."""
    _channels[channel.id] = channel


def channels() -> dict[str, Channel]:
    """The registered channels by id."""
    return dict(_channels)


def notify(notification: Notification) -> None:
    """Queue ``notification`` on every registered channel the recipient has an address for."""
    for channel_id, address in notification.address.items():
        if channel_id in _channels and address:
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
    channel = _channels.get(payload["channel"])
    if channel is None:
        raise LookupError(f"channel {payload['channel']!r} is not registered")
    channel.send(
        address=payload["address"],
        subject=payload["subject"],
        body=payload["body"],
        reference=payload.get("reference", ""),
    )


def install_defaults() -> None:
    """Register the built-in e-mail channel and the outbox handler (from CoreConfig.ready)."""
    register_channel(EmailChannel())
    outbox.register_handler(OUTBOX_KIND, _deliver)
