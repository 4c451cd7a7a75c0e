"""Writes for online procedures: catalog, form versions, templates (横展開) and applications.

Every state change records an audit entry and, where it concerns the applicant, a notification
through the outbox, in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import FileResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from machi.core import notifications
from machi.core.exceptions import ApplicationError, Conflict, Forbidden, InvalidInput, NotFound
from machi.core.japanese import kana_reading, search_key
from machi.core.models import Department, Role, User
from machi.core.selectors import municipality_get, user_has_role
from machi.core.services import audit_record
from machi.files.models import StoredFile
from machi.files.policy import SUPPORTED_TYPES, FilePolicy
from machi.files.selectors import file_get
from machi.files.services import file_response, file_store
from machi.procedures.formengine import (
    DefinitionError,
    FileInfo,
    FormDefinition,
    FormResult,
    canonical_bytes,
    definition_diff,
    validate_answers,
)
from machi.procedures.models import (
    Application,
    ApplicationOutcome,
    ApplicationStatus,
    AssuranceLevel,
    Channel,
    CorrectionRequest,
    FormVersion,
    LifeEvent,
    Procedure,
    ProcedureTemplate,
    ReceiptCounter,
    StatusChange,
)

EDITOR_ROLES = (Role.MUNICIPALITY_ADMIN,)
# Session key holding the ids of anonymous applications started in this browser session.
SESSION_APPLICATIONS_KEY = "machi_applications"
PROCEDURE_FIELDS = (
    "name",
    "name_kana",
    "name_en",
    "description",
    "description_easy",
    "description_en",
    "audience",
    "legal_basis",
    "assurance_level",
    "fee_yen",
    "fee_per_copy",
    "fee_note",
    "payment_timing",
    "standard_processing_days",
    "annual_case_count",
    "channels",
    "attachments_note",
    "life_events",
    "keywords",
)


def _require_editor(actor: User | None, municipality_code: str) -> None:
    if actor is not None and not user_has_role(
        actor, municipality_code=municipality_code, roles=EDITOR_ROLES, prefecture_wide=False
    ):
        raise Forbidden(_("この団体の手続を編集する権限がありません。"))


def procedure_search_text(procedure: Procedure) -> str:
    """The normalised text a catalog search matches (names, readings, keywords, life events)."""
    events = " ".join(str(LifeEvent(e).label) for e in procedure.life_events if e in LifeEvent)
    parts = [
        procedure.name,
        procedure.name_kana,
        kana_reading(procedure.name),
        procedure.name_en,
        procedure.keywords,
        kana_reading(procedure.keywords),
        events,
        kana_reading(events),
    ]
    return " ".join(search_key(part) for part in parts if part)


def _validate_procedure_values(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    channels = values.get("channels", [])
    if not isinstance(channels, list) or any(c not in Channel.values for c in channels):
        errors["channels"] = [_("受付方法の値が正しくありません。")]
    events = values.get("life_events", [])
    if not isinstance(events, list) or any(e not in LifeEvent.values for e in events):
        errors["life_events"] = [_("ライフイベントの値が正しくありません。")]
    if "assurance_level" in values and values["assurance_level"] not in AssuranceLevel.values:
        errors["assurance_level"] = [_("本人確認の水準が正しくありません。")]
    if "name" in values and not str(values["name"]).strip():
        errors["name"] = [_("手続名を入力してください。")]
    if errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=errors)


@transaction.atomic
def procedure_create(
    *,
    actor: User | None,
    municipality_code: str,
    slug: str,
    name: str,
    department_code: str | None = None,
    is_published: bool = False,
    **values: Any,
) -> Procedure:
    """Add a procedure to a municipality's catalog (団体管理者)."""
    municipality = municipality_get(code=municipality_code)
    _require_editor(actor, municipality.code)
    unknown = set(values) - set(PROCEDURE_FIELDS)
    if unknown:
        raise InvalidInput(_("不明な項目があります: %(f)s") % {"f": ", ".join(sorted(unknown))})
    _validate_procedure_values({"name": name, **values})
    department = None
    if department_code:
        department = Department.objects.filter(
            municipality=municipality, code=department_code
        ).first()
        if department is None:
            raise InvalidInput(
                _("担当課が見つかりません。"),
                field_errors={"department": [_("担当課が見つかりません。")]},
            )
    procedure = Procedure(
        municipality=municipality,
        slug=slug,
        name=name.strip(),
        department=department,
        is_published=is_published,
        **values,
    )
    procedure.search_text = procedure_search_text(procedure)
    try:
        with transaction.atomic():
            procedure.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(_("URL名 %(slug)s は使われています。") % {"slug": slug}) from exc
    audit_record(
        action="procedure.create",
        actor=actor,
        municipality_code=municipality.code,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"slug": slug},
    )
    return procedure


