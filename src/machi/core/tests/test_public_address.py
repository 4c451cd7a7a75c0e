"""Links that leave the request are built at MACHI_PUBLIC_BASE_URL."""

from __future__ import annotations

import pytest

from machi.core.public_address import public_url


def test_a_site_path_is_joined_to_the_public_address(settings):
    settings.MACHI_PUBLIC_BASE_URL = "https://machi.example.lg.jp:8443/"
    assert public_url("/account/sign-in/") == "https://machi.example.lg.jp:8443/account/sign-in/"
    settings.MACHI_PUBLIC_BASE_URL = "http://localhost:8123"
    assert public_url("/verify/ABC/") == "http://localhost:8123/verify/ABC/"


@pytest.mark.parametrize("path", ["account/", "//evil.example/x", "https://evil.example/"])
def test_anything_but_a_site_path_is_refused(path):
    with pytest.raises(ValueError, match="a site path"):
        public_url(path)
