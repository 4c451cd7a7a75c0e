"""``python -m machi card …`` end to end through call_command."""

from __future__ import annotations

import base64
import io
import json
import stat

import pytest
from django.core.management import CommandError, call_command

from machi.identity.verification import CardVerificationError, verify_card_signature


def run(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("card", *args, stdout=out, stderr=err)
    return out.getvalue()


@pytest.fixture
def ca_dir(settings, tmp_path):
    settings.MACHI_CARD_CA_DIR = tmp_path / "card-ca"
    settings.MACHI_CARD_TRUST_ANCHORS = []
    settings.MACHI_CARD_CRL_SOURCES = []
    settings.PRODUCTION = False
    return settings.MACHI_CARD_CA_DIR


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_issue_sign_verify_revoke(ca_dir, tmp_path):
    assert "Created test CAs" in run("init")
    assert "already exist" in run("init")
    assert mode(ca_dir / "sign-ca.key") == 0o600
    assert mode(ca_dir / "auth-ca.key") == 0o600
    card_path = tmp_path / "card.json"
    output = run(
        "issue",
        "--name",
        "加古川 花子",
        "--birth",
        "1990-01-02",
        "--sex",
        "2",
        "--address",
        "兵庫県加古川市加古川町北在家2000",
        "--out",
        str(card_path),
    )
    assert "419900102" in output
    assert mode(card_path) == 0o600
    card = json.loads(card_path.read_text(encoding="utf-8"))
    assert card["sign"]["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in card["auth"]["private_key"]

    data_path = tmp_path / "form.txt"
    data_path.write_text("転出届 nonce=42\n", encoding="utf-8")
    signature_b64 = run("sign", str(card_path), "--data", str(data_path)).strip()
    verified = verify_card_signature(
        data=data_path.read_bytes(),
        signature=base64.b64decode(signature_b64),
        certificate_pem=card["sign"]["certificate"],
        purpose="sign",
    )
    assert verified.name == "加古川\u3000花子"
    assert "OK: valid sign signature" in run(
        "verify",
        "--certificate",
        str(card_path),
        "--data",
        str(data_path),
        "--signature",
        signature_b64,
    )

    signature_file = tmp_path / "sig.b64"
    run("sign", str(card_path), "--data", str(data_path), "--out", str(signature_file))
    assert signature_file.read_text().strip() == signature_b64  # PKCS#1 v1.5 is deterministic

    login_b64 = run("login", str(card_path), "--challenge", "machi-card-login:abc").strip()
    auth_pem = run("show", str(card_path), "--pem", "auth")
    assert verify_card_signature(
        data=b"machi-card-login:abc",
        signature=base64.b64decode(login_b64),
        certificate_pem=auth_pem,
        purpose="auth",
    ).serial

    assert "Revoked sign certificate" in run("revoke", str(card_path), "--reason", "keyCompromise")
    with pytest.raises(CardVerificationError) as info:
        verify_card_signature(
            data=data_path.read_bytes(),
            signature=base64.b64decode(signature_b64),
            certificate_pem=card["sign"]["certificate"],
            purpose="sign",
        )
    assert info.value.code == "revoked"
    with pytest.raises(CommandError, match="revoked"):
        run(
            "verify",
            "--certificate",
            str(card_path),
            "--data",
            str(data_path),
            "--signature",
            signature_b64,
        )


def test_crl_prints_paths_and_issue_needs_init(ca_dir, tmp_path):
    with pytest.raises(CommandError, match="card init"):
        run(
            "issue",
            "--name",
            "a b",
            "--birth",
            "1990-01-02",
            "--sex",
            "1",
            "--address",
            "兵庫県加古川市",
            "--out",
            str(tmp_path / "c.json"),
        )
    run("init")
    paths = run("crl").split()
    assert paths == [str(ca_dir / "sign-ca.crl"), str(ca_dir / "auth-ca.crl")]


def test_issue_with_past_validity_gives_an_expired_card(ca_dir, tmp_path):
    run("init")
    card_path = tmp_path / "old.json"
    run(
        "issue",
        "--name",
        "期限 切子",
        "--birth",
        "1970-07-07",
        "--sex",
        "2",
        "--address",
        "兵庫県加古川市",
        "--out",
        str(card_path),
        "--not-before",
        "2015-01-01",
        "--not-after",
        "2020-01-01",
    )
    data = tmp_path / "d.txt"
    data.write_bytes(b"x")
    signature = run("sign", str(card_path), "--data", str(data)).strip()
    with pytest.raises(CommandError, match="expired"):
        run(
            "verify", "--certificate", str(card_path), "--data", str(data), "--signature", signature
        )
