"""A form version's definition is parsed once per process; parsing never imports definition."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from machi.procedures import services
from machi.procedures.formengine import cache, definition, render_step, validate_answers
from machi.procedures.models import FormVersion

FORMENGINE = Path(definition.__file__).parent


@pytest.fixture
def parse_calls(monkeypatch):
    calls: list[int] = []
    real = definition.parse_steps

    def counting(data):
        calls.append(1)
        return real(data)

    cache.clear()
    monkeypatch.setattr(definition, "parse_steps", counting)
    yield calls
    cache.clear()


@pytest.mark.django_db
def test_rendering_and_validating_twice_parses_once(simple_procedure, parse_calls):
    version = FormVersion.objects.get(procedure=simple_procedure, number=1)
    for _ in range(2):
        fresh = FormVersion.objects.get(pk=version.pk)  # a new row object each time
        form = fresh.form
        render_step(form, "main", {}, {}, language="ja")
        validate_answers(form, {"main": {"name": "太郎", "copies": "1"}}, step_key="main")
    assert len(parse_calls) == 1


@pytest.mark.django_db
def test_saving_steps_reuses_the_parsed_form(simple_procedure, parse_calls):
    started = services.application_start(procedure=simple_procedure, applicant=None)
    for copies in ("1", "2", "3"):
        services.application_save_step(
            application=started.application,
            step_key="main",
            step_answers={"name": "太郎", "copies": copies},
        )
    assert len(parse_calls) == 1


@pytest.mark.django_db
def test_a_replaced_draft_is_parsed_again(simple_procedure, kakogawa_admin, parse_calls):
    from machi.procedures.tests.conftest import SIMPLE_FORM

    draft = services.form_version_save_draft(
        actor=kakogawa_admin, procedure=simple_procedure, definition=SIMPLE_FORM
    )
    first = FormVersion.objects.get(pk=draft.pk).form
    changed = {**SIMPLE_FORM, "steps": SIMPLE_FORM["steps"][:1]}
    services.form_version_save_draft(
        actor=kakogawa_admin, procedure=simple_procedure, definition=changed
    )
    second = FormVersion.objects.get(pk=draft.pk).form
    assert [s.key for s in first.steps] == ["main", "confirm"]
    assert [s.key for s in second.steps] == ["main"]


def _formengine_imports(module: str) -> set[str]:
    tree = ast.parse((FORMENGINE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.rsplit(".", 1)[-1])
    return found


def test_parsing_does_not_import_definition():
    assert "definition" not in _formengine_imports("parsing")
    assert "definition" not in _formengine_imports("fields")
    assert "parsing" in _formengine_imports("definition")
