"""Japanese data rules: published examples, every rejection, and properties."""

from __future__ import annotations

import datetime as dt
import unicodedata

import jaconv
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from machi.core.japanese import (
    ERAS,
    PREFECTURES,
    JapaneseDataError,
    PostalAddress,
    clean_corporate_number,
    clean_my_number,
    era_by_key,
    format_phone_national,
    format_postal_code,
    format_wareki,
    kana_reading,
    lookup_postal_code,
    normalize_phone,
    normalize_postal_code,
    parse_japanese_date,
    search_key,
    to_katakana,
    to_wareki,
    validate_corporate_number,
    validate_katakana,
    validate_my_number,
    wareki_to_date,
)
from machi.core.validators import my_number_check_digit

DATES = st.dates(min_value=dt.date(1873, 1, 1), max_value=dt.date(2100, 12, 31))


# --- 和暦 ----------------------------------------------------------------------------------


def test_eras_carry_key_kanji_letter_and_jpki_code():
    assert [(e.key, e.kanji, e.letter, e.code) for e in ERAS] == [
        ("meiji", "明治", "M", 1),
        ("taisho", "大正", "T", 2),
        ("showa", "昭和", "S", 3),
        ("heisei", "平成", "H", 4),
        ("reiwa", "令和", "R", 5),
    ]
    assert era_by_key("R") is era_by_key("reiwa") is era_by_key("令和") is era_by_key("ｒ")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.date(2024, 4, 1), "令和6年4月1日"),
        (dt.date(2019, 5, 1), "令和元年5月1日"),
        (dt.date(2019, 4, 30), "平成31年4月30日"),
        (dt.date(1989, 1, 8), "平成元年1月8日"),
        (dt.date(1989, 1, 7), "昭和64年1月7日"),
        (dt.date(1926, 12, 25), "昭和元年12月25日"),
        (dt.date(1926, 12, 24), "大正15年12月24日"),
        (dt.date(1912, 7, 30), "大正元年7月30日"),
        (dt.date(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_format_wareki_on_era_boundaries(value, text):
    assert format_wareki(value) == text
    assert parse_japanese_date(text) == value


def test_to_wareki_gives_era_and_year():
    wareki = to_wareki(dt.date(1990, 1, 2))
    assert (wareki.era.key, wareki.era.code, wareki.year, wareki.month, wareki.day) == (
        "heisei",
        4,
        2,
        1,
        2,
    )
    assert wareki.to_date() == dt.date(1990, 1, 2)


@pytest.mark.parametrize(
    "text",
    [
        "令和6年4月1日",
        "R6.4.1",
        "r06.04.01",
        "2024-04-01",
        "2024/4/1",
        "2024年4月1日",
        "20240401",
        "２０２４－０４－０１",
        "令和　６年　４月　１日",
        " Ｒ６．４．１ ",
        "令和6/4/1",
    ],
)
def test_parse_accepts_the_ways_residents_write_a_date(text):
    assert parse_japanese_date(text) == dt.date(2024, 4, 1)


def test_parse_accepts_gannen_and_era_ligatures():
    assert parse_japanese_date("令和元年5月1日") == dt.date(2019, 5, 1)
    assert parse_japanese_date("H31.4.30") == dt.date(2019, 4, 30)
    assert parse_japanese_date("㍻31年4月30日") == dt.date(2019, 4, 30)
    assert parse_japanese_date("昭和64年1月7日") == dt.date(1989, 1, 7)


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("慶応3年1月1日", "unknown_era", "元号「慶応」は使えません"),
        ("X6.4.1", "unknown_era", "元号「X」"),
        ("令和0年1月1日", "invalid_year", "令和0年という年はありません"),
        ("令和6年2月30日", "nonexistent_date", "令和6年2月30日という日付はありません"),
        ("2023-02-29", "nonexistent_date", "2023年2月29日という日付はありません"),
        ("平成32年1月1日", "outside_era", "平成は平成31年4月30日まで"),
        ("平成31年5月1日", "outside_era", "令和元年5月1日以降は令和"),
        ("昭和64年1月8日", "outside_era", "昭和は昭和64年1月7日まで"),
        ("昭和元年12月24日", "outside_era", "昭和は昭和元年12月25日から"),
        ("明治5年12月2日", "before_gregorian", "旧暦"),
        ("1872-12-31", "before_gregorian", "1873年"),
        ("明治元年1月1日", "before_gregorian", "旧暦"),
        ("", "invalid_format", "例: 令和6年4月1日"),
        ("あした", "invalid_format", "日付の形式"),
        ("2024-04", "invalid_format", "日付の形式"),
    ],
)
def test_parse_rejects_with_specific_codes_and_messages(text, code, fragment):
    with pytest.raises(JapaneseDataError) as excinfo:
        parse_japanese_date(text)
    assert excinfo.value.code == code
    assert fragment in str(excinfo.value.message)


