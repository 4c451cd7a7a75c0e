"""Assignment (担当者) and notes, one case or a selection from the queue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
    Case,
    CaseEventKind,
    CaseNote,
)
from machi.cases.services._base import (
    BULK_LIMIT,
    MAX_NOTE_LENGTH,
    _audit,
    _event,
    _require_handler,
)
from machi.core.exceptions import Forbidden, InvalidInput
from machi.core.models import User

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors and services.
    pass


# --- Assignment and notes ----------------------------------------------------------------------


def _check_assignee(assignee: User | None, municipality_code: str) -> None:
    if assignee is not None and not policy.can_handle(assignee, municipality_code):
        raise InvalidInput(
            _("担当者には、この団体の担当者または団体管理者を選んでください。"),
            field_errors={"assignee": [_("この団体の担当者ではありません。")]},
        )


@transaction.atomic
def case_assign(*, case: Case, actor: User, assignee: User | None) -> Case:
    """Assign the case to a handler of its municipality (``None`` to unassign)."""
    _require_handler(actor, case)
    _check_assignee(assignee, case.municipality_id)
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.assignee_id == (assignee.pk if assignee else None):
        return locked
    previous = locked.assignee_id
    locked.assignee = assignee
    locked.save(update_fields=["assignee", "updated_at"])
    detail = {"from": previous, "to": assignee.pk if assignee else None}
    _event(locked, CaseEventKind.ASSIGNED, actor, **detail)
    _audit(locked, "case.assign", actor, detail)
    return locked


@dataclass(frozen=True)
class BulkResult:
    """How many of the chosen cases changed, and how many were left as they were."""

    changed: int
    skipped: int


def _bulk_cases(actor: User, case_ids: Iterable[int]) -> QuerySet[Case]:
    ids = list(dict.fromkeys(int(i) for i in case_ids))[:BULK_LIMIT]
    return Case.objects.filter(pk__in=ids, municipality_id__in=policy.handler_codes(actor))


@transaction.atomic
def case_bulk_assign(*, actor: User, case_ids: Iterable[int], assignee: User | None) -> BulkResult:
    """Assign many cases at once (queue bulk action); cases the actor may not process are skipped."""
    ids = list(case_ids)
    changed = 0
    for case in _bulk_cases(actor, ids).select_for_update():
        if assignee is not None and not policy.can_handle(assignee, case.municipality_id):
            continue
        if case.assignee_id == (assignee.pk if assignee else None):
            continue
        case_assign(case=case, actor=actor, assignee=assignee)
        changed += 1
    return BulkResult(changed=changed, skipped=len(set(ids)) - changed)


@transaction.atomic
def case_note_add(*, case: Case, actor: User, text: str) -> CaseNote:
    """Add an internal note (メモ) to the case; never shown to the applicant."""
    if not policy.can_note(actor, case.municipality_id):
        raise Forbidden(_("この案件にメモを追加する権限がありません。"))
    text = text.strip()
    if not text:
        raise InvalidInput(
            _("メモを入力してください。"), field_errors={"text": [_("メモを入力してください。")]}
        )
    if len(text) > MAX_NOTE_LENGTH:
        message = _("%(max)d文字以内で入力してください。") % {"max": MAX_NOTE_LENGTH}
        raise InvalidInput(message, field_errors={"text": [message]})
    note = CaseNote.objects.create(case=case, author=actor, text=text)
    _event(case, CaseEventKind.NOTE, actor, note=note.pk)
    _audit(case, "case.note", actor, {"note": note.pk})
    return note
