"""Rendered steps: labels, descriptions, errors, fieldsets, autocomplete, languages."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from machi.procedures.formengine import (
    EXAMPLES_DIR,
    FileInfo,
    FormDefinition,
    error_items,
    render_step,
)


def example(name: str) -> FormDefinition:
    return FormDefinition.from_json(
        json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    )


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.stack: list[str] = []
        self.fieldsets_without_legend: list[str] = []
        self._open_fieldsets: list[tuple[str, bool]] = []
        self.label_text: dict[str, str] = {}
        self._label_for: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if self._open_fieldsets and not self._open_fieldsets[-1][1]:
            # The first element inside a fieldset must be its legend.
            fid, _seen = self._open_fieldsets[-1]
            if tag != "legend":
                self.fieldsets_without_legend.append(fid)
            self._open_fieldsets[-1] = (fid, True)
        self.elements.append((tag, a))
        if tag == "fieldset":
            self._open_fieldsets.append((a.get("id", "?"), False))
        if tag == "label":
            self._label_for = a.get("for")
            self.label_text.setdefault(self._label_for or "", "")

    def handle_endtag(self, tag):
        if tag == "fieldset":
            self._open_fieldsets.pop()
        if tag == "label":
            self._label_for = None

    def handle_data(self, data):
        if self._label_for is not None:
            self.label_text[self._label_for] += data


def page(html: str) -> _Page:
    parsed = _Page()
    parsed.feed(html)
    return parsed


def controls(parsed: _Page) -> list[dict[str, str]]:
    return [
        a
        for tag, a in parsed.elements
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden"
    ]


def assert_accessible(html: str) -> _Page:
    parsed = page(html)
    ids = [a["id"] for _tag, a in parsed.elements if "id" in a]
    assert len(ids) == len(set(ids)), "duplicate ids"
    labelled = {a["for"] for tag, a in parsed.elements if tag == "label"}
    for control in controls(parsed):
        assert control["id"] in labelled, f"no <label for> for {control['id']}"
    known = set(ids)
    for _tag, a in parsed.elements:
        for ref in a.get("aria-describedby", "").split():
            assert ref in known, f"aria-describedby points at missing {ref}"
    assert parsed.fieldsets_without_legend == []
    for tag, a in parsed.elements:
        if tag == "button":
            assert a.get("type") == "submit" and "formnovalidate" in a
    assert "<form" not in html
    return parsed


def by_id(parsed: _Page, element_id: str) -> dict[str, str]:
    return next(a for _tag, a in parsed.elements if a.get("id") == element_id)


ALL_STEPS = [
    (name, step.key)
    for name in ("juminhyo", "jido_teate", "inu_toroku")
    for step in example(name).steps
]


@pytest.mark.parametrize(("name", "step"), ALL_STEPS)
@pytest.mark.parametrize("language", ["ja", "en", "ja-easy"])
def test_every_example_step_is_accessible(name, step, language):
    assert_accessible(render_step(example(name), step, {}, {}, language=language))


def test_applicant_step_has_labels_autocomplete_and_required_text():
    html = render_step(example("juminhyo"), "applicant", {}, {}, language="ja")
    parsed = assert_accessible(html)
    autocomplete = {a["id"]: a.get("autocomplete") for a in controls(parsed)}
    assert autocomplete["f-applicant-name-family"] == "family-name"
    assert autocomplete["f-applicant-name-given"] == "given-name"
    assert autocomplete["f-applicant-birth_date"] == "bday"
    assert autocomplete["f-applicant-address-postal_code"] == "postal-code"
    assert autocomplete["f-applicant-address-prefecture"] == "address-level1"
    assert autocomplete["f-applicant-address-city"] == "address-level2"
    assert autocomplete["f-applicant-phone"] == "tel"
    assert autocomplete["f-applicant-email"] == "email"
    assert by_id(parsed, "f-applicant-phone")["type"] == "tel"
    assert by_id(parsed, "f-applicant-address-postal_code")["inputmode"] == "numeric"
    date = by_id(parsed, "f-applicant-birth_date")
    assert date["type"] == "text"
    assert "f-applicant-birth_date-format" in date["aria-describedby"]
    assert "例: 令和6年4月1日 または 2024-04-01" in html
    # 必須 is written out, not only shown by colour; optional fields do not carry it.
    assert '<legend>氏名 <span class="required">必須</span></legend>' in html
    assert "必須" not in parsed.label_text["f-applicant-email"]
    assert by_id(parsed, "f-applicant-phone")["aria-required"] == "true"
    assert 'name="_postal:applicant.address"' in html


def test_errors_are_tied_to_their_inputs():
    errors = {
        "applicant.phone": ["電話番号が正しくありません。"],
        "applicant.name.family_kana": ["カタカナで入力してください。"],
        "applicant.address": ["この郵便番号は見つかりません。"],
    }
    html = render_step(example("juminhyo"), "applicant", {}, errors, language="ja")
    parsed = assert_accessible(html)
    phone = by_id(parsed, "f-applicant-phone")
    assert phone["aria-invalid"] == "true"
    assert "f-applicant-phone-error" in phone["aria-describedby"].split()
    kana = by_id(parsed, "f-applicant-name-family_kana")
    assert kana["aria-invalid"] == "true"
    assert "aria-invalid" not in by_id(parsed, "f-applicant-name-family")
    assert "f-applicant-address-error" in by_id(parsed, "f-applicant-address")["aria-describedby"]
    assert "電話番号が正しくありません。" in html
    assert html.count('class="field field-error"') == 3


def test_radio_and_checkbox_lists_use_fieldset_and_legend():
    errors = {"request.relationship": ["選んでください。"]}
    html = render_step(example("juminhyo"), "request", {}, errors, language="ja")
    parsed = assert_accessible(html)
    fieldset = by_id(parsed, "f-request-relationship")
    assert fieldset["aria-describedby"] == "f-request-relationship-error"
    radios = [a for tag, a in parsed.elements if a.get("name") == "request.relationship"]
    assert [r["type"] for r in radios] == ["radio"] * 4
    assert all(r["aria-invalid"] == "true" for r in radios)
    assert by_id(parsed, "f-request-optional_items-0")["type"] == "checkbox"
    assert by_id(parsed, "f-request-copies")["inputmode"] == "numeric"


def test_same_step_conditions_are_explained_and_earlier_ones_decided():
    definition = example("juminhyo")
    html = render_step(definition, "request", {}, {}, language="ja")
    assert "「使いみち」で「その他」を選んだ場合に答えてください。" in html, (
        "a same-step condition is explained"
    )
    assert (
        "「住民票に載っている人とあなたの関係」で「代理人（委任状があります）」「その他」のどれかを選んだ場合は必須です。"
        in html
    )
    inu = example("inu_toroku")
    assert (
        "「今年度の狂犬病予防注射を受けました」にチェックを入れた場合に答えてください。"
        in render_step(inu, "dog", {}, {}, language="ja")
    )


def test_conditions_on_earlier_steps_hide_or_require():
    definition = FormDefinition.from_json(
        {
            "schema": 1,
            "steps": [
                {
                    "key": "one",
                    "title": {"ja": "1"},
                    "fields": [{"key": "agent", "type": "checkbox", "label": {"ja": "代理人"}}],
                },
                {
                    "key": "two",
                    "title": {"ja": "2"},
                    "fields": [
                        {
                            "key": "agent_name",
                            "type": "text",
                            "label": {"ja": "代理人氏名"},
                            "visible_if": {"field": "one.agent", "checked": True},
                        },
                        {
                            "key": "reason",
                            "type": "text",
                            "label": {"ja": "理由"},
                            "required_if": {"field": "one.agent", "checked": True},
                        },
                    ],
                },
            ],
        }
    )
    hidden = render_step(definition, "two", {"one": {"agent": False}}, {}, language="ja")
    assert "代理人氏名" not in hidden
    assert "必須" not in hidden
    shown = render_step(definition, "two", {"one": {"agent": True}}, {}, language="ja")
    assert "代理人氏名" in shown
    assert '<label for="f-two-reason">理由 <span class="required">必須</span></label>' in shown
    assert "場合" not in shown  # decided, so no explanation needed


def test_languages_fall_back_to_japanese():
    definition = example("juminhyo")
    english = render_step(definition, "request", {}, {}, language="en")
    assert "Number of copies" in english
    assert "本人だけ" not in english
    easy = render_step(definition, "request", {}, {}, language="ja-easy")
    assert "なんまい ひつよう ですか" in easy
    assert "世帯全員" in easy  # no ja-easy label: Japanese


def test_labels_and_values_are_escaped():
    definition = FormDefinition.from_json(
        {
            "schema": 1,
            "steps": [
                {
                    "key": "s",
                    "title": {"ja": "s"},
                    "fields": [
                        {"key": "t", "type": "text", "label": {"ja": "<script>alert(1)</script>"}}
                    ],
                }
            ],
        }
    )
    html = render_step(
        definition, "s", {"s": {"t": '"><img src=x onerror=alert(1)>'}}, {}, language="ja"
    )
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_date_input_shows_its_reading():
    definition = example("juminhyo")
    html = render_step(
        definition, "applicant", {"applicant": {"birth_date": "H2.1.2"}}, {}, language="ja"
    )
    assert "入力された日付: 平成2年1月2日（1990年1月2日）" in html
    assert 'value="H2.1.2"' in html


def test_stored_phone_is_shown_in_national_format():
    html = render_step(
        example("juminhyo"),
        "applicant",
        {"applicant": {"phone": "+81794212000"}},
        {},
        language="ja",
    )
    assert 'value="079-421-2000"' in html


def test_group_items_have_fieldsets_and_buttons():
    definition = example("jido_teate")
    answers = {"children": {"children": [{"name": {"family": "一郎"}}, {}]}}
    html = render_step(definition, "children", answers, {}, language="ja")
    parsed = assert_accessible(html)
    assert by_id(parsed, "f-children-children-0")
    assert "<legend>児童 1</legend>" in html and "<legend>児童 2</legend>" in html
    assert 'name="_remove:children.children.0"' in html
    assert 'name="_remove:children.children.1"' in html
    assert "児童 2を削除" in html
    assert 'name="_add:children.children"' in html
    assert '<input type="hidden" name="children.children._count" value="2">' in html
    # Names inside a group are someone else's: the browser must not fill in the applicant's.
    assert by_id(parsed, "f-children-children-0-name-family")["autocomplete"] == "off"


def test_group_at_minimum_has_no_remove_button_and_at_maximum_no_add_button():
    definition = example("jido_teate")
    first = render_step(definition, "children", {}, {}, language="ja")
    assert "_remove:" not in first
    assert first.count('class="group-item"') == 1
    full = render_step(
        definition, "children", {"children": {"children": [{}] * 10}}, {}, language="ja"
    )
    assert "_add:" not in full


def test_file_widget_lists_attachments():
    definition = example("inu_toroku")
    files = {
        "a": FileInfo("image/png", 10, "pochi.png"),
        "b": FileInfo("image/jpeg", 10, "<b>.jpg"),
    }
    answers = {"dog": {"vaccinated": True, "photos": ["a", "b"]}}
    html = render_step(definition, "dog", answers, {}, language="ja", file_lookup=files.get)
    parsed = assert_accessible(html)
    photos = by_id(parsed, "f-dog-photos")
    assert photos["type"] == "file"
    assert photos["accept"] == "image/jpeg,image/png"
    assert "multiple" in photos
    assert '<input type="hidden" name="dog.photos" value="a">' in html
    assert 'name="_remove_file:dog.photos.1"' in html
    assert "&lt;b&gt;.jpg" in html
    assert "使える形式: JPEG、PNG（1ファイル5 MBまで）" in html


def test_error_items_link_to_focusable_inputs():
    definition = example("jido_teate")
    errors = {
        "claimant.occupation": ["選んでください。"],
        "claimant.name.family": ["入力してください。"],
        "children.children.1.birth_date": ["未来の日付は入力できません。"],
    }
    items = error_items(definition, errors, language="ja")
    assert [(i.anchor, i.label, i.message) for i in items] == [
        ("f-claimant-occupation-0", "加入している年金", "選んでください。"),
        ("f-claimant-name-family", "氏名（姓（氏））", "入力してください。"),
        ("f-children-children-1-birth_date", "児童 2：生年月日", "未来の日付は入力できません。"),
    ]


PATHS = [
    "applicant.name",
    "applicant.name.family",
    "applicant.name.given_kana",
    "applicant.birth_date",
    "applicant.address",
    "applicant.address.postal_code",
    "applicant.address.prefecture",
    "applicant.phone",
    "applicant.email",
]


@settings(max_examples=30, deadline=None)
@given(st.sets(st.sampled_from(PATHS)), st.sampled_from(["ja", "en", "ja-easy"]))
def test_any_set_of_errors_keeps_the_page_accessible(paths, language):
    errors = {p: ["エラー"] for p in paths}
    html = render_step(example("juminhyo"), "applicant", {}, errors, language=language)
    parsed = assert_accessible(html)
    invalid = {a["id"] for a in controls(parsed) if a.get("aria-invalid") == "true"}
    expected = {f"f-{p.replace('.', '-')}" for p in paths} & {a["id"] for a in controls(parsed)}
    assert invalid == expected
