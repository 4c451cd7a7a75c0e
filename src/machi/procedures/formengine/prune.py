"""What is kept of raw answers: only the fields a definition defines, in shapes inputs produce.

Drafts keep what the applicant typed (even when invalid, so it can be corrected), but nothing
else: unknown steps and keys are dropped, values of impossible shapes are dropped, texts are
cut at ``MAX_TEXT_LENGTH`` and lists at the field's limits. So a request can never make the
platform store data the form does not ask for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from machi.procedures.formengine.definition import (
    MAX_ITEMS,
    MAX_TEXT_LENGTH,
    Field,
    FormDefinition,
)
from machi.procedures.formengine.validation import MAX_FILES


def _scalar(raw: Any) -> str | int | float | bool | None:
    if isinstance(raw, str):
        return raw[:MAX_TEXT_LENGTH]
    if isinstance(raw, bool | int | float):
        return raw
    return None


def _strings(raw: Any, limit: int) -> list[str] | None:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        return None
    return [value[:MAX_TEXT_LENGTH] for value in raw if isinstance(value, str)][:limit]


def _value(item: Field, raw: Any) -> Any:
    if item.type == "group":
        if not isinstance(raw, list | tuple):
            return None
        return [
            prune_fields(item.fields, entry)
            for entry in raw[: min(item.effective_max_items, MAX_ITEMS) + 1]
            if isinstance(entry, Mapping)
        ]
    if item.type == "multichoice":
        # One more than can be valid, so validation still reports "too many".
        return _strings(raw, len(item.options) + 1)
    if item.type == "file":
        return _strings(raw, MAX_FILES + 1)
    if item.type in ("name", "address"):
        if not isinstance(raw, Mapping):
            return None
        return {
            part: value[:MAX_TEXT_LENGTH]
            for part in item.parts
            if isinstance(value := raw.get(part), str)
        }
    return _scalar(raw)


def prune_fields(fields: tuple[Field, ...], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The raw answers of ``fields`` (one step or one group item), pruned."""
    out: dict[str, Any] = {}
    for item in fields:
        if item.key not in raw:
            continue
        value = _value(item, raw[item.key])
        if value is not None:
            out[item.key] = value
    return out


def prune_step(definition: FormDefinition, step_key: str, raw: Any) -> dict[str, Any]:
    """One step's raw answers, pruned (``KeyError`` for an unknown step)."""
    step = definition.step(step_key)
    return prune_fields(step.fields, raw) if isinstance(raw, Mapping) else {}


def prune_answers(definition: FormDefinition, raw: Any) -> dict[str, Any]:
    """Raw answers ``{step: {field: value}}`` with only what the definition defines."""
    if not isinstance(raw, Mapping):
        return {}
    return {
        step.key: prune_fields(step.fields, raw[step.key])
        for step in definition.steps
        if isinstance(raw.get(step.key), Mapping)
    }
