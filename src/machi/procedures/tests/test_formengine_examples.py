"""The example definitions end to end: parse, render, accept good answers, reject bad ones."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

from machi.procedures.formengine import (
    EXAMPLES_DIR,
    FileInfo,
    FormDefinition,
    canonical_bytes,
    render_step,
    summary,
    validate_answers,
)

TODAY = dt.date(2025, 6, 1)
FILES = {
    "cert": FileInfo("application/pdf", 200_000, "注射済証.pdf"),
    "photo": FileInfo("image/jpeg", 1_000_000, "pochi.jpg"),
    "huge": FileInfo("image/jpeg", 6 * 1024 * 1024, "huge.jpg"),
    "word": FileInfo("application/msword", 1000, "letter.doc"),
}

ADDRESS = {
    "postal_code": "675-0031",
    "prefecture": "兵庫県",
    "city": "加古川市",
    "town": "加古川町北在家",
    "street": "2000",
    "building": "",
}
NAME = {"family": "加古川", "given": "太郎", "family_kana": "かこがわ", "given_kana": "タロウ"}

GOOD: dict[str, dict[str, Any]] = {
    "juminhyo": {
        "applicant": {
            "name": NAME,
            "birth_date": "平成2年1月2日",
            "address": ADDRESS,
            "phone": "079-421-2000",
            "email": "taro@example.jp",
        },
        "request": {
            "relationship": "self",
            "scope": "household",
            "optional_items": ["head"],
            "copies": "2",
            "purpose": "pension",
            "my_number": "omit",
            "consent": True,
        },
    },
    "jido_teate": {
        "claimant": {
            "name": NAME,
            "birth_date": "1990-01-02",
            "my_number": "１２３４ ５６７８ ９０１８",
            "address": ADDRESS,
            "phone": "090-1234-5678",
            "occupation": "employee",
        },
        "children": {
            "children": [
                {
                    "name": {
                        "family": "加古川",
                        "given": "花子",
                        "family_kana": "カコガワ",
                        "given_kana": "ハナコ",
                    },
                    "birth_date": "令和元年5月1日",
                    "relationship": "child",
                    "lives_together": "yes",
                },
                {
                    "name": {
                        "family": "加古川",
                        "given": "次郎",
                        "family_kana": "カコガワ",
                        "given_kana": "ジロウ",
                    },
                    "birth_date": "H30.4.1",
                    "relationship": "child",
                    "lives_together": "no",
                    "address": {
                        **ADDRESS,
                        "postal_code": "1000001",
                        "prefecture": "東京都",
                        "city": "千代田区",
                        "town": "千代田",
                        "street": "1-1",
                    },
                },
            ]
        },
        "confirm": {"consent": True},
    },
    "inu_toroku": {
        "owner": {
            "owner_type": "corporation",
            "corporation_name": "加古川動物病院株式会社",
            "corporate_number": "7000012050002",
            "address": ADDRESS,
            "phone": "079-421-2000",
        },
        "dog": {
            "dog_name": "ポチ",
            "breed": "柴犬",
            "sex": "male",
            "birth_date": "",
            "vaccinated": True,
            "vaccination_date": "令和7年4月10日",
            "vaccination_certificate": ["cert"],
            "photos": ["photo"],
        },
        "confirm": {"consent": True},
    },
}


def example(name: str) -> FormDefinition:
    data = json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    definition = FormDefinition.from_json(data)
    assert definition.to_json() == data
    return definition


def validate(name: str, answers: dict):
    return validate_answers(example(name), answers, file_lookup=FILES.get, today=TODAY)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_example_renders_in_japanese_and_english(name):
    definition = example(name)
    for step in definition.steps:
        ja = render_step(definition, step.key, GOOD[name], {}, language="ja")
        en = render_step(definition, step.key, GOOD[name], {}, language="en")
        assert localized_label(step, "ja") in ja or not step.fields
        assert ja != en


def localized_label(step, language):
    return step.fields[0].label.get(language, step.fields[0].label["ja"])


@pytest.mark.parametrize("name", sorted(GOOD))
def test_example_accepts_a_good_answer_set(name):
    result = validate(name, GOOD[name])
    assert result.errors == {}
    json.dumps(result.cleaned)
    assert canonical_bytes("v1", result.cleaned) == canonical_bytes(
        "v1", copy.deepcopy(result.cleaned)
    )
    rows = summary(example(name), result.cleaned, language="ja")
    assert rows and all(row.display for row in rows)


def test_juminhyo_cleaned_values():
    cleaned = validate("juminhyo", GOOD["juminhyo"]).cleaned
    assert cleaned["applicant"]["birth_date"] == "1990-01-02"
    assert cleaned["applicant"]["phone"] == "+81794212000"
    assert cleaned["applicant"]["name"]["family_kana"] == "カコガワ"
    assert cleaned["applicant"]["address"]["postal_code"] == "6750031"
    assert cleaned["request"]["copies"] == 2
    assert "target_name" not in cleaned["request"]  # hidden for 本人
    assert "purpose_other" not in cleaned["request"]


def test_juminhyo_agent_needs_name_and_reason_and_cannot_ask_for_my_number():
    answers = copy.deepcopy(GOOD["juminhyo"])
    answers["request"].update(relationship="agent", my_number="include")
    result = validate("juminhyo", answers)
    assert result.errors == {
        "request.target_name.family": ["入力してください。"],
        "request.target_name.family_kana": ["フリガナを入力してください。"],
        "request.reason": ["入力してください。"],
    }
    assert "my_number" not in result.cleaned["request"]


@pytest.mark.parametrize(
    ("step", "field", "value", "path", "message"),
    [
        (
            "applicant",
            "birth_date",
            "平成31年5月1日",
            "applicant.birth_date",
            "令和元年5月1日以降は令和",
        ),
        (
            "applicant",
            "birth_date",
            "2030-01-01",
            "applicant.birth_date",
            "未来の日付は入力できません",
        ),
        ("applicant", "phone", "079-421", "applicant.phone", "電話番号が正しくありません"),
        ("applicant", "email", "taro@@example", "applicant.email", "メールアドレスの形式"),
        (
            "applicant",
            "address",
            {**ADDRESS, "postal_code": "000-0000"},
            "applicant.address.postal_code",
            "この郵便番号は見つかりません",
        ),
        (
            "applicant",
            "name",
            {**NAME, "given_kana": "Taro"},
            "applicant.name.given_kana",
            "カタカナで入力してください",
        ),
        ("request", "copies", "11", "request.copies", "1以上10以下"),
        ("request", "copies", "1.5", "request.copies", "整数で入力してください"),
        ("request", "purpose", "other", "request.purpose_other", "入力してください"),
        ("request", "consent", False, "request.consent", "チェックを入れてください"),
        ("request", "scope", "everyone", "request.scope", "選択肢の中から選んでください"),
    ],
)
def test_juminhyo_rejections(step, field, value, path, message):
    answers = copy.deepcopy(GOOD["juminhyo"])
    answers[step][field] = value
    errors = validate("juminhyo", answers).errors
    assert list(errors) == [path], errors
    assert message in errors[path][0]


def test_jido_teate_cleans_children():
    cleaned = validate("jido_teate", GOOD["jido_teate"]).cleaned
    children = cleaned["children"]["children"]
    assert [c["birth_date"] for c in children] == ["2019-05-01", "2018-04-01"]
    assert "address" not in children[0]
    assert children[1]["address"]["city"] == "千代田区"
    assert cleaned["claimant"]["my_number"] == "123456789018"


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [
        (
            lambda a: a["claimant"].update(my_number="123456789017"),
            "claimant.my_number",
            "個人番号（マイナンバー）が正しくありません",
        ),
        (
            lambda a: a["children"].update(children=[]),
            "children.children",
            "1件以上入力してください",
        ),
        (
            lambda a: a["children"].update(children=[{}] * 11),
            "children.children",
            "10件までにしてください",
        ),
        (
            lambda a: a["children"]["children"][0].update(birth_date="令和0年1月1日"),
            "children.children.0.birth_date",
            "令和0年という年はありません",
        ),
        (
            lambda a: a["children"]["children"][0].update(birth_date="令和6年2月30日"),
            "children.children.0.birth_date",
            "という日付はありません",
        ),
        (
            lambda a: a["children"]["children"][0].update(birth_date="昭和64年1月8日"),
            "children.children.0.birth_date",
            "昭和は昭和64年1月7日まで",
        ),
        (
            lambda a: a["children"]["children"][0].update(lives_together="no"),
            "children.children.0.address.postal_code",
            "入力してください",
        ),
    ],
)
def test_jido_teate_rejections(mutate, path, message):
    answers = copy.deepcopy(GOOD["jido_teate"])
    mutate(answers)
    errors = validate("jido_teate", answers).errors
    assert path in errors, errors
    assert message in errors[path][0]


def test_inu_toroku_person_owner_and_optional_vaccination():
    answers = copy.deepcopy(GOOD["inu_toroku"])
    answers["owner"] = {
        "owner_type": "person",
        "name": NAME,
        "address": ADDRESS,
        "phone": "0794212000",
        "corporate_number": "bad",
    }
    answers["dog"].update(vaccinated=False, vaccination_certificate=[], vaccination_date="")
    result = validate("inu_toroku", answers)
    assert result.errors == {}
    assert "corporate_number" not in result.cleaned["owner"]
    assert "vaccination_certificate" not in result.cleaned["dog"]


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [
        (
            lambda a: a["owner"].update(corporate_number="7000012050003"),
            "owner.corporate_number",
            "法人番号が正しくありません",
        ),
        (
            lambda a: a["owner"].update(corporate_number="700001205000"),
            "owner.corporate_number",
            "13桁の数字",
        ),
        (
            lambda a: a["dog"].update(vaccination_certificate=[]),
            "dog.vaccination_certificate",
            "ファイルを添付してください",
        ),
        (
            lambda a: a["dog"].update(vaccination_certificate=["word"]),
            "dog.vaccination_certificate",
            "受け付けていません",
        ),
        (lambda a: a["dog"].update(photos=["huge"]), "dog.photos", "大きすぎます"),
        (lambda a: a["dog"].update(photos=["missing"]), "dog.photos", "見つかりません"),
        (
            lambda a: a["dog"].update(vaccination_date="2025-06-02"),
            "dog.vaccination_date",
            "未来の日付",
        ),
    ],
)
def test_inu_toroku_rejections(mutate, path, message):
    answers = copy.deepcopy(GOOD["inu_toroku"])
    mutate(answers)
    errors = validate("inu_toroku", answers).errors
    assert list(errors) == [path], errors
    assert message in errors[path][0]
