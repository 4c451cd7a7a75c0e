"""Submitting an application (申請の提出): one transaction, about ten statements.

Everything a submission writes is in one transaction, without savepoints: the application, its
status change, whatever the ``application_hooks`` write in the transaction (cases: the case,
its step timing and event), the notification in the outbox and the audit entries, which are
buffered and written in one multi-row INSERT just before commit (``core.services.audit_batch``).
Nothing is sent during the request: the outbox hands delivery on after commit. Rows the code
already holds (procedure, form version, municipality) are not read again, and the receipt
number (受付番号) holds no lock (``receipts``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from machi.core.exceptions import Forbidden, InvalidInput, NotFound
from machi.core.models import User
from machi.core.services import audit_batch, audit_record
from machi.procedures.formengine import canonical_bytes, validate_answers
from machi.procedures.formengine.prune import prune_answers
from machi.procedures.models import (
    Application,
    ApplicationStatus,
    AssuranceLevel,
    Channel,
    Procedure,
    StatusChange,
)
from machi.procedures.services import hooks
from machi.procedures.services.applications import check_can_start
from machi.procedures.services.attachments import file_lookup_for
from machi.procedures.services.catalog import current_form_version
from machi.procedures.services.receipts import next_receipt_number
from machi.procedures.services.transitions import _notify_applicant

SUBMITTED_STATUSES = [s for s in ApplicationStatus.values if s != ApplicationStatus.DRAFT]

# The fields a submission writes on an existing draft (the UPDATE names only these).
_SUBMIT_FIELDS = [
    "status",
    "answers",
    "cleaned",
    "receipt_number",
    "submitted_at",
    "idempotency_key",
    "resume_token_hash",
    "fee_yen",
    "signature_evidence_id",
    "signer_name",
    "lock_version",
    "updated_at",
]


@dataclass(frozen=True)
class CardSignature:
    """A signature over ``submission_signing_bytes`` made with the card's signing certificate."""

    signature_b64: str
    certificate_pem: str


@dataclass(frozen=True)
class Submission:
    """The result of a one-request submission: the application, and whether it is new."""

    application: Application
    created: bool


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


def _verify_and_record_signature(
    application: Application, cleaned: dict[str, Any], signature: CardSignature, actor: User | None
) -> None:
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


def _validated(application: Application, today: date | None) -> dict[str, Any]:
    """The cleaned answers of every step (the stored answers pruned to the form's fields)."""
    definition = application.form_version.form
    application.answers = prune_answers(definition, application.answers)
    result = validate_answers(
        definition, application.answers, file_lookup=file_lookup_for(application), today=today
    )
    if result.errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=result.errors)
    return result.cleaned


def _remember_history(application: Application, changes: list[StatusChange]) -> None:
    # ``application.history.all()`` answers from this list (Django's prefetch cache), so the
    # case hook and the API response need no query for the history just written.
    cache = application.__dict__.setdefault("_prefetched_objects_cache", {})
    cache["history"] = changes


def _finish(
    application: Application,
    cleaned: dict[str, Any],
    *,
    actor: User | None,
    idempotency_key: str | None,
    signature: CardSignature | None,
    insert: bool,
) -> Application:
    """Check, number and write the submission (inside the caller's transaction and batch)."""
    # At the counter the clerk checks identity in person, and a paper application carries its
    # handwritten signature: the card signature is required for remote channels only.
    remote = application.channel in (Channel.ONLINE, Channel.API)
    if remote and application.procedure.assurance_level == AssuranceLevel.CARD_SIGNATURE:
        if signature is None:
            raise InvalidInput(
                _("この手続はマイナンバーカードによる電子署名が必要です。"),
                code="signature_required",
                field_errors={"signature": [_("電子署名をしてください。")]},
            )
        _verify_and_record_signature(application, cleaned, signature, actor)
    hooks.run_submission_checks(application, cleaned)
    hooks.run_transition_checks(application, ApplicationStatus.SUBMITTED, "")
    application.cleaned = cleaned
    application.receipt_number = next_receipt_number(application.municipality_id)
    application.submitted_at = timezone.now()
    application.idempotency_key = idempotency_key or None
    application.resume_token_hash = ""
    application.status = ApplicationStatus.SUBMITTED
    application.lock_version += 1
    if insert:
        application.save(force_insert=True)
    else:
        application.save(update_fields=_SUBMIT_FIELDS)
    change = StatusChange.objects.create(
        application=application,
        from_status=ApplicationStatus.DRAFT,
        to_status=ApplicationStatus.SUBMITTED,
        actor=actor,
    )
    # A draft has no history (DRAFT is only ever the first state): this is all of it.
    _remember_history(application, [change])
    hooks.status_changed(application, ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED)
    audit_record(
        action="application.submit",
        actor=actor,
        municipality_code=application.municipality_id,
        target_type="application",
        target_id=str(application.pk),
        personal_data=True,
        purpose="申請の受付",
        detail={"receipt_number": application.receipt_number, "channel": application.channel},
    )
    _notify_applicant(
        application,
        lambda: (
            _("【%(municipality)s】申請を受け付けました（受付番号 %(receipt)s）")
            % {
                "municipality": application.municipality.name,
                "receipt": application.receipt_number,
            },
            _(
                "%(procedure)s の申請を受け付けました。\n受付番号: %(receipt)s\n"
                "状況は「わたしの申請」で確認できます。"
            )
            % {"procedure": application.procedure.name, "receipt": application.receipt_number},
        ),
    )
    return application


