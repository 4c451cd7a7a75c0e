"""Form definitions (schema 1): the model, JSON export and lookup by path (parsing: .parsing).

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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.utils.translation import gettext as _

from machi.procedures.formengine.fields import (
    ADDRESS_PART_LABELS,
    ADDRESS_PARTS,
    DEFAULT_ACCEPT,
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_LENGTH,
    DEFAULT_MAX_SIZE,
    FIELD_TYPES,
    MAX_FILE_SIZE,
    MAX_ITEMS,
    MAX_TEXT_LENGTH,
    NAME_PART_LABELS,
    NAME_PARTS,
    SCHEMA_VERSION,
    DefinitionError,
    Field,
    FieldIndex,
    FileSpec,
    Option,
    Step,
    definition_path,
    input_id,
    item_label,
    part_label,
    walk,
)
from machi.procedures.formengine.parsing import parse_steps
from machi.procedures.formengine.text import localize

__all__ = [
    "ADDRESS_PARTS",
    "ADDRESS_PART_LABELS",
    "DEFAULT_ACCEPT",
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_MAX_SIZE",
    "FIELD_TYPES",
    "MAX_FILE_SIZE",
    "MAX_ITEMS",
    "MAX_TEXT_LENGTH",
    "NAME_PARTS",
    "NAME_PART_LABELS",
    "SCHEMA_VERSION",
    "DefinitionError",
    "Field",
    "FieldIndex",
    "FileSpec",
    "FormDefinition",
    "Option",
    "Step",
    "definition_path",
    "input_id",
    "item_label",
    "part_label",
    "walk",
]


@dataclass(frozen=True)
class FormDefinition:
    """A parsed, validated form definition. Build it with :meth:`from_json`."""

    steps: tuple[Step, ...]
    schema: int = SCHEMA_VERSION
    _fields: FieldIndex = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Definitions are immutable, so the path index is built once here.
        object.__setattr__(self, "_fields", FieldIndex(self.steps))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FormDefinition:
        """Parse and strictly validate definition JSON; raise :class:`DefinitionError`."""
        return cls(parse_steps(data))

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
            yield from walk(step.fields)

    def field(self, path: str) -> Field:
        """The field at a definition path; ``KeyError`` when there is none."""
        return self._fields.by_path[path]

    def field_at(self, path: str) -> Field | None:
        """The field at an instance or definition path (``dog.photos``, ``f.members.0.cert``)."""
        return self._fields.field_at(path)

    def order(self, path: str) -> int:
        """Position of a field (definition path) in the form; conditions look only backwards."""
        return self._fields.order(path)

    def file_fields(self, step_key: str) -> list[str]:
        """Definition paths of the file fields of a step, including those inside groups.

        A top-level file field's path is also its POST name; inside a group the POST names
        carry the item index (``family.members.0.certificate``): match uploads with
        :meth:`field_at`.
        """
        return [f.path for f in walk(self.step(step_key).fields) if f.type == "file"]

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