@transaction.atomic
def procedure_update(*, actor: User | None, procedure: Procedure, **values: Any) -> Procedure:
    """Change catalog fields of a procedure (団体管理者)."""
    _require_editor(actor, procedure.municipality_id)
    unknown = set(values) - set(PROCEDURE_FIELDS) - {"is_published", "department_code"}
    if unknown:
        raise InvalidInput(_("不明な項目があります: %(f)s") % {"f": ", ".join(sorted(unknown))})
    _validate_procedure_values(values)
    if "department_code" in values:
        code = values.pop("department_code")
        procedure.department = (
            Department.objects.filter(municipality_id=procedure.municipality_id, code=code).first()
            if code
            else None
        )
    for field, value in values.items():
        setattr(procedure, field, value)
    procedure.search_text = procedure_search_text(procedure)
    procedure.save()
    audit_record(
        action="procedure.update",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"fields": sorted(values)},
    )
    return procedure


def _definition_hash(definition: dict[str, Any]) -> str:
    canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_definition(definition: Any) -> FormDefinition:
    """Parse a form definition or raise ``InvalidInput`` listing every problem."""
    if not isinstance(definition, dict):
        raise InvalidInput(
            _("様式定義はJSONオブジェクトでなければなりません。"),
            field_errors={"definition": [_("様式定義はJSONオブジェクトでなければなりません。")]},
        )
    try:
        return FormDefinition.from_json(definition)
    except DefinitionError as exc:
        messages = [str(m) for m in exc.errors]
        raise InvalidInput(
            _("様式定義に誤りがあります。"), field_errors={"definition": messages}
        ) from exc


@transaction.atomic
def form_version_create(
    *, actor: User | None, procedure: Procedure, definition: dict[str, Any], publish: bool = False
) -> FormVersion:
    """Save a new version of a procedure's form; optionally publish it at once."""
    _require_editor(actor, procedure.municipality_id)
    parsed = parse_definition(definition)
    normalised = parsed.to_json()
    Procedure.objects.select_for_update().filter(pk=procedure.pk).first()
    last = procedure.form_versions.order_by("-number").first()
    version = FormVersion.objects.create(
        procedure=procedure,
        number=(last.number + 1) if last else 1,
        definition=normalised,
        definition_sha256=_definition_hash(normalised),
        created_by=actor,
        published_at=timezone.now() if publish else None,
    )
    audit_record(
        action="form_version.publish" if publish else "form_version.create",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"version": version.number},
    )
    return version


@transaction.atomic
def form_version_publish(*, actor: User | None, form_version: FormVersion) -> FormVersion:
    """Publish a draft form version; applications already started keep their own version."""
    _require_editor(actor, form_version.procedure.municipality_id)
    if form_version.published_at is None:
        form_version.published_at = timezone.now()
        form_version.save(update_fields=["published_at"])
        audit_record(
            action="form_version.publish",
            actor=actor,
            municipality_code=form_version.procedure.municipality_id,
            target_type="procedure",
            target_id=form_version.procedure_id,
            detail={"version": form_version.number},
        )
    return form_version


