"""Database triggers that keep the audit tables append-only, on SQLite and PostgreSQL.

- ``core_auditentry`` and ``core_auditcheckpoint``: UPDATE and DELETE refused.
- ``core_auditchainhead``: DELETE refused; an UPDATE must move the head forward (same chain,
  a higher ``last_sequence``) onto an entry that exists with exactly that link, so a head can be
  neither rewound, removed, nor pushed past entries that are not there. A batch of entries
  (``core.services.audit_batch``) moves it several entries in one UPDATE, after their INSERT.
- PostgreSQL also refuses TRUNCATE of the three tables.

They stop tampering through the application's own connection; someone who can drop triggers can
still go around them, which the keyed chain and the time-stamped checkpoints then reveal
(``verify-audit``). Installed by migration 0004. Only ``core``'s ``flush`` command (Django's
test teardown, or an operator wiping a database on purpose) suspends the DELETE/TRUNCATE guards,
inside the flush's own transaction (``guards_suspended``).

SQLite drops a table's triggers whenever a migration rebuilds that table (most ``AlterField`` /
``AddField`` on SQLite): a migration that alters one of these tables must run ``install`` again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction

TABLES = ("core_auditentry", "core_auditchainhead", "core_auditcheckpoint")

# Written for ``schema_editor.execute`` (parameters passed, so ``%%`` stands for ``%``).
POSTGRES_INSTALL = [
    """
CREATE OR REPLACE FUNCTION machi_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%% is append-only (%% refused)', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
""",
    """
CREATE OR REPLACE FUNCTION machi_audit_head_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'core_auditchainhead: an audit chain head cannot be deleted';
    END IF;
    IF NEW.chain <> OLD.chain OR NEW.last_sequence <= OLD.last_sequence OR NOT EXISTS (
        SELECT 1 FROM core_auditentry
        WHERE chain = NEW.chain AND sequence = NEW.last_sequence AND entry_hash = NEW.last_hash
    ) THEN
        RAISE EXCEPTION 'core_auditchainhead moves forward onto its last entry only (UPDATE refused)';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
""",
    "DROP TRIGGER IF EXISTS core_auditchainhead_forward_only ON core_auditchainhead",
    """
CREATE TRIGGER core_auditchainhead_forward_only
    BEFORE UPDATE OR DELETE ON core_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION machi_audit_head_forward_only()
""",
    "DROP TRIGGER IF EXISTS core_auditcheckpoint_append_only ON core_auditcheckpoint",
    """
CREATE TRIGGER core_auditcheckpoint_append_only
    BEFORE UPDATE OR DELETE ON core_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION machi_audit_append_only()
""",
    *(
        statement
        for table in TABLES
        for statement in (
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION machi_audit_append_only()",
        )
    ),
]
POSTGRES_UNINSTALL = [
    *(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}" for table in TABLES),
    "DROP TRIGGER IF EXISTS core_auditcheckpoint_append_only ON core_auditcheckpoint",
    "DROP TRIGGER IF EXISTS core_auditchainhead_forward_only ON core_auditchainhead",
    "DROP FUNCTION IF EXISTS machi_audit_head_forward_only()",
]


def _sqlite_refuse(name: str, when: str, table: str, message: str, condition: str = "") -> str:
    where = f" WHEN {condition}" if condition else ""
    return (
        f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {when} ON {table}{where} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


SQLITE_DELETE_GUARDS = {
    "core_auditentry_no_delete": _sqlite_refuse(
        "core_auditentry_no_delete",
        "DELETE",
        "core_auditentry",
        "core_auditentry is append-only (DELETE refused)",
    ),
    "core_auditchainhead_no_delete": _sqlite_refuse(
        "core_auditchainhead_no_delete",
        "DELETE",
        "core_auditchainhead",
        "core_auditchainhead: an audit chain head cannot be deleted",
    ),
    "core_auditcheckpoint_no_delete": _sqlite_refuse(
        "core_auditcheckpoint_no_delete",
        "DELETE",
        "core_auditcheckpoint",
        "core_auditcheckpoint is append-only (DELETE refused)",
    ),
}
SQLITE_UPDATE_GUARDS = {
    "core_auditentry_no_update": _sqlite_refuse(
        "core_auditentry_no_update",
        "UPDATE",
        "core_auditentry",
        "core_auditentry is append-only (UPDATE refused)",
    ),
    "core_auditchainhead_forward_only": _sqlite_refuse(
        "core_auditchainhead_forward_only",
        "UPDATE",
        "core_auditchainhead",
        "core_auditchainhead moves forward onto its last entry only (UPDATE refused)",
        condition=(
            "NEW.chain IS NOT OLD.chain OR NEW.last_sequence <= OLD.last_sequence OR NOT EXISTS "
            "(SELECT 1 FROM core_auditentry WHERE chain = NEW.chain "
            "AND sequence = NEW.last_sequence AND entry_hash = NEW.last_hash)"
        ),
    ),
    "core_auditcheckpoint_no_update": _sqlite_refuse(
        "core_auditcheckpoint_no_update",
        "UPDATE",
        "core_auditcheckpoint",
        "core_auditcheckpoint is append-only (UPDATE refused)",
    ),
}


def install(schema_editor: Any) -> None:
    """Create every guard (idempotent: also re-creates what a SQLite table rebuild dropped)."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in POSTGRES_INSTALL:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        # CREATE TRIGGER IF NOT EXISTS keeps an older version of the head guard: replace it.
        schema_editor.execute("DROP TRIGGER IF EXISTS core_auditchainhead_forward_only")
        for statement in [*SQLITE_UPDATE_GUARDS.values(), *SQLITE_DELETE_GUARDS.values()]:
            schema_editor.execute(statement)


def uninstall(schema_editor: Any) -> None:
    """Remove the guards this module adds (0002's UPDATE guard on entries stays)."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in POSTGRES_UNINSTALL:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        for name in [*SQLITE_DELETE_GUARDS, *SQLITE_UPDATE_GUARDS]:
            if name != "core_auditentry_no_update":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


@contextmanager
def guards_suspended(using: str) -> Iterator[None]:
    """Let a flush empty the audit tables: the DELETE/TRUNCATE guards are off, in one transaction.

    The guards come back before the transaction commits (or are never gone if it rolls back).
    """
    connection = connections[using]
    vendor = connection.vendor
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            if vendor == "sqlite":
                for name in SQLITE_DELETE_GUARDS:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            elif vendor == "postgresql":
                for table in TABLES:
                    cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_truncate")
        yield
        with connection.cursor() as cursor:
            if vendor == "sqlite":
                for statement in SQLITE_DELETE_GUARDS.values():
                    cursor.execute(statement)
            elif vendor == "postgresql":
                for table in TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_truncate")
