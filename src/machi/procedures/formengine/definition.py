"""Form definitions (schema 1): strict import, export and lookup by path.

A definition is JSON::

    {"schema": 1, "steps": [{"key": "applicant", "title": {"ja": "申請者"},
                             "description": {...}?, "fields": [FIELD, ...]}]}

Paths. A *definition path* names a field in the definition: ``step.field``, ``step.field.sub``
for a part of a name or address, and ``step.group.field`` for a field inside a repeating
group. An *instance path* names one answer: the same, with the item index after a group
(``step.group.0.field``). Keys are ``snake_case`` and never start with a digit, so numeric
segments are always item indices. Conditions and :meth:`FormDefinition.file_fields` use
definition paths; answers, errors and POST names use instance paths.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from machi.core.japanese import GREGORIAN_START
from machi.procedures.formengine.conditions import (
    Checked,
    Condition,
    Equals,
    In,
    parse_condition,
)
from machi.procedures.formengine.text import LANGUAGES, localize

SCHEMA_VERSION = 1

FIELD_TYPES: tuple[str, ...] = (
    "text",
    "textarea",
    "number",
    "date",
    "choice",
    "multichoice",
    "checkbox",
    "email",
    "phone",
    "postal_code",
    "name",
    "address",
    "my_number",
    "corporate_number",
    "file",
    "group",
)

NAME_PARTS: tuple[str, ...] = ("family", "given", "family_kana", "given_kana")
ADDRESS_PARTS: tuple[str, ...] = ("postal_code", "prefecture", "city", "town", "street", "building")

DEFAULT_MAX_LENGTH = {"text": 200, "textarea": 2000, "email": 254}
MAX_TEXT_LENGTH = 10_000
DEFAULT_ACCEPT: tuple[str, ...] = ("application/pdf", "image/jpeg", "image/png")
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
MAX_FILE_SIZE = 100 * 1024 * 1024
DEFAULT_MAX_ITEMS = 20
MAX_ITEMS = 100

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

NAME_PART_LABELS: dict[str, Any] = {
    "family": gettext_lazy("姓（氏）"),
    "given": gettext_lazy("名"),
    "family_kana": gettext_lazy("セイ（フリガナ）"),
    "given_kana": gettext_lazy("メイ（フリガナ）"),
}
ADDRESS_PART_LABELS: dict[str, Any] = {
    "postal_code": gettext_lazy("郵便番号"),
    "prefecture": gettext_lazy("都道府県"),
    "city": gettext_lazy("市区町村"),
    "town": gettext_lazy("町名・大字"),
    "street": gettext_lazy("丁目・番地・号"),
    "building": gettext_lazy("建物名・部屋番号"),
}


_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,49}")
_MIME_RE = re.compile(r"[a-z]+/(?:\*|[a-z0-9][a-z0-9.+-]*)")


class DefinitionError(ValueError):
    """A definition that may not be imported; ``messages`` are path-qualified and Japanese."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages

    @property
    def errors(self) -> list[str]:
        """Same as ``messages``."""
        return self.messages


@dataclass(frozen=True)
class FileSpec:
    """Effective upload rules of a file field (defaults applied)."""

    accept: tuple[str, ...]
    max_size: int
    multiple: bool


@dataclass(frozen=True)
class Option:
    """One choice: a stable ``value`` stored in answers, and its label."""

    value: str
    label: dict[str, str]


