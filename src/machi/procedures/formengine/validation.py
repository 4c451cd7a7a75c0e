"""Server-authoritative validation of answers against a definition.

Answers are ``{step_key: {field_key: value}}``. Raw values as :func:`answers_from_post`
produces them: strings for single inputs, ``list[str]`` for multichoice and files (file ids),
``bool`` (or ``"1"``/``"on"``) for checkboxes, ``{part: str}`` for names and addresses and
``list[{field_key: value}]`` for groups. Cleaned values are JSON-serialisable: dates are ISO
strings, phones E.164, postal codes 7 digits, furigana full-width katakana, numbers ``int``
(or ``float`` when not ``integer``), file fields ``list[str]`` of ids. An empty optional field
is ``None`` (``[]`` for multichoice, files and groups, ``False`` for a checkbox); hidden fields
are left out.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from machi.core.japanese import (
    PREFECTURES,
    JapaneseDataError,
    clean_corporate_number,
    clean_my_number,
    format_wareki,
    lookup_postal_code,
    normalize_phone,
    normalize_postal_code,
    parse_japanese_date,
    to_katakana,
)
from machi.procedures.formengine.definition import ADDRESS_PARTS, MAX_ITEMS, Field, FormDefinition

MAX_PART_LENGTH = 100
MAX_FILES = 20
_TRUE = frozenset({"1", "on", "true", "yes"})
_NUMBER_RE = re.compile(r"[+-]?\d+(?:\.\d+)?")
_MIME_LABELS: dict[str, Any] = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/heic": "HEIC",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/*": gettext_lazy("画像"),
    "text/plain": gettext_lazy("テキスト"),
    "text/csv": "CSV",
}


@dataclass(frozen=True)
class FileInfo:
    """What the file store knows about an uploaded file (content type sniffed, not claimed)."""

    content_type: str
    size: int
    name: str


FileLookup = Callable[[str], FileInfo | None]


@dataclass
class FormResult:
    """Cleaned answers and errors keyed by instance path (``applicant.name.family``).

    ``cleaned`` is ``{step_key: {field_key: value}}`` for the validated step(s); it is only
    fit to store when ``errors`` is empty (invalid values are ``None`` or left as typed).
    """

    cleaned: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        """No errors."""
        return not self.errors


def mime_label(content_type: str) -> str:
    """Short name for a MIME type as residents know it (PDF, JPEG)."""
    return str(_MIME_LABELS.get(content_type, content_type))


def size_label(size: int) -> str:
    """``5 MB`` / ``300 KB``."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{max(1, round(size / 1024))} KB"


def is_empty(value: Any) -> bool:
    """No answer: ``None``, blank text, an empty list, or a dict whose parts are all empty."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return not value
    if isinstance(value, Mapping):
        return all(is_empty(v) for v in value.values())
    return False


def resolve_date_bound(bound: str | None, today: dt.date) -> dt.date | None:
    """A date option (ISO or ``"today"``) as a date."""
    if bound is None:
        return None
    return today if bound == "today" else dt.date.fromisoformat(bound)


def validate_answers(
    definition: FormDefinition,
    answers: Mapping[str, Any],
    *,
    step_key: str | None = None,
    file_lookup: FileLookup | None = None,
    today: dt.date | None = None,
) -> FormResult:
    """Validate one step (``step_key``) or the whole form.

    Earlier steps are read (silently) because conditions may refer to them. Hidden fields
    (``visible_if`` false) are dropped and never required. ``file_lookup`` maps a file id to
    its :class:`FileInfo`, or ``None`` when the id is unknown *or not the applicant's own*;
    without it file ids are not checked.
    """
    if step_key is not None:
        definition.step(step_key)  # KeyError for an unknown step, before any work
    validator = _Validator(file_lookup, today or timezone.localdate())
    cleaned: dict[str, Any] = {}
    for step in definition.steps:
        recording = step_key is None or step.key == step_key
        raw_step = answers.get(step.key)
        validator.recording = recording
        step_cleaned = validator.fields(
            step.fields, raw_step if isinstance(raw_step, Mapping) else {}, step.key, {}
        )
        if recording:
            cleaned[step.key] = step_cleaned
        if step.key == step_key:
            break
    return FormResult(cleaned=cleaned, errors=validator.errors)


def _text(raw: Any) -> str | None:
    """Raw input as text; ``None`` for shapes a text input cannot produce."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    return None


# Zero-width characters and bidirectional overrides/isolates: invisible, they make a legal
# name read differently from what is stored (「花子」 that compares unequal, or text shown
# backwards), so names and their readings refuse them.
INVISIBLE_CHARACTERS = frozenset(
    [chr(c) for c in range(0x200B, 0x2010)]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\ufeff"]
)


