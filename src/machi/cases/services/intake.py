"""Counter (書かない窓口) and paper intake: staff start and submit an application for a resident."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.cases import policy
from machi.cases.models import (
    Case,
    CaseEventKind,
    ConfirmationMethod,
    IdentityDocument,
    Intake,
)
from machi.cases.services._base import (
    _audit,
    _event,
)
from machi.cases.services.creation import case_create_for_application
from machi.core.exceptions import Conflict, Forbidden, InvalidInput
from machi.core.japanese import JapaneseDataError, format_postal_code, normalize_postal_code
from machi.core.models import User
from machi.files.services import file_store
from machi.procedures import services as procedure_services
from machi.procedures.formengine import FormDefinition, FormResult, validate_answers
from machi.procedures.states import ApplicationStatus, AssuranceLevel, Channel

if TYPE_CHECKING:
    # Types only: other apps read procedures' rows through its selectors and services.
    from machi.files.selectors import StoredFile
    from machi.procedures.selectors import Application, Procedure


# --- Counter (書かない窓口) and paper intake ------------------------------------------------------


@dataclass(frozen=True)
class IdentityCheck:
    """What the counter clerk checked on the resident's identity document."""

    document: str
    family_name: str
    birth_date: dt.date | None
    given_name: str = ""
    family_kana: str = ""
    given_kana: str = ""
    document_note: str = ""
    postal_code: str = ""
    prefecture: str = ""
    city: str = ""
    town: str = ""
    street: str = ""
    building: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.family_name, self.given_name) if p)

    @property
    def address_line(self) -> str:
        postal = self.postal_code
        if postal:
            with contextlib.suppress(JapaneseDataError):
                postal = "〒" + format_postal_code(normalize_postal_code(postal))
        line = "".join(p for p in (self.prefecture, self.city, self.town, self.street) if p)
        return " ".join(p for p in (postal, line, self.building) if p)


def _require_intake(actor: User | None, municipality_code: str) -> User:
    if actor is None or municipality_code not in policy.intake_codes(actor):
        raise Forbidden(_("この団体の窓口受付をする権限がありません。"))
    return actor


def intake_supported(procedure: Procedure, channel: str = Channel.COUNTER) -> bool:
    """Whether counter or paper intake can submit this procedure.

    At the counter every procedure with a published form can, also one that needs a card
    signature online (住民票の写し): the card signature is asked of remote channels only, and
    the clerk checks the identity document in person instead (recorded on the intake: which
    document, who checked). A paper application carries only a handwritten signature, which is
    not enough where the procedure asks for a card signature.
    """
    if procedure_services.current_form_version(procedure) is None:
        return False
    return channel == Channel.COUNTER or procedure.assurance_level != AssuranceLevel.CARD_SIGNATURE


def _start_intake_application(
    procedure: Procedure, actor: User, channel: str, contact_email: str
) -> Application:
    if procedure_services.current_form_version(procedure) is None:
        raise InvalidInput(_("この手続には公開中の様式がありません。"), code="intake_not_supported")
    if not intake_supported(procedure, channel):
        raise InvalidInput(
            _(
                "この手続はマイナンバーカードによる電子署名が必要なため、紙での登録には対応していません。窓口で本人確認をして受け付けてください。"
            ),
            code="intake_not_supported",
        )
    started = procedure_services.application_start(
        procedure=procedure,
        applicant=None,
        channel=channel,
        contact_email=contact_email.strip(),
        actor=actor,
        language="ja",
    )
    return started.application


def prefill_from_identity(definition: FormDefinition, identity: IdentityCheck) -> dict[str, Any]:
    """Answers to prefill from the identity check: the first name, birth date and address fields.

    Registry look-ups (住民記録) will add more later; only top-level fields are prefilled.
    """
    answers: dict[str, dict[str, Any]] = {}
    filled: set[str] = set()
    for step in definition.steps:
        for field in step.fields:
            value: Any = None
            if field.type == "name" and "name" not in filled:
                parts = {
                    "family": identity.family_name,
                    "given": identity.given_name,
                    "family_kana": identity.family_kana,
                    "given_kana": identity.given_kana,
                }
                value = {p: parts[p] for p in field.parts}
                filled.add("name")
            elif (
                field.type == "date"
                and (field.key == "birth_date" or field.autocomplete == "bday")
                and "birth_date" not in filled
                and identity.birth_date is not None
            ):
                value = identity.birth_date.isoformat()
                filled.add("birth_date")
            elif field.type == "address" and "address" not in filled and identity.street:
                parts = {
                    "postal_code": identity.postal_code,
                    "prefecture": identity.prefecture,
                    "city": identity.city,
                    "town": identity.town,
                    "street": identity.street,
                    "building": identity.building,
                }
                value = {p: parts[p] for p in field.parts}
                filled.add("address")
            if value is not None:
                answers.setdefault(step.key, {})[field.key] = value
    return answers


