"""POST naming, actions without JavaScript, and the postal-code search."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from hypothesis import given, settings
from hypothesis import strategies as st

from machi.procedures.formengine import (
    EXAMPLES_DIR,
    FormAction,
    FormDefinition,
    action_name,
    answers_from_post,
    apply_postal_lookup,
    pending_action,
    render_step,
    validate_answers,
)


def example(name: str) -> FormDefinition:
    return FormDefinition.from_json(
        json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    )


def post(pairs: list[tuple[str, str]] | dict[str, str]) -> QueryDict:
    items = list(pairs.items()) if isinstance(pairs, dict) else pairs
    return QueryDict(urlencode(items))


class _Controls(HTMLParser):
    """What a browser would submit from rendered HTML (successful controls only)."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[tuple[str, str]] = []
        self.buttons: set[str] = set()
        self._select: str | None = None
        self._selected: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            elif kind != "file":
                self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "button":
            self.buttons.add(a["name"])
        elif tag == "select":
            self._select, self._selected = a["name"], ""
        elif tag == "option" and self._select is not None and "selected" in a:
            self._selected = a.get("value", "")
        elif tag == "textarea":
            self._textarea, self._text = a["name"], []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            self.pairs.append((self._select, self._selected or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.pairs.append((self._textarea, "".join(self._text)))
            self._textarea = None


def browser_submit(html: str, click: str | None = None) -> QueryDict:
    """Submit rendered fields the way a browser without JavaScript does."""
    parser = _Controls()
    parser.feed(html)
    pairs = list(parser.pairs)
    if click is not None:
        assert click in parser.buttons, (click, parser.buttons)
        pairs.append((click, "1"))
    return post(pairs)


# --- Naming ----------------------------------------------------------------------------------


def test_single_values_parts_and_lists_are_read_by_path():
    definition = example("juminhyo")
    data = post(
        [
            ("request.relationship", "agent"),
            ("request.target_name.family", "加古川"),
            ("request.target_name.given", "花子"),
            ("request.optional_items", "head"),
            ("request.optional_items", "domicile"),
            ("request.copies", "２"),
            ("request.consent", "1"),
            ("unrelated", "x"),
        ]
    )
    answers = answers_from_post(definition, data, step_key="request")
    assert answers["relationship"] == "agent"
    assert answers["target_name"] == {
        "family": "加古川",
        "given": "花子",
        "family_kana": "",
        "given_kana": "",
    }
    assert answers["optional_items"] == ["head", "domicile"]
    assert answers["copies"] == "２"
    assert answers["consent"] is True
    assert answers["reason"] == ""
    assert "unrelated" not in answers


def test_unchecked_checkbox_is_false():
    answers = answers_from_post(example("juminhyo"), post({}), step_key="request")
    assert answers["consent"] is False
    assert answers["optional_items"] == []


def test_files_keep_attached_ids_and_add_uploads():
    definition = example("inu_toroku")
    data = post([("dog.photos", "old-1"), ("dog.vaccination_certificate", "cert-old")])
    answers = answers_from_post(
        definition,
        data,
        step_key="dog",
        file_ids={"dog.photos": ["new-1"], "dog.vaccination_certificate": ["cert-new"]},
    )
    assert answers["photos"] == ["old-1", "new-1"]  # multiple: added
    assert answers["vaccination_certificate"] == ["cert-new"]  # single: replaced
    answers = answers_from_post(definition, data, step_key="dog")
    assert answers["vaccination_certificate"] == ["cert-old"]


def test_remove_file_button():
    definition = example("inu_toroku")
    data = post([("dog.photos", "a"), ("dog.photos", "b"), ("_remove_file:dog.photos.0", "1")])
    answers = answers_from_post(definition, data, step_key="dog")
    assert answers["photos"] == ["b"]
    assert pending_action(data) == FormAction("remove_file", "dog.photos", 0)


# --- Actions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("_add:children.children", FormAction("add", "children.children")),
        ("_remove:children.children.2", FormAction("remove", "children.children", 2)),
        ("_postal:applicant.address", FormAction("postal", "applicant.address")),
        (
            "_postal:children.children.0.address",
            FormAction("postal", "children.children.0.address"),
        ),
        ("_remove_file:dog.photos.1", FormAction("remove_file", "dog.photos", 1)),
    ],
)
def test_pending_action_reads_button_names(name, action):
    assert pending_action(post({"x.y": "1", name: "1"})) == action
    assert action.name == name
    assert action_name(action.kind, action.path, action.index) == name
    assert action.anchor.startswith("f-")


