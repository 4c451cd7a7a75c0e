"""Applications from the resident side: start, resume, save steps (drafts) and submit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from machi.core.models import User
from machi.core.services import audit_record
from machi.procedures.formengine import (
    FormResult,
    validate_answers,
)
from machi.procedures.formengine.prune import prune_answers, prune_step
from machi.procedures.models import (
    Application,
    ApplicationStatus,
    AssuranceLevel,
    Channel,
    FormVersion,
    Procedure,
)
from machi.procedures.services.attachments import file_lookup_for
from machi.procedures.services.catalog import _definition, current_form_version

# Session key holding the ids of anonymous applications started in this browser session.
SESSION_APPLICATIONS_KEY = "machi_applications"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StartedApplication:
    application: Application
    resume_token: str | None


def check_can_start(*, procedure: Procedure, applicant: User | None, channel: str) -> FormVersion:
    """The form version a new application of ``procedure`` starts with, or why it cannot start."""
    remote = channel in (Channel.ONLINE, Channel.API)
    if remote and not procedure.is_published:
        raise NotFound(_("この手続は現在オンラインで受け付けていません。"))
    if remote and not procedure.offers_online:
        raise InvalidInput(_("この手続はオンラインで申請できません。"), code="online_not_offered")
    if remote and procedure.assurance_level != AssuranceLevel.NONE and applicant is None:
        raise Forbidden(_("この手続はサインインしてから申請してください。"))
    version = current_form_version(procedure)
    if version is None:
        raise NotFound(_("この手続の申請様式はまだ公開されていません。"))
    return version


@transaction.atomic
def application_start(
    *,
    procedure: Procedure,
    applicant: User | None,
    channel: str = Channel.ONLINE,
    contact_email: str = "",
    actor: User | None = None,
    language: str = "",
) -> StartedApplication:
    """Start a draft with the procedure's current form version.

    Anonymous drafts get a resume token (shown once, stored hashed) for the resume link.
    """
    version = check_can_start(procedure=procedure, applicant=applicant, channel=channel)
    token = None if applicant is not None else secrets.token_urlsafe(24)
    application = Application.objects.create(
        municipality_id=procedure.municipality_id,
        procedure=procedure,
        form_version=version,
        applicant=applicant,
        contact_email=contact_email or (applicant.email if applicant else ""),
        channel=channel,
        current_step=version.form.steps[0].key,
        resume_token_hash=_hash_token(token) if token else "",
        fee_yen=procedure.fee_yen,
        language=language or translation.get_language() or settings.LANGUAGE_CODE,
    )
    audit_record(
        action="application.start",
        actor=actor or applicant,
        municipality_code=procedure.municipality_id,
        target_type="application",
        target_id=str(application.pk),
        detail={"procedure": procedure.slug, "channel": channel},
    )
    return StartedApplication(application, token)


def application_resume(*, token: str) -> Application:
    """The anonymous draft a resume link points to.

    NotFound when unknown, submitted, or untouched for ``MACHI_RESUME_LINK_DAYS`` days (the
    link expires then: the draft holds personal data and the link is its only key).
    """
    application = Application.objects.filter(
        resume_token_hash=_hash_token(token), status=ApplicationStatus.DRAFT
    ).first()
    expires = timezone.now() - timedelta(days=settings.MACHI_RESUME_LINK_DAYS)
    if application is None or application.updated_at < expires:
        raise NotFound(_("再開用のリンクが無効です。期限切れか、すでに申請済みです。"))
    return application


@transaction.atomic
def application_save_step(
    *,
    application: Application,
    step_key: str,
    step_answers: dict[str, Any],
    file_lookup: Any = None,
    today: date | None = None,
) -> FormResult:
    """Save one step of a draft (even when invalid) and return its validation result.

    Only the fields the form version defines are kept (see ``formengine.prune``). The
    attachment checks use this application's own files (``file_lookup`` is ignored: kept
    for old callers, the service always derives its own).
    """
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.status not in (ApplicationStatus.DRAFT, ApplicationStatus.CORRECTION_REQUESTED):
        raise Conflict(_("この申請はすでに提出されています。"), code="already_submitted")
    definition = _definition(locked)
    pruned = prune_step(definition, step_key, step_answers)  # raises for unknown steps
    locked.answers = {**prune_answers(definition, locked.answers), step_key: pruned}
    locked.current_step = step_key
    locked.lock_version += 1  # the row is locked: no concurrent increment to lose
    locked.save(update_fields=["answers", "current_step", "lock_version", "updated_at"])
    application.answers = locked.answers
    application.current_step = step_key
    application.lock_version = locked.lock_version
    return validate_answers(
        definition,
        locked.answers,
        step_key=step_key,
        file_lookup=file_lookup_for(locked),
        today=today,
    )
