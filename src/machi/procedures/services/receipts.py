"""Receipt numbers (受付番号): ``<year>-<number, 6 digits>``, per municipality and year.

See ``docs/decisions/0006-receipt-numbers.md``. On PostgreSQL the number comes from one
sequence per municipality and year (``machi_receipt_<code>_<year>``, created on first use): no
row lock is held until commit, so submissions of one municipality do not queue behind each
other. A number taken by a submission that then rolls back is not reused (a gap). SQLite has one
writer at a time and keeps ``ReceiptCounter``, updated in one statement, without gaps.
"""

from __future__ import annotations

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from machi.procedures.models import ReceiptCounter


def _sequence_name(municipality_code: str, year: int) -> str:
    if not (municipality_code.isdigit() and len(municipality_code) == 6):
        raise ValueError(f"not a 全国地方公共団体コード: {municipality_code!r}")
    return f"machi_receipt_{municipality_code}_{year}"


def _create_sequence(municipality_code: str, year: int) -> None:
    """Create the year's sequence, continuing after what the counter table already gave out."""
    name = _sequence_name(municipality_code, year)
    counter = ReceiptCounter.objects.filter(municipality_id=municipality_code, year=year).first()
    start = (counter.last_number if counter else 0) + 1
    try:
        # Once per municipality and year: a savepoint, because two first submissions may race
        # to create it and the loser's error must not abort its transaction.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} START WITH {int(start)}")
    except DatabaseError:
        pass  # created concurrently by another transaction, which has committed it


def _next_from_sequence(municipality_code: str, year: int) -> int:
    name = _sequence_name(municipality_code, year)
    with connection.cursor() as cursor:
        # to_regclass: NULL (not an error that aborts the transaction) before the first use.
        cursor.execute("SELECT nextval(to_regclass(%s))", [name])
        (number,) = cursor.fetchone()
        if number is None:
            _create_sequence(municipality_code, year)
            cursor.execute("SELECT nextval(to_regclass(%s))", [name])
            (number,) = cursor.fetchone()
    return int(number)


def _next_from_counter(municipality_code: str, year: int) -> int:
    table = ReceiptCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (municipality_id, year, last_number) VALUES (%s, %s, 1) "  # noqa: S608 - the model's own table name
            "ON CONFLICT (municipality_id, year) DO UPDATE SET last_number = last_number + 1 "
            "RETURNING last_number",
            [municipality_code, year],
        )
        (number,) = cursor.fetchone()
    return int(number)


def uses_sequences() -> bool:
    """Whether receipt numbers come from sequences (PostgreSQL) rather than the counter rows."""
    return connection.vendor == "postgresql"


def next_receipt_number(municipality_code: str) -> str:
    """The next 受付番号 of the municipality, in the current transaction (one statement)."""
    year = timezone.localdate().year
    if uses_sequences():
        number = _next_from_sequence(municipality_code, year)
    else:
        number = _next_from_counter(municipality_code, year)
    return f"{year}-{number:06d}"


def receipt_numbers_given(*, municipality_code: str, year: int) -> int:
    """How many numbers of that year have been taken so far (including those lost to gaps)."""
    if uses_sequences():
        name = _sequence_name(municipality_code, year)
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            (exists,) = cursor.fetchone()
            if not exists:
                counter = ReceiptCounter.objects.filter(
                    municipality_id=municipality_code, year=year
                ).first()
                return counter.last_number if counter else 0
            cursor.execute(f"SELECT last_value, is_called FROM {name}")  # noqa: S608 - validated name
            last_value, is_called = cursor.fetchone()
        return int(last_value) if is_called else int(last_value) - 1
    counter = ReceiptCounter.objects.filter(municipality_id=municipality_code, year=year).first()
    return counter.last_number if counter else 0
