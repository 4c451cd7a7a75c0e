"""Audit checkpoints: every chain head time-stamped (RFC 3161), verified, exported."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.core.management.base import CommandError

from machi.core.audit_checkpoints import (
    EXPORT_FORMAT,
    checkpoint_create,
    checkpoint_digest,
    token_info,
)
from machi.core.models import AuditCheckpoint, AuditEntry
from machi.core.tests.test_audit_tampering import (  # noqa: F401 (fixtures)
    audit_settings,
    audit_tsa_pki_dir,
    disable_guards,
    raw,
    refused,
    verify_report,
    write_entries,
)

pytestmark = pytest.mark.django_db


def test_checkpoint_holds_every_head_and_a_token_over_its_digest(capsys):
    kakogawa = write_entries(3)
    kobe = write_entries(2, municipality_code="281000")
    checkpoint = checkpoint_create()
    assert checkpoint.number == 1
    assert checkpoint.heads == [
        ["281000.0", 2, kobe[-1].entry_hash],
        ["282103.0", 3, kakogawa[-1].entry_hash],
    ]
    assert checkpoint.previous_digest == "0" * 64
    assert checkpoint.digest == checkpoint_digest(
        number=1,
        created_at=checkpoint.created_at,
        previous_digest="0" * 64,
        heads=checkpoint.heads,
    )
    info = token_info(bytes(checkpoint.token))
    assert (info.algorithm, info.imprint) == ("sha256", bytes.fromhex(checkpoint.digest))
    assert abs(info.gen_time - checkpoint.created_at) < timedelta(minutes=1)
    assert checkpoint.tsa == "built-in"
    # Taking it is itself audited (platform chain), after the heads were read.
    entry = AuditEntry.objects.get(action="audit.checkpoint")
    assert (entry.target_type, entry.target_id, entry.detail) == (
        "audit_checkpoint",
        "1",
        {"digest": checkpoint.digest, "chains": 2},
    )
    call_command("verify_audit")
    assert capsys.readouterr().out.strip() == (
        "OK: 6 audit entries in 3 chains verified; 1 checkpoints verified."
    )


def test_checkpoints_are_numbered_and_linked():
    write_entries(1)
    first = checkpoint_create()
    write_entries(1)
    second = checkpoint_create()
    assert (second.number, second.previous_digest) == (2, first.digest)
    assert second.heads[-1] == [
        "282103.0",
        2,
        AuditEntry.objects.get(sequence=2, chain="282103.0").entry_hash,
    ]


def test_database_refuses_changing_or_deleting_a_checkpoint():
    write_entries(1)
    checkpoint = checkpoint_create()
    assert refused(
        "UPDATE core_auditcheckpoint SET heads = %s WHERE id = %s", ["[]", checkpoint.pk]
    )
    assert refused("DELETE FROM core_auditcheckpoint WHERE id = %s", [checkpoint.pk])
    assert AuditCheckpoint.objects.get().heads == checkpoint.heads


def test_changed_checkpoint_is_named(capsys):
    write_entries(2)
    checkpoint = checkpoint_create()
    disable_guards()
    raw(
        "UPDATE core_auditcheckpoint SET heads = %s WHERE id = %s",
        [json.dumps([["282103.0", 1, checkpoint.heads[-1][2]]]), checkpoint.pk],
    )
    assert verify_report(capsys) == ["BROKEN checkpoint 1: its content does not match its digest."]


def test_token_of_another_checkpoint_is_named(capsys):
    write_entries(1)
    first = checkpoint_create()
    second = checkpoint_create()
    disable_guards()
    raw(
        "UPDATE core_auditcheckpoint SET token = %s WHERE id = %s",
        [bytes(second.token), first.pk],
    )
    assert verify_report(capsys) == [
        "BROKEN checkpoint 1: the time-stamp token is over another digest."
    ]


def test_token_from_an_untrusted_tsa_is_named(capsys, settings, tmp_path):
    write_entries(1)
    checkpoint_create()
    # Only some other root is trusted now: the built-in TSA's token no longer chains to it.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other Root")])
    now = datetime.now(UTC)
    other = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    root = tmp_path / "other-root.pem"
    root.write_bytes(other.public_bytes(serialization.Encoding.PEM))
    settings.MACHI_DOCUMENTS_TRUST_ROOTS = [str(root)]
    assert verify_report(capsys) == [
        "BROKEN checkpoint 1: the time-stamping authority is not trusted."
    ]


def test_deleted_latest_checkpoint_is_caught_with_the_exported_copy(capsys, tmp_path):
    entries = write_entries(4)
    checkpoint_create()
    export = tmp_path / "checkpoints.json"
    call_command("audit_export", output=str(export))
    # The attacker removes the checkpoint too, then the tail, and rewinds the head.
    disable_guards()
    raw("DELETE FROM core_auditcheckpoint", [])
    raw("DELETE FROM core_auditentry WHERE chain = %s AND sequence > 2", ["282103.0"])
    raw(
        "UPDATE core_auditchainhead SET last_sequence = 2, last_hash = %s WHERE chain = %s",
        [entries[1].entry_hash, "282103.0"],
    )
    call_command("verify_audit")  # nothing left in the database to tell
    capsys.readouterr()
    with pytest.raises(CommandError):
        call_command("verify_audit", against=str(export))
    assert capsys.readouterr().err.splitlines() == [
        "BROKEN checkpoint 1: missing from the database.",
        "BROKEN chain 282103.0: entries 3–4 missing (checkpoint at 4).",
    ]


def test_gap_in_the_checkpoint_numbers_is_named(capsys):
    write_entries(1)
    first = checkpoint_create()
    checkpoint_create()
    disable_guards()
    raw("DELETE FROM core_auditcheckpoint WHERE id = %s", [first.pk])
    assert verify_report(capsys) == ["BROKEN checkpoint 1: missing (the numbering has a gap)."]


def test_export_format(tmp_path, capsys):
    write_entries(2)
    checkpoint = checkpoint_create()
    export = tmp_path / "checkpoints.json"
    call_command("audit_export", output=str(export))
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    document = json.loads(export.read_text(encoding="utf-8"))
    assert set(document) == {"format", "exported_at", "checkpoints"}
    assert document["format"] == EXPORT_FORMAT
    (item,) = document["checkpoints"]
    assert item == {
        "number": 1,
        "created_at": checkpoint.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "previous_digest": "0" * 64,
        "heads": [{"chain": "282103.0", "sequence": 2, "link": checkpoint.heads[0][2]}],
        "digest": checkpoint.digest,
        "tsa": "built-in",
        "timestamped_at": checkpoint.timestamped_at.astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        ),
        "token": base64.b64encode(bytes(checkpoint.token)).decode("ascii"),
    }
    # The copy verifies against an untouched database.
    capsys.readouterr()
    call_command("verify_audit", against=str(export))
    assert capsys.readouterr().out.startswith("OK: ")


def test_unreadable_export_is_a_clear_error(tmp_path):
    export = tmp_path / "not-an-export.json"
    export.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(CommandError, match="format is not machi-audit-checkpoints/1"):
        call_command("verify_audit", against=str(export))


def test_checkpoint_command_reports_what_it_stored(capsys):
    write_entries(1)
    call_command("audit_checkpoint")
    checkpoint = AuditCheckpoint.objects.get()
    assert capsys.readouterr().out.strip() == (
        f"Checkpoint 1: 1 chains, digest {checkpoint.digest}, time-stamped "
        f"{checkpoint.timestamped_at:%Y-%m-%dT%H:%M:%SZ} by built-in."
    )


def test_unreachable_tsa_stores_nothing(settings):
    write_entries(1)
    entries_before = AuditEntry.objects.count()
    settings.MACHI_TSA_URL = "http://127.0.0.1:9/tsa/"  # nothing listens on the discard port
    settings.MACHI_TSA_TIMEOUT_SECONDS = 1
    with pytest.raises(CommandError, match=r"^no checkpoint taken"):
        call_command("audit_checkpoint")
    assert AuditCheckpoint.objects.count() == 0
    assert AuditEntry.objects.count() == entries_before


def test_checkpoint_with_an_empty_log_verifies(capsys):
    checkpoint = checkpoint_create()
    assert checkpoint.heads == []
    call_command("verify_audit")
    assert capsys.readouterr().out.strip() == (
        "OK: 1 audit entries in 1 chains verified; 1 checkpoints verified."
    )


def test_export_since(tmp_path: Path, capsys):
    write_entries(1)
    checkpoint_create()
    checkpoint_create()
    capsys.readouterr()
    call_command("audit_export", since=2)
    document = json.loads(capsys.readouterr().out)
    assert [c["number"] for c in document["checkpoints"]] == [2]