def current_form_version(procedure: Procedure) -> FormVersion | None:
    """The newest published form version of a procedure."""
    return procedure.form_versions.filter(published_at__isnull=False).order_by("-number").first()


# --- Sharing between municipalities (横展開) ---------------------------------------------------


def _snapshot(procedure: Procedure) -> dict[str, Any]:
    version = current_form_version(procedure)
    return {
        "procedure": {field: getattr(procedure, field) for field in PROCEDURE_FIELDS},
        "slug": procedure.slug,
        "form": version.definition if version else None,
    }


@transaction.atomic
def template_publish(*, actor: User | None, procedure: Procedure) -> ProcedureTemplate:
    """Publish (or republish, as a new version) a procedure as a template others can adopt."""
    _require_editor(actor, procedure.municipality_id)
    template = (
        ProcedureTemplate.objects.select_for_update()
        .filter(municipality_id=procedure.municipality_id, source=procedure)
        .first()
    )
    if template is None:
        template = ProcedureTemplate.objects.create(
            municipality_id=procedure.municipality_id,
            source=procedure,
            name=procedure.name,
            snapshot=_snapshot(procedure),
        )
    else:
        template.version += 1
        template.name = procedure.name
        template.snapshot = _snapshot(procedure)
        template.save()
    audit_record(
        action="template.publish",
        actor=actor,
        municipality_code=procedure.municipality_id,
        target_type="procedure_template",
        target_id=template.pk,
        detail={"version": template.version},
    )
    return template


@transaction.atomic
def template_adopt(
    *,
    actor: User | None,
    template: ProcedureTemplate,
    municipality_code: str,
    department_code: str | None = None,
    slug: str | None = None,
) -> Procedure:
    """Create a municipality's own procedure from a template in one step (publishes its form)."""
    snapshot = template.snapshot
    procedure = procedure_create(
        actor=actor,
        municipality_code=municipality_code,
        slug=slug or snapshot["slug"],
        department_code=department_code,
        **{k: v for k, v in snapshot["procedure"].items() if k != "name"},
        name=snapshot["procedure"]["name"],
    )
    procedure.origin_template = template
    procedure.origin_template_version = template.version
    procedure.save(update_fields=["origin_template", "origin_template_version"])
    if snapshot.get("form"):
        form_version_create(
            actor=actor, procedure=procedure, definition=snapshot["form"], publish=True
        )
    audit_record(
        action="template.adopt",
        actor=actor,
        municipality_code=municipality_code,
        target_type="procedure",
        target_id=procedure.pk,
        detail={"template": template.pk, "version": template.version},
    )
    return procedure


@dataclass(frozen=True)
class TemplateUpdate:
    """What pulling the newest template version would change."""

    from_version: int
    to_version: int
    procedure_changes: list[str]
    form_changes: list[str]

    @property
    def has_changes(self) -> bool:
        return bool(self.procedure_changes or self.form_changes)


def template_update_preview(*, procedure: Procedure) -> TemplateUpdate | None:
    """Differences between an adopted procedure and the newest version of its template."""
    template = procedure.origin_template
    if template is None or procedure.origin_template_version is None:
        return None
    if template.version <= procedure.origin_template_version:
        return TemplateUpdate(procedure.origin_template_version, template.version, [], [])
    new = template.snapshot
    procedure_changes = [
        _("%(field)s: 「%(old)s」→「%(new)s」")
        % {
            "field": getattr(Procedure._meta.get_field(f), "verbose_name", f),
            "old": getattr(procedure, f),
            "new": v,
        }
        for f, v in new["procedure"].items()
        if f in PROCEDURE_FIELDS and getattr(procedure, f) != v
    ]
    form_changes: list[str] = []
    current = current_form_version(procedure)
    if new.get("form"):
        if current is None:
            form_changes = [_("様式が追加されます。")]
        else:
            form_changes = definition_diff(
                FormDefinition.from_json(current.definition), FormDefinition.from_json(new["form"])
            )
    return TemplateUpdate(
        procedure.origin_template_version, template.version, procedure_changes, form_changes
    )


