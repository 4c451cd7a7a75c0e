"""Editing a form definition without writing code: add, change, move and remove fields.

Each operation takes the definition as JSON data and returns a new one; callers validate the
result with ``services.parse_definition`` before saving it as a new form version.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django.utils.translation import gettext as _

from machi.core.exceptions import InvalidInput
from machi.procedures.formengine import FIELD_TYPES

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def empty_definition() -> dict[str, Any]:
    """A new form with one step."""
    return {
        "schema": 1,
        "steps": [{"key": "main", "title": {"ja": "申請内容", "en": "Application"}, "fields": []}],
    }


def _step(definition: dict[str, Any], step_key: str) -> dict[str, Any]:
    for step in definition["steps"]:
        if step["key"] == step_key:
            return dict(step)
    raise InvalidInput(_("ステップ %(key)s がありません。") % {"key": step_key})


def _parse_options(text: str) -> list[dict[str, Any]]:
    options = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        value, _sep, label = line.partition("|")
        value = value.strip()
        options.append({"value": value, "label": {"ja": (label or value).strip()}})
    return options


def field_add(
    definition: dict[str, Any],
    *,
    step_key: str,
    key: str,
    field_type: str,
    label_ja: str,
    label_en: str = "",
    label_easy: str = "",
    help_ja: str = "",
    required: bool = False,
    options_text: str = "",
) -> dict[str, Any]:
    """Append a field to a step."""
    errors: dict[str, list[str]] = {}
    if not KEY_PATTERN.match(key):
        errors["key"] = [_("項目IDは半角英小文字で始まる英数字と _ で入力してください。")]
    if field_type not in FIELD_TYPES:
        errors["field_type"] = [_("項目の種類を選んでください。")]
    if not label_ja.strip():
        errors["label_ja"] = [_("見出し（日本語）を入力してください。")]
    if field_type in ("choice", "multichoice") and not _parse_options(options_text):
        errors["options_text"] = [_("選択肢を1行に1つずつ入力してください。")]
    if errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=errors)
    result = copy.deepcopy(definition)
    for step in result["steps"]:
        if step["key"] != step_key:
            continue
        if any(f["key"] == key for f in step["fields"]):
            raise InvalidInput(
                _("項目ID %(key)s はこのステップで使われています。") % {"key": key},
                field_errors={"key": [_("同じ項目IDは使えません。")]},
            )
        label = {"ja": label_ja.strip()}
        if label_en.strip():
            label["en"] = label_en.strip()
        if label_easy.strip():
            label["ja-easy"] = label_easy.strip()
        field: dict[str, Any] = {"key": key, "type": field_type, "label": label}
        if required:
            field["required"] = True
        if help_ja.strip():
            field["help"] = {"ja": help_ja.strip()}
        if field_type in ("choice", "multichoice"):
            field["options"] = _parse_options(options_text)
        step["fields"].append(field)
        return result
    raise InvalidInput(_("ステップ %(key)s がありません。") % {"key": step_key})


def field_remove(definition: dict[str, Any], *, step_key: str, key: str) -> dict[str, Any]:
    """Remove a field from a step."""
    result = copy.deepcopy(definition)
    for step in result["steps"]:
        if step["key"] == step_key:
            step["fields"] = [f for f in step["fields"] if f["key"] != key]
    return result


def field_move(
    definition: dict[str, Any], *, step_key: str, key: str, offset: int
) -> dict[str, Any]:
    """Move a field up (offset -1) or down (+1) within its step."""
    result = copy.deepcopy(definition)
    for step in result["steps"]:
        if step["key"] != step_key:
            continue
        keys = [f["key"] for f in step["fields"]]
        if key not in keys:
            break
        index = keys.index(key)
        target = max(0, min(len(keys) - 1, index + offset))
        fields = step["fields"]
        fields.insert(target, fields.pop(index))
    return result


def field_set_required(
    definition: dict[str, Any], *, step_key: str, key: str, required: bool
) -> dict[str, Any]:
    """Make a field required or optional."""
    result = copy.deepcopy(definition)
    for step in result["steps"]:
        if step["key"] == step_key:
            for field in step["fields"]:
                if field["key"] == key:
                    field["required"] = required
    return result


def step_add(
    definition: dict[str, Any], *, key: str, title_ja: str, title_en: str = ""
) -> dict[str, Any]:
    """Append a step (ページ) to the form."""
    if not KEY_PATTERN.match(key):
        raise InvalidInput(
            _("入力内容に誤りがあります。"),
            field_errors={
                "key": [_("ステップIDは半角英小文字で始まる英数字と _ で入力してください。")]
            },
        )
    if any(s["key"] == key for s in definition["steps"]):
        raise InvalidInput(
            _("入力内容に誤りがあります。"),
            field_errors={"key": [_("同じステップIDは使えません。")]},
        )
    result = copy.deepcopy(definition)
    title = {"ja": title_ja.strip() or key}
    if title_en.strip():
        title["en"] = title_en.strip()
    result["steps"].append({"key": key, "title": title, "fields": []})
    return result
