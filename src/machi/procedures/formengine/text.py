"""Localised text in definitions: ``{"ja": …, "en": …, "ja-easy": …}`` with fallback to ja."""

from __future__ import annotations

from collections.abc import Mapping

# The languages a definition may carry; Japanese is mandatory, the others fall back to it.
LANGUAGES: tuple[str, ...] = ("ja", "en", "ja-easy")

LocalizedText = Mapping[str, str]


def localize(text: LocalizedText | None, language: str) -> str:
    """The text in ``language``, else its base language (``en-us`` → ``en``), else Japanese."""
    if not text:
        return ""
    if language in text:
        return text[language]
    base = language.split("-")[0].split("_")[0]
    if base in text and base != language:
        return text[base]
    return text.get("ja", "")
