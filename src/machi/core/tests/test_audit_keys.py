"""The audit chain's key: configuration (not the database), rotatable, required in production;
existing unkeyed chains re-linked by migration 0004; flush still empties the guarded tables."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from machi.core.audit_chain import GENESIS_HASH, current_key, entry_digest
from machi.core.models import AuditChainHead, AuditEntry
from machi.core.selectors import audit_verify
from machi.core.tests.test_audit_tampering import (  # noqa: F401 (fixtures)
    audit_settings,
    audit_tsa_pki_dir,
    refused,
    verify_report,
    write_entries,
)

OLD_KEY = "old-audit-key-" + "a" * 40
NEW_KEY = "new-audit-key-" + "b" * 40


@pytest.mark.django_db
def test_rotated_key_still_verifies_what_the_old_key_linked(settings, capsys):
    settings.MACHI_AUDIT_KEY = OLD_KEY
    old = write_entries(2)
    settings.MACHI_AUDIT_KEY = f"{NEW_KEY},{OLD_KEY}"
    new = write_entries(1)
    assert old[0].key_id == old[1].key_id != new[0].key_id
    assert new[0].key_id == current_key()[0]
    call_command("verify_audit")
    assert capsys.readouterr().out.startswith("OK: 3 audit entries in 1 chains verified;")
    # Without the old key its entries cannot be checked: said, not silently passed.
    settings.MACHI_AUDIT_KEY = NEW_KEY
    assert verify_report(capsys) == [
        f"BROKEN chain 282103.0: first bad entry is sequence 1 (entry id {old[0].pk}): "
        "the entry names a chain key that is not configured (forged?)."
    ]


@pytest.mark.django_db
def test_only_the_secret_verifies_not_the_key_id_in_the_database(settings, monkeypatch):
    settings.MACHI_AUDIT_KEY = OLD_KEY
    entries = write_entries(2)
    key_id = current_key()[0]
    monkeypatch.setattr("machi.core.audit_verify.audit_keys", lambda: {key_id: b"not-the-key"})
    (broken,) = audit_verify().breaks
    assert (broken.sequence, broken.entry_id, broken.reason) == (
        1,
        entries[0].pk,
        "content_changed",
    )


def _settings_in_subprocess(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import django; django.setup(); from django.conf import settings; print('started')"
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "machi.settings", **env}
    full_env.pop("MACHI_TEST_DATABASE_URL", None)
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=False
    )


def test_production_refuses_to_start_without_the_audit_key():
    result = _settings_in_subprocess(
        {"MACHI_PRODUCTION": "1", "MACHI_SECRET_KEY": "x" * 50, "MACHI_AUDIT_KEY": ""}
    )
    assert result.returncode != 0
    assert "MACHI_AUDIT_KEY must be set in production." in result.stderr
    started = _settings_in_subprocess(
        {"MACHI_PRODUCTION": "1", "MACHI_SECRET_KEY": "x" * 50, "MACHI_AUDIT_KEY": NEW_KEY}
    )
    assert (started.returncode, started.stdout.strip()) == (0, "started"), started.stderr


LEGACY_FIELDS = {
    "actor_id": None,
    "actor_username": "",
    "municipality_code": "282103",
    "action": "resident.view",
    "target_type": "resident",
    "target_id": "7",
    "purpose": "転入届の審査",
    "personal_data": True,
    "ip_address": "",
    "request_id": "",
}


@pytest.mark.django_db(transaction=True)
def test_migration_relinks_existing_unkeyed_chains_with_the_key():
    from django.utils import timezone

    executor = MigrationExecutor(connection)
    executor.migrate([("core", "0003_outbox")])
    old_apps = executor.loader.project_state([("core", "0003_outbox")]).apps
    legacy_entry = old_apps.get_model("core", "AuditEntry")
    legacy_head = old_apps.get_model("core", "AuditChainHead")
    prev = GENESIS_HASH
    for sequence in (1, 2, 3):
        fields = {
            **LEGACY_FIELDS,
            "chain": "282103.0",
            "sequence": sequence,
            "occurred_at": timezone.now(),
            "detail": {"n": sequence},
            "prev_hash": prev,
        }
        prev = entry_digest(**fields)
        legacy_entry.objects.create(entry_hash=prev, **fields)
    legacy_head.objects.create(chain="282103.0", last_sequence=3, last_hash=prev)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    key_id = current_key()[0]
    entries = list(AuditEntry.objects.order_by("sequence"))
    assert [(e.sequence, e.key_id) for e in entries] == [(1, key_id), (2, key_id), (3, key_id)]
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:2]]
    head = AuditChainHead.objects.get(chain="282103.0")
    assert (head.last_sequence, head.last_hash) == (3, entries[-1].entry_hash)
    result = audit_verify()
    assert (result.ok, result.entries_checked) == (True, 3)
    # The guards are back (SQLite rebuilt the table for the new column, dropping 0002's).
    assert refused("UPDATE core_auditentry SET purpose = 'x' WHERE id = %s", [entries[0].pk])
    assert refused("DELETE FROM core_auditchainhead WHERE chain = %s", ["282103.0"])
    assert AuditEntry.objects.get(pk=entries[0].pk).purpose == "転入届の審査"


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_guarded_audit_tables_and_restores_the_guards():
    from machi.core.audit_checkpoints import checkpoint_create

    write_entries(2)
    checkpoint_create()
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEntry.objects.count() == 0
    assert AuditChainHead.objects.count() == 0
    entry = write_entries(1)[0]
    assert refused("DELETE FROM core_auditentry WHERE id = %s", [entry.pk])
    assert refused("DELETE FROM core_auditchainhead WHERE chain = %s", ["282103.0"])
    if connection.vendor == "postgresql":
        assert refused("TRUNCATE core_auditentry", [])
    assert AuditEntry.objects.count() == 1
