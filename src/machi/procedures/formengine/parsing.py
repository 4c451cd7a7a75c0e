"""Strict parsing of definition JSON (schema 1) into the steps of a :class:`FormDefinition`.

Every problem is collected, not just the first, so an editor can fix them all at once; each
message starts with where it is (``request.copies.max: …``, or ``steps[1].fields[0]`` when
the key itself is unusable).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from machi.core.japanese import GREGORIAN_START
from machi.procedures.formengine.conditions import (
    Checked,
    Condition,
    Equals,
    In,
    parse_condition,
)
from machi.procedures.formengine.fields import (
    FIELD_TYPES,
    MAX_FILE_SIZE,
    MAX_ITEMS,
    MAX_TEXT_LENGTH,
    SCHEMA_VERSION,
    DefinitionError,
    Field,
    FieldIndex,
    Option,
    Step,
)
from machi.procedures.formengine.text import LANGUAGES

AUTOCOMPLETE_TOKENS = frozenset(
    {
        "off",
        "name",
        "nickname",
        "organization",
        "organization-title",
        "bday",
        "sex",
        "email",
        "tel",
        "url",
        "country-name",
        "street-address",
        "address-line1",
        "address-line2",
        "address-level1",
        "address-level2",
        "address-level3",
        "postal-code",
    }
)

_COMMON_KEYS = frozenset({"key", "type", "label", "help", "required", "visible_if", "required_if"})
_TYPE_KEYS: dict[str, frozenset[str]] = {
    "text": frozenset({"max_length", "autocomplete"}),
    "textarea": frozenset({"max_length"}),
    "number": frozenset({"min", "max", "integer"}),
    "date": frozenset({"min", "max", "autocomplete"}),
    "choice": frozenset({"options", "widget"}),
    "multichoice": frozenset({"options", "min_items", "max_items"}),
    "checkbox": frozenset(),
    "email": frozenset({"max_length", "autocomplete"}),
    "phone": frozenset({"autocomplete"}),
    "postal_code": frozenset(),
    "name": frozenset({"kana", "autocomplete"}),
    "address": frozenset({"autocomplete"}),
    "my_number": frozenset(),
    "corporate_number": frozenset(),
    "file": frozenset({"accept", "max_size", "multiple"}),
    "group": frozenset({"fields", "min_items", "max_items", "item_label"}),
}

_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,49}")
_MIME_RE = re.compile(r"[a-z]+/(?:\*|[a-z0-9][a-z0-9.+-]*)")


def parse_steps(data: Mapping[str, Any]) -> tuple[Step, ...]:
    """Parse and validate definition JSON into its steps; raise :class:`DefinitionError`.

    ``FormDefinition.from_json`` wraps the steps; this module never imports it, so the two
    modules do not import each other.
    """
    parser = _Parser()
    steps = parser.parse(data)
    if parser.problems or steps is None:
        raise DefinitionError(parser.problems or [_("定義を読み込めませんでした。")])
    return steps


class _Parser:
    """Collects every problem instead of stopping at the first, so editors fix them at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # -- generic checks ------------------------------------------------------------------

    def text(self, value: Any, where: str, *, required: bool = True) -> dict[str, str] | None:
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            self.problem(where, _('{"ja": …} の形の多言語テキストにしてください。'))
            return None
        unknown = sorted(set(value) - set(LANGUAGES))
        if unknown:
            self.problem(
                where,
                _("使えない言語コードがあります: %(codes)s（使えるのは %(known)s）")
                % {"codes": ", ".join(map(str, unknown)), "known": ", ".join(LANGUAGES)},
            )
        if not isinstance(value.get("ja"), str) or not value["ja"].strip():
            self.problem(where, _("日本語（ja）の文言は必須です。"))
        for language, text in value.items():
            if not isinstance(text, str) or not text.strip():
                self.problem(f"{where}.{language}", _("空でない文字列にしてください。"))
        return {k: v for k, v in value.items() if isinstance(v, str)}

    def key(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str) or not _KEY_RE.fullmatch(value):
            self.problem(
                where,
                _("キーは英小文字で始まる英小文字・数字・_ の50字以内にしてください: %(key)r")
                % {"key": value},
            )
            return None
        return value

    def integer(
        self, data: Mapping[str, Any], name: str, where: str, low: int, high: int
    ) -> int | None:
        value = data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(
                f"{where}.{name}",
                _("%(low)d以上%(high)d以下の整数にしてください。") % {"low": low, "high": high},
            )
            return None
        return value

    def boolean(self, data: Mapping[str, Any], name: str, where: str, default: bool) -> bool:
        value = data.get(name, default)
        if not isinstance(value, bool):
            self.problem(f"{where}.{name}", _("true か false にしてください。"))
            return default
        return value

    # -- structure -------------------------------------------------------------------------

    def parse(self, data: Mapping[str, Any]) -> tuple[Step, ...] | None:
        if not isinstance(data, Mapping):
            self.problem("$", _("定義はJSONオブジェクトにしてください。"))
            return None
        unknown = sorted(set(data) - {"schema", "steps"})
        if unknown:
            self.problem("$", _("知らないキーがあります: %(keys)s") % {"keys": ", ".join(unknown)})
        if data.get("schema") != SCHEMA_VERSION or isinstance(data.get("schema"), bool):
            self.problem(
                "schema",
                _("schema は %(version)d にしてください。") % {"version": SCHEMA_VERSION},
            )
        raw_steps = data.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            self.problem("steps", _("ステップを1つ以上並べてください。"))
            return None
        steps: list[Step] = []
        seen: set[str] = set()
        for i, raw in enumerate(raw_steps):
            step = self.step(raw, f"steps[{i}]", seen)
            if step is not None:
                steps.append(step)
        if self.problems:
            return None
        self.check_conditions(FieldIndex(tuple(steps)))
        return tuple(steps)

    def step(self, raw: Any, where: str, seen: set[str]) -> Step | None:
        if not isinstance(raw, dict):
            self.problem(where, _("ステップはオブジェクトにしてください。"))
            return None
        key = self.key(raw.get("key"), f"{where}.key")
        if key is not None:
            if key in seen:
                self.problem(where, _("ステップのキー「%(key)s」が重複しています。") % {"key": key})
            seen.add(key)
            where = key
        unknown = sorted(set(raw) - {"key", "title", "description", "fields"})
        if unknown:
            self.problem(
                where, _("知らないキーがあります: %(keys)s") % {"keys": ", ".join(unknown)}
            )
        title = self.text(raw.get("title"), f"{where}.title")
        description = self.text(raw.get("description"), f"{where}.description", required=False)
        fields = self.fields(raw.get("fields"), where, group_path=None)
        if key is None or title is None:
            return None
        return Step(key=key, title=title, fields=fields, description=description)

    def fields(self, raw: Any, parent: str, group_path: str | None) -> tuple[Field, ...]:
        if not isinstance(raw, list) or not raw:
            self.problem(f"{parent}.fields", _("項目を1つ以上並べてください。"))
            return ()
        out: list[Field] = []
        seen: set[str] = set()
        for j, item in enumerate(raw):
            parsed = self.field(item, parent, j, seen, group_path)
            if parsed is not None:
                out.append(parsed)
        return tuple(out)

    def field(
        self, raw: Any, parent: str, index: int, seen: set[str], group_path: str | None
    ) -> Field | None:
        where = f"{parent}.fields[{index}]"
        if not isinstance(raw, dict):
            self.problem(where, _("項目はオブジェクトにしてください。"))
            return None
        key = self.key(raw.get("key"), f"{where}.key")
        if key is not None:
            where = f"{parent}.{key}"
            if key in seen:
                self.problem(where, _("キー「%(key)s」が同じ階層で重複しています。") % {"key": key})
            seen.add(key)
        kind = raw.get("type")
        if kind not in FIELD_TYPES:
            self.problem(
                where,
                _("不明な種類「%(type)s」です。使えるのは %(types)s です。")
                % {"type": kind, "types": ", ".join(FIELD_TYPES)},
            )
            self.text(raw.get("label"), f"{where}.label")
            return None
        unknown = sorted(set(raw) - _COMMON_KEYS - _TYPE_KEYS[kind])
        if unknown:
            self.problem(
                where,
                _("種類 %(type)s では使えないキーがあります: %(keys)s")
                % {"type": kind, "keys": ", ".join(unknown)},
            )
        label = self.text(raw.get("label"), f"{where}.label")
        help_text = self.text(raw.get("help"), f"{where}.help", required=False)
        required = self.boolean(raw, "required", where, False)
        conditions: dict[str, Condition | None] = {}
        for name in ("visible_if", "required_if"):
            if name in raw:
                conditions[name] = parse_condition(raw[name], f"{where}.{name}", self.problems)
        if key is None or label is None:
            return None
        path = f"{parent}.{key}"
        options = self.type_options(kind, raw, where, path)
        if kind == "group" and group_path is not None:
            self.problem(where, _("グループの中にグループは置けません。"))
        return Field(
            key=key,
            type=kind,
            label=label,
            path=path,
            help=help_text,
            required=required,
            visible_if=conditions.get("visible_if"),
            required_if=conditions.get("required_if"),
            group_path=group_path,
            **options,
        )

    def type_options(self, kind: str, raw: dict[str, Any], where: str, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if kind in ("text", "textarea", "email"):
            out["max_length"] = self.integer(raw, "max_length", where, 1, MAX_TEXT_LENGTH)
        if "autocomplete" in raw:
            token = raw["autocomplete"]
            # text takes any listed token; a date may be a birthday; name, address, phone and
            # email only switch autofill off ("off": the field is about someone else).
            allowed = {
                "text": AUTOCOMPLETE_TOKENS,
                "date": frozenset({"bday", "off"}),
            }.get(kind, frozenset({"off"}))
            if token not in allowed:
                self.problem(
                    f"{where}.autocomplete",
                    _("使えない autocomplete の値です: %(value)r") % {"value": token},
                )
            else:
                out["autocomplete"] = token
        if kind == "number":
            out.update(self.number_options(raw, where))
        if kind == "date":
            out.update(self.date_options(raw, where))
        if kind in ("choice", "multichoice"):
            out["options"] = self.options(raw.get("options"), f"{where}.options")
        if kind == "choice" and "widget" in raw:
            if raw["widget"] not in ("radio", "select"):
                self.problem(f"{where}.widget", _("widget は radio か select にしてください。"))
            else:
                out["widget"] = raw["widget"]
        if kind in ("multichoice", "group"):
            out.update(self.item_counts(raw, where, len(out.get("options", ())), kind))
        if kind == "name":
            out["kana"] = self.boolean(raw, "kana", where, True)
        if kind == "file":
            out.update(self.file_options(raw, where))
        if kind == "group":
            out["fields"] = self.fields(raw.get("fields"), path, group_path=path)
            out["item_label"] = self.text(
                raw.get("item_label"), f"{where}.item_label", required=False
            )
        return out

    def number_options(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {"integer": self.boolean(raw, "integer", where, False)}
        for name, attr in (("min", "minimum"), ("max", "maximum")):
            value = raw.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.problem(f"{where}.{name}", _("数値にしてください。"))
            else:
                out[attr] = value
        low, high = out.get("minimum"), out.get("maximum")
        if low is not None and high is not None and low > high:
            self.problem(where, _("min が max より大きくなっています。"))
        return out

    def date_options(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        parsed: dict[str, dt.date] = {}
        for name, attr in (("min", "earliest"), ("max", "latest")):
            value = raw.get(name)
            if value is None:
                continue
            if value == "today":
                out[attr] = value
                continue
            try:
                day = dt.date.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                day = None
            if day is None or len(value) != 10 or day < GREGORIAN_START:
                self.problem(
                    f"{where}.{name}",
                    _('"today" か 1873-01-01 以降の YYYY-MM-DD 形式の日付にしてください。'),
                )
                continue
            out[attr] = value
            parsed[name] = day
        if "min" in parsed and "max" in parsed and parsed["min"] > parsed["max"]:
            self.problem(where, _("min が max より後の日付になっています。"))
        return out

    def options(self, raw: Any, where: str) -> tuple[Option, ...]:
        if not isinstance(raw, list) or not raw:
            self.problem(where, _("選択肢を1つ以上並べてください。"))
            return ()
        out: list[Option] = []
        for i, item in enumerate(raw):
            at = f"{where}[{i}]"
            if not isinstance(item, dict) or set(item) - {"value", "label"}:
                self.problem(
                    at, _('選択肢は {"value", "label"} だけを持つオブジェクトにしてください。')
                )
                continue
            value = item.get("value")
            if not isinstance(value, str) or not value or len(value) > 100:
                self.problem(at, _("value は100字以内の空でない文字列にしてください。"))
                continue
            if any(o.value == value for o in out):
                self.problem(at, _("選択肢の値「%(value)s」が重複しています。") % {"value": value})
            label = self.text(item.get("label"), f"{at}.label")
            if label is not None:
                out.append(Option(value, label))
        return tuple(out)

    def item_counts(
        self, raw: dict[str, Any], where: str, options: int, kind: str
    ) -> dict[str, Any]:
        ceiling = options if kind == "multichoice" else MAX_ITEMS
        low = self.integer(raw, "min_items", where, 0, ceiling)
        high = self.integer(raw, "max_items", where, 1, ceiling)
        if low is not None and high is not None and low > high:
            self.problem(where, _("min_items が max_items より大きくなっています。"))
        return {"min_items": low, "max_items": high}

    def file_options(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "multiple": self.boolean(raw, "multiple", where, False),
            "max_size": self.integer(raw, "max_size", where, 1, MAX_FILE_SIZE),
        }
        if "accept" in raw:
            accept = raw["accept"]
            if (
                not isinstance(accept, list)
                or not accept
                or not all(isinstance(m, str) and _MIME_RE.fullmatch(m) for m in accept)
            ):
                self.problem(
                    f"{where}.accept",
                    _("accept は image/png のような MIME タイプのリストにしてください。"),
                )
            else:
                out["accept"] = tuple(accept)
        return out

    # -- cross references ------------------------------------------------------------------

    def check_conditions(self, definition: FieldIndex) -> None:
        for owner in definition.fields():
            for name in ("visible_if", "required_if"):
                condition: Condition | None = getattr(owner, name)
                if condition is None:
                    continue
                for test in condition.references():
                    self.check_reference(definition, owner, test, f"{owner.path}.{name}")

    def check_reference(
        self, definition: FieldIndex, owner: Field, test: Condition, where: str
    ) -> None:
        ref: str = getattr(test, "field", "")
        target = definition.field_at(ref) if "." in ref else None
        sub: str | None = None
        if target is None or target.path != ref:
            parent, _dot, last = ref.rpartition(".")
            holder = definition.field_at(parent) if parent else None
            if holder is not None and holder.path == parent and last in holder.parts:
                target, sub = holder, last
            else:
                self.problem(where, _("参照先の項目「%(path)s」がありません。") % {"path": ref})
                return
        if target.type in ("group", "file"):
            self.problem(
                where, _("グループやファイルの項目は条件に使えません: %(path)s") % {"path": ref}
            )
            return
        if definition.order(target.path) >= definition.order(owner.path):
            self.problem(
                where,
                _("条件はこの項目より前にある項目だけを参照できます: %(path)s") % {"path": ref},
            )
            return
        if target.group_path is not None and not owner.path.startswith(target.group_path + "."):
            self.problem(
                where,
                _("グループ内の項目は、同じグループの中からしか参照できません: %(path)s")
                % {"path": ref},
            )
            return
        self.check_values(target, sub, test, where)

    def check_values(self, target: Field, sub: str | None, test: Condition, where: str) -> None:
        if isinstance(test, Checked):
            if target.type != "checkbox":
                self.problem(where, _("checked はチェックボックスの項目にだけ使えます。"))
            return
        values = (
            [test.value]
            if isinstance(test, Equals)
            else list(test.values)
            if isinstance(test, In)
            else []
        )
        for value in values:
            if value is None:
                continue
            if target.type in ("choice", "multichoice") and sub is None:
                if not isinstance(value, str) or target.option(value) is None:
                    self.problem(
                        where,
                        _("「%(path)s」に値「%(value)s」の選択肢はありません。")
                        % {"path": target.path, "value": value},
                    )
            elif target.type == "checkbox":
                if not isinstance(value, bool):
                    self.problem(where, _("チェックボックスとは true / false で比べてください。"))
            elif target.type == "number":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    self.problem(where, _("数値の項目とは数値で比べてください。"))
            elif not isinstance(value, str):
                self.problem(where, _("この項目とは文字列で比べてください。"))
