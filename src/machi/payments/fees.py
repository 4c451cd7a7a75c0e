"""Fee computation (手数料の計算): fixed or per copy, with exemptions (免除).

Answers are ``{step_key: {field_key: value}}``; a rule names fields by ``"step.field"`` paths.
Works on the cleaned answers of a submitted application and on a draft's raw answers alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from machi.payments.models import FeeKind, FeeRule

if TYPE_CHECKING:
    from machi.procedures.selectors import Application, Procedure

DEFAULT_COPIES_KEY = "copies"
_TRUE_STRINGS = {"1", "true", "on", "yes", "はい"}
_FALSE_STRINGS = {"", "0", "false", "off", "no", "いいえ"}


@dataclass(frozen=True)
class FeeLine:
    """One line of the fee statement (明細)."""

    label: str
    unit_yen: int
    quantity: int
    amount_yen: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "unit_yen": self.unit_yen,
            "quantity": self.quantity,
            "amount_yen": self.amount_yen,
        }


@dataclass(frozen=True)
class FeeQuote:
    """What an application costs: ``amount_yen`` is 0 when exempt (``exempt_reason`` says why)."""

    amount_yen: int
    lines: list[FeeLine] = field(default_factory=list)
    exempt_reason: str = ""

    @property
    def is_free(self) -> bool:
        return self.amount_yen == 0


def answer_at(answers: Mapping[str, Any], path: str) -> Any:
    """The answer at ``"step.field"`` (``"*.field"``: the first step that has it), or None."""
    step_key, _sep, field_key = path.partition(".")
    if not field_key:
        return None
    if step_key == "*":
        for step in answers.values():
            if isinstance(step, Mapping) and field_key in step:
                return step[field_key]
        return None
    step = answers.get(step_key)
    return step.get(field_key) if isinstance(step, Mapping) else None


def _matches(actual: Any, expected: Any) -> bool:
    """Whether an answer equals a rule's value, however the form engine typed it."""
    if actual is None:
        return False
    if isinstance(actual, list | tuple):
        return any(_matches(item, expected) for item in actual)
    if isinstance(expected, bool):
        if isinstance(actual, bool):
            return actual is expected
        text = str(actual).strip().lower()
        return text in _TRUE_STRINGS if expected else text in _FALSE_STRINGS
    if actual == expected:
        return True
    return str(actual).strip() == str(expected).strip()


def _copies(answers: Mapping[str, Any], path: str, maximum: int) -> int:
    value = answer_at(answers, path)
    try:
        copies = int(str(value).strip()) if value not in (None, "") else 1
    except ValueError:
        copies = 1
    return min(max(copies, 1), maximum)


def _exemption(answers: Mapping[str, Any], exemptions: Any) -> str:
    if not isinstance(exemptions, list):
        return ""
    for exemption in exemptions:
        if not isinstance(exemption, Mapping) or "field" not in exemption:
            continue
        if _matches(answer_at(answers, str(exemption["field"])), exemption.get("equals", True)):
            return str(exemption.get("reason") or _("手数料の免除"))
    return ""


def _rule_for(procedure: Procedure) -> FeeRule | None:
    return FeeRule.objects.filter(procedure_id=procedure.pk).first()


def quote_for(procedure: Procedure, answers: Mapping[str, Any]) -> FeeQuote:
    """The fee of ``procedure`` for these answers."""
    rule = _rule_for(procedure)
    label = (rule.label if rule else "") or procedure.name
    if rule is not None:
        unit, per_copy = rule.amount_yen, rule.kind == FeeKind.PER_COPY
        copies_path = rule.copies_field or f"*.{DEFAULT_COPIES_KEY}"
        maximum, exemptions = rule.max_copies or 100, rule.exemptions
    else:
        unit, per_copy = procedure.fee_yen, procedure.fee_per_copy
        copies_path, maximum, exemptions = f"*.{DEFAULT_COPIES_KEY}", 100, []
    if unit == 0:
        return FeeQuote(0, [])
    quantity = _copies(answers, copies_path, maximum) if per_copy else 1
    lines = [FeeLine(label, unit, quantity, unit * quantity)]
    total = unit * quantity
    reason = _exemption(answers, exemptions)
    if reason:
        lines.append(FeeLine(_("免除（%(reason)s）") % {"reason": reason}, -total, 1, -total))
        return FeeQuote(0, lines, reason)
    return FeeQuote(total, lines)


def fee_quote(application: Application, *, answers: Mapping[str, Any] | None = None) -> FeeQuote:
    """The fee of an application: from ``answers`` if given, else cleaned (or draft) answers."""
    if answers is None:
        answers = application.cleaned or application.answers or {}
    return quote_for(application.procedure, answers)