@pytest.mark.parametrize(
    "name", ["_add:", "_add:Bad Path", "_remove:children.children", "_postal:x", "_next", "save"]
)
def test_no_action_for_other_or_malformed_names(name):
    assert pending_action(post({name: "1"})) is None


GROUP_POST = [
    ("children.children._count", "3"),
    ("children.children.0.name.family", "一郎"),
    ("children.children.1.name.family", "二郎"),
    ("children.children.1.lives_together", "no"),
    ("children.children.1.address.city", "神戸市"),
    ("children.children.2.name.family", "三郎"),
]


def family_names(answers):
    return [item.get("name", {}).get("family", "") for item in answers["children"]]


def test_group_items_are_read_from_indexed_names():
    answers = answers_from_post(example("jido_teate"), post(GROUP_POST), step_key="children")
    assert family_names(answers) == ["一郎", "二郎", "三郎"]
    assert answers["children"][1]["address"]["city"] == "神戸市"
    assert answers["children"][0]["lives_together"] == ""


def test_add_and_remove_buttons_are_applied_while_reading():
    definition = example("jido_teate")
    added = answers_from_post(
        definition, post([*GROUP_POST, ("_add:children.children", "1")]), step_key="children"
    )
    assert family_names(added) == ["一郎", "二郎", "三郎", ""]
    removed = answers_from_post(
        definition, post([*GROUP_POST, ("_remove:children.children.1", "1")]), step_key="children"
    )
    assert family_names(removed) == ["一郎", "三郎"]
    assert "address" in removed["children"][1]  # the third item moved up intact


def test_actions_for_other_steps_or_unknown_paths_change_nothing():
    definition = example("jido_teate")
    for name in ("_add:claimant.name", "_add:children.nothing", "_remove:children.children.9"):
        answers = answers_from_post(
            definition, post([*GROUP_POST, (name, "1")]), step_key="children"
        )
        assert family_names(answers) == ["一郎", "二郎", "三郎"]


def test_add_stops_at_max_items():
    definition = example("jido_teate")  # max_items 10
    data = [("children.children._count", "10"), ("_add:children.children", "1")]
    answers = answers_from_post(definition, post(data), step_key="children")
    assert len(answers["children"]) == 10


def test_item_count_is_inferred_and_capped():
    definition = example("jido_teate")
    inferred = [p for p in GROUP_POST if not p[0].endswith("_count")]
    assert len(answers_from_post(definition, post(inferred), step_key="children")["children"]) == 3
    huge = [("children.children._count", "100000")]
    assert len(answers_from_post(definition, post(huge), step_key="children")["children"]) == 100


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["add", "remove0", "remove_last"]), max_size=6))
def test_group_add_remove_without_javascript(clicks):
    """Render → click a button → parse, like a browser without JavaScript, several times."""
    definition = example("jido_teate")
    answers: dict[str, Any] = {"children": {}}
    expected = 1  # the first visit shows min_items empty items
    for click in clicks:
        html = render_step(definition, "children", answers, {}, language="ja")
        count = len(answers["children"].get("children", [{}]))
        if click == "add":
            name = "_add:children.children" if count < 10 else None
            expected = min(count + 1, 10)
        else:
            index = 0 if click == "remove0" else count - 1
            name = action_name("remove", "children.children", index) if count > 1 else None
            expected = count - 1 if count > 1 else count
        if name is None:
            assert count in (1, 10)
            continue
        data = browser_submit(html, click=name)
        assert pending_action(data) is not None
        answers = {"children": answers_from_post(definition, data, step_key="children")}
        assert len(answers["children"]["children"]) == expected


