"""Conditions for ``visible_if`` / ``required_if``.

JSON forms::

    {"field": "request.relationship", "equals": "agent"}
    {"field": "request.relationship", "in": ["agent", "other"]}
    {"field": "request.consent", "checked": true}
    {"all": [COND, ...]}   {"any": [COND, ...]}   {"not": COND}

``field`` is a *definition path* (``step.field`` or ``step.field.sub`` for a part of a name or
address). Inside a group, ``step.group.sibling`` means the sibling in the same item. For a
multichoice field, ``equals`` means "this option is among those chosen" and ``in`` means "any
of these is chosen". Conditions are evaluated on cleaned values; a hidden, empty or invalid
field counts as ``None`` (unchecked for ``checked``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

JsonScalar = str | int | float | bool | None
Lookup = Callable[[str], Any]

_MAX_DEPTH = 8


class Condition(ABC):
    """A boolean test on earlier answers."""

    @abstractmethod
    def evaluate(self, lookup: Lookup) -> bool:
        """True when the condition holds; ``lookup`` maps a definition path to its value."""

    @abstractmethod
    def references(self) -> Iterator[FieldTest]:
        """Every leaf test, so a definition can check the paths and values they use."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The JSON form this condition was read from."""


def _same(a: Any, b: Any) -> bool:
    # JSON true must not match the number 1 (Python treats True == 1).
    return isinstance(a, bool) == isinstance(b, bool) and a == b


class FieldTest(Condition, ABC):
    """A test on one field's value."""

    field: str


@dataclass(frozen=True)
class Equals(FieldTest):
    """The value equals ``value`` (or, for multichoice, includes it)."""

    field: str
    value: JsonScalar

    def evaluate(self, lookup: Lookup) -> bool:
        actual = lookup(self.field)
        if isinstance(actual, list):
            return any(_same(item, self.value) for item in actual)
        return _same(actual, self.value)

    def references(self) -> Iterator[FieldTest]:
        yield self

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "equals": self.value}


@dataclass(frozen=True)
class In(FieldTest):
    """The value is one of ``values`` (for multichoice: any chosen option is)."""

    field: str
    values: tuple[JsonScalar, ...]

    def evaluate(self, lookup: Lookup) -> bool:
        actual = lookup(self.field)
        chosen = actual if isinstance(actual, list) else [actual]
        return any(_same(item, value) for item in chosen for value in self.values)

    def references(self) -> Iterator[FieldTest]:
        yield self

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "in": list(self.values)}


@dataclass(frozen=True)
class Checked(FieldTest):
    """A checkbox is (``checked: true``) or is not (``checked: false``) ticked."""

    field: str
    checked: bool

    def evaluate(self, lookup: Lookup) -> bool:
        return (lookup(self.field) is True) == self.checked

    def references(self) -> Iterator[FieldTest]:
        yield self

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "checked": self.checked}


@dataclass(frozen=True)
class AllOf(Condition):
    """Every condition holds."""

    conditions: tuple[Condition, ...]

    def evaluate(self, lookup: Lookup) -> bool:
        return all(c.evaluate(lookup) for c in self.conditions)

    def references(self) -> Iterator[FieldTest]:
        for condition in self.conditions:
            yield from condition.references()

    def to_json(self) -> dict[str, Any]:
        return {"all": [c.to_json() for c in self.conditions]}


@dataclass(frozen=True)
class AnyOf(Condition):
    """At least one condition holds."""

    conditions: tuple[Condition, ...]

    def evaluate(self, lookup: Lookup) -> bool:
        return any(c.evaluate(lookup) for c in self.conditions)

    def references(self) -> Iterator[FieldTest]:
        for condition in self.conditions:
            yield from condition.references()

    def to_json(self) -> dict[str, Any]:
        return {"any": [c.to_json() for c in self.conditions]}


@dataclass(frozen=True)
class Not(Condition):
    """The condition does not hold."""

    condition: Condition

    def evaluate(self, lookup: Lookup) -> bool:
        return not self.condition.evaluate(lookup)

    def references(self) -> Iterator[FieldTest]:
        yield from self.condition.references()

    def to_json(self) -> dict[str, Any]:
        return {"not": self.condition.to_json()}


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def parse_condition(data: Any, where: str, problems: list[str], depth: int = 0) -> Condition | None:
    """Read a condition; record path-qualified problems and return ``None`` when it is bad."""
    if depth > _MAX_DEPTH:
        problems.append(
            f"{where}: " + _("条件の入れ子が深すぎます（%(max)d段まで）。") % {"max": _MAX_DEPTH}
        )
        return None
    if not isinstance(data, dict):
        problems.append(f"{where}: " + _("条件はオブジェクトで書いてください。"))
        return None
    keys = set(data)
    if keys in ({"all"}, {"any"}):
        (op,) = keys
        items = data[op]
        if not isinstance(items, list) or not items:
            problems.append(f"{where}.{op}: " + _("条件を1つ以上並べてください。"))
            return None
        parsed = [
            parse_condition(item, f"{where}.{op}[{i}]", problems, depth + 1)
            for i, item in enumerate(items)
        ]
        if any(p is None for p in parsed):
            return None
        conditions = tuple(p for p in parsed if p is not None)
        return AllOf(conditions) if op == "all" else AnyOf(conditions)
    if keys == {"not"}:
        inner = parse_condition(data["not"], f"{where}.not", problems, depth + 1)
        return None if inner is None else Not(inner)
    if "field" in keys and len(keys) == 2:
        path = data["field"]
        if not isinstance(path, str) or not path:
            problems.append(f"{where}.field: " + _("参照する項目のパスを文字列で書いてください。"))
            return None
        if "equals" in keys and _is_scalar(data["equals"]):
            return Equals(path, data["equals"])
        values = data.get("in")
        if isinstance(values, list) and values and all(_is_scalar(v) for v in values):
            return In(path, tuple(values))
        if "checked" in keys and isinstance(data["checked"], bool):
            return Checked(path, data["checked"])
    problems.append(
        f"{where}: "
        + _(
            "条件の形が正しくありません。field と equals / in / checked の組、"
            "または all / any / not を使ってください。"
        )
    )
    return None
