"""Form definitions: strict import, export round trip, lookups and diffs."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from machi.procedures.formengine import (
    EXAMPLES_DIR,
    DefinitionError,
    FormDefinition,
    definition_diff,
    definition_path,
    input_id,
)


def example(name: str) -> dict:
    return json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def minimal(*fields: dict, steps: list | None = None) -> dict:
    return {
        "schema": 1,
        "steps": steps or [{"key": "main", "title": {"ja": "入力"}, "fields": list(fields)}],
    }


def text(key: str, **extra) -> dict:
    return {"key": key, "type": "text", "label": {"ja": key}, **extra}


def problems(data: dict) -> list[str]:
    with pytest.raises(DefinitionError) as excinfo:
        FormDefinition.from_json(data)
    assert excinfo.value.errors == excinfo.value.messages
    return excinfo.value.messages


# --- Import and export ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["juminhyo", "jido_teate", "inu_toroku"])
def test_examples_round_trip_exactly(name):
    data = example(name)
    definition = FormDefinition.from_json(data)
    assert definition.to_json() == data
    assert FormDefinition.from_json(definition.to_json()) == definition


def test_lookup_by_path():
    definition = FormDefinition.from_json(example("jido_teate"))
    assert definition.step_keys == ["claimant", "children", "confirm"]
    assert definition.step("children").title_for("en") == "Children you look after"
    assert definition.step("children").title_for("ja-easy") == "そだてている こども"
    assert definition.step("confirm").title_for("ja-easy") == "たしかめる"
    group = definition.field("children.children")
    assert group.type == "group"
    assert group.child("birth_date").path == "children.children.birth_date"
    assert definition.field_at("children.children.3.birth_date") is group.child("birth_date")
    assert definition.field_at("children.children.0.name.family") is None
    assert definition.step_of("children.children.0.name.family") == "children"
    assert definition_path("children.children.12.address") == "children.children.address"
    with pytest.raises(KeyError):
        definition.step("nope")


def test_file_fields_and_specs():
    definition = FormDefinition.from_json(example("inu_toroku"))
    assert definition.file_fields("dog") == ["dog.vaccination_certificate", "dog.photos"]
    assert definition.file_fields("owner") == []
    spec = definition.file_spec("dog.photos")
    assert spec.accept == ("image/jpeg", "image/png")
    assert spec.max_size == 5 * 1024 * 1024
    assert spec.multiple is True
    with pytest.raises(KeyError):
        definition.file_spec("dog.breed")


def test_file_fields_inside_groups_are_listed():
    group = {
        "key": "members",
        "type": "group",
        "label": {"ja": "家族"},
        "fields": [text("name"), {"key": "cert", "type": "file", "label": {"ja": "証明書"}}],
    }
    definition = FormDefinition.from_json(minimal(group))
    assert definition.file_fields("main") == ["main.members.cert"]
    spec = definition.file_spec("main.members.2.cert")
    assert spec.accept == ("application/pdf", "image/jpeg", "image/png")  # the defaults
    assert spec.max_size == 10 * 1024 * 1024


def test_labels_and_anchors_for_paths():
    definition = FormDefinition.from_json(example("jido_teate"))
    assert definition.label_for("claimant.name.family", "ja") == "氏名（姓（氏））"
    assert definition.label_for("children.children.1.birth_date", "ja") == "児童 2：生年月日"
    assert definition.label_for("children.children.1.birth_date", "en") == "Child 2：Date of birth"
    assert definition.label_for("children.children", "ja") == "児童"
    assert definition.label_for("nowhere.at_all", "ja") == "nowhere.at_all"
    # Radio lists link to their first option, names and addresses to their first part.
    assert definition.input_id("claimant.occupation") == "f-claimant-occupation-0"
    assert definition.input_id("claimant.name") == "f-claimant-name-family"
    assert definition.input_id("claimant.address") == "f-claimant-address-postal_code"
    assert definition.input_id("claimant.phone") == input_id("claimant.phone") == "f-claimant-phone"


# --- Strict validation ---------------------------------------------------------------------


def test_unknown_type_is_named_with_its_path():
    found = problems(minimal({"key": "x", "type": "colour", "label": {"ja": "色"}}))
    assert len(found) == 1
    assert found[0].startswith("main.x: ")
    assert "不明な種類「colour」" in found[0]


def test_duplicate_keys_are_refused():
    found = problems(minimal(text("a"), text("a")))
    assert any("キー「a」が同じ階層で重複" in p for p in found)
    steps = [
        {"key": "s", "title": {"ja": "1"}, "fields": [text("a")]},
        {"key": "s", "title": {"ja": "2"}, "fields": [text("b")]},
    ]
    assert any("ステップのキー「s」が重複" in p for p in problems(minimal(steps=steps)))


def test_missing_japanese_label_is_refused():
    found = problems(minimal({"key": "a", "type": "text", "label": {"en": "Name"}}))
    assert found == ["main.a.label: 日本語（ja）の文言は必須です。"]
    found = problems(minimal(text("a", help={"ja": "説明", "fr": "aide"})))
    assert any(p.startswith("main.a.help: 使えない言語コード") for p in found)


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        ({"key": "c", "type": "choice", "label": {"ja": "c"}}, "選択肢を1つ以上"),
        ({"key": "c", "type": "choice", "label": {"ja": "c"}, "options": []}, "選択肢を1つ以上"),
        (
            {
                "key": "c",
                "type": "choice",
                "label": {"ja": "c"},
                "options": [
                    {"value": "a", "label": {"ja": "A"}},
                    {"value": "a", "label": {"ja": "B"}},
                ],
            },
            "選択肢の値「a」が重複",
        ),
        (
            {"key": "c", "type": "choice", "label": {"ja": "c"}, "options": [{"value": "a"}]},
            "main.c.options[0].label",
        ),
        (
            {
                "key": "c",
                "type": "choice",
                "label": {"ja": "c"},
                "options": [{"value": "a", "label": {"ja": "A"}}],
                "widget": "slider",
            },
            "widget は radio か select",
        ),
        (text("t", max_length=0), "main.t.max_length"),
        (text("t", max_length=True), "main.t.max_length"),
        (text("t", min=3), "種類 text では使えないキー"),
        (
            {"key": "n", "type": "number", "label": {"ja": "n"}, "min": 5, "max": 1},
            "min が max より大きく",
        ),
        (
            {"key": "d", "type": "date", "label": {"ja": "d"}, "min": "1800-01-01"},
            "1873-01-01 以降",
        ),
        ({"key": "d", "type": "date", "label": {"ja": "d"}, "max": "yesterday"}, "main.d.max"),
        ({"key": "f", "type": "file", "label": {"ja": "f"}, "accept": ["pdf"]}, "MIME タイプ"),
        (text("Bad-Key"), "キーは英小文字で始まる"),
        (text("t", required="yes"), "true か false"),
        (text("t", autocomplete="credit-card"), "autocomplete"),
        (
            {
                "key": "g",
                "type": "group",
                "label": {"ja": "g"},
                "fields": [
                    {"key": "h", "type": "group", "label": {"ja": "h"}, "fields": [text("x")]}
                ],
            },
            "グループの中にグループは置けません",
        ),
        ({"key": "g", "type": "group", "label": {"ja": "g"}, "fields": []}, "項目を1つ以上"),
    ],
)
def test_bad_field_options_are_refused(field, fragment):
    found = problems(minimal(field))
    assert any(fragment in p for p in found), found


def test_top_level_shape_is_checked():
    assert any(
        "schema は 1" in p for p in problems({"schema": 2, "steps": minimal(text("a"))["steps"]})
    )
    assert any("ステップを1つ以上" in p for p in problems({"schema": 1, "steps": []}))
    assert any("知らないキー" in p for p in problems({**minimal(text("a")), "title": "x"}))


def test_every_problem_is_reported_at_once():
    found = problems(minimal(text("a"), text("a"), {"key": "b", "type": "nope", "label": {}}))
    assert len(found) >= 3


CHOICE = {
    "key": "kind",
    "type": "choice",
    "label": {"ja": "種類"},
    "options": [{"value": "a", "label": {"ja": "A"}}, {"value": "b", "label": {"ja": "B"}}],
}
CHECK = {"key": "agree", "type": "checkbox", "label": {"ja": "同意"}}


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ({"field": "main.missing", "equals": "a"}, "参照先の項目「main.missing」がありません"),
        ({"field": "main.kind", "equals": "zzz"}, "値「zzz」の選択肢はありません"),
        ({"field": "main.kind", "in": ["a", "zzz"]}, "値「zzz」の選択肢はありません"),
        ({"field": "main.kind", "checked": True}, "checked はチェックボックス"),
        ({"field": "main.agree", "equals": "yes"}, "true / false"),
        ({"field": "main.later", "equals": "x"}, "前にある項目だけ"),
        ({"field": "main.kind"}, "条件の形が正しくありません"),
        ({"field": "main.kind", "equals": "a", "in": ["a"]}, "条件の形が正しくありません"),
        ({"all": []}, "条件を1つ以上"),
        ({"not": {"field": "main.missing", "checked": True}}, "main.missing"),
        ({"field": "main.name.nickname", "equals": "x"}, "main.name.nickname"),
    ],
)
def test_bad_conditions_are_refused(condition, fragment):
    data = minimal(
        CHOICE,
        CHECK,
        {"key": "name", "type": "name", "label": {"ja": "氏名"}},
        text("target", visible_if=condition),
        text("later"),
    )
    found = problems(data)
    assert any(fragment in p for p in found), found
    assert all(p.startswith("main.target.visible_if") for p in found), found


def test_conditions_may_use_parts_nested_logic_and_earlier_steps():
    steps = [
        {
            "key": "first",
            "title": {"ja": "1"},
            "fields": [CHOICE, CHECK, {"key": "home", "type": "address", "label": {"ja": "住所"}}],
        },
        {
            "key": "second",
            "title": {"ja": "2"},
            "fields": [
                text(
                    "x",
                    visible_if={
                        "all": [
                            {"field": "first.kind", "in": ["a", "b"]},
                            {"not": {"field": "first.agree", "checked": False}},
                            {"any": [{"field": "first.home.prefecture", "equals": "兵庫県"}]},
                        ]
                    },
                )
            ],
        },
    ]
    definition = FormDefinition.from_json(minimal(steps=steps))
    assert definition.to_json() == minimal(steps=steps)


def test_group_fields_are_only_visible_to_their_own_group():
    group = {
        "key": "members",
        "type": "group",
        "label": {"ja": "家族"},
        "fields": [
            CHOICE,
            text("detail", visible_if={"field": "main.members.kind", "equals": "b"}),
        ],
    }
    FormDefinition.from_json(minimal(group))  # a sibling in the same item is fine
    outside = text("after", visible_if={"field": "main.members.kind", "equals": "a"})
    found = problems(minimal(group, outside))
    assert any("同じグループの中からしか参照できません" in p for p in found)
    on_group = text("after", visible_if={"field": "main.members", "equals": "a"})
    assert any("グループやファイル" in p for p in problems(minimal(group, on_group)))


# --- Diff --------------------------------------------------------------------------------------


def test_definition_diff_lists_readable_changes():
    old_data = example("juminhyo")
    new_data = copy.deepcopy(old_data)
    request = new_data["steps"][1]["fields"]
    copies = next(f for f in request if f["key"] == "copies")
    copies["max"] = 5
    copies["label"]["en"] = "Copies"
    purpose = next(f for f in request if f["key"] == "purpose")
    purpose["options"].append({"value": "school", "label": {"ja": "学校への提出"}})
    purpose["options"] = [o for o in purpose["options"] if o["value"] != "vehicle"]
    new_data["steps"][0]["fields"] = [
        f for f in new_data["steps"][0]["fields"] if f["key"] != "email"
    ]
    request.append(text("note"))
    changes = definition_diff(
        FormDefinition.from_json(old_data), FormDefinition.from_json(new_data)
    )
    assert "request.copies の max: 10 → 5" in changes
    assert "request.copies のラベル（en）: 「Number of copies」→「Copies」" in changes
    assert "request.purpose に選択肢を追加: school「学校への提出」" in changes
    assert "request.purpose から選択肢を削除: vehicle「自動車の登録」" in changes
    assert "項目を削除: applicant.email「メールアドレス」" in changes
    assert "項目を追加: request.note「note」（text）" in changes
    assert len(changes) == 6


def test_definition_diff_of_identical_definitions_is_empty():
    definition = FormDefinition.from_json(example("jido_teate"))
    assert definition_diff(definition, definition) == []


def test_definition_diff_reports_order_conditions_and_steps():
    old = FormDefinition.from_json(minimal(CHOICE, text("a"), text("b")))
    new_data = minimal(
        CHOICE, text("b"), text("a", visible_if={"field": "main.kind", "equals": "a"})
    )
    new_data["steps"].append({"key": "extra", "title": {"ja": "追加"}, "fields": [text("c")]})
    changes = definition_diff(old, FormDefinition.from_json(new_data))
    assert "main の並び順: kind, a, b → kind, b, a" in changes
    assert any(c.startswith("main.a の表示条件: （なし） → ") for c in changes)
    assert "ステップを追加: extra「追加」" in changes


# --- Property: JSON round trip of generated definitions -------------------------------------

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
LABELS = st.fixed_dictionaries(
    {"ja": st.text(min_size=1, max_size=5).filter(str.strip)},
    optional={"en": st.text(min_size=1, max_size=5).filter(str.strip)},
)
SIMPLE_FIELDS = st.one_of(
    st.builds(
        lambda k, lab, r: {
            "key": k,
            "type": "text",
            "label": lab,
            **({"required": True} if r else {}),
        },
        KEYS,
        LABELS,
        st.booleans(),
    ),
    st.builds(
        lambda k, lab, m: {"key": k, "type": "number", "label": lab, "max": m, "integer": True},
        KEYS,
        LABELS,
        st.integers(0, 100),
    ),
    st.builds(
        lambda k, lab: {"key": k, "type": "date", "label": lab, "max": "today"}, KEYS, LABELS
    ),
    st.builds(lambda k, lab: {"key": k, "type": "name", "label": lab, "kana": False}, KEYS, LABELS),
    st.builds(lambda k, lab: {"key": k, "type": "phone", "label": lab}, KEYS, LABELS),
)


@given(st.lists(SIMPLE_FIELDS, min_size=1, max_size=6, unique_by=lambda f: f["key"]))
def test_generated_definitions_round_trip(fields):
    data = minimal(*fields)
    definition = FormDefinition.from_json(data)
    assert definition.to_json() == data
    assert FormDefinition.from_json(definition.to_json()) == definition
