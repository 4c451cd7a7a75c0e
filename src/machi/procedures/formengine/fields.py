"""Form definitions (schema 1): fields, steps, options and path helpers (no parsing).

See :mod:`.definition` for the JSON shape and the path rules; :mod:`.parsing` builds these
from JSON, and :class:`.definition.FormDefinition` holds the parsed steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from machi.procedures.formengine.conditions import (
    Condition,
)
from machi.procedures.formengine.text import localize

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


def walk(fields: tuple[Field, ...]) -> Iterator[Field]:
    """Every field in order, group children right after their group."""
    for item in fields:
        yield item
        yield from walk(item.fields)


def input_id(path: str) -> str:
    """HTML id for an instance path: ``applicant.name.family`` → ``f-applicant-name-family``.

    Keys use only ``[a-z0-9_]``, so ``-`` cannot be ambiguous.
    """
    return "f-" + path.replace(".", "-")


def definition_path(instance_path: str) -> str:
    """``step.group.field`` from ``step.group.3.field`` (item indices dropped)."""
    return ".".join(part for part in instance_path.split(".") if not part.isdigit())


class FieldIndex:
    """Fields of some steps by definition path, with their order in the form."""

    def __init__(self, steps: tuple[Step, ...]) -> None:
        self.steps = steps
        self.by_path: dict[str, Field] = {}
        self.position: dict[str, int] = {}
        for step in steps:
            for item in walk(step.fields):
                self.position[item.path] = len(self.position)
                self.by_path[item.path] = item

    def fields(self) -> Iterator[Field]:
        """Every field in order, group children right after their group."""
        for step in self.steps:
            yield from walk(step.fields)

    def field_at(self, path: str) -> Field | None:
        """The field at an instance or definition path."""
        return self.by_path.get(definition_path(path))

    def order(self, path: str) -> int:
        """Position of a field (definition path) in the form."""
        return self.position[path]
