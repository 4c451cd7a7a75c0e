"""Applications from the resident side: start, resume, save steps (drafts) and submit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from machi.core.models import User
from machi.core.services import audit_record
from machi.procedures.formengine import (
    FormResult,
    canonical_bytes,
    validate_answers,
)
from machi.procedures.formengine.prune import prune_answers, prune_step
from machi.procedures.models import (
    Application,
    ApplicationStatus,
    AssuranceLevel,
    Channel,
    Procedure,
    ReceiptCounter,
)
from machi.procedures.services import hooks
from machi.procedures.services.attachments import file_lookup_for
from machi.procedures.services.catalog import _definition, current_form_version
from machi.procedures.services.transitions import _notify_applicant, _status_change

# Session key holding the ids of anonymous applications started in this browser session.
SESSION_APPLICATIONS_KEY = "machi_applications"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StartedApplication:
    application: Application
    resume_token: str | None


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


def _next_receipt_number(municipality_code: str) -> str:
    year = timezone.localdate().year
    counter, _created = ReceiptCounter.objects.select_for_update().get_or_create(
        municipality_id=municipality_code, year=year
    )
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return f"{year}-{counter.last_number:06d}"


@dataclass(frozen=True)
class CardSignature:
    """A signature over ``submission_signing_bytes`` made with the card's signing certificate."""

    signature_b64: str
    certificate_pem: str


def submission_signing_bytes(application: Application, cleaned: dict[str, Any]) -> bytes:
    """The exact bytes a card signature must cover: canonical form incl. the form version id."""
    return canonical_bytes(application.form_version.version_id, cleaned)


def signing_bytes_for_answers(
    *, procedure: Procedure, answers: dict[str, Any], today: date | None = None
) -> tuple[str, bytes]:
    """Validate ``answers`` against the current form and return (version id, bytes to sign)."""
    version = current_form_version(procedure)
    if version is None:
        raise NotFound(_("この手続の申請様式はまだ公開されていません。"))
    result = validate_answers(version.form, answers, today=today)
    if result.errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=result.errors)
    return version.version_id, canonical_bytes(version.version_id, result.cleaned)


@transaction.atomic
def application_submit(
    *,
    application: Application,
    actor: User | None,
    idempotency_key: str | None = None,
    signature: CardSignature | None = None,
    file_lookup: Any = None,
    today: date | None = None,
) -> Application:
    """Validate every step, check the card signature where required, and submit.

    Idempotent: submitting the same application (or the same idempotency key) twice returns
    the first submission and creates nothing new. Attachments are checked against this
    application's own files (``file_lookup`` is ignored: the service derives its own).
    """
    if idempotency_key:
        earlier = Application.objects.filter(
            municipality_id=application.municipality_id,
            idempotency_key=idempotency_key,
            status__in=[s for s in ApplicationStatus.values if s != ApplicationStatus.DRAFT],
        ).first()
        if earlier is not None:
            return earlier
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.status != ApplicationStatus.DRAFT:
        return locked  # a double click or retried request: the first submission stands
    definition = _definition(locked)
    locked.answers = prune_answers(definition, locked.answers)
    result = validate_answers(
        definition, locked.answers, file_lookup=file_lookup_for(locked), today=today
    )
    if result.errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=result.errors)
    # At the counter the clerk checks identity in person, and a paper application carries its
    # handwritten signature: the card signature is required for remote channels only.
    remote = locked.channel in (Channel.ONLINE, Channel.API)
    if remote and locked.procedure.assurance_level == AssuranceLevel.CARD_SIGNATURE:
        if signature is None:
            raise InvalidInput(
                _("この手続はマイナンバーカードによる電子署名が必要です。"),
                code="signature_required",
                field_errors={"signature": [_("電子署名をしてください。")]},
            )
        _verify_and_record_signature(locked, result.cleaned, signature, actor)
    hooks.run_submission_checks(locked, result.cleaned)
    hooks.run_transition_checks(locked, ApplicationStatus.SUBMITTED, "")
    locked.cleaned = result.cleaned
    locked.receipt_number = _next_receipt_number(locked.municipality_id)
    locked.submitted_at = timezone.now()
    locked.idempotency_key = idempotency_key or None
    locked.resume_token_hash = ""
    _status_change(locked, ApplicationStatus.SUBMITTED, actor=actor)
    locked.lock_version += 1
    locked.save()
    hooks.status_changed(locked, ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED)
    audit_record(
        action="application.submit",
        actor=actor,
        municipality_code=locked.municipality_id,
        target_type="application",
        target_id=str(locked.pk),
        personal_data=True,
        purpose="申請の受付",
        detail={"receipt_number": locked.receipt_number, "channel": locked.channel},
    )
    _notify_applicant(
        locked,
        lambda: (
            _("【%(municipality)s】申請を受け付けました（受付番号 %(receipt)s）")
            % {"municipality": locked.municipality.name, "receipt": locked.receipt_number},
            _(
                "%(procedure)s の申請を受け付けました。\n受付番号: %(receipt)s\n"
                "状況は「わたしの申請」で確認できます。"
            )
            % {"procedure": locked.procedure.name, "receipt": locked.receipt_number},
        ),
    )
    return locked