def test_rendered_answers_come_back_unchanged():
    definition = example("juminhyo")
    raw = {
        "relationship": "agent",
        "target_name": {
            "family": "加古川",
            "given": "花子",
            "family_kana": "カコガワ",
            "given_kana": "ハナコ",
        },
        "reason": "相続の手続き\nのため",
        "scope": "household",
        "optional_items": ["domicile"],
        "copies": "2",
        "purpose": "other",
        "purpose_other": "<b>銀行</b> & 保険",
        "my_number": "",
        "consent": True,
    }
    html = render_step(definition, "request", {"request": raw}, {}, language="ja")
    parsed = answers_from_post(definition, browser_submit(html), step_key="request")
    assert parsed == raw


# --- Postal-code search --------------------------------------------------------------------------


def test_postal_lookup_fills_the_address():
    definition = example("juminhyo")
    answers = {"applicant": {"address": {"postal_code": "６７５００３１", "street": "1-2-3"}}}
    updated, message = apply_postal_lookup(definition, answers, "applicant.address")
    assert message is None
    assert updated["applicant"]["address"] == {
        "postal_code": "675-0031",
        "prefecture": "兵庫県",
        "city": "加古川市",
        "town": "加古川町北在家",
        "street": "1-2-3",
    }
    assert answers["applicant"]["address"]["postal_code"] == "６７５００３１"  # not mutated


def test_postal_lookup_with_several_addresses_fills_only_what_they_share():
    definition = example("juminhyo")
    answers = {"applicant": {"address": {"postal_code": "675-0000", "city": "x"}}}
    updated, message = apply_postal_lookup(definition, answers, "applicant.address")
    address = updated["applicant"]["address"]
    assert address["prefecture"] == "兵庫県"
    assert address["city"] == ""
    assert message is not None
    assert "複数の住所があります" in message
    assert "加古川市" in message and "加西市" in message


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("999-9999", "この郵便番号は見つかりません。番号をもう一度確かめてください。"),
        ("12", "郵便番号は7桁の数字で入力してください（例: 675-0031）。"),
    ],
)
def test_postal_lookup_errors(code, message):
    definition = example("juminhyo")
    answers = {"applicant": {"address": {"postal_code": code}}}
    updated, found = apply_postal_lookup(definition, answers, "applicant.address")
    assert found == message
    assert updated == answers


def test_postal_lookup_inside_a_group_and_on_wrong_paths():
    definition = example("jido_teate")
    answers = {"children": {"children": [{}, {"address": {"postal_code": "1000001"}}]}}
    updated, message = apply_postal_lookup(definition, answers, "children.children.1.address")
    assert message is None
    assert updated["children"]["children"][1]["address"]["city"] == "千代田区"
    _same, message = apply_postal_lookup(definition, answers, "claimant.phone")
    assert message == "この項目では住所を検索できません。"


def test_postal_button_round_trip_without_javascript():
    definition = example("juminhyo")
    answers = {"applicant": {"address": {"postal_code": "675-0031"}}}
    html = render_step(definition, "applicant", answers, {}, language="ja")
    data = browser_submit(html, click="_postal:applicant.address")
    action = pending_action(data)
    assert action == FormAction("postal", "applicant.address")
    answers = {"applicant": answers_from_post(definition, data, step_key="applicant")}
    answers, message = apply_postal_lookup(definition, answers, action.path)
    assert message is None
    html = render_step(definition, "applicant", answers, {}, language="ja")
    assert '<option value="兵庫県" selected>' in html
    assert 'value="加古川市"' in html
    result = validate_answers(definition, answers, step_key="applicant")
    assert "applicant.address.city" not in result.errors