def has_invisible_characters(value: str) -> bool:
    """Whether ``value`` holds a zero-width or text-direction character (see above)."""
    return any(c in INVISIBLE_CHARACTERS for c in value)


def _has_control_characters(value: str, *, multiline: bool) -> bool:
    allowed = "\n\t" if multiline else ""
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in value)


class _Validator:
    def __init__(self, file_lookup: FileLookup | None, today: dt.date) -> None:
        self.file_lookup = file_lookup
        self.today = today
        self.errors: dict[str, list[str]] = {}
        self.values: dict[str, Any] = {}
        self.recording = True
        # Counts problems in every step, recorded or not, so conditions can tell an invalid
        # answer from a valid one.
        self.problem_count = 0

    def error(self, path: str, message: str) -> None:
        self.problem_count += 1
        if self.recording:
            self.errors.setdefault(path, []).append(message)

    def lookup(self, scope: Mapping[str, str]) -> Callable[[str], Any]:
        def get(ref: str) -> Any:
            for group_path, item_path in scope.items():
                if ref.startswith(group_path + "."):
                    ref = item_path + ref[len(group_path) :]
            if ref in self.values:
                return self.values[ref]
            parent, _dot, part = ref.rpartition(".")
            holder = self.values.get(parent)
            return (holder.get(part) or None) if isinstance(holder, Mapping) else None

        return get

    def fields(
        self,
        fields: tuple[Field, ...],
        raw: Mapping[str, Any],
        prefix: str,
        scope: Mapping[str, str],
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        lookup = self.lookup(scope)
        for item in fields:
            path = f"{prefix}.{item.key}"
            if item.visible_if is not None and not item.visible_if.evaluate(lookup):
                continue
            required = item.required or (
                item.required_if is not None and item.required_if.evaluate(lookup)
            )
            before = self.problem_count
            value = self.field(item, raw.get(item.key), path, required, scope)
            out[item.key] = value
            # Conditions see invalid answers as unanswered.
            self.values[path] = value if self.problem_count == before else None
        return out

    def field(
        self, item: Field, raw: Any, path: str, required: bool, scope: Mapping[str, str]
    ) -> Any:
        if item.type == "group":
            return self.group(item, raw, path, required, scope)
        if item.type == "multichoice":
            return self.multichoice(item, raw, path, required)
        if item.type == "file":
            return self.files(item, raw, path, required)
        if item.type == "checkbox":
            checked = raw is True or (isinstance(raw, str) and raw.strip().lower() in _TRUE)
            if required and not checked:
                self.error(path, _("確認のうえ、チェックを入れてください。"))
            return checked
        if item.type == "name":
            return self.name(item, raw, path, required)
        if item.type == "address":
            return self.address(raw, path, required)
        text = _text(raw)
        if text is None:
            self.error(path, _("入力の形式が正しくありません。"))
            return None
        if not text.strip():
            if required:
                message = (
                    _("選んでください。") if item.type == "choice" else _("入力してください。")
                )
                self.error(path, message)
            return None
        try:
            return self.scalar(item, text, path)
        except JapaneseDataError as error:
            self.error(path, str(error.message))
            return None

    def scalar(self, item: Field, text: str, path: str) -> Any:
        kind = item.type
        if kind in ("text", "textarea"):
            return self.plain_text(item, text, path)
        if kind == "email":
            value = unicodedata.normalize("NFKC", text).strip()
            try:
                validate_email(value)
            except ValidationError:
                self.error(
                    path, _("メールアドレスの形式が正しくありません（例: taro@example.jp）。")
                )
                return None
            limit = item.effective_max_length or 254
            if len(value) > limit:
                self.error(path, _("%(max)d文字以内で入力してください。") % {"max": limit})
                return None
            return value
        if kind == "number":
            return self.number(item, text, path)
        if kind == "date":
            return self.date(item, text, path)
        if kind == "choice":
            if item.option(text) is None:
                self.error(path, _("選択肢の中から選んでください。"))
                return None
            return text
        if kind == "phone":
            return normalize_phone(text)
        if kind == "postal_code":
            return self.postal_code(text, path)
        if kind == "my_number":
            return clean_my_number(text)
        if kind == "corporate_number":
            return clean_corporate_number(text)
        raise AssertionError(kind)  # every scalar type is handled above

    def plain_text(self, item: Field, text: str, path: str) -> str | None:
        multiline = item.type == "textarea"
        # Legal names and addresses are stored verbatim (reference §4): only trim and unify
        # line endings; comparisons use a separate search key.
        value = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not multiline:
            value = value.replace("\n", " ")
        if _has_control_characters(value, multiline=multiline):
            self.error(path, _("使えない制御文字が含まれています。"))
            return None
        limit = item.effective_max_length
        if limit is not None and len(value) > limit:
            self.error(
                path,
                _("%(max)d文字以内で入力してください（いま%(length)d文字です）。")
                % {"max": limit, "length": len(value)},
            )
            return None
        return value

    def number(self, item: Field, text: str, path: str) -> int | float | None:
        folded = re.sub(r"[\s,]", "", unicodedata.normalize("NFKC", text))
        if len(folded) > 30 or not _NUMBER_RE.fullmatch(folded):
            self.error(path, _("半角または全角の数字で入力してください。"))
            return None
        try:
            number = Decimal(folded)
        except InvalidOperation:  # pragma: no cover - the pattern already excludes these
            self.error(path, _("半角または全角の数字で入力してください。"))
            return None
        if item.integer and number != number.to_integral_value():
            self.error(path, _("整数で入力してください。"))
            return None
        low, high = item.minimum, item.maximum
        if (low is not None and number < Decimal(str(low))) or (
            high is not None and number > Decimal(str(high))
        ):
            if low is not None and high is not None:
                message = _("%(min)s以上%(max)s以下の数を入力してください。")
            elif low is not None:
                message = _("%(min)s以上の数を入力してください。")
            else:
                message = _("%(max)s以下の数を入力してください。")
            self.error(path, message % {"min": low, "max": high})
            return None
        if number == number.to_integral_value():
            return int(number)
        return float(number)

    def date(self, item: Field, text: str, path: str) -> str | None:
        value = parse_japanese_date(text)
        earliest = resolve_date_bound(item.earliest, self.today)
        latest = resolve_date_bound(item.latest, self.today)
        if earliest is not None and value < earliest:
            if item.earliest == "today":
                self.error(path, _("今日以降の日付を入力してください。"))
            else:
                self.error(
                    path,
                    _("%(date)s（%(western)s）以降の日付を入力してください。")
                    % {"date": format_wareki(earliest), "western": earliest.isoformat()},
                )
            return None
        if latest is not None and value > latest:
            if item.latest == "today":
                self.error(
                    path, _("未来の日付は入力できません。今日以前の日付を入力してください。")
                )
            else:
                self.error(
                    path,
                    _("%(date)s（%(western)s）以前の日付を入力してください。")
                    % {"date": format_wareki(latest), "western": latest.isoformat()},
                )
            return None
        return value.isoformat()

    def postal_code(self, text: str, path: str) -> str | None:
        code = normalize_postal_code(text)
        if not lookup_postal_code(code):
            self.error(path, _("この郵便番号は見つかりません。番号をもう一度確かめてください。"))
            return None
        return code

    def multichoice(self, item: Field, raw: Any, path: str, required: bool) -> list[str]:
        chosen = [raw] if isinstance(raw, str) else raw if isinstance(raw, list | tuple) else []
        chosen = [c for c in chosen if isinstance(c, str) and c]
        if any(item.option(c) is None for c in chosen):
            self.error(path, _("選択肢の中から選んでください。"))
            return []
        values = [o.value for o in item.options if o.value in chosen]
        if not values:
            if required:
                self.error(path, _("1つ以上選んでください。"))
            return []
        low, high = item.effective_min_items, item.effective_max_items
        if len(values) < low:
            self.error(path, _("%(min)d個以上選んでください。") % {"min": low})
        elif len(values) > high:
            self.error(path, _("選べるのは%(max)d個までです。") % {"max": high})
        return values

    def files(self, item: Field, raw: Any, path: str, required: bool) -> list[str]:
        ids = [raw] if isinstance(raw, str) else raw if isinstance(raw, list | tuple) else []
        unique: list[str] = []
        for file_id in ids:
            if isinstance(file_id, str) and file_id.strip() and file_id not in unique:
                unique.append(file_id.strip())
        if not unique:
            if required:
                self.error(path, _("ファイルを添付してください。"))
            return []
        if not item.multiple and len(unique) > 1:
            self.error(path, _("添付できるファイルは1つだけです。"))
        elif len(unique) > MAX_FILES:
            self.error(path, _("添付できるファイルは%(max)d個までです。") % {"max": MAX_FILES})
        # Earlier steps are only read for conditions, which never look at files: skip the
        # file store there.
        if self.file_lookup is not None and self.recording:
            for file_id in unique:
                self.check_file(item, file_id, path)
        return unique

    def check_file(self, item: Field, file_id: str, path: str) -> None:
        info = self.file_lookup(file_id) if self.file_lookup is not None else None
        if info is None:
            self.error(path, _("添付したファイルが見つかりません。もう一度添付してください。"))
            return
        accepted = item.effective_accept
        kind = info.content_type.lower()
        if not any(a == kind or (a.endswith("/*") and kind.startswith(a[:-1])) for a in accepted):
            self.error(
                path,
                _("「%(name)s」の形式（%(type)s）は受け付けていません。使える形式: %(accepted)s")
                % {
                    "name": info.name,
                    "type": mime_label(kind),
                    "accepted": "、".join(mime_label(a) for a in accepted),
                },
            )
        if info.size > item.effective_max_size:
            self.error(
                path,
                _("「%(name)s」は大きすぎます（%(size)s）。%(max)s以下のファイルにしてください。")
                % {
                    "name": info.name,
                    "size": size_label(info.size),
                    "max": size_label(item.effective_max_size),
                },
            )

    def parts(self, raw: Any, names: tuple[str, ...], path: str) -> dict[str, str] | None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            self.error(path, _("入力の形式が正しくありません。"))
            return None
        out: dict[str, str] = {}
        for name in names:
            text = _text(raw.get(name))
            value = (text or "").replace("\r", " ").replace("\n", " ").strip()
            if text is None or _has_control_characters(value, multiline=False):
                self.error(f"{path}.{name}", _("入力の形式が正しくありません。"))
                value = ""
            elif len(value) > MAX_PART_LENGTH:
                self.error(
                    f"{path}.{name}",
                    _("%(max)d文字以内で入力してください。") % {"max": MAX_PART_LENGTH},
                )
                value = ""
            out[name] = value
        return out

    def name(self, item: Field, raw: Any, path: str, required: bool) -> dict[str, str] | None:
        parts = self.parts(raw, item.parts, path)
        if parts is None or (not required and is_empty(parts)):
            return None
        invisible = {part for part, value in parts.items() if has_invisible_characters(value)}
        for part in sorted(invisible, key=item.parts.index):
            self.error(
                f"{path}.{part}",
                _(
                    "見えない文字や、文字の向きを変える文字は使えません。"
                    "文字を入力し直してください。"
                ),
            )
        # 氏 is required; 名 is not, for people with a single name (reference §4 Names).
        if not parts["family"]:
            self.error(f"{path}.family", _("入力してください。"))
        if item.kana:
            for part, base in (("family_kana", "family"), ("given_kana", "given")):
                if part in invisible:
                    continue
                if not parts[part]:
                    if parts[base] or part == "family_kana":
                        self.error(f"{path}.{part}", _("フリガナを入力してください。"))
                    continue
                try:
                    parts[part] = to_katakana(parts[part])
                except JapaneseDataError as error:
                    self.error(f"{path}.{part}", str(error.message))
        return parts

    def address(self, raw: Any, path: str, required: bool) -> dict[str, str] | None:
        parts = self.parts(raw, ADDRESS_PARTS, path)
        if parts is None or (not required and is_empty(parts)):
            return None
        for name in ("postal_code", "prefecture", "city", "street"):
            if not parts[name]:
                message = _("選んでください。") if name == "prefecture" else _("入力してください。")
                self.error(f"{path}.{name}", message)
        if parts["postal_code"]:
            try:
                code = self.postal_code(parts["postal_code"], f"{path}.postal_code")
                parts["postal_code"] = code or parts["postal_code"]
            except JapaneseDataError as error:
                self.error(f"{path}.postal_code", str(error.message))
        if parts["prefecture"] and parts["prefecture"] not in PREFECTURES:
            self.error(f"{path}.prefecture", _("都道府県を一覧から選んでください。"))
        return parts

    def group(
        self, item: Field, raw: Any, path: str, required: bool, scope: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        items = [i for i in raw if isinstance(i, Mapping)] if isinstance(raw, list) else []
        low = max(item.effective_min_items, 1 if required else 0)
        high = item.effective_max_items
        if len(items) < low:
            self.error(path, _("%(min)d件以上入力してください。") % {"min": low})
        elif len(items) > high:
            self.error(path, _("%(max)d件までにしてください。") % {"max": high})
        cleaned: list[dict[str, Any]] = []
        # A tampered post cannot make us validate thousands of items.
        for index, entry in enumerate(items[:MAX_ITEMS]):
            item_path = f"{path}.{index}"
            inner_scope = {**scope, item.path: item_path}
            cleaned.append(self.fields(item.fields, entry, item_path, inner_scope))
        return cleaned


def earlier_answers_lookup(
    definition: FormDefinition,
    answers: Mapping[str, Any],
    *,
    step_key: str,
    today: dt.date | None = None,
) -> Callable[[str], Any]:
    """Cleaned values of the steps before ``step_key``, by definition path, for conditions."""
    validator = _Validator(None, today or timezone.localdate())
    validator.recording = False
    for step in definition.steps:
        if step.key == step_key:
            break
        raw_step = answers.get(step.key)
        validator.fields(
            step.fields, raw_step if isinstance(raw_step, Mapping) else {}, step.key, {}
        )
    return validator.lookup({})
