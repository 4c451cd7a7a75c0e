"""Forms of the queue, the case page, approval routes and the numbers page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from machi.cases.forms._base import DATE_ERROR, Choices, LockedForm, PlainSelect, _set_choices
from machi.cases.models import ApprovalDecision
from machi.cases.selectors import QUEUE_STATUSES, QueueFilter
from machi.cases.services import RouteStepSpec
from machi.core.forms import AccessibleForm
from machi.core.models import Role
from machi.procedures.states import ApplicationOutcome, ApplicationStatus, Channel

# --- Queue -------------------------------------------------------------------------------------

SORT_CHOICES: Choices = [
    ("due", _("期限の近い順")),
    ("-due", _("期限の遠い順")),
    ("submitted", _("申請の古い順")),
    ("-submitted", _("申請の新しい順")),
]
AGE_CHOICES: Choices = [
    ("", _("指定なし")),
    ("3", _("3日以上前")),
    ("7", _("7日以上前")),
    ("30", _("30日以上前")),
    ("90", _("90日以上前")),
]


class QueueFilterForm(AccessibleForm):
    """Filters of the queue (GET)."""

    municipality = forms.ChoiceField(label=_("団体"), required=False, widget=PlainSelect)
    department = forms.ChoiceField(label=_("担当課"), required=False, widget=PlainSelect)
    status = forms.ChoiceField(label=_("状態"), required=False, widget=PlainSelect)
    procedure = forms.ChoiceField(label=_("手続"), required=False, widget=PlainSelect)
    assignee = forms.ChoiceField(label=_("担当者"), required=False, widget=PlainSelect)
    channel = forms.ChoiceField(label=_("受付方法"), required=False, widget=PlainSelect)
    age = forms.ChoiceField(
        label=_("経過日数"), required=False, choices=AGE_CHOICES, widget=PlainSelect
    )
    overdue = forms.BooleanField(label=_("期限超過のみ"), required=False)
    sort = forms.ChoiceField(
        label=_("並び順"), required=False, choices=SORT_CHOICES, widget=PlainSelect
    )

    def __init__(
        self,
        *args: Any,
        municipalities: Choices,
        departments: Choices,
        procedures: Choices,
        assignees: Choices,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "municipality", [("", _("すべて")), *municipalities])
        _set_choices(self, "department", [("all", _("すべての課")), *departments])
        statuses: Choices = [
            ("open", _("処理中（すべて）")),
            *[(s, str(ApplicationStatus(s).label)) for s in QUEUE_STATUSES],
            ("closed", _("終了（完了・取下げ）")),
            ("all", _("すべて")),
        ]
        _set_choices(self, "status", statuses)
        _set_choices(self, "procedure", [("", _("すべて")), *procedures])
        _set_choices(
            self,
            "assignee",
            [("", _("すべて")), ("me", _("自分")), ("none", _("未割当")), *assignees],
        )
        _set_choices(
            self, "channel", [("", _("すべて")), *[(c.value, str(c.label)) for c in Channel]]
        )

    def to_filter(self, *, default_department: int | None) -> QueueFilter:
        """The selector filter; an absent ``department`` means the handler's own department."""
        data = self.cleaned_data if self.is_valid() else {}
        department = data.get("department") or ""
        if department == "all":
            department_id = None
        elif department.isdigit():
            department_id = int(department)
        else:
            department_id = default_department
        procedure = data.get("procedure") or ""
        age = data.get("age") or ""
        return QueueFilter(
            municipality_code=data.get("municipality") or "",
            department_id=department_id,
            status=data.get("status") or "open",
            procedure_id=int(procedure) if procedure.isdigit() else None,
            assignee=data.get("assignee") or "",
            channel=data.get("channel") or "",
            min_age_days=int(age) if age.isdigit() else None,
            overdue=bool(data.get("overdue")),
            sort=data.get("sort") or "due",
        )


BULK_ACTIONS: Choices = [
    ("assign_me", _("自分に割り当てる")),
    ("assign", _("選んだ職員に割り当てる")),
    ("unassign", _("割り当てを外す")),
    ("start_review", _("審査中にする")),
]


