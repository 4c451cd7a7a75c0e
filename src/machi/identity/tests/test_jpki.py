"""基本4情報 encoding and the era code of the birth date."""

from __future__ import annotations

from datetime import date

import pytest

from machi.identity import jpki
from machi.identity.card_authority import fifth_birthday_after


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(1990, 1, 2), "419900102"),  # the reference's example
        (date(1989, 1, 7), "319890107"),  # 昭和64年1月7日
        (date(1989, 1, 8), "419890108"),  # 平成元年
        (date(2019, 4, 30), "420190430"),
        (date(2019, 5, 1), "520190501"),  # 令和元年
        (date(1926, 12, 24), "219261224"),
        (date(1926, 12, 25), "319261225"),
        (date(1912, 7, 29), "119120729"),
        (date(1912, 7, 30), "219120730"),
    ],
)
def test_birth_date_era_code(day, expected):
    assert jpki.encode_birth_date(day) == expected
    assert jpki.decode_birth_date(expected) == day


def test_birth_date_rejects_wrong_era_and_bad_values():
    with pytest.raises(ValueError, match="era"):
        jpki.decode_birth_date("319900102")  # 1990 is 平成, not 昭和
    with pytest.raises(ValueError):
        jpki.decode_birth_date("41990010")
    with pytest.raises(ValueError):
        jpki.decode_birth_date("419900230")  # 30 February
    with pytest.raises(ValueError):
        jpki.encode_birth_date(date(1868, 1, 24))
    assert jpki.decode_birth_date("000000000") is None  # 不明


def test_utf8_der_round_trip_long_values():
    address = "兵庫県加古川市加古川町北在家" + "一" * 150  # > 127 bytes: long-form DER length
    assert jpki.utf8_from_der(jpki.utf8_der(address)) == address


@pytest.mark.parametrize(
    ("issued", "birth", "expected"),
    [
        (date(2025, 3, 1), date(1990, 1, 2), date(2030, 1, 2)),
        (date(2025, 3, 1), date(1990, 4, 1), date(2029, 4, 1)),
        (date(2025, 1, 2), date(1990, 1, 2), date(2030, 1, 2)),  # issued on the birthday
        (date(2025, 3, 1), date(2000, 2, 29), date(2030, 2, 28)),
    ],
)
def test_certificates_expire_on_the_fifth_birthday(issued, birth, expected):
    assert fifth_birthday_after(issued, birth) == expected