@transaction.atomic
def template_update_apply(
    *, actor: User | None, procedure: Procedure, keep_local: tuple[str, ...] = ("fee_yen",)
) -> Procedure:
    """Pull the newest template version into an adopted procedure.

    Fields in ``keep_local`` (the municipality's own adjustments, e.g. its fee) are kept.
    """
    template = procedure.origin_template
    if template is None:
        raise NotFound(_("この手続はテンプレートから作られていません。"))
    snapshot = template.snapshot
    values = {k: v for k, v in snapshot["procedure"].items() if k not in keep_local}
    procedure_update(actor=actor, procedure=procedure, **values)
    current = current_form_version(procedure)
    if snapshot.get("form") and (
        current is None or current.definition_sha256 != _definition_hash(snapshot["form"])
    ):
        form_version_create(
            actor=actor, procedure=procedure, definition=snapshot["form"], publish=True
        )
    procedure.origin_template_version = template.version
    procedure.save(update_fields=["origin_template_version"])
    return procedure


# --- Applications ----------------------------------------------------------------------------


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
        current_step=FormDefinition.from_json(version.definition).steps[0].key,
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
    """The anonymous draft a resume link points to (NotFound when unknown or submitted)."""
    application = Application.objects.filter(
        resume_token_hash=_hash_token(token), status=ApplicationStatus.DRAFT
    ).first()
    if application is None:
        raise NotFound(_("再開用のリンクが無効です。期限切れか、すでに申請済みです。"))
    return application


def _definition(application: Application) -> FormDefinition:
    return FormDefinition.from_json(application.form_version.definition)


def _merge_step(
    answers: dict[str, Any], step_key: str, step_answers: dict[str, Any]
) -> dict[str, Any]:
    merged = dict(answers)
    merged[step_key] = step_answers
    return merged


@transaction.atomic
def application_save_step(
    *,
    application: Application,
    step_key: str,
    step_answers: dict[str, Any],
    file_lookup: Any = None,
    today: date | None = None,
) -> FormResult:
    """Save one step of a draft (even when invalid) and return its validation result."""
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.status not in (ApplicationStatus.DRAFT, ApplicationStatus.CORRECTION_REQUESTED):
        raise Conflict(_("この申請はすでに提出されています。"), code="already_submitted")
    definition = _definition(locked)
    definition.step(step_key)  # raises for unknown steps
    locked.answers = _merge_step(locked.answers, step_key, step_answers)
    locked.current_step = step_key
    locked.lock_version += 1  # the row is locked: no concurrent increment to lose
    locked.save(update_fields=["answers", "current_step", "lock_version", "updated_at"])
    application.answers = locked.answers
    application.current_step = step_key
    application.lock_version = locked.lock_version
    return validate_answers(
        definition, locked.answers, step_key=step_key, file_lookup=file_lookup, today=today
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
    result = validate_answers(FormDefinition.from_json(version.definition), answers, today=today)
    if result.errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=result.errors)
    return version.version_id, canonical_bytes(version.version_id, result.cleaned)


# Extension points for higher layers (payments, cases): registered from their AppConfig.ready().
SubmissionCheck = Callable[[Application, dict[str, Any]], None]
TransitionCheck = Callable[[Application, str, str], None]
TransitionListener = Callable[[Application, str, str], None]
_submission_checks: list[SubmissionCheck] = []
_transition_checks: list[TransitionCheck] = []
_transition_listeners: list[TransitionListener] = []


def register_submission_check(check: SubmissionCheck) -> None:
    """Run ``check(application, cleaned)`` before every submission; it raises to refuse."""
    _submission_checks.append(check)


