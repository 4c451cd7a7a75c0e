"""Readable differences between two definition versions, for reviewing a template update."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from machi.procedures.formengine.definition import Field, FormDefinition
from machi.procedures.formengine.text import LANGUAGES

# Compared one by one with their own sentences; every other option is compared generically.
_SPECIAL = frozenset(
    {"key", "type", "label", "help", "required", "visible_if", "required_if", "options", "fields"}
)


def _compact(value: Any) -> str:
    if value is None:
        return _("（なし）")
    if isinstance(value, bool):
        return _("はい") if value else _("いいえ")
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _texts(
    where: str, what: str, old: Mapping[str, str] | None, new: Mapping[str, str] | None
) -> list[str]:
    old, new = old or {}, new or {}
    out = []
    for language in LANGUAGES:
        if old.get(language) != new.get(language):
            out.append(
                _("%(where)s の%(what)s（%(language)s）: 「%(old)s」→「%(new)s」")
                % {
                    "where": where,
                    "what": what,
                    "language": language,
                    "old": old.get(language, _("（なし）")),
                    "new": new.get(language, _("（なし）")),
                }
            )
    return out


def _fields(definition: FormDefinition) -> dict[str, Field]:
    return {f.path: f for f in definition.fields()}


def _field_changes(old: Field, new: Field) -> list[str]:
    path = new.path
    out: list[str] = []
    if old.type != new.type:
        out.append(
            _("%(path)s の種類: %(old)s → %(new)s")
            % {"path": path, "old": old.type, "new": new.type}
        )
    out += _texts(path, _("ラベル"), old.label, new.label)
    out += _texts(path, _("説明"), old.help, new.help)
    if old.required != new.required:
        out.append(
            _("%(path)s の必須: %(old)s → %(new)s")
            % {"path": path, "old": _compact(old.required), "new": _compact(new.required)}
        )
    for name, what in (("visible_if", _("表示条件")), ("required_if", _("必須条件"))):
        before = getattr(old, name)
        after = getattr(new, name)
        before_json = before.to_json() if before else None
        after_json = after.to_json() if after else None
        if before_json != after_json:
            out.append(
                _("%(path)s の%(what)s: %(old)s → %(new)s")
                % {
                    "path": path,
                    "what": what,
                    "old": _compact(before_json),
                    "new": _compact(after_json),
                }
            )
    out += _option_changes(old, new)
    old_json, new_json = old.to_json(), new.to_json()
    for name in sorted((set(old_json) | set(new_json)) - _SPECIAL):
        if old_json.get(name) != new_json.get(name):
            out.append(
                _("%(path)s の %(option)s: %(old)s → %(new)s")
                % {
                    "path": path,
                    "option": name,
                    "old": _compact(old_json.get(name)),
                    "new": _compact(new_json.get(name)),
                }
            )
    return out


def _option_changes(old: Field, new: Field) -> list[str]:
    out: list[str] = []
    before = {o.value: o for o in old.options}
    after = {o.value: o for o in new.options}
    for value, option in after.items():
        if value not in before:
            out.append(
                _("%(path)s に選択肢を追加: %(value)s「%(label)s」")
                % {"path": new.path, "value": value, "label": option.label.get("ja", "")}
            )
        else:
            out += _texts(
                f"{new.path} [{value}]", _("選択肢のラベル"), before[value].label, option.label
            )
    for value, option in before.items():
        if value not in after:
            out.append(
                _("%(path)s から選択肢を削除: %(value)s「%(label)s」")
                % {"path": new.path, "value": value, "label": option.label.get("ja", "")}
            )
    if [v for v in before if v in after] != [v for v in after if v in before]:
        out.append(_("%(path)s の選択肢の順序が変わりました。") % {"path": new.path})
    return out


def _order(where: str, old: list[str], new: list[str]) -> list[str]:
    kept_old = [k for k in old if k in new]
    kept_new = [k for k in new if k in old]
    if kept_old == kept_new:
        return []
    return [
        _("%(where)s の並び順: %(old)s → %(new)s")
        % {"where": where, "old": ", ".join(kept_old), "new": ", ".join(kept_new)}
    ]


def definition_diff(old: FormDefinition, new: FormDefinition) -> list[str]:
    """One Japanese sentence per difference: steps, fields, labels, options, conditions.

    Fields are matched by definition path, so a renamed key shows as removed + added (answers
    stored under the old key will not carry over).
    """
    out: list[str] = []
    old_steps = {s.key: s for s in old.steps}
    new_steps = {s.key: s for s in new.steps}
    for key, step in new_steps.items():
        if key not in old_steps:
            out.append(
                _("ステップを追加: %(step)s「%(title)s」")
                % {"step": key, "title": step.title["ja"]}
            )
        else:
            out += _texts(key, _("見出し"), old_steps[key].title, step.title)
            out += _texts(key, _("説明"), old_steps[key].description, step.description)
    for key, step in old_steps.items():
        if key not in new_steps:
            out.append(
                _("ステップを削除: %(step)s「%(title)s」")
                % {"step": key, "title": step.title["ja"]}
            )
    out += _order(_("ステップ"), list(old_steps), list(new_steps))

    old_fields, new_fields = _fields(old), _fields(new)
    for path, field in new_fields.items():
        if path not in old_fields:
            out.append(
                _("項目を追加: %(path)s「%(label)s」（%(type)s）")
                % {"path": path, "label": field.label["ja"], "type": field.type}
            )
        else:
            out += _field_changes(old_fields[path], field)
    for path, field in old_fields.items():
        if path not in new_fields:
            out.append(
                _("項目を削除: %(path)s「%(label)s」") % {"path": path, "label": field.label["ja"]}
            )
    for key, step in new_steps.items():
        if key in old_steps:
            out += _order(key, [f.key for f in old_steps[key].fields], [f.key for f in step.fields])
    for path, field in new_fields.items():
        if field.type == "group" and path in old_fields:
            out += _order(
                path, [c.key for c in old_fields[path].fields], [c.key for c in field.fields]
            )
    return out
