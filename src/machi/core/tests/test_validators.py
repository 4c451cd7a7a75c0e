"""Check digits of Japanese public identifiers: published examples and properties."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from machi.core.validators import (
    corporate_number_check_digit,
    is_valid_corporate_number,
    is_valid_local_government_code,
    is_valid_my_number,
    local_government_check_digit,
    my_number_check_digit,
    validate_local_government_code,
)

# Published codes, including remainders 0 and 1 (see shared/reference §3).
PUBLISHED_LG_CODES = [
    "280003",
    "281000",
    "282103",
    "080004",
    "082112",
    "070009",
    "072028",
    "072036",
    "140007",
    "131041",
    "242021",
    "131130",
    "134210",
    "010006",
    "470007",
    "130001",
]


@pytest.mark.parametrize("code", PUBLISHED_LG_CODES)
def test_published_local_government_codes_validate(code):
    assert is_valid_local_government_code(code)


@pytest.mark.parametrize("code", ["282104", "28210", "2821033", "28210a", "２８２１０３", ""])
def test_wrong_or_malformed_local_government_codes_fail(code):
    assert not is_valid_local_government_code(code)


def test_validator_accepts_full_width_digits_and_names_the_problem():
    validate_local_government_code("２８２１０３")  # residents type full-width digits
    with pytest.raises(ValidationError) as excinfo:
        validate_local_government_code("282104")
    assert excinfo.value.code == "lg_code_check_digit"
    with pytest.raises(ValidationError) as excinfo:
        validate_local_government_code("28-210")
    assert excinfo.value.code == "lg_code_format"


@given(st.text(alphabet="0123456789", min_size=5, max_size=5))
def test_any_body_with_its_check_digit_is_valid(body):
    assert is_valid_local_government_code(body + str(local_government_check_digit(body)))


@given(st.text(alphabet="0123456789", min_size=5, max_size=5), st.integers(1, 9))
def test_any_other_last_digit_is_invalid(body, shift):
    wrong = (local_government_check_digit(body) + shift) % 10
    assert not is_valid_local_government_code(body + str(wrong))


@pytest.mark.parametrize(
    ("body", "digit"),
    [("12345678901", 8), ("98765432109", 3), ("11111111111", 8), ("00000000000", 0)],
)
def test_my_number_check_digit_examples(body, digit):
    assert my_number_check_digit(body) == digit
    assert is_valid_my_number(body + str(digit))


@given(st.text(alphabet="0123456789", min_size=11, max_size=11), st.integers(1, 9))
def test_my_number_single_digit_errors_in_check_digit_are_caught(body, shift):
    digit = my_number_check_digit(body)
    assert is_valid_my_number(body + str(digit))
    assert not is_valid_my_number(body + str((digit + shift) % 10))


@pytest.mark.parametrize("number", ["7000012050002", "8000020130001", "3000020141003"])
def test_published_corporate_numbers_validate(number):
    assert is_valid_corporate_number(number)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_corporate_number_check_digit_comes_first(body):
    digit = corporate_number_check_digit(body)
    assert 1 <= digit <= 9
    assert is_valid_corporate_number(str(digit) + body)
