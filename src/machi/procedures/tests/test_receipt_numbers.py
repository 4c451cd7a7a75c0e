"""受付番号: per municipality and year, continuing after the counter table (decision 0006)."""

from __future__ import annotations

import pytest
from django.db import connection
from freezegun import freeze_time

from machi.procedures import services
from machi.procedures.models import ReceiptCounter
from machi.procedures.services.receipts import next_receipt_number

pytestmark = pytest.mark.django_db


def test_numbers_continue_after_what_the_counter_gave_out(kakogawa):
    # A year the installation numbered before (on PostgreSQL: before sequences existed).
    ReceiptCounter.objects.create(municipality_id="282103", year=2031, last_number=41)
    with freeze_time("2031-06-01 12:00:00+09:00"):
        numbers = [next_receipt_number("282103") for _ in range(3)]
    assert numbers == ["2031-000042", "2031-000043", "2031-000044"]
    assert services.receipt_numbers_given(municipality_code="282103", year=2031) == 44


def test_each_municipality_and_year_counts_on_its_own(kakogawa, kobe):
    with freeze_time("2032-12-31 23:00:00+09:00"):
        assert next_receipt_number("282103") == "2032-000001"
        assert next_receipt_number("282103") == "2032-000002"
        assert next_receipt_number("281000") == "2032-000001"
    with freeze_time("2033-01-01 00:30:00+09:00"):  # the local (JST) year decides
        assert next_receipt_number("282103") == "2033-000001"
    given = {
        (code, year): services.receipt_numbers_given(municipality_code=code, year=year)
        for code in ("282103", "281000")
        for year in (2032, 2033)
    }
    assert given == {
        ("282103", 2032): 2,
        ("281000", 2032): 1,
        ("282103", 2033): 1,
        ("281000", 2033): 0,
    }
    # SQLite keeps the counter rows; PostgreSQL leaves them alone and uses sequences.
    expected_rows = 0 if connection.vendor == "postgresql" else 3
    assert ReceiptCounter.objects.count() == expected_rows


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="only PostgreSQL builds a name from the code (SQLite binds it as a parameter)",
)
def test_a_malformed_municipality_code_never_reaches_sql(kakogawa):
    with pytest.raises(ValueError):
        next_receipt_number("28210; DROP")
