"""Django's ``flush``, able to empty the append-only audit tables.

The audit tables' triggers refuse DELETE (SQLite) and TRUNCATE (PostgreSQL), which is what
``flush`` uses: Django's test teardown of transactional tests, or an operator deliberately
wiping a database. This command suspends those guards for the flush only, in its transaction.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush

from machi.core.audit_guard import guards_suspended


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with guards_suspended(options["database"]):
            super().handle(**options)
