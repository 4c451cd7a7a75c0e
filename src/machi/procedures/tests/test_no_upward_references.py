"""procedures sits below cases, documents and payments: its pages name none of them.

Higher apps contribute to procedures' pages through ``procedures.extensions`` (sections); a
template tag library or URL name of theirs in a procedures template, or a ``reverse()`` into
them from a procedures view, would be a hidden upward dependency.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PROCEDURES = Path(__file__).resolve().parents[1]
HIGHER_APPS = ("cases", "documents", "payments")
HIGHER_NAMESPACES = {
    "cases",
    "cases-staff",
    "documents",
    "documents-staff",
    "payments",
    "payments-staff",
}
HIGHER_TAG_LIBRARIES = {"machi_documents", "payment_tags"}

TEMPLATES = sorted((PROCEDURES / "templates").rglob("*.html"))
VIEW_MODULES = sorted(
    p
    for p in PROCEDURES.glob("*.py")
    if p.name.endswith(("views.py", "urls.py", "forms.py")) or p.name == "extensions.py"
)


def test_the_scan_sees_the_pages():
    names = {p.relative_to(PROCEDURES / "templates").as_posix() for p in TEMPLATES}
    assert {"procedures/apply/my_detail.html", "procedures/apply/review.html"} <= names
    assert {p.name for p in VIEW_MODULES} >= {"apply_views.py", "staff_views.py", "urls.py"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_load_no_higher_tags_and_link_no_higher_urls(path: Path):
    text = path.read_text(encoding="utf-8")
    loaded = {lib for load in re.findall(r"{%\s*load\s+([^%]+)%}", text) for lib in load.split()}
    namespaces = set(re.findall(r"{%\s*url\s+['\"]([\w-]+):", text))
    includes = set(re.findall(r"{%\s*(?:include|extends)\s+['\"](\w+)/", text))
    assert loaded & HIGHER_TAG_LIBRARIES == set()
    assert namespaces & HIGHER_NAMESPACES == set()
    assert includes & set(HIGHER_APPS) == set()


@pytest.mark.parametrize("path", VIEW_MODULES, ids=lambda p: p.name)
def test_views_reverse_and_import_nothing_higher(path: Path):
    text = path.read_text(encoding="utf-8")
    reversed_names = set(re.findall(r"(?:reverse|redirect)\(\s*['\"]([\w-]+):", text))
    assert reversed_names & HIGHER_NAMESPACES == set()
    assert re.findall(rf"machi\.({'|'.join(HIGHER_APPS)})\b", text) == []