def _verify_and_record_signature(
    application: Application, cleaned: dict[str, Any], signature: CardSignature, actor: User | None
) -> None:
    import base64
    import binascii

    from machi.identity.services import signature_evidence_record
    from machi.identity.verification import verify_card_signature

    try:
        raw = base64.b64decode(signature.signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(
            _("署名の形式が正しくありません（Base64）。"),
            code="signature_malformed",
            field_errors={"signature": [_("署名の形式が正しくありません（Base64）。")]},
        ) from exc
    verified = verify_card_signature(
        data=submission_signing_bytes(application, cleaned),
        signature=raw,
        certificate_pem=signature.certificate_pem,
        purpose="sign",
    )
    evidence = signature_evidence_record(
        verified=verified, reference=str(application.pk), actor=actor
    )
    application.signature_evidence_id = str(evidence.pk)
    application.signer_name = verified.name or ""


@dataclass(frozen=True)
class Submission:
    """The result of a one-request submission: the application, and whether it is new."""

    application: Application
    created: bool


def _submitted_with_key(municipality_code: str, idempotency_key: str) -> Application | None:
    return (
        Application.objects.filter(
            municipality_id=municipality_code, idempotency_key=idempotency_key
        )
        .exclude(status=ApplicationStatus.DRAFT)
        .first()
    )


def _replay(earlier: Application, applicant: User | None) -> Submission:
    if earlier.applicant_id and earlier.applicant_id != getattr(applicant, "pk", None):
        raise Forbidden(_("この冪等キーは別の申請で使われています。"))
    return Submission(earlier, created=False)


def application_submit_complete(
    *,
    procedure: Procedure,
    applicant: User | None,
    answers: dict[str, Any],
    channel: str = Channel.API,
    contact_email: str = "",
    idempotency_key: str | None = None,
    signature: CardSignature | None = None,
    today: date | None = None,
) -> Submission:
    """Start, fill and submit an application in one transaction (the JSON API).

    A refused submission leaves nothing behind (no draft). With an ``idempotency_key`` the
    same key always answers with the first application (``created=False``), also when many
    requests race: the key is written on the new row first, so a second request waits on the
    unique index until the first commits, then rolls back its own attempt and answers with
    the first one.
    """
    if idempotency_key:
        earlier = _submitted_with_key(procedure.municipality_id, idempotency_key)
        if earlier is not None:
            return _replay(earlier, applicant)
    try:
        with transaction.atomic():
            started = application_start(
                procedure=procedure,
                applicant=applicant,
                channel=channel,
                contact_email=contact_email,
            )
            application = started.application
            application.answers = prune_answers(_definition(application), answers)
            application.idempotency_key = idempotency_key or None
            application.save(update_fields=["answers", "idempotency_key", "updated_at"])
            submitted = application_submit(
                application=application,
                actor=applicant,
                idempotency_key=idempotency_key,
                signature=signature,
                today=today,
            )
    except IntegrityError:
        earlier = (
            _submitted_with_key(procedure.municipality_id, idempotency_key)
            if idempotency_key
            else None
        )
        if earlier is None:
            raise
        return _replay(earlier, applicant)
    return Submission(submitted, created=True)
