"""Review summaries and the canonical bytes that get signed."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from machi.procedures.formengine import (
    EXAMPLES_DIR,
    FileInfo,
    FormDefinition,
    canonical_bytes,
    summary,
)


def example(name: str) -> FormDefinition:
    return FormDefinition.from_json(
        json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    )


CLEANED = {
    "claimant": {
        "name": {
            "family": "加古川",
            "given": "太郎",
            "family_kana": "カコガワ",
            "given_kana": "タロウ",
        },
        "birth_date": "1990-01-02",
        "my_number": "123456789018",
        "address": {
            "postal_code": "6750031",
            "prefecture": "兵庫県",
            "city": "加古川市",
            "town": "加古川町北在家",
            "street": "2000",
            "building": "",
        },
        "phone": "+81794212000",
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
                "birth_date": "2019-05-01",
                "relationship": "child",
                "lives_together": "yes",
            }
        ]
    },
    "confirm": {"consent": True},
}


def test_summary_rows_are_readable():
    rows = summary(example("jido_teate"), CLEANED, language="ja")
    shown = {row.path: (row.label, row.display) for row in rows}
    assert shown["claimant.name"] == ("氏名", "加古川 太郎（カコガワ タロウ）")
    assert shown["claimant.birth_date"] == ("生年月日", "平成2年1月2日（1990年1月2日）")
    assert shown["claimant.my_number"] == ("個人番号（マイナンバー）", "********9018")
    assert shown["claimant.address"][1] == "〒675-0031 兵庫県加古川市加古川町北在家2000"
    assert shown["claimant.phone"][1] == "079-421-2000"
    assert shown["claimant.occupation"][1] == "厚生年金（会社員など）"
    assert shown["children.children.0.birth_date"] == (
        "児童 1：生年月日",
        "令和元年5月1日（2019年5月1日）",
    )
    assert shown["children.children.0.relationship"][1] == "子"
    assert shown["confirm.consent"][1] == "はい"
    assert rows[0].step_key == "claimant" and rows[0].step_title == "請求者"
    assert [r.path for r in rows][:2] == ["claimant.name", "claimant.birth_date"]


def test_summary_in_english_uses_english_labels():
    rows = summary(example("jido_teate"), CLEANED, language="en")
    shown = {row.path: (row.label, row.display) for row in rows}
    assert shown["claimant.occupation"] == ("Your pension scheme", "Employees' pension")
    assert rows[0].step_title == "Claimant"


def test_summary_skips_hidden_fields_and_shows_empty_ones():
    definition = example("juminhyo")
    cleaned: dict[str, Any] = {
        "request": {"relationship": "self", "reason": None, "optional_items": [], "copies": 2}
    }
    rows = {r.path: r.display for r in summary(definition, cleaned, language="ja")}
    assert rows == {
        "request.relationship": "本人",
        "request.reason": "（未入力）",
        "request.optional_items": "（未入力）",
        "request.copies": "2",
    }


def test_summary_of_files_and_empty_groups():
    definition = example("inu_toroku")
    files = {"x": FileInfo("image/png", 1, "pochi.png")}
    cleaned = {"dog": {"photos": ["x"]}}
    assert (
        summary(definition, cleaned, language="ja", file_lookup=files.get)[0].display == "pochi.png"
    )
    assert summary(definition, cleaned, language="ja")[0].display == "1件のファイル"
    rows = summary(example("jido_teate"), {"children": {"children": []}}, language="ja")
    assert [(r.path, r.display) for r in rows] == [("children.children", "なし")]


# --- Canonical bytes ---------------------------------------------------------------------------


def test_canonical_bytes_format():
    data = canonical_bytes("v-1", {"s": {"b": "髙", "a": [1, None, True]}})
    assert (
        data
        == '{"answers":{"s":{"a":[1,null,true],"b":"髙"}},"canonical":1,"definition_version":"v-1"}'.encode()
    )


def test_canonical_bytes_depend_on_the_version():
    assert canonical_bytes("v-1", CLEANED) != canonical_bytes("v-2", CLEANED)


def test_canonical_bytes_refuse_nan():
    with pytest.raises(ValueError):
        canonical_bytes("v", {"s": {"x": float("nan")}})


def _shuffled(value, rng):
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=15,
)


@given(st.dictionaries(st.text(max_size=5), JSON, max_size=5), st.integers())
def test_canonical_bytes_ignore_insertion_order(cleaned, seed):
    shuffled = _shuffled(cleaned, random.Random(seed))
    assert canonical_bytes("v", cleaned) == canonical_bytes("v", shuffled)
    assert json.loads(canonical_bytes("v", cleaned))["answers"] == cleaned