def register_transition_check(check: TransitionCheck) -> None:
    """Run ``check(application, to_status, outcome)`` before every transition; raise to refuse."""
    _transition_checks.append(check)


def register_transition_listener(listener: TransitionListener) -> None:
    """Call ``listener(application, from_status, to_status)`` after a transition commits."""
    _transition_listeners.append(listener)


def submission_problems(
    application: Application, cleaned: dict[str, Any]
) -> list[ApplicationError]:
    """What the registered submission checks would refuse now (e.g. the fee is not paid yet).

    Runs the checks in a savepoint that is always rolled back, so nothing they write stays.
    """
    problems: list[ApplicationError] = []
    try:
        with transaction.atomic():
            for check in list(_submission_checks):
                try:
                    check(application, cleaned)
                except ApplicationError as exc:
                    problems.append(exc)
            raise _RollBack
    except _RollBack:
        pass
    return problems


class _RollBack(Exception):
    """Undoes whatever a dry run of the submission checks wrote."""


def _after_commit_listeners(application: Application, from_status: str, to_status: str) -> None:
    for listener in list(_transition_listeners):
        transaction.on_commit(
            lambda listener=listener: listener(application, from_status, to_status)  # type: ignore[misc]
        )


def _status_change(
    application: Application, to_status: str, *, actor: User | None, note: str = ""
) -> None:
    StatusChange.objects.create(
        application=application,
        from_status=application.status,
        to_status=to_status,
        actor=actor,
        note=note,
    )
    application.status = to_status


def _status_label(application: Application) -> str:
    label = str(ApplicationStatus(application.status).label)
    if application.outcome:
        label = f"{label}（{ApplicationOutcome(application.outcome).label}）"
    return label


def _notify_applicant(application: Application, compose: Callable[[], tuple[str, str]]) -> None:
    """Notify the applicant in the language they applied in (not the staff member's)."""
    if not application.contact_email:
        return
    with translation.override(application.language or settings.LANGUAGE_CODE):
        subject, body = compose()
    notifications.notify(
        notifications.Notification(
            subject=subject,
            body=body,
            address={"email": application.contact_email},
            municipality_code=application.municipality_id,
            reference=str(application.pk),
        )
    )


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
    the first submission and creates nothing new.
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
    result = validate_answers(definition, locked.answers, file_lookup=file_lookup, today=today)
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
    for check in list(_submission_checks):
        check(locked, result.cleaned)
    locked.cleaned = result.cleaned
    locked.receipt_number = _next_receipt_number(locked.municipality_id)
    locked.submitted_at = timezone.now()
    locked.idempotency_key = idempotency_key or None
    locked.resume_token_hash = ""
    _status_change(locked, ApplicationStatus.SUBMITTED, actor=actor)
    locked.lock_version += 1
    locked.save()
    _after_commit_listeners(locked, ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED)
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


# Which moves are allowed; the staff side (cases) drives them through application_transition.
TRANSITIONS: dict[str, set[str]] = {
    ApplicationStatus.SUBMITTED: {
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.CORRECTION_REQUESTED,
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.COMPLETED,
    },
    ApplicationStatus.IN_REVIEW: {
        ApplicationStatus.CORRECTION_REQUESTED,
        ApplicationStatus.APPROVING,
        ApplicationStatus.COMPLETED,
        ApplicationStatus.WITHDRAWN,
    },
    ApplicationStatus.CORRECTION_REQUESTED: {
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.COMPLETED,
    },
    ApplicationStatus.APPROVING: {
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.COMPLETED,
    },
}


