"""Shared test PKI: one test CA and a handful of cards, made once per session (RSA is slow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from machi.identity.card_authority import CardAuthority, CardFile

ADDRESS = "兵庫県加古川市加古川町北在家2000"


@dataclass
class Pki:
    authority: CardAuthority
    good: CardFile
    other: CardFile
    revoked: CardFile
    expired: CardFile
    future: CardFile
    rogue: CardFile  # issued by a CA with the same DN that nobody trusts
    rogue_authority: CardAuthority

    @property
    def directory(self) -> Path:
        return self.authority.directory


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    authority = CardAuthority(tmp_path_factory.mktemp("card-ca"))
    authority.init()
    now = datetime.now(tz=UTC)
    good = authority.issue(
        name="加古川 花子", sex="2", birth_date=date(1990, 1, 2), address=ADDRESS
    )
    other = authority.issue(
        name="神戸 太郎",
        sex="1",
        birth_date=date(1960, 5, 5),
        address="兵庫県神戸市中央区加納町6-5-1",
    )
    revoked = authority.issue(
        name="転出 一郎", sex="1", birth_date=date(1985, 3, 3), address=ADDRESS
    )
    expired = authority.issue(
        name="期限 切子",
        sex="2",
        birth_date=date(1970, 7, 7),
        address=ADDRESS,
        not_before=now - timedelta(days=5 * 365),
        not_after=now - timedelta(days=1),
    )
    future = authority.issue(
        name="未来 始",
        sex="3",
        birth_date=date(2020, 2, 29),
        address=ADDRESS,
        not_before=now + timedelta(days=10),
        valid_days=365,
    )
    authority.revoke(revoked)
    rogue_authority = CardAuthority(tmp_path_factory.mktemp("rogue-ca"))
    rogue_authority.init()
    rogue = rogue_authority.issue(
        name="偽造 太郎", sex="1", birth_date=date(1990, 1, 2), address=ADDRESS
    )
    return Pki(authority, good, other, revoked, expired, future, rogue, rogue_authority)


@pytest.fixture
def card_settings(settings, pki: Pki) -> Pki:
    """Point the verifier at the session's test CA (as the development default does)."""
    settings.MACHI_CARD_CA_DIR = pki.directory
    settings.MACHI_CARD_TRUST_ANCHORS = []
    settings.MACHI_CARD_CRL_SOURCES = []
    settings.MACHI_CARD_REVOCATION_CHECKERS = ["machi.identity.revocation.CrlRevocationChecker"]
    settings.PRODUCTION = False
    return pki