def _validate_identity(identity: IdentityCheck) -> None:
    errors: dict[str, list[str]] = {}
    if identity.document not in IdentityDocument.values:
        errors["document"] = [_("確認した書類を選んでください。")]
    if identity.document == IdentityDocument.OTHER and not identity.document_note.strip():
        errors["document_note"] = [_("確認した書類の名称を入力してください。")]
    if not identity.family_name.strip():
        errors["family_name"] = [_("書類で確認した氏名を入力してください。")]
    if identity.birth_date is None:
        errors["birth_date"] = [_("書類で確認した生年月日を入力してください。")]
    elif identity.birth_date > timezone.localdate():
        errors["birth_date"] = [_("生年月日が未来の日付です。")]
    if errors:
        raise InvalidInput(_("本人確認の内容を確認してください。"), field_errors=errors)


@transaction.atomic
def intake_start_counter(
    *, procedure: Procedure, actor: User, identity: IdentityCheck, contact_email: str = ""
) -> Intake:
    """書かない窓口: record the identity check and start a counter application, prefilled."""
    _require_intake(actor, procedure.municipality_id)
    _validate_identity(identity)
    application = _start_intake_application(procedure, actor, Channel.COUNTER, contact_email)
    definition = FormDefinition.from_json(application.form_version.definition)
    for step_key, step_answers in prefill_from_identity(definition, identity).items():
        procedure_services.application_save_step(
            application=application, step_key=step_key, step_answers=step_answers
        )
    intake = Intake.objects.create(
        municipality_id=procedure.municipality_id,
        application=application,
        channel=Channel.COUNTER,
        clerk=actor,
        identity_document=identity.document,
        identity_document_note=identity.document_note.strip(),
        confirmed_name=identity.full_name,
        confirmed_birth_date=identity.birth_date,
        confirmed_address=identity.address_line,
    )
    _audit(
        application,
        "intake.identity_check",
        actor,
        {"document": identity.document, "procedure": procedure.slug},
        personal_data=True,
        purpose="窓口での本人確認",
    )
    return intake


def _intake_purpose(application: Application) -> str:
    return f"intake:{application.pk}"


@transaction.atomic
def intake_start_paper(
    *,
    procedure: Procedure,
    actor: User,
    scan: UploadedFile | bytes,
    scan_name: str | None = None,
    contact_email: str = "",
) -> Intake:
    """Register a paper application: store its scan (made safe) and start the data entry."""
    _require_intake(actor, procedure.municipality_id)
    application = _start_intake_application(procedure, actor, Channel.PAPER, contact_email)
    stored = file_store(
        municipality_code=procedure.municipality_id,
        upload=scan,
        name=scan_name,
        actor=actor,
        purpose=_intake_purpose(application),
    )
    intake = Intake.objects.create(
        municipality_id=procedure.municipality_id,
        application=application,
        channel=Channel.PAPER,
        clerk=actor,
        scan_file_id=stored.pk,
        confirmation_method=ConfirmationMethod.PAPER_SCAN,
    )
    _audit(
        application,
        "intake.paper_scan",
        actor,
        {"file": str(stored.pk), "procedure": procedure.slug},
        personal_data=True,
        purpose="紙の申請書の登録",
    )
    return intake


def _require_intake_draft(actor: User, intake: Intake) -> Application:
    _require_intake(actor, intake.municipality_id)
    application = intake.application
    if application.status != ApplicationStatus.DRAFT:
        raise Conflict(_("この申請はすでに登録されています。"), code="already_submitted")
    return application