@transaction.atomic
def application_transition(
    *,
    application: Application,
    to_status: str,
    actor: User | None,
    note: str = "",
    outcome: str = "",
    expected_lock_version: int | None = None,
    notify: bool = True,
) -> Application:
    """Move an application to another state (the service the case-processing side calls).

    ``expected_lock_version`` makes concurrent edits fail loudly instead of overwriting.
    """
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if expected_lock_version is not None and locked.lock_version != expected_lock_version:
        raise Conflict(
            _("この申請は他の職員が更新しました。画面を読み込み直してください。"),
            code="stale_application",
        )
    if to_status not in TRANSITIONS.get(locked.status, set()):
        raise Conflict(
            _("「%(from)s」から「%(to)s」には進められません。")
            % {
                "from": ApplicationStatus(locked.status).label,
                "to": ApplicationStatus(to_status).label,
            },
            code="invalid_transition",
        )
    for check in list(_transition_checks):
        check(locked, to_status, outcome)
    from_status = locked.status
    if to_status == ApplicationStatus.COMPLETED:
        if outcome not in ApplicationOutcome.values:
            raise InvalidInput(_("完了には結果（許可・交付・却下）が必要です。"))
        locked.outcome = outcome
        locked.completed_at = timezone.now()
    _status_change(locked, to_status, actor=actor, note=note)
    locked.lock_version += 1
    locked.save()
    _after_commit_listeners(locked, from_status, to_status)
    audit_record(
        action=f"application.{to_status}",
        actor=actor,
        municipality_code=locked.municipality_id,
        target_type="application",
        target_id=str(locked.pk),
        detail={"outcome": outcome} if outcome else {},
    )
    if notify:
        _notify_applicant(
            locked,
            lambda: (
                _("【%(municipality)s】申請の状況が変わりました（受付番号 %(receipt)s）")
                % {"municipality": locked.municipality.name, "receipt": locked.receipt_number},
                "\n".join(
                    part
                    for part in (
                        _("%(procedure)s の申請は「%(status)s」になりました。")
                        % {"procedure": locked.procedure.name, "status": _status_label(locked)},
                        note,
                    )
                    if part
                ),
            ),
        )
    return locked


@transaction.atomic
def application_withdraw(
    *, application: Application, actor: User | None, reason: str = ""
) -> Application:
    """The applicant withdraws (取下げ) before processing starts."""
    if application.status not in (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.CORRECTION_REQUESTED,
    ):
        raise Conflict(
            _("処理が始まっているため取り下げできません。担当課にご連絡ください。"),
            code="withdraw_not_allowed",
        )
    return application_transition(
        application=application,
        to_status=ApplicationStatus.WITHDRAWN,
        actor=actor,
        note=reason,
    )


@transaction.atomic
def application_request_correction(
    *,
    application: Application,
    actor: User | None,
    message: str,
    fields: list[str],
    deadline: date,
    expected_lock_version: int | None = None,
) -> CorrectionRequest:
    """Ask the applicant to correct fields or files by a deadline (補正依頼)."""
    if deadline <= timezone.localdate():
        raise InvalidInput(
            _("期限は明日以降の日付にしてください。"),
            field_errors={"deadline": [_("期限は明日以降の日付にしてください。")]},
        )
    if not message.strip():
        raise InvalidInput(
            _("補正の内容を入力してください。"),
            field_errors={"message": [_("補正の内容を入力してください。")]},
        )
    application_transition(
        application=application,
        to_status=ApplicationStatus.CORRECTION_REQUESTED,
        actor=actor,
        note=message,
        expected_lock_version=expected_lock_version,
    )
    return CorrectionRequest.objects.create(
        application=application,
        message=message,
        fields=fields,
        deadline=deadline,
        requested_by=actor,
    )