def _lock_draft(application: Application) -> Application:
    """The application's row, locked; related rows the caller already holds are reused."""
    relations = ("procedure", "form_version", "municipality")
    held = {
        name: getattr(application, name)
        for name in relations
        if Application._meta.get_field(name).is_cached(application)  # type: ignore[union-attr]
    }
    query = Application.objects.select_for_update(of=("self",))
    missing = [name for name in relations if name not in held]
    if missing:
        query = query.select_related(*missing)
    locked = query.get(pk=application.pk)
    for name, value in held.items():
        setattr(locked, name, value)
    return locked


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
    Inside a caller's transaction it runs in a savepoint, so a refusal leaves the caller's
    transaction usable.
    """
    if idempotency_key:
        earlier = _submitted_with_key(application.municipality_id, idempotency_key)
        if earlier is not None:
            return earlier
    with transaction.atomic(), audit_batch():
        locked = _lock_draft(application)
        if locked.status != ApplicationStatus.DRAFT:
            return locked  # a double click or retried request: the first submission stands
        cleaned = _validated(locked, today)
        return _finish(
            locked,
            cleaned,
            actor=actor,
            idempotency_key=idempotency_key,
            signature=signature,
            insert=False,
        )


def _submitted_with_key(municipality_code: str, idempotency_key: str) -> Application | None:
    # Unordered and unsliced beyond one row: the unique index finds it; nothing to sort.
    found = list(
        Application.objects.filter(
            municipality_id=municipality_code,
            idempotency_key=idempotency_key,
            status__in=SUBMITTED_STATUSES,
        ).order_by()[:1]
    )
    return found[0] if found else None


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

    A refused submission leaves nothing behind (no draft): the answers are validated before
    the transaction begins. With an ``idempotency_key`` the same key always answers with the
    first application (``created=False``), also when many requests race: the key is written
    with the new row, so a second request waits on the unique index until the first commits,
    then rolls back its own attempt and answers with the first one.
    """
    if idempotency_key:
        earlier = _submitted_with_key(procedure.municipality_id, idempotency_key)
        if earlier is not None:
            return _replay(earlier, applicant)
    version = check_can_start(procedure=procedure, applicant=applicant, channel=channel)
    application = Application(
        municipality_id=procedure.municipality_id,
        procedure=procedure,
        form_version=version,
        applicant=applicant,
        contact_email=contact_email or (applicant.email if applicant else ""),
        channel=channel,
        current_step=version.form.steps[0].key,
        fee_yen=procedure.fee_yen,
        language=translation.get_language() or settings.LANGUAGE_CODE,
        answers=answers,
    )
    if Procedure.municipality.is_cached(procedure):
        application.municipality = procedure.municipality
    cleaned = _validated(application, today)
    try:
        with transaction.atomic(), audit_batch():
            audit_record(
                action="application.start",
                actor=applicant,
                municipality_code=procedure.municipality_id,
                target_type="application",
                target_id=str(application.pk),
                detail={"procedure": procedure.slug, "channel": channel},
            )
            submitted = _finish(
                application,
                cleaned,
                actor=applicant,
                idempotency_key=idempotency_key,
                signature=signature,
                insert=True,
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
