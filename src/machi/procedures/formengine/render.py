"""Accessible HTML for the fields of one step (no ``<form>``, no step submit button).

The view wraps the output in ``<form method="post" enctype="multipart/form-data" novalidate>``
(``novalidate``: the server validates and speaks Japanese; browsers would block the action
buttons with their own messages) and adds its own submit button.

Conditional fields. A condition that only looks at earlier steps is decided here: hidden
fields are not rendered. A condition on a field of the same step cannot be decided until the
page is posted (there is no JavaScript), so the field is shown with a sentence saying when to
answer it, and the server drops it if the condition turns out false.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from machi.core.japanese import (
    PREFECTURES,
    JapaneseDataError,
    format_phone_national,
    parse_japanese_date,
)
from machi.procedures.formengine.conditions import (
    AllOf,
    AnyOf,
    Checked,
    Condition,
    Equals,
    In,
    Not,
)
from machi.procedures.formengine.definition import (
    Field,
    FormDefinition,
    input_id,
    item_label,
    part_label,
)
from machi.procedures.formengine.post import action_name
from machi.procedures.formengine.summary import display_date
from machi.procedures.formengine.text import localize
from machi.procedures.formengine.validation import (
    FileLookup,
    earlier_answers_lookup,
    mime_label,
    size_label,
)

TEMPLATE_DIR = "procedures/formengine"
Widget = dict[str, Any]

# (input type, autocomplete token for the person filling the form, inputmode, CSS class)
_INPUTS: dict[str, tuple[str, str | None, str | None, str]] = {
    "text": ("text", None, None, ""),
    "email": ("email", "email", "email", ""),
    "phone": ("tel", "tel", "tel", "input-medium"),
    "number": ("text", None, "numeric", "input-short"),
    "date": ("text", None, None, "input-medium"),
    "postal_code": ("text", "postal-code", "numeric", "input-short"),
    "my_number": ("text", "off", "numeric", "input-medium"),
    "corporate_number": ("text", "off", "numeric", "input-medium"),
}
_NAME_AUTOCOMPLETE = {"family": "family-name", "given": "given-name"}
_ADDRESS_AUTOCOMPLETE = {
    "postal_code": "postal-code",
    "prefecture": "address-level1",
    "city": "address-level2",
    "town": "address-level3",
    "street": "address-line1",
    "building": "address-line2",
}


@dataclass(frozen=True)
class ErrorItem:
    """One line of an error summary: link ``#anchor`` with text ``label: message``."""

    path: str
    anchor: str
    label: str
    message: str


def render_step(
    definition: FormDefinition,
    step_key: str,
    answers: Mapping[str, Any],
    errors: Mapping[str, list[str]],
    *,
    language: str,
    file_lookup: FileLookup | None = None,
    today: dt.date | None = None,
) -> SafeString:
    """HTML for the fields of ``step_key`` filled from raw ``answers``, with ``errors``.

    Labels are in ``language`` (falling back to ja); fixed texts go through gettext in that
    language. ``file_lookup`` supplies the names of attached files.
    """
    with translation.override(language):
        step = definition.step(step_key)
        lookup = earlier_answers_lookup(definition, answers, step_key=step_key, today=today)
        renderer = _Renderer(definition, step_key, errors, language, file_lookup, lookup)
        raw = answers.get(step_key)
        widgets = renderer.widgets(step.fields, raw if isinstance(raw, Mapping) else {}, step_key)
        return render_to_string(f"{TEMPLATE_DIR}/step.html", {"widgets": widgets})


def error_items(
    definition: FormDefinition, errors: Mapping[str, list[str]], *, language: str
) -> list[ErrorItem]:
    """Entries for an error summary at the top of the page, linking to each input."""
    items: list[ErrorItem] = []
    with translation.override(language):
        for path, messages in errors.items():
            label = definition.label_for(path, language)
            anchor = definition.input_id(path)
            items.extend(ErrorItem(path, anchor, label, message) for message in messages)
    return items


# --- Condition sentences ---------------------------------------------------------------------


def _quote(text: str) -> str:
    return _("「%(text)s」") % {"text": text}


