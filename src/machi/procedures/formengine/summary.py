"""Cleaned answers as readable rows for the review page and staff views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from machi.core.japanese import (
    JapaneseDataError,
    format_phone_national,
    format_postal_code,
    format_wareki,
)
from machi.procedures.formengine.definition import Field, FormDefinition
from machi.procedures.formengine.text import localize
from machi.procedures.formengine.validation import FileLookup


@dataclass(frozen=True)
class SummaryRow:
    """One answer as text. ``path`` is the instance path (link it with ``input_id(path)``)."""

    step_key: str
    step_title: str
    path: str
    label: str
    display: str


def display_date(iso: str) -> str:
    """``令和6年4月1日（2024年4月1日）``."""
    value = dt.date.fromisoformat(iso)
    western = _("%(year)d年%(month)d月%(day)d日") % {
        "year": value.year,
        "month": value.month,
        "day": value.day,
    }
    return _("%(wareki)s（%(western)s）") % {"wareki": format_wareki(value), "western": western}


def mask_my_number(number: str) -> str:
    """Only the last four digits of a 個人番号 are shown, even to staff."""
    return "*" * max(len(number) - 4, 0) + number[-4:]


def display_value(
    field: Field, value: Any, language: str, file_lookup: FileLookup | None = None
) -> str:
    """A cleaned value as text in ``language`` (labels for choices, 和暦 for dates)."""
    if value is None or value == [] or value == "":
        return _("（未入力）")
    kind = field.type
    if kind == "checkbox":
        return _("はい") if value else _("いいえ")
    if kind == "choice":
        option = field.option(str(value))
        return localize(option.label, language) if option else str(value)
    if kind == "multichoice":
        labels = []
        for chosen in value:
            option = field.option(chosen)
            labels.append(localize(option.label, language) if option else str(chosen))
        return "、".join(labels)
    try:
        if kind == "date":
            return display_date(str(value))
        if kind == "phone":
            return format_phone_national(str(value))
        if kind == "postal_code":
            return format_postal_code(str(value))
    except (JapaneseDataError, ValueError):
        return str(value)
    if kind == "my_number":
        return mask_my_number(str(value))
    if kind == "name" and isinstance(value, Mapping):
        return _display_name(value)
    if kind == "address" and isinstance(value, Mapping):
        return _display_address(value)
    if kind == "file":
        names = []
        for file_id in value:
            info = file_lookup(file_id) if file_lookup else None
            names.append(info.name if info else None)
        if all(names):
            return "、".join(str(n) for n in names)
        return _("%(count)d件のファイル") % {"count": len(value)}
    return str(value)


def _display_name(value: Mapping[str, Any]) -> str:
    name = " ".join(p for p in (value.get("family"), value.get("given")) if p)
    kana = " ".join(p for p in (value.get("family_kana"), value.get("given_kana")) if p)
    return f"{name}（{kana}）" if kana else name


def _display_address(value: Mapping[str, Any]) -> str:
    postal = str(value.get("postal_code") or "")
    if postal:
        try:
            postal = "〒" + format_postal_code(postal)
        except JapaneseDataError:
            postal = "〒" + postal
    line = "".join(str(value.get(p) or "") for p in ("prefecture", "city", "town", "street"))
    parts = [postal, line, str(value.get("building") or "")]
    return " ".join(p for p in parts if p)


def summary(
    definition: FormDefinition,
    cleaned: Mapping[str, Any],
    *,
    language: str,
    file_lookup: FileLookup | None = None,
) -> list[SummaryRow]:
    """Rows in form order for every answered step; hidden fields (absent) have no row.

    Group items give one row per item field, labelled ``子ども 1：氏名``; an empty group gives
    one row for the group.
    """
    rows: list[SummaryRow] = []
    with translation.override(language):
        for step in definition.steps:
            values = cleaned.get(step.key)
            if not isinstance(values, Mapping):
                continue
            title = localize(step.title, language)
            for field in step.fields:
                if field.key not in values:
                    continue
                path = f"{step.key}.{field.key}"
                value = values[field.key]
                if field.type != "group":
                    display = display_value(field, value, language, file_lookup)
                    rows.append(
                        SummaryRow(step.key, title, path, localize(field.label, language), display)
                    )
                    continue
                items = value if isinstance(value, list) else []
                if not items:
                    rows.append(
                        SummaryRow(
                            step.key, title, path, localize(field.label, language), _("なし")
                        )
                    )
                for index, item in enumerate(items):
                    for child in field.fields:
                        if not isinstance(item, Mapping) or child.key not in item:
                            continue
                        child_path = f"{path}.{index}.{child.key}"
                        rows.append(
                            SummaryRow(
                                step.key,
                                title,
                                child_path,
                                definition.label_for(child_path, language),
                                display_value(child, item[child.key], language, file_lookup),
                            )
                        )
    return rows
