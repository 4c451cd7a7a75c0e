"""Outbox handlers and notification channels are Registry instances."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import pytest

from machi.core import notifications, outbox
from machi.core.models import OutboxMessage, OutboxStatus
from machi.core.registry import Registry, all_registries

pytestmark = pytest.mark.django_db


def test_both_extension_points_are_listed_registries():
    registries = all_registries()
    assert registries["core.outbox_handlers"] is outbox.handlers
    assert registries["core.notification_channels"] is notifications.channels
    assert isinstance(outbox.handlers, Registry)
    assert not hasattr(outbox, "register_handler")
    assert not hasattr(notifications, "register_channel")


def test_installed_apps_registered_their_handlers_and_channels():
    assert {"notification", "payments.refund"} <= set(outbox.handlers.ids())
    assert notifications.channels.ids() == ["email"]
    assert isinstance(notifications.channels.get("email"), notifications.EmailChannel)


def test_a_second_handler_for_a_kind_is_refused():
    with pytest.raises(
        ValueError, match=re.escape("core.outbox_handlers: 'notification' is already registered")
    ):
        outbox.handlers.register("notification", lambda payload: None)


def test_delivery_goes_through_the_registry():
    seen: list[dict[str, Any]] = []
    with outbox.handlers.override(**{"test.kind": seen.append}):
        message = outbox.enqueue("test.kind", {"n": 1})
        assert outbox.deliver(message.pk) is True
    message.refresh_from_db()
    assert (message.status, message.attempts, seen) == (OutboxStatus.SENT, 1, [{"n": 1}])


def test_a_kind_without_handler_waits_and_says_why():
    message = outbox.enqueue("nobody.handles", {})
    assert outbox.deliver(message.pk) is False
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.last_error == (
        "KeyError: \"core.outbox_handlers: nothing registered as 'nobody.handles'\""
    )


class _Recorder(notifications.Channel):
    id: ClassVar[str] = "test-line"
    verbose_name: ClassVar[str] = "LINE (test)"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, *, address: str, subject: str, body: str, reference: str) -> None:
        self.sent.append((address, subject))


def test_a_plugged_in_channel_receives_notifications(django_capture_on_commit_callbacks, run_tasks):
    channel = _Recorder()
    with (
        notifications.channels.override(**{channel.id: channel}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notifications.notify(
            notifications.Notification(
                subject="受付しました",
                body="本文",
                address={"test-line": "U123", "sms": "09000000000"},
            )
        )
        assert channel.sent == []  # nothing is sent by the caller: a worker sends it
        assert run_tasks() == 1
    assert channel.sent == [("U123", "受付しました")]
    # Only registered channels get a message: nothing is queued for the unknown "sms".
    assert list(OutboxMessage.objects.values_list("payload__channel", flat=True)) == ["test-line"]