@dataclass(frozen=True, eq=True)
class Field:
    """One field. Type options not relevant to ``type`` stay at their defaults."""

    key: str
    type: str
    label: dict[str, str]
    path: str
    help: dict[str, str] | None = None
    required: bool = False
    visible_if: Condition | None = None
    required_if: Condition | None = None
    group_path: str | None = None
    # text, textarea, email
    max_length: int | None = None
    # text: a token; date: "bday"/"off"; name, address, phone, email: "off"
    autocomplete: str | None = None
    # number ("min"/"max" in JSON)
    minimum: int | float | None = None
    maximum: int | float | None = None
    integer: bool = False
    # date ("min"/"max" in JSON: ISO date or "today")
    earliest: str | None = None
    latest: str | None = None
    # choice, multichoice
    options: tuple[Option, ...] = ()
    widget: str | None = None
    # multichoice, group
    min_items: int | None = None
    max_items: int | None = None
    # name
    kana: bool = True
    # file
    accept: tuple[str, ...] | None = None
    max_size: int | None = None
    multiple: bool = False
    # group
    fields: tuple[Field, ...] = ()
    item_label: dict[str, str] | None = None

    @property
    def effective_max_length(self) -> int | None:
        """``max_length`` or the type's default."""
        return self.max_length or DEFAULT_MAX_LENGTH.get(self.type)

    @property
    def effective_accept(self) -> tuple[str, ...]:
        """Accepted MIME types of a file field (PDF, JPEG and PNG unless set)."""
        return self.accept if self.accept is not None else DEFAULT_ACCEPT

    @property
    def effective_max_size(self) -> int:
        """Largest accepted file in bytes."""
        return self.max_size or DEFAULT_MAX_SIZE

    @property
    def effective_min_items(self) -> int:
        """Fewest items (group) or choices (multichoice); a required one needs at least 1."""
        return max(self.min_items or 0, 1 if self.required else 0)

    @property
    def effective_max_items(self) -> int:
        """Most items of a group, or choices of a multichoice."""
        if self.max_items is not None:
            return self.max_items
        return len(self.options) if self.type == "multichoice" else DEFAULT_MAX_ITEMS

    @property
    def parts(self) -> tuple[str, ...]:
        """Sub-value keys of a name or address field."""
        if self.type == "name":
            return NAME_PARTS if self.kana else NAME_PARTS[:2]
        if self.type == "address":
            return ADDRESS_PARTS
        return ()

    def option(self, value: str) -> Option | None:
        """The option with ``value``."""
        return next((o for o in self.options if o.value == value), None)

    def child(self, key: str) -> Field:
        """The field ``key`` of a group."""
        for child in self.fields:
            if child.key == key:
                return child
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        """This field as definition JSON (only non-default options)."""
        out: dict[str, Any] = {"key": self.key, "type": self.type, "label": dict(self.label)}
        if self.help:
            out["help"] = dict(self.help)
        if self.required:
            out["required"] = True
        if self.visible_if is not None:
            out["visible_if"] = self.visible_if.to_json()
        if self.required_if is not None:
            out["required_if"] = self.required_if.to_json()
        optional: dict[str, Any] = {
            "max_length": self.max_length,
            "autocomplete": self.autocomplete,
            "min": self.minimum if self.type == "number" else self.earliest,
            "max": self.maximum if self.type == "number" else self.latest,
            "widget": self.widget,
            "min_items": self.min_items,
            "max_items": self.max_items,
            "max_size": self.max_size,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.integer:
            out["integer"] = True
        if self.multiple:
            out["multiple"] = True
        if not self.kana:
            out["kana"] = False
        if self.options:
            out["options"] = [{"value": o.value, "label": dict(o.label)} for o in self.options]
        if self.accept is not None:
            out["accept"] = list(self.accept)
        if self.type == "group":
            out["fields"] = [child.to_json() for child in self.fields]
            if self.item_label:
                out["item_label"] = dict(self.item_label)
        return out


@dataclass(frozen=True)
class Step:
    """One page of the form."""

    key: str
    title: dict[str, str]
    fields: tuple[Field, ...]
    description: dict[str, str] | None = None

    def title_for(self, language: str) -> str:
        """The title in ``language`` (falling back to ja)."""
        return localize(self.title, language)

    def description_for(self, language: str) -> str:
        """The description in ``language``; empty when there is none."""
        return localize(self.description, language)

    def field(self, key: str) -> Field:
        """The top-level field ``key`` of this step."""
        for candidate in self.fields:
            if candidate.key == key:
                return candidate
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        """This step as definition JSON."""
        out: dict[str, Any] = {"key": self.key, "title": dict(self.title)}
        if self.description:
            out["description"] = dict(self.description)
        out["fields"] = [f.to_json() for f in self.fields]
        return out


def part_label(field: Field, part: str) -> str:
    """Label of a part of a name or address field."""
    labels = NAME_PART_LABELS if field.type == "name" else ADDRESS_PART_LABELS
    return str(labels.get(part, part))


def item_label(group: Field, number: int, language: str) -> str:
    """``子ども 2`` for the second item of a group."""
    base = localize(group.item_label, language) or localize(group.label, language)
    return _("%(item)s %(number)d") % {"item": base, "number": number}


def _walk(fields: tuple[Field, ...]) -> Iterator[Field]:
    for item in fields:
        yield item
        yield from _walk(item.fields)


def input_id(path: str) -> str:
    """HTML id for an instance path: ``applicant.name.family`` → ``f-applicant-name-family``.

    Keys use only ``[a-z0-9_]``, so ``-`` cannot be ambiguous.
    """
    return "f-" + path.replace(".", "-")


def definition_path(instance_path: str) -> str:
    """``step.group.field`` from ``step.group.3.field`` (item indices dropped)."""
    return ".".join(part for part in instance_path.split(".") if not part.isdigit())


@dataclass(frozen=True)
class FormDefinition:
    """A parsed, validated form definition. Build it with :meth:`from_json`."""

    steps: tuple[Step, ...]
    schema: int = SCHEMA_VERSION
    _index: dict[str, Field] = field(default_factory=dict, repr=False, compare=False)
    _order: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Definitions are immutable, so the path index is built once here.
        for step in self.steps:
            for item in _walk(step.fields):
                self._order[item.path] = len(self._order)
                self._index[item.path] = item

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FormDefinition:
        """Parse and strictly validate definition JSON; raise :class:`DefinitionError`."""
        parser = _Parser()
        definition = parser.parse(data)
        if parser.problems or definition is None:
            raise DefinitionError(parser.problems or [_("定義を読み込めませんでした。")])
        return definition

    def to_json(self) -> dict[str, Any]:
        """Definition JSON; ``from_json(d.to_json()) == d``."""
        return {"schema": self.schema, "steps": [s.to_json() for s in self.steps]}

    @property
    def step_keys(self) -> list[str]:
        """Step keys in order."""
        return [s.key for s in self.steps]

    def step(self, key: str) -> Step:
        """The step ``key``; ``KeyError`` when there is none."""
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    def fields(self) -> Iterator[Field]:
        """Every field in order, group children right after their group."""
        for step in self.steps:
            yield from _walk(step.fields)

    def field(self, path: str) -> Field:
        """The field at a definition path; ``KeyError`` when there is none."""
        return self._index[path]

    def field_at(self, path: str) -> Field | None:
        """The field at an instance or definition path (``dog.photos``, ``f.members.0.cert``)."""
        return self._index.get(definition_path(path))

    def order(self, path: str) -> int:
        """Position of a field (definition path) in the form; conditions look only backwards."""
        return self._order[path]

    def file_fields(self, step_key: str) -> list[str]:
        """Definition paths of the file fields of a step, including those inside groups.

        A top-level file field's path is also its POST name; inside a group the POST names
        carry the item index (``family.members.0.certificate``): match uploads with
        :meth:`field_at`.
        """
        return [f.path for f in _walk(self.step(step_key).fields) if f.type == "file"]

    def file_spec(self, path: str) -> FileSpec:
        """Upload rules of the file field at an instance or definition path (``KeyError``)."""
        found = self.field_at(path)
        if found is None or found.type != "file":
            raise KeyError(path)
        return FileSpec(found.effective_accept, found.effective_max_size, found.multiple)

    def step_of(self, path: str) -> str:
        """The step key of an instance path (its first segment)."""
        return path.split(".", 1)[0]

    def label_for(self, path: str, language: str) -> str:
        """Readable label of an instance path: ``子ども 1：氏名（名）``; the path when unknown."""
        found = self.field_at(path)
        part = None
        if found is None or found.path != definition_path(path):
            parent, _dot, part = path.rpartition(".")
            found = self.field_at(parent)
            if found is None or part not in found.parts:
                return path
        label = localize(found.label, language)
        if part is not None:
            label = _("%(field)s（%(part)s）") % {"field": label, "part": part_label(found, part)}
        if found.group_path is not None:
            index = next((int(s) for s in path.split(".") if s.isdigit()), 0)
            group = self.field(found.group_path)
            label = _("%(item)s：%(label)s") % {
                "item": item_label(group, index + 1, language),
                "label": label,
            }
        return label

    def input_id(self, path: str) -> str:
        """HTML id to link to (error summary) for an instance path.

        Like the module-level :func:`input_id`, except that radio and checkbox lists point at
        their first option and names/addresses at their first part, since a ``<fieldset>``
        cannot take focus.
        """
        found = self.field_at(path)
        if found is None or found.path != definition_path(path):
            return input_id(path)
        if found.type == "multichoice" or (found.type == "choice" and found.widget != "select"):
            return input_id(path) + "-0"
        if found.type in ("name", "address"):
            return input_id(f"{path}.{found.parts[0]}")
        return input_id(path)


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

    def parse(self, data: Mapping[str, Any]) -> FormDefinition | None:
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
        definition = FormDefinition(tuple(steps))
        self.check_conditions(definition)
        return definition

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

    def check_conditions(self, definition: FormDefinition) -> None:
        for owner in definition.fields():
            for name in ("visible_if", "required_if"):
                condition: Condition | None = getattr(owner, name)
                if condition is None:
                    continue
                for test in condition.references():
                    self.check_reference(definition, owner, test, f"{owner.path}.{name}")

    def check_reference(
        self, definition: FormDefinition, owner: Field, test: Condition, where: str
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
