"""Japanese public-sector identifiers and their check digits.

Formulas from the 総務省 rules, checked against published codes (see
``shared/reference/identity-signatures-japanese-data.md`` §3).
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def local_government_check_digit(body: str) -> int:
    """Check digit of a 全国地方公共団体コード from its first five digits (weights 6,5,4,3,2)."""
    if len(body) != 5 or not body.isascii() or not body.isdigit():
        raise ValueError("body must be five ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(body, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


def is_valid_local_government_code(code: str) -> bool:
    """True when ``code`` is six ASCII digits whose last digit is the right check digit."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return False
    return local_government_check_digit(code[:5]) == int(code[5])


def normalize_digits(value: str) -> str:
    """Fold full-width digits and hyphens the way residents type them (１２３ → 123)."""
    return unicodedata.normalize("NFKC", value).strip()


def validate_local_government_code(value: str) -> None:
    """Django validator for a 6-digit 全国地方公共団体コード."""
    code = normalize_digits(value)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise ValidationError(
            _("地方公共団体コードは6桁の数字で入力してください。"), code="lg_code_format"
        )
    if not is_valid_local_government_code(code):
        raise ValidationError(
            _("地方公共団体コード %(code)s の検査数字が正しくありません。"),
            code="lg_code_check_digit",
            params={"code": code},
        )


def my_number_check_digit(body: str) -> int:
    """Check digit of a 個人番号 from its first eleven digits (番号法施行令の算式)."""
    if len(body) != 11 or not body.isascii() or not body.isdigit():
        raise ValueError("body must be eleven ASCII digits")
    total = sum(
        int(digit) * (n + 1 if n <= 6 else n - 5) for n, digit in enumerate(reversed(body), start=1)
    )
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid_my_number(number: str) -> bool:
    """True when ``number`` is a 12-digit 個人番号 with the right check digit."""
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        return False
    return my_number_check_digit(number[:11]) == int(number[11])


def corporate_number_check_digit(body: str) -> int:
    """Check digit of a 法人番号 from its last twelve digits (the check digit comes first)."""
    if len(body) != 12 or not body.isascii() or not body.isdigit():
        raise ValueError("body must be twelve ASCII digits")
    total = sum(int(digit) * (1 if n % 2 else 2) for n, digit in enumerate(reversed(body), 1))
    return 9 - total % 9


def is_valid_corporate_number(number: str) -> bool:
    """True when ``number`` is a 13-digit 法人番号 whose first digit is the check digit."""
    if len(number) != 13 or not number.isascii() or not number.isdigit():
        return False
    return corporate_number_check_digit(number[1:]) == int(number[0])
