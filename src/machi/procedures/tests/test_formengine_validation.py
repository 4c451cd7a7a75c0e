"""Server-side validation: every field type, conditions, groups and files."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jaconv
import pytest
from hypothesis import given
from hypothesis import strategies as st

from machi.core.japanese import format_wareki
from machi.core.validators import corporate_number_check_digit, my_number_check_digit
from machi.procedures.formengine import FileInfo, FormDefinition, validate_answers

TODAY = dt.date(2025, 6, 1)


def opts(*values: str) -> list[dict]:
    return [{"value": v, "label": {"ja": v.upper(), "en": v}} for v in values]


DEFINITION = FormDefinition.from_json(
    {
        "schema": 1,
        "steps": [
            {
                "key": "a",
                "title": {"ja": "全種類"},
                "fields": [
                    {"key": "title", "type": "text", "label": {"ja": "件名"}, "max_length": 10},
                    {"key": "body", "type": "textarea", "label": {"ja": "本文"}},
                    {
                        "key": "count",
                        "type": "number",
                        "label": {"ja": "数"},
                        "min": 1,
                        "max": 10,
                        "integer": True,
                    },
                    {
                        "key": "ratio",
                        "type": "number",
                        "label": {"ja": "割合"},
                        "min": 0,
                        "max": 1.5,
                    },
                    {
                        "key": "day",
                        "type": "date",
                        "label": {"ja": "日付"},
                        "min": "2000-01-01",
                        "max": "today",
                    },
                    {"key": "future", "type": "date", "label": {"ja": "予約日"}, "min": "today"},
                    {
                        "key": "kind",
                        "type": "choice",
                        "label": {"ja": "種類"},
                        "options": opts("x", "y", "z"),
                    },
                    {
                        "key": "tags",
                        "type": "multichoice",
                        "label": {"ja": "タグ"},
                        "options": opts("p", "q", "r"),
                        "min_items": 2,
                    },
                    {"key": "agree", "type": "checkbox", "label": {"ja": "同意"}},
                    {"key": "mail", "type": "email", "label": {"ja": "メール"}},
                    {"key": "tel", "type": "phone", "label": {"ja": "電話"}},
                    {"key": "zip", "type": "postal_code", "label": {"ja": "郵便番号"}},
                    {"key": "person", "type": "name", "label": {"ja": "氏名"}},
                    {"key": "place", "type": "address", "label": {"ja": "住所"}},
                    {"key": "mynum", "type": "my_number", "label": {"ja": "個人番号"}},
                    {"key": "corp", "type": "corporate_number", "label": {"ja": "法人番号"}},
                    {
                        "key": "doc",
                        "type": "file",
                        "label": {"ja": "書類"},
                        "accept": ["application/pdf", "image/*"],
                        "max_size": 1000,
                    },
                    {
                        "key": "docs",
                        "type": "file",
                        "label": {"ja": "書類（複数）"},
                        "multiple": True,
                    },
                ],
            }
        ],
    }
)


def check(field: str, raw, *, required: bool = False, lookup=None):
    """(cleaned value, errors for that field) after validating one answer."""
    definition = DEFINITION
    if required:
        data = definition.to_json()
        for f in data["steps"][0]["fields"]:
            if f["key"] == field:
                f["required"] = True
        definition = FormDefinition.from_json(data)
    result = validate_answers(
        definition, {"a": {field: raw}}, step_key="a", file_lookup=lookup, today=TODAY
    )
    errors = {k: v for k, v in result.errors.items() if k.startswith(f"a.{field}")}
    return result.cleaned["a"][field], errors


def only(errors: dict) -> str:
    assert len(errors) == 1, errors
    (messages,) = errors.values()
    assert len(messages) == 1, messages
    return messages[0]


# --- Empty answers and required ------------------------------------------------------------


def test_empty_form_is_valid_and_json_serialisable():
    result = validate_answers(DEFINITION, {}, today=TODAY)
    assert result.is_valid, result.errors
    assert result.cleaned["a"]["title"] is None
    assert result.cleaned["a"]["tags"] == []
    assert result.cleaned["a"]["agree"] is False
    assert result.cleaned["a"]["doc"] == []
    assert result.cleaned["a"]["person"] is None
    json.dumps(result.cleaned)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("title", "入力してください。"),
        ("day", "入力してください。"),
        ("kind", "選んでください。"),
        ("tags", "1つ以上選んでください。"),
        ("agree", "確認のうえ、チェックを入れてください。"),
        ("doc", "ファイルを添付してください。"),
        ("mynum", "入力してください。"),
    ],
)
def test_required_messages_per_type(field, message):
    _value, errors = check(field, None, required=True)
    assert only(errors) == message


def test_required_name_and_address_point_at_their_parts():
    _value, errors = check("person", {"family": "", "given": ""}, required=True)
    assert errors == {
        "a.person.family": ["入力してください。"],
        "a.person.family_kana": ["フリガナを入力してください。"],
    }
    _value, errors = check("place", {}, required=True)
    assert set(errors) == {
        "a.place.postal_code",
        "a.place.prefecture",
        "a.place.city",
        "a.place.street",
    }
    assert errors["a.place.prefecture"] == ["選んでください。"]


# --- Text and numbers ----------------------------------------------------------------------


def test_text_is_trimmed_and_length_checked():
    assert check("title", "  加古川  ") == ("加古川", {})
    _value, errors = check("title", "あ" * 11)
    assert only(errors) == "10文字以内で入力してください（いま11文字です）。"
    _value, errors = check("title", "bad\x00char")
    assert only(errors) == "使えない制御文字が含まれています。"
    assert check("body", "一行目\r\n二行目") == ("一行目\n二行目", {})
    _value, errors = check("body", "x" * 2001)
    assert "2000文字以内" in only(errors)


def test_text_keeps_legal_names_verbatim():
    # 髙 and 﨑 must survive (reference §4): no NFKC on stored text.
    assert check("title", "髙﨑") == ("髙﨑", {})


@pytest.mark.parametrize(
    ("field", "raw", "cleaned"),
    [
        ("count", "３", 3),
        ("count", " 10 ", 10),
        ("count", 2, 2),
        ("ratio", "0.5", 0.5),
        ("ratio", "1", 1),
    ],
)
def test_numbers_accept_full_width(field, raw, cleaned):
    assert check(field, raw) == (cleaned, {})


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("count", "three", "半角または全角の数字で入力してください。"),
        ("count", "1e3", "半角または全角の数字で入力してください。"),
        ("count", "2.5", "整数で入力してください。"),
        ("count", "0", "1以上10以下の数を入力してください。"),
        ("count", "11", "1以上10以下の数を入力してください。"),
        ("ratio", "1.6", "0以上1.5以下の数を入力してください。"),
    ],
)
def test_number_rejections(field, raw, message):
    assert only(check(field, raw)[1]) == message


@given(st.integers(1, 10), st.booleans())
def test_any_integer_in_range_is_accepted(number, full_width):
    text = str(number)
    if full_width:
        text = jaconv.h2z(text, digit=True)
    assert check("count", text) == (number, {})


# --- Dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["令和6年4月1日", "R6.4.1", "2024-04-01", "２０２４/4/1"])
def test_dates_are_cleaned_to_iso(raw):
    assert check("day", raw) == ("2024-04-01", {})


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("令和0年4月1日", "令和0年という年はありません"),
        ("令和6年2月30日", "令和6年2月30日という日付はありません"),
        ("平成32年1月1日", "平成は平成31年4月30日まで"),
        ("平成31年5月1日", "令和元年5月1日以降は令和"),
        ("昭和64年1月8日", "昭和は昭和64年1月7日まで"),
        ("慶応3年1月1日", "元号「慶応」は使えません"),
        ("そのうち", "例: 令和6年4月1日 または 2024-04-01"),
        ("1999-12-31", "平成12年1月1日（2000-01-01）以降の日付"),
        ("2025-06-02", "未来の日付は入力できません"),
    ],
)
def test_date_rejections_are_specific(raw, fragment):
    message = only(check("day", raw)[1])
    assert fragment in message, message


def test_today_bounds_follow_the_given_day():
    assert check("future", "2025-06-01") == ("2025-06-01", {})
    assert only(check("future", "2025-05-31")[1]) == "今日以降の日付を入力してください。"


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=TODAY), st.booleans())
def test_any_date_in_range_round_trips_through_the_engine(value, wareki):
    raw = format_wareki(value) if wareki else value.isoformat()
    assert check("day", raw) == (value.isoformat(), {})


# --- Choices -----------------------------------------------------------------------------------


def test_choice_values_must_be_options():
    assert check("kind", "y") == ("y", {})
    assert only(check("kind", "w")[1]) == "選択肢の中から選んでください。"


def test_multichoice_counts_and_order():
    assert check("tags", ["r", "p", "p"]) == (["p", "r"], {})
    assert only(check("tags", ["p"])[1]) == "2個以上選んでください。"
    assert only(check("tags", ["p", "nope"])[1]) == "選択肢の中から選んでください。"
    assert check("tags", []) == ([], {})


def test_checkbox_values():
    assert check("agree", True) == (True, {})
    assert check("agree", "1") == (True, {})
    assert check("agree", "on") == (True, {})
    assert check("agree", "") == (False, {})


# --- Email, phone, postal code, kana, check digits ------------------------------------------


def test_email():
    assert check("mail", "ｔａｒｏ@example.jp") == ("taro@example.jp", {})
    assert (
        only(check("mail", "taro@")[1])
        == "メールアドレスの形式が正しくありません（例: taro@example.jp）。"
    )


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("079-421-2000", "+81794212000"),
        ("０９０１２３４５６７８", "+819012345678"),
        ("0120-123-456", "+81120123456"),
    ],
)
def test_phone_is_stored_e164(raw, e164):
    assert check("tel", raw) == (e164, {})


def test_bad_phone():
    assert "電話番号が正しくありません" in only(check("tel", "03-1234-567")[1])


@given(st.sampled_from(["03", "06", "079", "0795"]), st.integers(0, 10**9))
def test_phone_cleaning_is_stable(area, seed):
    # Any number the engine accepts comes back unchanged when fed its own output.
    digits = str(seed).zfill(10 - len(area))[: 10 - len(area)]
    cleaned, errors = check("tel", area + digits)
    if not errors:
        assert check("tel", cleaned) == (cleaned, {})


def test_postal_code():
    assert check("zip", "〒６７５－００３１") == ("6750031", {})
    assert (
        only(check("zip", "675-003")[1])
        == "郵便番号は7桁の数字で入力してください（例: 675-0031）。"
    )
    assert (
        only(check("zip", "999-9999")[1])
        == "この郵便番号は見つかりません。番号をもう一度確かめてください。"
    )


@given(
    st.sampled_from(["6750031", "1000001", "0600042", "4980000"]), st.sampled_from(["", "-", "－"])
)
def test_known_postal_codes_in_any_spelling(code, dash):
    assert check("zip", code[:3] + dash + code[3:]) == (code, {})


def test_name_kana_is_stored_as_katakana():
    raw = {"family": "加古川", "given": "太郎", "family_kana": "かこがわ", "given_kana": "ﾀﾛｳ"}
    cleaned, errors = check("person", raw)
    assert errors == {}
    assert cleaned == {
        "family": "加古川",
        "given": "太郎",
        "family_kana": "カコガワ",
        "given_kana": "タロウ",
    }


def test_single_name_people_need_no_given_name():
    cleaned, errors = check("person", {"family": "Suharto", "family_kana": "スハルト"})
    assert errors == {}
    assert cleaned["given"] == "" and cleaned["given_kana"] == ""


def test_bad_kana_is_tied_to_its_part():
    _value, errors = check(
        "person", {"family": "加古川", "given": "太郎", "family_kana": "Kakogawa"}
    )
    assert errors == {
        "a.person.family_kana": ["カタカナで入力してください（ひらがなでも入力できます）。"],
        "a.person.given_kana": ["フリガナを入力してください。"],
    }


@given(
    st.text(
        alphabet=st.characters(min_codepoint=0x3041, max_codepoint=0x3093), min_size=1, max_size=10
    )
)
def test_any_hiragana_reading_is_accepted_as_katakana(reading):
    cleaned, errors = check("person", {"family": "姓", "family_kana": reading})
    assert errors == {}
    assert cleaned["family_kana"] == jaconv.hira2kata(reading)


def test_address_is_checked_part_by_part():
    good = {
        "postal_code": "675-0031",
        "prefecture": "兵庫県",
        "city": "加古川市",
        "town": "加古川町北在家",
        "street": "2000",
        "building": "",
    }
    cleaned, errors = check("place", good)
    assert errors == {}
    assert cleaned["postal_code"] == "6750031"
    _value, errors = check("place", {**good, "postal_code": "999-9999", "prefecture": "兵庫"})
    assert errors == {
        "a.place.postal_code": ["この郵便番号は見つかりません。番号をもう一度確かめてください。"],
        "a.place.prefecture": ["都道府県を一覧から選んでください。"],
    }


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_my_number_check_digit_through_the_engine(body):
    digit = my_number_check_digit(body)
    good = body + str(digit)
    assert check("mynum", jaconv.h2z(good, digit=True)) == (good, {})
    message = only(check("mynum", body + str((digit + 1) % 10))[1])
    assert message == "個人番号（マイナンバー）が正しくありません。番号をもう一度確かめてください。"


def test_my_number_format():
    message = only(check("mynum", "1234")[1])
    assert message == "個人番号（マイナンバー）は12桁の数字で入力してください。"


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_corporate_number_check_digit_through_the_engine(body):
    digit = corporate_number_check_digit(body)
    assert check("corp", f"{digit}{body}") == (f"{digit}{body}", {})
    wrong = (digit % 9) + 1
    message = only(check("corp", f"{wrong}{body}")[1])
    assert message == "法人番号が正しくありません。番号をもう一度確かめてください。"


# --- Files -------------------------------------------------------------------------------------

FILES = {
    "pdf": FileInfo("application/pdf", 500, "申請書.pdf"),
    "png": FileInfo("image/png", 800, "写真.png"),
    "big": FileInfo("image/jpeg", 5000, "大きい.jpg"),
    "exe": FileInfo("application/x-msdownload", 10, "virus.exe"),
}


def test_files_are_checked_with_the_lookup():
    assert check("doc", ["pdf"], lookup=FILES.get) == (["pdf"], {})
    assert check("doc", ["png"], lookup=FILES.get) == (["png"], {})  # image/* matches
    assert only(check("doc", ["gone"], lookup=FILES.get)[1]) == (
        "添付したファイルが見つかりません。もう一度添付してください。"
    )
    message = only(check("doc", ["big"], lookup=FILES.get)[1])
    assert message == "「大きい.jpg」は大きすぎます（5 KB）。1 KB以下のファイルにしてください。"
    message = only(check("doc", ["exe"], lookup=FILES.get)[1])
    assert message.startswith(
        "「virus.exe」の形式（application/x-msdownload）は受け付けていません。"
    )
    assert "PDF" in message
    assert (
        only(check("doc", ["pdf", "png"], lookup=FILES.get)[1])
        == "添付できるファイルは1つだけです。"
    )
    assert check("docs", ["pdf", "png", "pdf"], lookup=FILES.get) == (["pdf", "png"], {})


# --- Conditions ------------------------------------------------------------------------------

CONDITIONAL = FormDefinition.from_json(
    {
        "schema": 1,
        "steps": [
            {
                "key": "s1",
                "title": {"ja": "1"},
                "fields": [
                    {
                        "key": "who",
                        "type": "choice",
                        "label": {"ja": "誰"},
                        "options": opts("self", "agent", "other"),
                        "required": True,
                    },
                    {
                        "key": "agent_name",
                        "type": "text",
                        "label": {"ja": "代理人"},
                        "required": True,
                        "visible_if": {"field": "s1.who", "equals": "agent"},
                    },
                    {
                        "key": "reason",
                        "type": "text",
                        "label": {"ja": "理由"},
                        "required_if": {"field": "s1.who", "in": ["agent", "other"]},
                    },
                    {"key": "mail_ok", "type": "checkbox", "label": {"ja": "メール可"}},
                    {
                        "key": "mail",
                        "type": "email",
                        "label": {"ja": "メール"},
                        "required": True,
                        "visible_if": {"field": "s1.mail_ok", "checked": True},
                    },
                    {"key": "zip", "type": "postal_code", "label": {"ja": "〒"}},
                ],
            },
            {
                "key": "s2",
                "title": {"ja": "2"},
                "fields": [
                    {
                        "key": "detail",
                        "type": "text",
                        "label": {"ja": "詳細"},
                        "required": True,
                        "visible_if": {
                            "all": [
                                {"field": "s1.who", "in": ["agent", "other"]},
                                {"not": {"field": "s1.mail_ok", "checked": True}},
                            ]
                        },
                    },
                    {
                        "key": "hyogo",
                        "type": "text",
                        "label": {"ja": "兵庫"},
                        "required_if": {"field": "s1.zip", "equals": "6750031"},
                    },
                ],
            },
        ],
    }
)


def test_hidden_fields_are_dropped_and_never_required():
    result = validate_answers(
        CONDITIONAL, {"s1": {"who": "self", "agent_name": "誰か", "mail": "x"}}, step_key="s1"
    )
    assert result.errors == {}
    assert "agent_name" not in result.cleaned["s1"]
    assert "mail" not in result.cleaned["s1"]
    assert result.cleaned["s1"]["reason"] is None


def test_visible_fields_follow_their_condition():
    result = validate_answers(CONDITIONAL, {"s1": {"who": "agent", "mail_ok": "1"}}, step_key="s1")
    assert result.errors == {
        "s1.agent_name": ["入力してください。"],
        "s1.reason": ["入力してください。"],
        "s1.mail": ["入力してください。"],
    }


def test_conditions_read_earlier_steps_but_only_report_the_requested_one():
    answers: dict[str, dict[str, Any]] = {"s1": {"who": "other", "zip": "675-0031"}, "s2": {}}
    result = validate_answers(CONDITIONAL, answers, step_key="s2")
    assert set(result.cleaned) == {"s2"}
    assert result.errors == {
        "s2.detail": ["入力してください。"],
        "s2.hyogo": ["入力してください。"],
    }
    answers["s1"]["mail_ok"] = True
    answers["s1"]["zip"] = "100-0001"
    result = validate_answers(CONDITIONAL, answers, step_key="s2")
    assert result.errors == {}
    assert result.cleaned == {"s2": {"hyogo": None}}


def test_invalid_earlier_answers_count_as_unanswered():
    # who=agent is invalid here (not an option → error), so dependent fields stay hidden.
    result = validate_answers(CONDITIONAL, {"s1": {"who": "nobody"}}, step_key="s1")
    assert result.errors == {"s1.who": ["選択肢の中から選んでください。"]}


def test_whole_form_validation_reports_every_step():
    result = validate_answers(CONDITIONAL, {"s1": {"who": "other"}})
    assert set(result.errors) == {"s1.reason", "s2.detail"}
    assert set(result.cleaned) == {"s1", "s2"}


@given(
    st.sampled_from(["self", "agent", "other", ""]),
    st.booleans(),
    st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), max_size=5),
)
def test_required_exactly_when_visible_and_required(who, mail_ok, text):
    answers = {
        "s1": {"who": who, "agent_name": text, "reason": text, "mail_ok": mail_ok, "mail": ""}
    }
    result = validate_answers(CONDITIONAL, answers, step_key="s1")
    errors, cleaned = result.errors, result.cleaned["s1"]
    assert ("agent_name" in cleaned) == (who == "agent")
    assert ("mail" in cleaned) == mail_ok
    if who == "agent" and not text.strip():
        assert "s1.agent_name" in errors
    assert ("s1.reason" in errors) == (who in ("agent", "other") and not text.strip())
    assert ("s1.mail" in errors) == mail_ok


# --- Groups --------------------------------------------------------------------------------------

GROUPS = FormDefinition.from_json(
    {
        "schema": 1,
        "steps": [
            {
                "key": "family",
                "title": {"ja": "家族"},
                "fields": [
                    {
                        "key": "members",
                        "type": "group",
                        "label": {"ja": "家族"},
                        "item_label": {"ja": "家族"},
                        "min_items": 1,
                        "max_items": 3,
                        "fields": [
                            {
                                "key": "name",
                                "type": "text",
                                "label": {"ja": "氏名"},
                                "required": True,
                            },
                            {"key": "away", "type": "checkbox", "label": {"ja": "別居"}},
                            {
                                "key": "zip",
                                "type": "postal_code",
                                "label": {"ja": "〒"},
                                "required": True,
                                "visible_if": {"field": "family.members.away", "checked": True},
                            },
                        ],
                    }
                ],
            }
        ],
    }
)


def test_group_items_are_validated_with_their_own_siblings():
    answers = {
        "family": {
            "members": [
                {"name": "太郎"},
                {"name": "", "away": True},
                {"name": "花子", "away": True, "zip": "6750031"},
            ]
        }
    }
    result = validate_answers(GROUPS, answers)
    assert result.errors == {
        "family.members.1.name": ["入力してください。"],
        "family.members.1.zip": ["入力してください。"],
    }
    assert result.cleaned["family"]["members"][0] == {"name": "太郎", "away": False}
    assert result.cleaned["family"]["members"][2] == {
        "name": "花子",
        "away": True,
        "zip": "6750031",
    }


@pytest.mark.parametrize(
    ("count", "message"),
    [(0, "1件以上入力してください。"), (4, "3件までにしてください。")],
)
def test_group_item_counts(count, message):
    answers = {"family": {"members": [{"name": "x"}] * count}}
    assert validate_answers(GROUPS, answers).errors == {"family.members": [message]}


INVISIBLE_MESSAGE = (
    "見えない文字や、文字の向きを変える文字は使えません。文字を入力し直してください。"
)


@pytest.mark.parametrize(
    "character",
    [chr(c) for c in (*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A))]
    + ["\ufeff"],
)
@pytest.mark.parametrize("part", ["family", "given", "family_kana", "given_kana"])
def test_names_and_readings_refuse_invisible_and_direction_characters(character, part):
    definition = FormDefinition.from_json(
        {
            "schema": 1,
            "steps": [
                {
                    "key": "a",
                    "title": {"ja": "申請者"},
                    "fields": [
                        {"key": "name", "type": "name", "label": {"ja": "氏名"}, "required": True}
                    ],
                }
            ],
        }
    )
    name = {"family": "加古川", "given": "花子", "family_kana": "カコガワ", "given_kana": "ハナコ"}
    name[part] = name[part][:1] + character + name[part][1:]
    result = validate_answers(definition, {"a": {"name": name}}, today=TODAY)
    assert result.errors == {f"a.name.{part}": [INVISIBLE_MESSAGE]}


def test_a_plain_name_is_still_accepted():
    definition = FormDefinition.from_json(
        {
            "schema": 1,
            "steps": [
                {
                    "key": "a",
                    "title": {"ja": "申請者"},
                    "fields": [{"key": "name", "type": "name", "label": {"ja": "氏名"}}],
                }
            ],
        }
    )
    name = {"family": "加古川", "given": "花子", "family_kana": "かこがわ", "given_kana": "ハナコ"}
    result = validate_answers(definition, {"a": {"name": name}}, today=TODAY)
    assert result.errors == {}
    assert result.cleaned["a"]["name"]["family_kana"] == "カコガワ"
