"""Form engine: forms as versioned JSON definitions, validated and rendered on the server.

Typical step view (no JavaScript needed)::

    definition = FormDefinition.from_json(version.definition)
    if request.method == "POST":
        file_ids = {name: [store(f) for f in request.FILES.getlist(name)]
                    for name in request.FILES if definition.field_at(name)}
        draft[step] = answers_from_post(definition, request.POST, step_key=step,
                                        file_ids=file_ids)   # applies add/remove buttons
        action = pending_action(request.POST)
        if action is not None:                 # add/remove item, remove file, 住所を検索
            if action.kind == "postal":
                draft, message = apply_postal_lookup(definition, draft, action.path)
            # save the draft and show the same step again
        else:
            result = validate_answers(definition, draft, step_key=step, file_lookup=lookup)
            # errors → show again with an error_items() summary; else on to the next step
    html = render_step(definition, step, draft, errors, language=get_language())

Path and POST naming rules: see :mod:`.definition` and :mod:`.post`.
"""

from __future__ import annotations

from pathlib import Path

from machi.procedures.formengine.canonical import canonical_bytes
from machi.procedures.formengine.conditions import Condition
from machi.procedures.formengine.definition import (
    FIELD_TYPES,
    DefinitionError,
    Field,
    FileSpec,
    FormDefinition,
    Option,
    Step,
    definition_path,
    input_id,
)
from machi.procedures.formengine.diff import definition_diff
from machi.procedures.formengine.post import (
    FormAction,
    action_name,
    answers_from_post,
    apply_postal_lookup,
    pending_action,
)
from machi.procedures.formengine.render import ErrorItem, error_items, render_step
from machi.procedures.formengine.summary import SummaryRow, display_value, summary
from machi.procedures.formengine.text import LANGUAGES, localize
from machi.procedures.formengine.validation import FileInfo, FormResult, validate_answers

EXAMPLES_DIR = Path(__file__).parent / "examples"

__all__ = [
    "EXAMPLES_DIR",
    "FIELD_TYPES",
    "LANGUAGES",
    "Condition",
    "DefinitionError",
    "ErrorItem",
    "Field",
    "FileInfo",
    "FileSpec",
    "FormAction",
    "FormDefinition",
    "FormResult",
    "Option",
    "Step",
    "SummaryRow",
    "action_name",
    "answers_from_post",
    "apply_postal_lookup",
    "canonical_bytes",
    "definition_diff",
    "definition_path",
    "display_value",
    "error_items",
    "input_id",
    "localize",
    "pending_action",
    "render_step",
    "summary",
    "validate_answers",
]
