"""Forms of the case pages (staff console). Every form works without JavaScript.

A package split along the old module's sections; every form stays importable from
``machi.cases.forms``.
"""

from __future__ import annotations

from machi.cases.forms._base import DATE_ERROR, Choices, LockedForm, PlainSelect
from machi.cases.forms.case import (
    AssignForm,
    BulkActionForm,
    CompleteForm,
    CorrectionForm,
    DecisionForm,
    NoteForm,
    QueueFilterForm,
    RouteSettingsForm,
    RouteStepForm,
    SendToApprovalForm,
    StartReviewForm,
    StatsFilterForm,
    WithdrawForm,
)
from machi.cases.forms.intake import (
    CounterConfirmForm,
    CounterStartForm,
    JapaneseDateField,
    PaperConfirmForm,
    PaperStartForm,
)

__all__ = [
    "DATE_ERROR",
    "AssignForm",
    "BulkActionForm",
    "Choices",
    "CompleteForm",
    "CorrectionForm",
    "CounterConfirmForm",
    "CounterStartForm",
    "DecisionForm",
    "JapaneseDateField",
    "LockedForm",
    "NoteForm",
    "PaperConfirmForm",
    "PaperStartForm",
    "PlainSelect",
    "QueueFilterForm",
    "RouteSettingsForm",
    "RouteStepForm",
    "SendToApprovalForm",
    "StartReviewForm",
    "StatsFilterForm",
    "WithdrawForm",
]
