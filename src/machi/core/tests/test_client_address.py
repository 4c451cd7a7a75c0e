"""The one client-address function behind rate limits, lockouts and audit entries."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from machi.core.client_address import client_ip


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "192.0.2.1"),  # no proxy configured: the header is the client's say
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "10.9.9.9, 203.0.113.5", "203.0.113.5"),  # the client's own prefix is ignored
        (2, "10.9.9.9, 203.0.113.5, 198.51.100.2", "203.0.113.5"),
        (2, "203.0.113.5", "192.0.2.1"),  # fewer hops than proxies: not through them
        (1, "not-an-address", "192.0.2.1"),
        (1, "2001:db8::1", "2001:db8::1"),
        (1, "", "192.0.2.1"),
    ],
)
def test_client_is_the_entry_the_outermost_proxy_wrote(rf, settings, proxies, forwarded, expected):
    settings.MACHI_PROXY_COUNT = proxies
    request = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_rate_limits_and_lockouts_both_use_it():
    assert django_settings.RATELIMIT_IP_META_KEY == "machi.core.client_address.client_ip"
    assert django_settings.AXES_CLIENT_IP_CALLABLE == "machi.core.client_address.client_ip"
    assert django_settings.NINJA_NUM_PROXIES == django_settings.MACHI_PROXY_COUNT