def test_wareki_to_date_checks_the_same_rules():
    assert wareki_to_date("showa", 64, 1, 7) == dt.date(1989, 1, 7)
    with pytest.raises(JapaneseDataError) as excinfo:
        wareki_to_date("showa", 64, 1, 8)
    assert excinfo.value.code == "outside_era"
    with pytest.raises(JapaneseDataError) as excinfo:
        wareki_to_date("reiwa", 0, 5, 1)
    assert excinfo.value.code == "invalid_year"
    with pytest.raises(JapaneseDataError) as excinfo:
        wareki_to_date("kouka", 1, 1, 1)
    assert excinfo.value.code == "unknown_era"


def test_to_wareki_refuses_lunisolar_dates():
    with pytest.raises(JapaneseDataError) as excinfo:
        to_wareki(dt.date(1872, 12, 31))
    assert excinfo.value.code == "before_gregorian"


@given(DATES)
def test_wareki_round_trip(value):
    wareki = to_wareki(value)
    assert wareki_to_date(wareki.era.key, wareki.year, wareki.month, wareki.day) == value
    assert wareki_to_date(wareki.era.letter, wareki.year, wareki.month, wareki.day) == value


@given(DATES)
def test_format_then_parse_round_trip(value):
    text = format_wareki(value)
    assert parse_japanese_date(text) == value
    assert parse_japanese_date(unicodedata.normalize("NFKC", text).translate(_FULL_WIDTH)) == value
    assert parse_japanese_date(value.isoformat()) == value


_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


# --- Search keys and readings --------------------------------------------------------------


def test_search_key_folds_kana_width_and_dashes():
    assert search_key("じゅうみんひょう") == search_key("ジュウミンヒョウ") == "じゅうみんひょう"
    assert search_key("ｼﾞｭｳﾐﾝﾋｮｳ") == "じゅうみんひょう"
    assert search_key("センター") == search_key("ｾﾝﾀｰ") == search_key("センタ－") == "せんたー"
    assert search_key("センタ‐") == search_key("センタ―") == search_key("センタ−") == "せんたー"
    assert search_key("旭ヶ丘") == search_key("旭ケ丘")
    assert search_key("住民票 の 写し・交付") == "住民票の写し交付"
    assert search_key("ＡＢＣ　Ｄｅｆ") == "abcdef"
    assert search_key("675-0031") == "6750031"


def test_kana_reading_of_catalog_titles():
    assert kana_reading("住民票の写しの交付請求") == "じゅうみんひょうのうつしのこうふせいきゅう"
    assert kana_reading("ｶﾀｶﾅ") == "かたかな"


KANA = st.text(alphabet=st.characters(min_codepoint=0x3041, max_codepoint=0x3096), max_size=20)


@given(st.text(max_size=40))
def test_search_key_is_idempotent(text):
    assert search_key(search_key(text)) == search_key(text)


@given(KANA)
def test_search_key_ignores_kana_type_and_width(hiragana):
    katakana = jaconv.hira2kata(hiragana)
    half_width = jaconv.z2h(katakana, kana=True, ascii=False, digit=False)
    assert search_key(hiragana) == search_key(katakana) == search_key(half_width)


# --- Furigana --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("カコガワ", "カコガワ"),
        ("かこがわ", "カコガワ"),
        ("ｶｺｶﾞﾜ", "カコガワ"),
        ("かこがわ　たろう", "カコガワ\u3000タロウ"),
        ("  ジョン  スミス ", "ジョン\u3000スミス"),
        ("ジョン・スミス", "ジョン・スミス"),
        ("ｼﾞｮｰｼﾞ", "ジョージ"),
        ("じょ-じ", "ジョージ"),
        ("ヴァン", "ヴァン"),
    ],
)
def test_to_katakana_stores_full_width_katakana(text, expected):
    assert to_katakana(text) == expected
    validate_katakana(text)


@pytest.mark.parametrize("text", ["加古川", "Kakogawa", "カコガワ1", "", "   ", "カコ、ガワ"])
def test_to_katakana_rejects_other_scripts(text):
    with pytest.raises(JapaneseDataError) as excinfo:
        to_katakana(text)
    assert excinfo.value.code == "invalid_kana"
    assert "カタカナで入力してください" in str(excinfo.value.message)
    with pytest.raises(ValidationError):
        validate_katakana(text)


