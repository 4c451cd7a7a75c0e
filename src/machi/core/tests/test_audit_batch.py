"""Audit batches (one INSERT per transaction), the head guard that allows them, and chain choice."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction

from machi.core.audit_verify import audit_verify
from machi.core.models import AuditChainHead, AuditEntry
from machi.core.services import audit_batch, audit_chain_for, audit_record

pytestmark = pytest.mark.django_db

ONLY_POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SKIP LOCKED and concurrent writers need PostgreSQL"
)


def _record(n: int, code: str = "282103") -> None:
    audit_record(action="resident.view", municipality_code=code, target_id=n, detail={"n": n})


def test_a_batch_is_written_in_one_insert_and_one_head_update(django_assert_num_queries):
    _record(0)  # the chain head exists now
    # chain head; one INSERT of all four; head update (the batch joins the test's transaction
    # without a savepoint); plus the count below
    with django_assert_num_queries(4), audit_batch():
        for n in range(1, 5):
            _record(n)
        assert AuditEntry.objects.count() == 1  # still buffered (this count is not in the 5)
    entries = list(AuditEntry.objects.order_by("sequence"))
    assert [e.detail for e in entries] == [{"n": n} for n in range(5)]
    assert [e.sequence for e in entries] == [1, 2, 3, 4, 5]
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
    head = AuditChainHead.objects.get(chain=entries[0].chain)
    assert (head.last_sequence, head.last_hash) == (5, entries[-1].entry_hash)
    assert audit_verify().ok


def test_buffered_entries_get_their_link_when_the_batch_ends():
    with audit_batch():
        audit_record(action="x.y", municipality_code="282103")
        entry = audit_record(action="x.z", municipality_code="282103")
        assert entry.pk is None
        assert (entry.sequence, entry.entry_hash) == (0, "")
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (entry.sequence, entry.entry_hash) == (stored.sequence, stored.entry_hash)
    assert entry.sequence == 2
    assert len(entry.entry_hash) == 64


def test_entries_of_several_municipalities_go_to_their_own_chains():
    with audit_batch():
        _record(1, "282103")
        _record(2, "281000")
        _record(3, "282103")
    chains = {e.detail["n"]: (e.chain, e.sequence) for e in AuditEntry.objects.all()}
    assert chains == {
        1: (audit_chain_for("282103"), 1),
        2: (audit_chain_for("281000"), 1),
        3: (audit_chain_for("282103"), 2),
    }
    assert audit_verify().ok


def test_a_failed_batch_writes_nothing():
    # The batch joins the caller's transaction without a savepoint: the caller's atomic block
    # is what rolls back (here, as in the submission, one the caller opens first).
    with pytest.raises(RuntimeError), transaction.atomic(), audit_batch():
        _record(1)
        raise RuntimeError("the change failed")
    assert AuditEntry.objects.count() == 0
    assert not AuditChainHead.objects.filter(last_sequence__gt=0).exists()


def test_an_entry_in_a_rolled_back_savepoint_is_not_written():
    with audit_batch():
        _record(1)
        with pytest.raises(RuntimeError), transaction.atomic():
            _record(2)  # inside a savepoint opened after the batch: written at once …
            raise RuntimeError("this part is undone")  # … and undone with it
        _record(3)
    assert sorted(e.detail["n"] for e in AuditEntry.objects.all()) == [1, 3]
    assert audit_verify().ok


def test_a_nested_batch_joins_the_outer_one(django_assert_num_queries):
    _record(0)
    with django_assert_num_queries(3), audit_batch():
        _record(1)
        with audit_batch():
            _record(2)
        _record(3)
    assert AuditEntry.objects.count() == 4
    assert audit_verify().ok


def test_the_head_moves_forward_only_onto_an_existing_entry_with_its_link():
    with audit_batch():
        for n in range(1, 4):
            _record(n)
    chain = audit_chain_for("282103")
    entries = list(AuditEntry.objects.filter(chain=chain).order_by("sequence"))

    def refused(sequence: int, link: str) -> bool:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE core_auditchainhead SET last_sequence = %s, last_hash = %s "
                    "WHERE chain = %s",
                    [sequence, link, chain],
                )
        except DatabaseError:
            return True
        return False

    assert refused(4, entries[-1].entry_hash)  # no entry 4
    assert refused(3, "f" * 64)  # not entry 3's link
    assert refused(2, entries[1].entry_hash)  # backwards
    head = AuditChainHead.objects.get(chain=chain)
    assert (head.last_sequence, head.last_hash) == (3, entries[-1].entry_hash)


@ONLY_POSTGRES
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_writer_takes_a_free_chain_instead_of_waiting(settings):
    """Two workers whose chains collide (same process id here) never queue on one head."""
    settings.MACHI_AUDIT_CHAIN_SHARDS = 4
    audit_record(action="x", municipality_code="282103")  # the process's own chain exists
    holding, release = threading.Event(), threading.Event()
    taken: list[str] = []

    def other_worker() -> None:
        try:
            with transaction.atomic():
                taken.append(audit_record(action="held", municipality_code="282103").chain)
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert holding.wait(10)
    try:
        # Would block until release without SKIP LOCKED (the lock timeout makes it fail).
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            mine = audit_record(action="mine", municipality_code="282103")
    finally:
        release.set()
        thread.join()
    assert taken == [audit_chain_for("282103")]
    assert mine.chain != taken[0]
    assert mine.chain.startswith("282103.")
    assert AuditChainHead.objects.filter(chain__startswith="282103.").count() == 2
    assert audit_verify().ok