class _Describer:
    def __init__(self, definition: FormDefinition, language: str) -> None:
        self.definition = definition
        self.language = language

    def target(self, ref: str) -> tuple[Field | None, str]:
        field = self.definition.field_at(ref)
        if field is not None and field.path == ref:
            return field, localize(field.label, self.language)
        parent, _dot, part = ref.rpartition(".")
        holder = self.definition.field_at(parent)
        if holder is None:
            return None, ref
        label = _("%(field)s（%(part)s）") % {
            "field": localize(holder.label, self.language),
            "part": part_label(holder, part),
        }
        return None, label

    def value(self, field: Field | None, value: Any) -> str:
        if field is not None and isinstance(value, str):
            option = field.option(value)
            if option is not None:
                return _quote(localize(option.label, self.language))
        return _quote(str(value))

    def describe(self, condition: Condition) -> str:
        if isinstance(condition, Checked):
            _field, label = self.target(condition.field)
            if condition.checked:
                return _("%(label)sにチェックを入れた") % {"label": _quote(label)}
            return _("%(label)sにチェックを入れていない") % {"label": _quote(label)}
        if isinstance(condition, Equals | In):
            field, label = self.target(condition.field)
            values = [condition.value] if isinstance(condition, Equals) else list(condition.values)
            if field is not None and field.type == "checkbox" and len(values) == 1:
                return self.describe(Checked(condition.field, values[0] is True))
            if values == [None]:
                return _("%(label)sが空欄の") % {"label": _quote(label)}
            shown = "".join(self.value(field, v) for v in values)
            if field is not None and field.type in ("choice", "multichoice"):
                if len(values) == 1:
                    return _("%(label)sで%(value)sを選んだ") % {
                        "label": _quote(label),
                        "value": shown,
                    }
                return _("%(label)sで%(values)sのどれかを選んだ") % {
                    "label": _quote(label),
                    "values": shown,
                }
            return _("%(label)sが%(value)sの") % {"label": _quote(label), "value": shown}
        if isinstance(condition, AllOf):
            return _("、かつ").join(self.describe(c) for c in condition.conditions)
        if isinstance(condition, AnyOf):
            return _("、または").join(self.describe(c) for c in condition.conditions)
        if isinstance(condition, Not):
            return _("（%(condition)s場合）ではない") % {
                "condition": self.describe(condition.condition)
            }
        raise AssertionError(condition)  # every condition type is handled above


# --- Widgets ---------------------------------------------------------------------------------


def _raw_text(field: Field, raw: Any) -> str:
    if raw is None or isinstance(raw, bool):
        return ""
    if isinstance(raw, int | float):
        return str(raw)
    if not isinstance(raw, str):
        return ""
    if field.type == "phone" and raw.startswith("+"):
        # A cleaned E.164 value coming back for editing is shown the way residents write it.
        try:
            return format_phone_national(raw)
        except JapaneseDataError:
            return raw
    return raw


def _finish(widget: Widget) -> Widget:
    ids = [note["id"] for note in widget["notes"]]
    if widget["errors"]:
        ids.append(f"{widget['id']}-error")
    widget["describedby"] = " ".join(ids)
    return widget


