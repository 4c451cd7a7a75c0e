"""HTML form posts → raw answers, and the submit-button actions that work without JavaScript.

POST names are instance paths (see :mod:`.definition`):

* single inputs: ``applicant.phone``; name/address parts: ``applicant.name.family``,
  ``applicant.address.postal_code``; multichoice: repeated ``request.items``; checkbox:
  ``request.consent=1`` when ticked (absent otherwise);
* files: hidden ``dog.photo=<file id>`` for files already attached, plus the upload input
  of the same name in ``request.FILES`` (the view stores uploads and passes their ids in
  ``file_ids={"dog.photo": [...]}``);
* groups: ``children.children.0.name.family``…, with ``children.children._count`` holding the
  number of items rendered (keys never start with ``_``, so it cannot clash with a field).

Actions are submit buttons; only the clicked one is posted:

* ``_add:<group path>`` adds an empty item: ``_add:children.children``
* ``_remove:<group path>.<index>`` removes an item: ``_remove:children.children.1``
* ``_postal:<address path>`` fills the address from its postal code: ``_postal:applicant.address``
* ``_remove_file:<file path>.<index>`` detaches a file: ``_remove_file:dog.photo.0``
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.http import QueryDict
from django.utils.translation import gettext as _

from machi.core.japanese import (
    JapaneseDataError,
    format_postal_code,
    lookup_postal_code,
)
from machi.procedures.formengine.definition import (
    MAX_ITEMS,
    Field,
    FormDefinition,
    input_id,
)

ActionKind = Literal["add", "remove", "postal", "remove_file"]
ACTION_PREFIXES: dict[str, ActionKind] = {
    "_add:": "add",
    "_remove:": "remove",
    "_postal:": "postal",
    "_remove_file:": "remove_file",
}
COUNT_SUFFIX = "._count"
MAX_RAW_LENGTH = 20_000
_PATH_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.(?:[a-z][a-z0-9_]*|\d{1,3})){1,4}")
_TRUE = frozenset({"1", "on", "true", "yes"})


@dataclass(frozen=True)
class FormAction:
    """A clicked action button. ``path`` is the group, address or file field (instance path);
    ``index`` the item (remove) or attached file (remove_file)."""

    kind: ActionKind
    path: str
    index: int | None = None

    @property
    def name(self) -> str:
        """The button's POST name."""
        prefix = next(p for p, kind in ACTION_PREFIXES.items() if kind == self.kind)
        suffix = f".{self.index}" if self.index is not None else ""
        return f"{prefix}{self.path}{suffix}"

    @property
    def anchor(self) -> str:
        """HTML id of the element the action changed, to bring it back into view."""
        return input_id(self.path)


def action_name(kind: ActionKind, path: str, index: int | None = None) -> str:
    """The POST name of an action button (``_add:children.children``)."""
    return FormAction(kind, path, index).name


def pending_action(post: Mapping[str, Any]) -> FormAction | None:
    """The action button that was clicked, if any; the view re-renders instead of advancing."""
    for name in post:
        for prefix, kind in ACTION_PREFIXES.items():
            if not name.startswith(prefix):
                continue
            path = name[len(prefix) :]
            if not _PATH_RE.fullmatch(path):
                return None
            if kind in ("remove", "remove_file"):
                base, _dot, index = path.rpartition(".")
                if not index.isdigit() or not base:
                    return None
                return FormAction(kind, base, int(index))
            return FormAction(kind, path)
    return None


def _limited(value: str) -> str:
    # The form's max_length reports long input; this only stops huge posts filling drafts.
    return value[:MAX_RAW_LENGTH]