class BulkActionForm(AccessibleForm):
    """Bulk action on the ticked rows of the queue (POST)."""

    action = forms.ChoiceField(label=_("選んだ案件を"), choices=BULK_ACTIONS, widget=PlainSelect)
    assignee = forms.ChoiceField(label=_("割り当てる職員"), required=False, widget=PlainSelect)
    cases = forms.TypedMultipleChoiceField(
        label=_("案件"), coerce=int, widget=forms.MultipleHiddenInput, required=True
    )

    def __init__(self, *args: Any, assignees: Choices, case_ids: list[int], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _set_choices(self, "assignee", [("", _("選んでください")), *assignees])
        _set_choices(self, "cases", [(str(i), str(i)) for i in case_ids])
        self.fields["cases"].error_messages["required"] = _("案件を1件以上選んでください。")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "assign" and not data.get("assignee"):
            self.add_error("assignee", _("割り当てる職員を選んでください。"))
        return data


# --- Case page ---------------------------------------------------------------------------------


class StartReviewForm(LockedForm):
    note = forms.CharField(
        label=_("申請者へのお知らせ（任意）"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CorrectionForm(LockedForm):
    message = forms.CharField(
        label=_("補正の内容（申請者に送られます）"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("補正の内容を入力してください。")},
    )
    targets = forms.MultipleChoiceField(
        label=_("修正してもらう項目"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    deadline = forms.DateField(
        label=_("期限"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": _("期限を入力してください。"), "invalid": DATE_ERROR},
    )

    def __init__(self, *args: Any, field_choices: Choices, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("deadline", timezone.localdate() + dt.timedelta(days=14))
        super().__init__(*args, **kwargs)
        _set_choices(self, "targets", field_choices)


OUTCOME_CHOICES: Choices = [(o.value, str(o.label)) for o in ApplicationOutcome]


class SendToApprovalForm(LockedForm):
    proposed_outcome = forms.ChoiceField(
        label=_("起案する結果"),
        choices=OUTCOME_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("起案する結果を選んでください。")},
    )
    comment = forms.CharField(
        label=_("起案の理由・審査の結果"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CompleteForm(LockedForm):
    outcome = forms.ChoiceField(
        label=_("結果"),
        widget=forms.RadioSelect,
        error_messages={"required": _("結果を選んでください。")},
    )
    note = forms.CharField(
        label=_("申請者へのお知らせ（任意）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, outcomes: tuple[str, ...], **kwargs: Any) -> None:
        if outcomes:
            kwargs.setdefault("initial", {}).setdefault("outcome", outcomes[0])
        super().__init__(*args, **kwargs)
        _set_choices(self, "outcome", [(o, str(ApplicationOutcome(o).label)) for o in outcomes])


class WithdrawForm(LockedForm):
    reason = forms.CharField(
        label=_("取下げの申し出（日時・方法・理由）"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("取下げの理由・申し出の方法を入力してください。")},
    )


class AssignForm(AccessibleForm):
    assignee = forms.ChoiceField(label=_("担当者"), required=False)

    def __init__(self, *args: Any, assignees: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "assignee", [("", _("未割当")), *assignees])


class NoteForm(AccessibleForm):
    text = forms.CharField(
        label=_("メモ（職員だけが見られます）"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("メモを入力してください。")},
    )


DECISION_CHOICES: Choices = [(d.value, str(d.label)) for d in ApprovalDecision]


class DecisionForm(LockedForm):
    """One approval step's decision; ``acting_for`` (代決) when the user decides for someone."""

    step = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        label=_("判断"),
        choices=DECISION_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("判断を選んでください。")},
    )
    comment = forms.CharField(
        label=_("意見（差戻し・否決のときは必須）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    acting_for = forms.ChoiceField(
        label=_("代決（不在の決裁者に代わって判断する）"), required=False
    )

    def __init__(self, *args: Any, candidates: Choices, delegate_only: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        blank = _("代決しない（自分が決裁者）") if not delegate_only else _("選んでください")
        _set_choices(self, "acting_for", [("", blank), *candidates])
        self.delegate_only = delegate_only
        if not candidates:
            del self.fields["acting_for"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.delegate_only and "acting_for" in self.fields and not data.get("acting_for"):
            self.add_error("acting_for", _("代わりに判断する決裁者を選んでください。"))
        return data


# --- Approval routes ---------------------------------------------------------------------------

ROUTE_ROLE_CHOICES: Choices = [
    ("", _("指定しない（指名した職員）")),
    (Role.APPROVER.value, str(Role.APPROVER.label)),
    (Role.MUNICIPALITY_ADMIN.value, str(Role.MUNICIPALITY_ADMIN.label)),
    (Role.CASE_HANDLER.value, str(Role.CASE_HANDLER.label)),
]


class RouteSettingsForm(AccessibleForm):
    approval_required = forms.BooleanField(label=_("この手続の完了には決裁が必要"), required=False)


class RouteStepForm(AccessibleForm):
    position = forms.IntegerField(
        label=_("順番"),
        min_value=1,
        max_value=20,
        help_text=_("同じ順番の段階は並行して決裁されます（合議）。すべての承認が必要です。"),
        error_messages={"required": _("順番を入力してください。")},
    )
    label = forms.CharField(
        label=_("名称（例: 係長決裁）"),
        max_length=60,
        error_messages={"required": _("名称を入力してください。")},
    )
    role = forms.ChoiceField(label=_("決裁できる役割"), required=False, choices=ROUTE_ROLE_CHOICES)
    department = forms.ChoiceField(label=_("課（役割を課で絞る）"), required=False)
    user = forms.ChoiceField(label=_("決裁者を指名"), required=False)

    def __init__(self, *args: Any, departments: Choices, users: Choices, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _set_choices(self, "department", [("", _("指定しない")), *departments])
        _set_choices(self, "user", [("", _("指定しない")), *users])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("role") and not data.get("user"):
            self.add_error("role", _("役割か決裁者のどちらかを指定してください。"))
        return data

    def spec(self) -> RouteStepSpec:
        data = self.cleaned_data
        return RouteStepSpec(
            position=data["position"],
            label=data["label"],
            role=data.get("role") or "",
            department_id=int(data["department"]) if data.get("department") else None,
            user_id=int(data["user"]) if data.get("user") else None,
        )


class StatsFilterForm(AccessibleForm):
    municipality = forms.ChoiceField(label=_("団体"), required=False)
    since = forms.DateField(
        label=_("申請日（から）"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_ERROR},
    )
    until = forms.DateField(
        label=_("申請日（まで）"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_ERROR},
    )

    def __init__(self, *args: Any, municipalities: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "municipality", [("", _("すべて")), *municipalities])