class _Renderer:
    def __init__(
        self,
        definition: FormDefinition,
        step_key: str,
        errors: Mapping[str, list[str]],
        language: str,
        file_lookup: FileLookup | None,
        earlier: Callable[[str], Any],
    ) -> None:
        self.definition = definition
        self.step_key = step_key
        self.errors = errors
        self.language = language
        self.file_lookup = file_lookup
        self.earlier = earlier
        self.describer = _Describer(definition, language)

    def same_step(self, condition: Condition) -> bool:
        return any(t.field.split(".")[0] == self.step_key for t in condition.references())

    def widgets(
        self, fields: tuple[Field, ...], raw: Mapping[str, Any], prefix: str
    ) -> list[Widget]:
        out: list[Widget] = []
        for field in fields:
            hint = ""
            if field.visible_if is not None:
                if self.same_step(field.visible_if):
                    hint = _("%(condition)s場合に答えてください。") % {
                        "condition": self.describer.describe(field.visible_if)
                    }
                elif not field.visible_if.evaluate(self.earlier):
                    continue
            required = field.required
            if field.required_if is not None and not required:
                if self.same_step(field.required_if):
                    hint = " ".join(
                        h
                        for h in (
                            hint,
                            _("%(condition)s場合は必須です。")
                            % {"condition": self.describer.describe(field.required_if)},
                        )
                        if h
                    )
                else:
                    required = field.required_if.evaluate(self.earlier)
            path = f"{prefix}.{field.key}"
            out.append(self.widget(field, raw.get(field.key), path, required, hint))
        return out

    def base(self, field: Field, path: str, label: str, required: bool, template: str) -> Widget:
        return {
            "template": f"{TEMPLATE_DIR}/{template}",
            "id": input_id(path),
            "name": path,
            "label": label,
            "required": required,
            "notes": [],
            "errors": list(self.errors.get(path, [])),
            "type": field.type,
        }

    def note(self, widget: Widget, suffix: str, text: str, kind: str = "") -> None:
        widget["notes"].append({"id": f"{widget['id']}-{suffix}", "text": text, "kind": kind})

    def widget(self, field: Field, raw: Any, path: str, required: bool, hint: str) -> Widget:
        kind = field.type
        label = localize(field.label, self.language)
        if kind == "group":
            widget = self.group(field, raw, path, label, required)
        elif kind in ("name", "address"):
            widget = self.compound(field, raw, path, label, required)
        elif kind in ("choice", "multichoice"):
            widget = self.choices(field, raw, path, label, required)
        elif kind == "checkbox":
            widget = self.base(field, path, label, required, "checkbox.html")
            widget["checked"] = raw is True or str(raw).strip().lower() in (
                "1",
                "on",
                "true",
                "yes",
            )
        elif kind == "file":
            widget = self.file(field, raw, path, label, required)
        elif kind == "textarea":
            widget = self.base(field, path, label, required, "textarea.html")
            widget["value"] = _raw_text(field, raw)
            widget["rows"] = 6 if (field.effective_max_length or 0) > 400 else 3
        else:
            widget = self.input(field, raw, path, label, required)
        if field.help:
            widget["notes"].insert(
                0,
                {
                    "id": f"{widget['id']}-help",
                    "text": localize(field.help, self.language),
                    "kind": "",
                },
            )
        if hint:
            widget["notes"].insert(
                1 if field.help else 0,
                {"id": f"{widget['id']}-hint", "text": hint, "kind": "condition-hint"},
            )
        return _finish(widget)

    def autofill_off(self, field: Field) -> bool:
        # Inside a group (family members, children) the data is about someone else, so the
        # browser must not offer the applicant's own details.
        return field.autocomplete == "off" or field.group_path is not None

    def input(self, field: Field, raw: Any, path: str, label: str, required: bool) -> Widget:
        widget = self.base(field, path, label, required, "input.html")
        input_type, autocomplete, inputmode, css = _INPUTS[field.type]
        if field.type in ("text", "date"):
            autocomplete = field.autocomplete
        elif field.type in ("email", "phone") and self.autofill_off(field):
            autocomplete = "off"
        if field.type == "number" and not (
            field.integer and (field.minimum is None or field.minimum >= 0)
        ):
            inputmode = "decimal"
        value = _raw_text(field, raw)
        widget.update(
            input_type=input_type,
            autocomplete=autocomplete,
            inputmode=inputmode,
            css=css,
            value=value,
            spellcheck_off=field.type not in ("text",),
        )
        if field.type == "date":
            self.note(widget, "format", _("例: 令和6年4月1日 または 2024-04-01"))
            if value.strip():
                try:
                    parsed = parse_japanese_date(value)
                except JapaneseDataError:
                    pass
                else:
                    shown = _("入力された日付: %(date)s") % {
                        "date": display_date(parsed.isoformat())
                    }
                    self.note(widget, "display", shown, "date-display")
        if field.type == "postal_code":
            self.note(widget, "format", _("例: 675-0031"))
        if field.type == "phone":
            self.note(widget, "format", _("例: 079-421-2000"))
        if field.type == "my_number":
            self.note(widget, "format", _("12桁の数字（マイナンバーカードの裏面に記載）"))
        if field.type == "corporate_number":
            self.note(widget, "format", _("13桁の数字"))
        return widget

    def choices(self, field: Field, raw: Any, path: str, label: str, required: bool) -> Widget:
        multiple = field.type == "multichoice"
        select = not multiple and field.widget == "select"
        template = "select.html" if select else "checkboxes.html" if multiple else "radios.html"
        widget = self.base(field, path, label, required, template)
        chosen = {raw} if isinstance(raw, str) else set(raw) if isinstance(raw, list) else set()
        widget["options"] = [
            {
                "id": f"{widget['id']}-{index}",
                "value": option.value,
                "label": localize(option.label, self.language),
                "checked": option.value in chosen,
            }
            for index, option in enumerate(field.options)
        ]
        widget["placeholder"] = _("選んでください")
        if multiple and field.max_items:
            self.note(widget, "count", _("%(max)d個まで選べます。") % {"max": field.max_items})
        return widget

    def file(self, field: Field, raw: Any, path: str, label: str, required: bool) -> Widget:
        widget = self.base(field, path, label, required, "file.html")
        ids = (
            [raw]
            if isinstance(raw, str)
            else [i for i in raw if isinstance(i, str)]
            if isinstance(raw, list)
            else []
        )
        files = []
        for index, file_id in enumerate(ids):
            info = self.file_lookup(file_id) if self.file_lookup else None
            name = info.name if info else _("添付済みのファイル %(number)d") % {"number": index + 1}
            files.append(
                {
                    "id": file_id,
                    "name": name,
                    "remove": action_name("remove_file", path, index),
                    "remove_label": _("%(name)sを取り外す") % {"name": _quote(name)},
                }
            )
        accepted = "、".join(mime_label(a) for a in field.effective_accept)
        self.note(
            widget,
            "format",
            _("使える形式: %(types)s（1ファイル%(size)sまで）")
            % {"types": accepted, "size": size_label(field.effective_max_size)},
        )
        if files and not field.multiple:
            self.note(
                widget, "replace", _("新しいファイルを選ぶと、添付済みのファイルと差し替えます。")
            )
        widget.update(
            files=files,
            accept=",".join(field.effective_accept),
            multiple=field.multiple,
        )
        return widget

    def compound(self, field: Field, raw: Any, path: str, label: str, required: bool) -> Widget:
        widget = self.base(field, path, label, required, "compound.html")
        values = raw if isinstance(raw, Mapping) else {}
        parts: list[Widget] = []
        for part in field.parts:
            part_path = f"{path}.{part}"
            part_required = required and part in (
                "family",
                "family_kana",
                "postal_code",
                "prefecture",
                "city",
                "street",
            )
            sub = self.base(field, part_path, part_label(field, part), part_required, "input.html")
            sub.update(
                input_type="text",
                inputmode=None,
                css="",
                spellcheck_off=False,
                value=_raw_text(field, values.get(part)),
            )
            table = _NAME_AUTOCOMPLETE if field.type == "name" else _ADDRESS_AUTOCOMPLETE
            sub["autocomplete"] = "off" if self.autofill_off(field) else table.get(part)
            if part == "given":
                self.note(sub, "hint", _("名がない方は空欄のままにしてください。"))
            if part == "postal_code":
                sub.update(css="input-short", inputmode="numeric", spellcheck_off=True)
                self.note(sub, "format", _("例: 675-0031"))
                sub["button"] = {"name": action_name("postal", path), "label": _("住所を検索")}
            if part == "street":
                self.note(sub, "format", _("例: 1丁目2番3号 または 1-2-3"))
            if part == "prefecture":
                sub["template"] = f"{TEMPLATE_DIR}/select.html"
                sub["placeholder"] = _("選んでください")
                sub["options"] = [
                    {"value": p, "label": p, "checked": values.get(part) == p} for p in PREFECTURES
                ]
            parts.append(_finish(sub))
        if field.type == "name" and field.kana:
            self.note(
                widget,
                "kana",
                _("フリガナはカタカナで入力してください（ひらがなでも入力できます）。"),
            )
        if field.type == "address":
            self.note(
                widget,
                "lookup",
                _("郵便番号を入れて「住所を検索」を押すと、都道府県・市区町村・町名が入ります。"),
            )
        widget["parts"] = parts
        widget["css"] = "name-parts" if field.type == "name" else "address-parts"
        return widget

    def group(self, field: Field, raw: Any, path: str, label: str, required: bool) -> Widget:
        low = max(field.effective_min_items, 1 if required else 0)
        widget = self.base(field, path, label, required or low > 0, "group.html")
        if isinstance(raw, list):
            entries = [e if isinstance(e, Mapping) else {} for e in raw]
        else:
            entries = [{} for _index in range(low)]  # first visit: the minimum, empty
        items = []
        for index, entry in enumerate(entries):
            item_path = f"{path}.{index}"
            legend = item_label(field, index + 1, self.language)
            items.append(
                {
                    "id": input_id(item_path),
                    "legend": legend,
                    "widgets": self.widgets(field.fields, entry, item_path),
                    "remove": action_name("remove", path, index) if len(entries) > low else "",
                    "remove_label": _("%(item)sを削除") % {"item": legend},
                }
            )
        high = field.effective_max_items
        noun = localize(field.item_label, self.language) or label
        widget.update(
            items=items,
            count_name=f"{path}._count",
            count=len(entries),
            add=action_name("add", path) if len(entries) < high else "",
            add_label=_("%(item)sを追加") % {"item": noun},
        )
        self.note(widget, "count", _("%(max)d件まで入力できます。") % {"max": high})
        return widget
