"""The four attacks on the audit log that passed ``verify-audit`` before the keyed chain,
the guarded heads and the time-stamped checkpoints; each is now caught and named exactly.

An attacker with database access is simulated with raw SQL, after dropping (SQLite) or
disabling (PostgreSQL) the triggers where the attack needs it; the triggers themselves are
tested too (with them in place, the database refuses the deletion and the rewind).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from machi.core.audit_chain import entry_digest
from machi.core.models import AuditChainHead, AuditEntry
from machi.core.services import audit_record

pytestmark = pytest.mark.django_db

CHAIN = "282103.0"
AUDIT_TABLES = ("core_auditentry", "core_auditchainhead", "core_auditcheckpoint")


@pytest.fixture(scope="session")
def audit_tsa_pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for the built-in TSA's test PKI (created on first use, once per session)."""
    return tmp_path_factory.mktemp("audit-tsa-pki")


@pytest.fixture(autouse=True)
def audit_settings(settings, audit_tsa_pki_dir: Path) -> Iterator[None]:
    settings.MACHI_AUDIT_CHAIN_SHARDS = 1  # one chain per municipality: names are predictable
    settings.MACHI_DOCUMENTS_PKI_DIR = audit_tsa_pki_dir
    settings.MACHI_TSA_URL = ""  # the built-in TSA, in-process (as the documents tests use)
    settings.MACHI_TSA_TIMEOUT_SECONDS = 3
    settings.MACHI_DOCUMENTS_TRUST_ROOTS = []  # its test roots, outside production
    settings.PRODUCTION = False
    yield


def write_entries(n: int, municipality_code: str = "282103") -> list[AuditEntry]:
    return [
        audit_record(
            action="resident.view",
            municipality_code=municipality_code,
            target_type="resident",
            target_id=i,
            purpose="転入届の審査",
            personal_data=True,
            detail={"n": i},
        )
        for i in range(1, n + 1)
    ]


LINKED_FIELDS = (
    "chain",
    "sequence",
    "occurred_at",
    "actor_id",
    "actor_username",
    "municipality_code",
    "action",
    "target_type",
    "target_id",
    "purpose",
    "personal_data",
    "detail",
    "ip_address",
    "request_id",
    "prev_hash",
)


def entry_fields(entry: AuditEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in LINKED_FIELDS}


def disable_guards() -> None:
    """What someone with the database owner's rights can do: switch the triggers off."""
    with connection.cursor() as cursor:
        for table in AUDIT_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            else:
                cursor.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                    [table],
                )
                for (name,) in cursor.fetchall():
                    cursor.execute(f"DROP TRIGGER {name}")


