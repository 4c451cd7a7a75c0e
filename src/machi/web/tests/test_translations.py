"""Translation catalogues: complete, compiled and actually served.

Fails when a string is added to the code or templates and the catalogues are not refreshed
(``python -m machi makemessages -l en -l ja_Easy --no-obsolete``), translated or compiled
(``python -m machi compilemessages``).
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation

MACHI_DIR = Path(__file__).resolve().parents[2]
LOCALE_DIR = MACHI_DIR / "locale"
CATALOGUE_LANGUAGES = ["en", "ja_Easy"]

_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> str:
        """The key gettext uses in a compiled catalogue."""
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"


def parse_po(path: Path) -> list[Entry]:
    """A small .po reader: enough for the files makemessages writes."""
    entries: list[Entry] = []
    entry = Entry()
    current: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal entry, current, started
        if started:
            entries.append(entry)
        entry, current, started = Entry(), None, False

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            continue
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, quoted = match.groups()
            if keyword.startswith("msgid") and current and current[0] == "msgstr":
                finish()  # entries not separated by a blank line
            started = True
            value = ast.literal_eval(quoted)
            if keyword.startswith("msgstr"):
                current = ("msgstr", int(index or 0))
                entry.msgstr[current[1]] = value
            else:
                current = (keyword, 0)
                setattr(entry, keyword, value)
        elif line.startswith('"') and current is not None:
            value = ast.literal_eval(line)
            if current[0] == "msgstr":
                entry.msgstr[current[1]] += value
            else:
                setattr(entry, current[0], (getattr(entry, current[0]) or "") + value)
        else:
            raise AssertionError(f"{path}: cannot read line {raw!r}")
    finish()
    return [e for e in entries if not e.obsolete]


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)[sd]", text))


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


def messages(language: str) -> list[Entry]:
    return [e for e in parse_po(po_path(language)) if e.msgid != ""]


@pytest.mark.parametrize("language", CATALOGUE_LANGUAGES)
def test_every_message_is_translated(language):
    entries = parse_po(po_path(language))
    header = [e for e in entries if e.msgid == ""]
    assert header and "fuzzy" not in header[0].flags, "remove the fuzzy flag from the header"
    catalogue = [e for e in entries if e.msgid != ""]
    assert catalogue, f"{po_path(language)} has no messages"
    plural_forms = re.search(r"nplurals=(\d+)", header[0].msgstr[0])
    assert plural_forms, "the header needs Plural-Forms"
    nplurals = int(plural_forms.group(1))
    problems = []
    for entry in catalogue:
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        expected_forms = nplurals if entry.msgid_plural is not None else 1
        forms = [entry.msgstr.get(i, "") for i in range(expected_forms)]
        if not all(form.strip() for form in forms):
            problems.append(f"untranslated: {entry.msgid!r}")
        if "python-format" in entry.flags:
            wanted = placeholders(entry.msgid)
            problems += [
                f"placeholders differ: {entry.msgid!r} → {form!r}"
                for form in forms
                if placeholders(form) != wanted
            ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", CATALOGUE_LANGUAGES)
def test_compiled_catalogue_matches_po(language):
    mo_path = po_path(language).with_suffix(".mo")
    assert mo_path.exists(), f"run compilemessages: {mo_path} is missing"
    with mo_path.open("rb") as handle:
        compiled = dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]
    compiled.pop("", None)
    expected: dict[object, str] = {}
    for entry in messages(language):
        if entry.msgid_plural is None:
            expected[entry.key] = entry.msgstr[0]
        else:
            for index, form in entry.msgstr.items():
                expected[(entry.key, index)] = form
    assert compiled == expected, "the .mo is out of date: run python -m machi compilemessages"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_catalogues_contain_every_marked_string(tmp_path, settings, monkeypatch):
    """makemessages on a copy of the source finds no msgid missing from the catalogues."""
    copy = tmp_path / "machi"
    shutil.copytree(
        MACHI_DIR,
        copy,
        ignore=shutil.ignore_patterns("__pycache__", "*.mo"),
    )
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["en"], no_obsolete=True, verbosity=0)
    marked = {e.key for e in parse_po(copy / "locale/en/LC_MESSAGES/django.po") if e.msgid}
    for language in CATALOGUE_LANGUAGES:
        missing = marked - {e.key for e in messages(language)}
        assert not missing, f"{language}: run makemessages and translate {sorted(missing)}"


def test_easy_japanese_catalogue_is_active():
    with translation.override("ja-easy"):
        assert translation.gettext("本文へ移動") == "ページの なかみへ すすむ"
    with translation.override("en"):
        assert translation.gettext("本文へ移動") == "Skip to main content"


@pytest.mark.django_db
def test_easy_japanese_is_served_from_the_language_cookie():
    client = Client()
    client.cookies["django_language"] = "ja-easy"
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "ja-easy"
    html = response.content.decode()
    assert "ページの なかみへ すすむ" in html
    assert "本文へ移動" not in html
