"""The audit log is append-only and hash-chained; tampering is detected and located."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from machi.core.audit_chain import entry_digest
from machi.core.models import AuditEntry
from machi.core.selectors import audit_verify
from machi.core.services import audit_record

pytestmark = pytest.mark.django_db


def _write_entries(n: int = 5, municipality_code: str = "282103") -> list[AuditEntry]:
    return [
        audit_record(
            action="resident.view",
            municipality_code=municipality_code,
            target_type="resident",
            target_id=i,
            purpose="転入届の審査",
            personal_data=True,
            detail={"fields": ["氏名", "住所"], "n": i},
        )
        for i in range(n)
    ]


def _disable_guard() -> None:
    """Simulate someone with database-owner rights going around the application."""
    with connection.cursor() as cursor:
        for table in ("core_auditentry", "core_auditchainhead", "core_auditcheckpoint"):
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            else:
                cursor.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                    [table],
                )
                for (name,) in cursor.fetchall():
                    cursor.execute(f"DROP TRIGGER {name}")


def test_entries_link_to_their_predecessor_per_municipality():
    first, second = _write_entries(2)
    other = audit_record(action="x.y", municipality_code="281000")
    assert (first.sequence, second.sequence) == (1, 2)
    assert second.prev_hash == first.entry_hash
    assert other.sequence == 1 and other.prev_hash == "0" * 64
    result = audit_verify()
    assert result.ok
    assert result.entries_checked == 3
    assert result.chains_checked == 2


def test_orm_cannot_change_or_delete_an_entry():
    entry = _write_entries(1)[0]
    entry.purpose = "changed"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    assert AuditEntry.objects.get(pk=entry.pk).purpose == "転入届の審査"


def test_database_refuses_update_even_with_raw_sql():
    entry = _write_entries(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET purpose = 'x' WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).purpose == "転入届の審査"


def test_changed_entry_is_detected_and_named():
    entries = _write_entries(5)
    _disable_guard()
    AuditEntry.objects.filter(pk=entries[2].pk).update(purpose="隠したい目的")
    result = audit_verify()
    assert not result.ok
    (broken,) = result.breaks
    assert (broken.chain, broken.sequence, broken.entry_id, broken.reason) == (
        entries[2].chain,
        3,
        entries[2].pk,
        "content_changed",
    )


def test_changed_detail_is_detected():
    entries = _write_entries(3)
    _disable_guard()
    AuditEntry.objects.filter(pk=entries[0].pk).update(detail={"fields": ["氏名"], "n": 0})
    assert audit_verify().breaks[0].sequence == 1


def test_deleted_entry_in_the_middle_is_detected():
    entries = _write_entries(4)
    _disable_guard()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE id = %s", [entries[1].pk])
    (broken,) = audit_verify().breaks
    assert (broken.sequence, broken.reason) == (2, "missing")


def test_deleted_last_entry_is_detected():
    entries = _write_entries(3)
    _disable_guard()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE id = %s", [entries[-1].pk])
    (broken,) = audit_verify().breaks
    assert (broken.sequence, broken.reason) == (3, "tail_missing")


def test_rehashed_forgery_is_named_at_the_forged_entry():
    entries = _write_entries(3)
    _disable_guard()
    # A forger changes entry 1 and recomputes its hash without the chain key: the link is no
    # longer the keyed HMAC of its content, so the forged entry itself is named.
    forged = AuditEntry.objects.get(pk=entries[0].pk)
    forged.purpose = "別の目的"
    new_hash = entry_digest(
        chain=forged.chain,
        sequence=forged.sequence,
        occurred_at=forged.occurred_at,
        actor_id=forged.actor_id,
        actor_username=forged.actor_username,
        municipality_code=forged.municipality_code,
        action=forged.action,
        target_type=forged.target_type,
        target_id=forged.target_id,
        purpose=forged.purpose,
        personal_data=forged.personal_data,
        detail=forged.detail,
        ip_address=forged.ip_address,
        request_id=forged.request_id,
        prev_hash=forged.prev_hash,
    )
    AuditEntry.objects.filter(pk=forged.pk).update(purpose=forged.purpose, entry_hash=new_hash)
    (broken,) = audit_verify().breaks
    assert (broken.sequence, broken.entry_id, broken.reason) == (
        1,
        entries[0].pk,
        "content_changed",
    )


def test_verify_audit_command_reports_ok_and_failure(capsys):
    entries = _write_entries(3)
    call_command("verify_audit")
    assert "OK: 3 audit entries" in capsys.readouterr().out
    _disable_guard()
    AuditEntry.objects.filter(pk=entries[1].pk).update(actor_username="someone-else")
    with pytest.raises(CommandError):
        call_command("verify_audit")
    err = capsys.readouterr().err
    assert f"chain {entries[1].chain}" in err
    assert "sequence 2" in err
    assert f"entry id {entries[1].pk}" in err


def test_entry_rolled_back_with_its_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        _write_entries(1)
        raise RuntimeError("the change failed")
    assert AuditEntry.objects.count() == 0
    assert audit_verify().ok


def test_chains_are_sharded_per_worker_process(settings, monkeypatch):
    settings.MACHI_AUDIT_CHAIN_SHARDS = 4
    monkeypatch.setattr("machi.core.services.os.getpid", lambda: 6)
    first = audit_record(action="x", municipality_code="282103")
    monkeypatch.setattr("machi.core.services.os.getpid", lambda: 7)
    second = audit_record(action="x", municipality_code="282103")
    platform = audit_record(action="y")
    assert (first.chain, second.chain, platform.chain) == ("282103.2", "282103.3", "-.3")
    assert first.sequence == second.sequence == 1  # two chains, each starting at 1
    assert audit_verify().chains_checked == 3
    assert audit_verify().ok


def test_moving_an_entry_to_another_chain_is_detected(settings, monkeypatch):
    settings.MACHI_AUDIT_CHAIN_SHARDS = 2
    monkeypatch.setattr("machi.core.services.os.getpid", lambda: 0)
    moved = audit_record(action="x", municipality_code="282103")
    _disable_guard()
    AuditEntry.objects.filter(pk=moved.pk).update(chain="282103.1")
    reasons = {b.reason for b in audit_verify().breaks}
    assert "content_changed" in reasons