@transaction.atomic
def application_answer_correction(
    *,
    application: Application,
    actor: User | None,
    answers: dict[str, Any],
    note: str = "",
    file_lookup: Any = None,
    today: date | None = None,
) -> Application:
    """The applicant answers a correction request with changed fields or files."""
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.status != ApplicationStatus.CORRECTION_REQUESTED:
        raise Conflict(_("補正を求められていない申請です。"), code="no_correction_requested")
    definition = _definition(locked)
    result = validate_answers(definition, answers, file_lookup=file_lookup, today=today)
    if result.errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=result.errors)
    locked.answers = answers
    locked.cleaned = result.cleaned
    locked.save(update_fields=["answers", "cleaned", "updated_at"])
    CorrectionRequest.objects.filter(application=locked, answered_at__isnull=True).update(
        answered_at=timezone.now(), answer_note=note
    )
    return application_transition(
        application=locked,
        to_status=ApplicationStatus.IN_REVIEW,
        actor=actor,
        note=note or _("補正に回答しました。"),
        notify=False,
    )


# --- Attachments ------------------------------------------------------------------------------


def _attachment_purpose(application: Application) -> str:
    # Files are tagged with their application so they can never be attached to another one.
    return f"application:{application.pk}"


def attachment_store(
    *, application: Application, path: str, upload: UploadedFile, actor: User | None
) -> StoredFile:
    """Make an uploaded attachment safe (無害化) and store it for this application's field."""
    definition = _definition(application)
    spec = definition.file_spec(path)
    allowed = frozenset(spec.accept) & SUPPORTED_TYPES if spec.accept else SUPPORTED_TYPES
    policy = FilePolicy(
        max_size=spec.max_size or FilePolicy().max_size, allowed_types=allowed or SUPPORTED_TYPES
    )
    return file_store(
        municipality_code=application.municipality_id,
        upload=upload,
        policy=policy,
        actor=actor,
        purpose=_attachment_purpose(application),
    )


def file_lookup_for(application: Application) -> Callable[[str], FileInfo | None]:
    """What the form engine asks about an attached file id: only this application's files count."""

    def lookup(file_id: str) -> FileInfo | None:
        try:
            stored = file_get(file_id=file_id, municipality_codes={application.municipality_id})
        except NotFound:
            return None
        if stored.purpose != _attachment_purpose(application):
            return None
        return FileInfo(
            content_type=stored.content_type, size=stored.size, name=stored.original_name
        )

    return lookup


def attachment_response(
    *, application: Application, file_id: str, actor: User | None, purpose: str
) -> FileResponse:
    """Serve one of the application's attachments (the caller has checked who may see it)."""
    stored = file_get(file_id=file_id, municipality_codes={application.municipality_id})
    if stored.purpose != _attachment_purpose(application):
        raise NotFound(_("ファイルが見つかりません。"), code="file_not_found")
    return file_response(stored_file=stored, actor=actor, purpose=purpose)


# --- Locking, for the apps that act on an application (cases, documents, payments) ----------


def application_lock(
    *, application_id: uuid.UUID | str, expected_lock_version: int | None = None
) -> Application:
    """Lock the application row for this transaction, check the version the user saw, bump it.

    The one way another app writes "I changed this application": a stale writer gets
    「他の職員が更新しました」 (``stale_application``) and nothing is changed.
    """
    locked = Application.objects.select_for_update().get(pk=application_id)
    if expected_lock_version is not None and locked.lock_version != expected_lock_version:
        raise Conflict(
            _("この申請は他の職員が更新しました。画面を読み込み直してください。"),
            code="stale_application",
        )
    Application.objects.filter(pk=locked.pk).update(
        lock_version=F("lock_version") + 1, updated_at=timezone.now()
    )
    locked.refresh_from_db(fields=["lock_version", "updated_at"])
    return locked


def application_get_for_update(*, application_id: uuid.UUID | str) -> Application:
    """The application row, locked until the end of the caller's transaction (no version bump).

    For work that must not race another writer of the same application (a payment being
    created, a document being issued) but does not itself change the application.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("application_get_for_update needs a transaction")
    return (
        Application.objects.select_for_update(of=("self",))
        .select_related("municipality", "procedure", "form_version", "applicant")
        .get(pk=application_id)
    )