def raw(sql: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def verify_report(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """``verify-audit``'s report lines; it must fail."""
    capsys.readouterr()
    with pytest.raises(CommandError):
        call_command("verify_audit")
    return capsys.readouterr().err.splitlines()


def refused(sql: str, params: list[object]) -> bool:
    try:
        with transaction.atomic():
            raw(sql, params)
    except DatabaseError:
        return True
    return False


def _chain_state() -> tuple[int, tuple[int, str]]:
    head = AuditChainHead.objects.get(chain=CHAIN)
    return AuditEntry.objects.filter(chain=CHAIN).count(), (head.last_sequence, head.last_hash)


# --- (a) the tail deleted and the head rewound --------------------------------------------------


def test_database_refuses_deleting_entries_and_rewinding_or_deleting_the_head():
    entries = write_entries(5)
    before = _chain_state()
    assert refused("DELETE FROM core_auditentry WHERE chain = %s AND sequence > 3", [CHAIN])
    assert refused(
        "UPDATE core_auditchainhead SET last_sequence = 3, last_hash = %s WHERE chain = %s",
        [entries[2].entry_hash, CHAIN],
    )
    assert refused("DELETE FROM core_auditchainhead WHERE chain = %s", [CHAIN])
    # Forward, but skipping entries, is not a legitimate append either.
    assert refused("UPDATE core_auditchainhead SET last_sequence = 7 WHERE chain = %s", [CHAIN])
    assert _chain_state() == before
    assert before == (5, (5, entries[-1].entry_hash))
    # The application's own appends still move the head forward.
    appended = audit_record(action="x.y", municipality_code="282103")
    assert appended.sequence == 6
    assert _chain_state() == (6, (6, appended.entry_hash))


def test_tail_deleted_and_head_rewound_is_named_as_the_missing_range(capsys):
    from machi.core.audit_checkpoints import checkpoint_create

    entries = write_entries(45)
    checkpoint_create()
    disable_guards()
    raw("DELETE FROM core_auditentry WHERE chain = %s AND sequence > 40", [CHAIN])
    raw(
        "UPDATE core_auditchainhead SET last_sequence = 40, last_hash = %s WHERE chain = %s",
        [entries[39].entry_hash, CHAIN],
    )
    assert verify_report(capsys) == [
        "BROKEN chain 282103.0: entries 41–45 missing (checkpoint at 45)."
    ]


def test_entries_replaced_after_a_checkpoint_are_named(capsys):
    from machi.core.audit_checkpoints import checkpoint_create

    entries = write_entries(5)
    checkpoint_create()
    disable_guards()
    raw("DELETE FROM core_auditentry WHERE chain = %s AND sequence > 3", [CHAIN])
    raw(
        "UPDATE core_auditchainhead SET last_sequence = 3, last_hash = %s WHERE chain = %s",
        [entries[2].entry_hash, CHAIN],
    )
    # Fresh, correctly keyed entries 4 and 5 now stand where the removed ones were.
    replacement = write_entries(2)
    assert [e.sequence for e in replacement] == [4, 5]
    assert verify_report(capsys) == [
        f"BROKEN chain 282103.0: entry 5 (entry id {replacement[1].pk}) is not the entry "
        "checkpoint 1 recorded (replaced)."
    ]


# --- (b) a whole chain deleted with its head ----------------------------------------------------


def test_whole_chain_deleted_with_its_head_is_named_through_the_checkpoint(capsys):
    from machi.core.audit_checkpoints import checkpoint_create

    write_entries(5)
    write_entries(3, municipality_code="281000")
    checkpoint_create()
    assert refused("DELETE FROM core_auditchainhead WHERE chain = %s", [CHAIN])
    disable_guards()
    raw("DELETE FROM core_auditentry WHERE chain = %s", [CHAIN])
    raw("DELETE FROM core_auditchainhead WHERE chain = %s", [CHAIN])
    assert verify_report(capsys) == [
        "BROKEN chain 282103.0: entries 1–5 missing (checkpoint at 5)."
    ]


# --- (c) an entry rewritten and the chain recomputed without the key ------------------------


def test_rewritten_entry_with_the_chain_recomputed_without_the_key_is_named(capsys):
    entries = write_entries(5)
    disable_guards()
    # The attacker changes entry 3 and recomputes 3, 4, 5 and the head with plain SHA-256
    # (the first version's chain): everything links, but nothing is keyed.
    prev_hash = entries[1].entry_hash
    for entry in AuditEntry.objects.filter(chain=CHAIN, sequence__gte=3).order_by("sequence"):
        fields = entry_fields(entry)
        if entry.sequence == 3:
            fields["purpose"] = "目的を書き換えた"
        fields["prev_hash"] = prev_hash
        new_hash = entry_digest(**fields)
        raw(
            "UPDATE core_auditentry SET purpose = %s, prev_hash = %s, entry_hash = %s WHERE id = %s",
            [fields["purpose"], prev_hash, new_hash, entry.pk],
        )
        prev_hash = new_hash
    raw("UPDATE core_auditchainhead SET last_hash = %s WHERE chain = %s", [prev_hash, CHAIN])
    assert verify_report(capsys) == [
        f"BROKEN chain 282103.0: first bad entry is sequence 3 (entry id {entries[2].pk}): "
        "the entry was changed or forged (its link is not the keyed HMAC of its content)."
    ]


def test_entry_relabelled_with_an_unknown_key_is_named(capsys):
    entries = write_entries(3)
    disable_guards()
    raw("UPDATE core_auditentry SET key_id = %s WHERE id = %s", ["k000000000000", entries[1].pk])
    assert verify_report(capsys) == [
        f"BROKEN chain 282103.0: first bad entry is sequence 2 (entry id {entries[1].pk}): "
        "the entry names a chain key that is not configured (forged?)."
    ]


# --- (d) a forged entry appended ------------------------------------------------------------


def test_appended_forged_entry_is_named(capsys):
    entries = write_entries(3)
    # No trigger needs switching off: appending is what the tables allow.
    fields = {
        **entry_fields(entries[-1]),
        "sequence": 4,
        "occurred_at": timezone.now(),
        "action": "resident.view",
        "purpose": "正当な審査（偽装）",
        "prev_hash": entries[-1].entry_hash,
    }
    forged_hash = entry_digest(**fields)
    forged = AuditEntry(entry_hash=forged_hash, **fields)
    forged.key_id = entries[-1].key_id  # the attacker copies the key id it sees
    forged.save()
    raw(
        "UPDATE core_auditchainhead SET last_sequence = 4, last_hash = %s WHERE chain = %s",
        [forged_hash, CHAIN],
    )
    assert verify_report(capsys) == [
        f"BROKEN chain 282103.0: first bad entry is sequence 4 (entry id {forged.pk}): "
        "the entry was changed or forged (its link is not the keyed HMAC of its content)."
    ]
