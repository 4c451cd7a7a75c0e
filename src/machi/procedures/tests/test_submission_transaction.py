"""A submission is one transaction: no savepoint, every row written before the one commit.

Runs with real commits (``transaction=True``), recording every statement and where each
transaction begins and commits, through the JSON API (anonymous) and the HTML review page
(signed in). ``-s`` prints the statements of the API submission.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from machi.core.audit_verify import audit_verify
from machi.core.models import AuditEntry, OutboxMessage
from machi.procedures import services
from machi.procedures.models import Application

pytestmark = pytest.mark.django_db(transaction=True)

BEGIN, COMMIT, ROLLBACK = "-- begin", "-- commit", "-- rollback"
# The rows a submission writes; nothing may write them outside its one transaction. (Marking
# an outbox message sent belongs to its delivery, after commit, not to the submission.)
SUBMISSION_TABLES = re.compile(
    r'^((INSERT INTO|UPDATE) "?(procedures_|cases_|core_audit)|INSERT INTO "?core_outboxmessage)'
)
BODY = {
    "municipality_code": "282103",
    "procedure": "simple",
    "contact_email": "taro@example.jp",
    "answers": {"main": {"name": "API 太郎", "copies": 2}, "confirm": {"agree": True}},
}


@contextmanager
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement run, with markers where a transaction begins, commits or rolls back."""
    log: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        log.append(sql)
        return execute(sql, params, many, context)

    set_autocommit, commit, rollback = (
        connection.set_autocommit,
        connection.commit,
        connection.rollback,
    )

    def begin(autocommit: bool, **kwargs: Any) -> None:
        if not autocommit:
            log.append(BEGIN)
        set_autocommit(autocommit, **kwargs)

    def committed() -> None:
        log.append(COMMIT)
        commit()

    def rolled_back() -> None:
        log.append(ROLLBACK)
        rollback()

    monkeypatch.setattr(connection, "set_autocommit", begin)
    monkeypatch.setattr(connection, "commit", committed)
    monkeypatch.setattr(connection, "rollback", rolled_back)
    with connection.execute_wrapper(record):
        yield log


def transactions(log: list[str]) -> list[list[str]]:
    """The statements of each committed transaction (SQLite's own BEGIN left out)."""
    found: list[list[str]] = []
    current: list[str] | None = None
    for line in log:
        if line == BEGIN:
            current = []
        elif line in (COMMIT, ROLLBACK):
            if current is not None and line == COMMIT:
                found.append(current)
            current = None
        elif current is not None and not line.startswith("BEGIN"):
            current.append(line)
    return found


def _post(client: Client, key: str) -> Any:
    return client.post(
        "/api/v1/applications", BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


def _check_one_transaction(log: list[str], expected: int) -> list[str]:
    assert not [line for line in log if "SAVEPOINT" in line.upper()]
    writing = [t for t in transactions(log) if any(SUBMISSION_TABLES.match(s) for s in t)]
    assert len(writing) == 1, "the submission's rows are written in exactly one transaction"
    (submission,) = writing
    outside = [s for s in log if s not in submission and SUBMISSION_TABLES.match(s)]
    assert outside == [], "no submission row is written outside that transaction"
    assert len(submission) == expected, "\n".join(submission)
    return submission


def test_an_api_submission_is_one_transaction_of_twelve_statements(simple_procedure, monkeypatch):
    client = Client()
    assert _post(client, "warm-up").status_code == 201  # the first creates sequence and heads
    with statements(monkeypatch) as log:
        response = _post(client, "measured")
    assert response.status_code == 201
    for number, sql in enumerate(log):
        print(number, sql[:160])  # noqa: T201 - the measurement, with -s
    submission = _check_one_transaction(log, 12)
    # the fee rule (payments); receipt number; application; status change; case, step timing,
    # case event (cases); outbox and its delivery task (the database task backend writes it in
    # the same transaction); audit chain head, the three entries, head update
    assert [s.split(" ")[0] for s in submission] == [
        "SELECT",
        "INSERT" if connection.vendor == "sqlite" else "SELECT",
        *["INSERT"] * 7,
        "SELECT",
        "INSERT",
        "UPDATE",
    ]
    measured = Application.objects.get(idempotency_key="measured")
    assert OutboxMessage.objects.count() == 2
    assert AuditEntry.objects.filter(target_id=str(measured.pk)).count() == 3
    assert audit_verify().ok


def test_a_signed_in_review_page_submission_is_one_transaction(
    simple_procedure, resident, monkeypatch
):
    client = Client()
    client.force_login(resident)
    started = services.application_start(
        procedure=simple_procedure, applicant=resident, contact_email=resident.email
    )
    application = started.application
    for step, answers in (
        ("main", {"name": "加古川 花子", "copies": "1"}),
        ("confirm", {"agree": "on"}),
    ):
        services.application_save_step(application=application, step_key=step, step_answers=answers)
    url = f"/apply/{application.pk}/review/"
    with statements(monkeypatch) as log:
        response = client.post(url, {"idempotency_key": "review-1"})
    assert response.status_code == 302, response.content[:500]
    # lock the row; fee rule; receipt number; the row; status change; case, step timing, case
    # event; outbox and its delivery task; audit chain head, both entries, head update
    _check_one_transaction(log, 13)
    stored = Application.objects.get(pk=application.pk)
    assert (stored.status, stored.idempotency_key) == ("submitted", "review-1")
    assert audit_verify().ok


def test_batched_entries_verify_and_move_the_head_once_per_submission(simple_procedure):
    before = AuditEntry.objects.count()
    client = Client()
    assert [_post(client, f"k{n}").status_code for n in range(3)] == [201] * 3
    result = audit_verify()
    assert (result.ok, result.entries_checked) == (True, before + 9)
    submitted = list(
        AuditEntry.objects.filter(action="application.submit").order_by("chain", "sequence")
    )
    assert len(submitted) == 3
    # Each batch is start, case, submit, consecutive in one chain.
    for entry in submitted:
        batch = AuditEntry.objects.filter(
            chain=entry.chain, sequence__in=[entry.sequence - 2, entry.sequence - 1]
        ).order_by("sequence")
        assert [e.action for e in batch] == ["application.start", "case.create"]