@given(KANA.filter(lambda s: s.strip()))
def test_to_katakana_is_idempotent_and_width_invariant(hiragana):
    katakana = to_katakana(hiragana)
    assert to_katakana(katakana) == katakana
    assert to_katakana(jaconv.z2h(katakana, kana=True, ascii=False, digit=False)) == katakana


# --- Postal codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["６７５－００３１", "675-0031", "〒675-0031", "6750031", " 675 0031 "]
)
def test_normalize_postal_code(text):
    assert normalize_postal_code(text) == "6750031"
    assert format_postal_code(text) == "675-0031"


@pytest.mark.parametrize("text", ["675-003", "67500311", "abc-defg", "", "675-OO31"])
def test_malformed_postal_codes_raise(text):
    with pytest.raises(JapaneseDataError) as excinfo:
        normalize_postal_code(text)
    assert excinfo.value.code == "invalid_postal_code"
    with pytest.raises(JapaneseDataError):
        lookup_postal_code(text)


def test_lookup_postal_code_returns_structured_addresses():
    assert lookup_postal_code("６７５－００３１") == [
        PostalAddress("兵庫県", "加古川市", "加古川町北在家", "282103")
    ]
    # One code spans two prefectures (reference §4): both come back, the resident chooses.
    assert {a.prefecture for a in lookup_postal_code("498-0000")} == {"愛知県", "三重県"}
    assert lookup_postal_code("999-9999") == []


@given(st.text(alphabet="0123456789", min_size=7, max_size=7), st.sampled_from(["", "-", "－"]))
def test_postal_normalisation_is_idempotent(digits, dash):
    text = digits[:3] + dash + digits[3:]
    once = normalize_postal_code(text)
    assert once == digits
    assert normalize_postal_code(once) == once


def test_prefectures_are_the_47():
    assert len(PREFECTURES) == 47 == len(set(PREFECTURES))
    assert PREFECTURES[27] == "兵庫県"


# --- Phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "e164", "national"),
    [
        ("079-421-2000", "+81794212000", "079-421-2000"),
        ("０７９（４２１）２０００", "+81794212000", "079-421-2000"),
        ("+81 79 421 2000", "+81794212000", "079-421-2000"),
        ("03-1234-5678", "+81312345678", "03-1234-5678"),
        ("09012345678", "+819012345678", "090-1234-5678"),
        ("0795211234", "+81795211234", "0795-21-1234"),
        ("0120123456", "+81120123456", "0120-123-456"),
        ("05012345678", "+815012345678", "050-1234-5678"),
        ("0570000123", "+81570000123", "0570-000-123"),
        ("08001234567", "+818001234567", "0800-123-4567"),
    ],
)
def test_phone_numbers_are_stored_e164_and_shown_national(text, e164, national):
    assert normalize_phone(text) == e164
    assert format_phone_national(e164) == national


@pytest.mark.parametrize("text", ["12345", "03-1234-567", "110", "", "電話", "0000000000"])
def test_invalid_phone_numbers_are_refused(text):
    with pytest.raises(JapaneseDataError) as excinfo:
        normalize_phone(text)
    assert excinfo.value.code == "invalid_phone"
    assert "電話番号が正しくありません" in str(excinfo.value.message)


# --- 個人番号 / 法人番号 ---------------------------------------------------------------------


def test_my_number_validator_accepts_full_width_and_spaces():
    assert clean_my_number("１２３４ ５６７８ ９０１８") == "123456789018"
    validate_my_number("123456789018")
    with pytest.raises(ValidationError) as excinfo:
        validate_my_number("123456789017")
    assert excinfo.value.code == "my_number_check_digit"
    with pytest.raises(ValidationError) as excinfo:
        validate_my_number("12345678901")
    assert excinfo.value.code == "my_number_format"


@pytest.mark.parametrize("number", ["7000012050002", "8000020130001", "3000020141003"])
def test_corporate_number_validator(number):
    validate_corporate_number(number)
    assert clean_corporate_number(number.translate(_FULL_WIDTH)) == number


def test_corporate_number_rejections():
    with pytest.raises(ValidationError) as excinfo:
        validate_corporate_number("7000012050003")
    assert excinfo.value.code == "corporate_number_check_digit"
    with pytest.raises(ValidationError) as excinfo:
        validate_corporate_number("700001205000")
    assert excinfo.value.code == "corporate_number_format"


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_any_my_number_with_its_check_digit_cleans(body):
    number = body + str(my_number_check_digit(body))
    assert clean_my_number(number.translate(_FULL_WIDTH)) == number
