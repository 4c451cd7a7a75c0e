"""Drafts (下書き): resume the open draft instead of starting another one, and delete a draft.

Every 「オンラインで申請する」 click used to make a new draft, and drafts could not be deleted, so
residents collected abandoned drafts full of personal data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict, NotFound
from machi.core.models import User
from machi.core.services import audit_record
from machi.files.selectors import file_get
from machi.files.services import file_delete
from machi.procedures.formengine import Field
from machi.procedures.models import Application, ApplicationStatus, Channel, Procedure
from machi.procedures.services.applications import StartedApplication, application_start
from machi.procedures.services.attachments import _attachment_purpose
from machi.procedures.services.catalog import _definition, current_form_version


def _open_draft(
    *, procedure: Procedure, applicant: User | None, session_ids: list[str]
) -> Application | None:
    """The newest draft of ``procedure`` the resident may resume, on the current form version.

    Signed-in residents: their own draft. Anonymous ones: a draft this browser session started.
    A draft on an older form version is not resumed (it could no longer be submitted as is).
    """
    version = current_form_version(procedure)
    if version is None:
        return None
    drafts = Application.objects.filter(
        procedure=procedure, status=ApplicationStatus.DRAFT, form_version=version
    )
    if applicant is not None:
        drafts = drafts.filter(applicant=applicant)
    else:
        drafts = drafts.filter(applicant__isnull=True, pk__in=_uuids(session_ids))
    return drafts.order_by("-updated_at").first()


def _uuids(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(uuid.UUID(str(value))))
        except ValueError:
            continue
    return out


def application_start_or_resume(
    *,
    procedure: Procedure,
    applicant: User | None,
    session_ids: list[str],
    language: str = "",
) -> tuple[StartedApplication, bool]:
    """The resident's open draft of ``procedure`` if there is one, else a new draft.

    Returns the draft and whether it was resumed. Online channel only (counter intake starts
    its own drafts).
    """
    draft = _open_draft(procedure=procedure, applicant=applicant, session_ids=session_ids)
    if draft is not None:
        return StartedApplication(draft, None), True
    started = application_start(
        procedure=procedure, applicant=applicant, channel=Channel.ONLINE, language=language
    )
    return started, False


def _file_ids(fields: tuple[Field, ...], raw: Any) -> Iterator[str]:
    """File ids in the raw answers of ``fields`` (group items included)."""
    if not isinstance(raw, dict):
        return
    for field in fields:
        value = raw.get(field.key)
        if field.type == "file":
            yield from (str(v) for v in value or [] if isinstance(v, str))
        elif field.type == "group" and isinstance(value, list):
            for item in value:
                yield from _file_ids(field.fields, item)


@transaction.atomic
def application_draft_delete(*, application: Application, actor: User | None) -> None:
    """Delete a draft the resident no longer wants, with its attached files (audited).

    Only drafts: a submitted application is withdrawn (取下げ), never deleted.
    """
    locked = Application.objects.select_for_update().filter(pk=application.pk).first()
    if locked is None:
        raise NotFound(_("下書きが見つかりません。"))
    if locked.status != ApplicationStatus.DRAFT:
        raise Conflict(
            _("提出した申請は削除できません。取り下げる場合は「取り下げ」を選んでください。"),
            code="not_a_draft",
        )
    definition = _definition(locked)
    purpose = _attachment_purpose(locked)
    file_ids = {
        file_id
        for step in definition.steps
        for file_id in _file_ids(step.fields, locked.answers.get(step.key))
    }
    for file_id in sorted(file_ids):
        try:
            stored = file_get(file_id=file_id, municipality_codes={locked.municipality_id})
        except NotFound:
            continue
        if stored.purpose == purpose:  # only this draft's own files
            file_delete(stored_file=stored, actor=actor, purpose=_("下書きの削除"))
    application_id = str(locked.pk)
    try:
        with transaction.atomic():
            locked.delete()
    except ProtectedError as exc:
        raise Conflict(
            _("手数料の支払いが始まっているため、この下書きは削除できません。"),
            code="draft_has_payment",
        ) from exc
    audit_record(
        action="application.draft_delete",
        actor=actor,
        municipality_code=locked.municipality_id,
        target_type="application",
        target_id=application_id,
        detail={"procedure": locked.procedure.slug, "files": len(file_ids)},
    )