def answers_from_post(
    definition: FormDefinition,
    post: QueryDict,
    *,
    step_key: str,
    file_ids: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Raw answers of one step, ``{field_key: value}``, to store as ``answers[step_key]``.

    ``file_ids`` maps a file field's instance path to the ids of files uploaded with this
    post; they are added to (``multiple``) or replace the ids already attached.

    An add-item, remove-item or remove-file button of this step is applied here, so the
    returned answers already have the item added or removed; :func:`pending_action` tells
    the view to show the step again instead of moving on. The postal search is not applied
    here: call :func:`apply_postal_lookup`, which also returns a message.
    """
    step = definition.step(step_key)
    values = _read(step.fields, post, step_key, file_ids or {})
    action = pending_action(post)
    if action is not None and action.kind != "postal" and action.path.startswith(step_key + "."):
        values = _apply_structural(definition, {step_key: values}, action)[step_key]
    return values


def _read(
    fields: tuple[Field, ...], post: QueryDict, prefix: str, file_ids: Mapping[str, list[str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in fields:
        path = f"{prefix}.{item.key}"
        if item.type == "group":
            out[item.key] = [
                _read(item.fields, post, f"{path}.{i}", file_ids)
                for i in range(_item_count(post, path))
            ]
        elif item.type == "multichoice":
            out[item.key] = [_limited(v) for v in post.getlist(path)][: len(item.options)]
        elif item.type == "checkbox":
            out[item.key] = str(post.get(path, "")).strip().lower() in _TRUE
        elif item.type in ("name", "address"):
            out[item.key] = {p: _limited(str(post.get(f"{path}.{p}", ""))) for p in item.parts}
        elif item.type == "file":
            attached = [v for v in post.getlist(path) if v]
            uploaded = [v for v in file_ids.get(path, []) if v]
            if item.multiple:
                ids = list(dict.fromkeys(attached + uploaded))
            else:
                ids = uploaded[-1:] or attached[:1]
            out[item.key] = ids
        else:
            out[item.key] = _limited(str(post.get(path, "")))
    return out


def _item_count(post: QueryDict, path: str) -> int:
    raw = str(post.get(path + COUNT_SUFFIX, ""))
    if raw.isdigit():
        return min(int(raw), MAX_ITEMS)
    # No count (a hand-made post): infer from the highest index present.
    indices = [
        int(m.group(1))
        for name in post
        if (m := re.match(re.escape(path) + r"\.(\d{1,3})\.", name)) is not None
    ]
    return min(max(indices) + 1, MAX_ITEMS) if indices else 0


# --- Applying actions ------------------------------------------------------------------------


def _locate(answers: dict[str, Any], path: str, *, create: bool) -> tuple[Any, str | int] | None:
    """The container holding the value at an instance path, and the key/index inside it."""
    segments = path.split(".")
    container: Any = answers
    for segment in segments[:-1]:
        if isinstance(container, list) and segment.isdigit() and int(segment) < len(container):
            container = container[int(segment)]
        elif isinstance(container, dict) and not segment.isdigit():
            if segment not in container or not isinstance(container[segment], dict | list):
                if not create:
                    return None
                container[segment] = {}
            container = container[segment]
        else:
            return None
    last = segments[-1]
    if isinstance(container, dict) and not last.isdigit():
        return container, last
    return None


def _apply_structural(
    definition: FormDefinition, answers: Mapping[str, Any], action: FormAction
) -> dict[str, Any]:
    """Add or remove a group item, or detach a file, in a copy of ``answers``.

    Paths the definition does not have, indices out of range and adding beyond
    ``max_items`` (the button is not even rendered then) change nothing.
    """
    updated: dict[str, Any] = copy.deepcopy(dict(answers))
    target = definition.field_at(action.path)
    expected = {"add": "group", "remove": "group", "remove_file": "file"}
    if target is None or target.type != expected.get(action.kind):
        return updated
    located = _locate(updated, action.path, create=True)
    if located is None:
        return updated
    container, key = located
    current = container.get(key)
    values: list[Any] = current if isinstance(current, list) else []
    container[key] = values
    if action.kind == "add":
        if len(values) < target.effective_max_items:
            values.append({})
    elif action.index is not None and 0 <= action.index < len(values):
        del values[action.index]
    return updated


def apply_postal_lookup(
    definition: FormDefinition, answers: Mapping[str, Any], path: str
) -> tuple[dict[str, Any], str | None]:
    """Fill prefecture, city and town of the address at ``path`` from its postal code.

    Returns updated answers (a copy) and a message for the postal-code input, or ``None``
    when exactly one address matched. Parts that differ between several matches are left
    for the resident; existing street and building are kept.
    """
    updated: dict[str, Any] = copy.deepcopy(dict(answers))
    target = definition.field_at(path)
    if target is None or target.type != "address":
        return updated, _("この項目では住所を検索できません。")
    located = _locate(updated, path, create=True)
    if located is None:
        return updated, _("この項目では住所を検索できません。")
    container, key = located
    address = container.get(key)
    if not isinstance(address, dict):
        address = {}
        container[key] = address
    try:
        results = lookup_postal_code(str(address.get("postal_code", "")))
    except JapaneseDataError as error:
        return updated, str(error.message)
    if not results:
        return updated, _("この郵便番号は見つかりません。番号をもう一度確かめてください。")
    address["postal_code"] = format_postal_code(str(address["postal_code"]))
    for part in ("prefecture", "city", "town"):
        candidates = {getattr(r, part) for r in results}
        address[part] = candidates.pop() if len(candidates) == 1 else ""
    if len(results) == 1:
        return updated, None
    listed = "、".join(f"{r.prefecture}{r.city}{r.town}" for r in results[:5])
    return updated, _(
        "この郵便番号には複数の住所があります（%(candidates)s）。"
        "市区町村と町域を確かめて入力してください。"
    ) % {"candidates": listed}