@transaction.atomic
def intake_attachment_store(
    *, intake: Intake, actor: User, path: str, upload: UploadedFile
) -> StoredFile:
    """Store an attachment for one of the form's file fields, entered by staff."""
    application = _require_intake_draft(actor, intake)
    return procedure_services.attachment_store(
        application=application, path=path, upload=upload, actor=actor
    )


@transaction.atomic
def intake_save_answers(
    *, intake: Intake, actor: User, answers: dict[str, Any], today: dt.date | None = None
) -> FormResult:
    """Save the answers entered by staff (every step given) and validate the whole form."""
    application = _require_intake_draft(actor, intake)
    definition = FormDefinition.from_json(application.form_version.definition)
    lookup = procedure_services.file_lookup_for(application)
    for step_key in definition.step_keys:
        if step_key in answers:
            procedure_services.application_save_step(
                application=application,
                step_key=step_key,
                step_answers=answers[step_key],
                file_lookup=lookup,
                today=today,
            )
    _audit(
        application,
        "intake.answers",
        actor,
        {"steps": [k for k in definition.step_keys if k in answers]},
        personal_data=True,
        purpose="窓口・紙の申請の入力",
    )
    return validate_answers(definition, application.answers, file_lookup=lookup, today=today)


@transaction.atomic
def intake_submit(
    *,
    intake: Intake,
    actor: User,
    confirmation_method: str,
    confirmation_name: str = "",
    resident_confirmed: bool = False,
    confirmation_scan: UploadedFile | bytes | None = None,
    idempotency_key: str | None = None,
    today: dt.date | None = None,
) -> Case:
    """Record how the resident confirmed the content, submit, and open the case.

    Counter: ``tablet_signature`` (the resident checked the summary on the tablet and signed:
    a tick and the typed name) or ``signed_summary_scan`` (the printed summary, signed, is
    scanned). Paper: ``paper_scan`` (the scan stored at the start is the original).
    """
    _require_intake(actor, intake.municipality_id)
    intake = Intake.objects.select_for_update().select_related("application").get(pk=intake.pk)
    application = intake.application
    if application.status != ApplicationStatus.DRAFT:
        return case_create_for_application(application=application, actor=actor)
    errors: dict[str, list[str]] = {}
    confirmation_name = confirmation_name.strip()
    if intake.channel == Channel.COUNTER:
        if confirmation_method == ConfirmationMethod.TABLET_SIGNATURE:
            if not resident_confirmed:
                errors["resident_confirmed"] = [_("本人が内容を確認したことを確かめてください。")]
            if not confirmation_name:
                errors["confirmation_name"] = [_("署名した氏名を入力してください。")]
        elif confirmation_method == ConfirmationMethod.SIGNED_SUMMARY_SCAN:
            if confirmation_scan is None:
                errors["confirmation_scan"] = [_("署名した控えのスキャンを添付してください。")]
        else:
            errors["confirmation_method"] = [_("本人確認の方法を選んでください。")]
    elif confirmation_method != ConfirmationMethod.PAPER_SCAN:
        errors["confirmation_method"] = [_("本人確認の方法を選んでください。")]
    if errors:
        raise InvalidInput(_("入力内容に誤りがあります。"), field_errors=errors)
    if confirmation_scan is not None and intake.channel == Channel.COUNTER:
        stored = file_store(
            municipality_code=intake.municipality_id,
            upload=confirmation_scan,
            actor=actor,
            purpose=_intake_purpose(application),
        )
        intake.confirmation_file_id = stored.pk
    intake.confirmation_method = confirmation_method
    intake.confirmation_name = confirmation_name
    intake.confirmed_at = timezone.now()
    intake.save()
    submitted = procedure_services.application_submit(
        application=application,
        actor=actor,
        idempotency_key=idempotency_key,
        file_lookup=procedure_services.file_lookup_for(application),
        today=today,
    )
    case = case_create_for_application(application=submitted, actor=actor)
    _event(
        case,
        CaseEventKind.INTAKE,
        actor,
        channel=intake.channel,
        method=confirmation_method,
        document=intake.identity_document,
    )
    _audit(
        case,
        "intake.submit",
        actor,
        {"channel": intake.channel, "method": confirmation_method},
        personal_data=True,
        purpose="窓口・紙の申請の受付",
    )
    return case
