"""Moved to :mod:`machi.testing_pki.cards` (the test PKI lives outside the production path).

Kept as an alias so existing imports keep working; new code imports ``machi.testing_pki``.
"""

from __future__ import annotations

from machi.testing_pki.cards import (
    CARD_FILE_FORMAT,
    DEFAULT_CRL_BASE_URL,
    JST,
    KEY_SIZE,
    PURPOSES,
    CardAuthority,
    CardAuthorityError,
    CardFile,
    Purpose,
    fifth_birthday_after,
    rsa_sign,
)

__all__ = [
    "CARD_FILE_FORMAT",
    "DEFAULT_CRL_BASE_URL",
    "JST",
    "KEY_SIZE",
    "PURPOSES",
    "CardAuthority",
    "CardAuthorityError",
    "CardFile",
    "Purpose",
    "fifth_birthday_after",
    "rsa_sign",
]
