"""Writes for documents: issue (render → sign → time-stamp → store + complete), read, revoke, templates.

``document_issue`` does the slow, external work (rendering, signing, asking the TSA) before
opening its transaction, so no database lock is held while the TSA answers. The signed PDF is
then written to the documents storage under a new random name, and the row naming it is
committed together with the application's completion in one (outermost) transaction; if that
transaction rolls back, the file is deleted again. A failure before that point stores nothing
and leaves the application as it was: staff simply try again. A process killed between the
write and the commit leaves an unreferenced file, which ``document_sweep_orphans`` removes.
``document_read`` is the only way to the bytes: it checks their size and SHA-256 against the row.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from machi.core.exceptions import ApplicationError, Conflict, InvalidInput
from machi.core.models import User
from machi.core.services import audit_record
from machi.documents.models import (
    KIND_OUTCOME,
    DocumentKind,
    DocumentStatus,
    IssuedDocument,
    format_verification_id,
)
from machi.documents.pki import DocumentPki, PkiError
from machi.documents.rendering import (
    PdfContent,
    RenderError,
    render_pdf,
    render_text,
    template_context,
)
from machi.documents.selectors import CROCKFORD, ISSUER_ROLES, require_role, template_for
from machi.documents.signing import SignedPdf, SigningFailed, TimestampFailed, sign_pdf
from machi.documents.storage import (
    document_storage,
    new_storage_name,
    remove_bytes,
    write_bytes,
)
from machi.documents.stored import DocumentUnavailable as DocumentUnavailable
from machi.documents.stored import document_read as document_read
from machi.documents.template_services import document_template_reset as document_template_reset
from machi.documents.template_services import document_template_save as document_template_save
from machi.documents.tsa import tsa_description
from machi.procedures.selectors import application_get
from machi.procedures.services import (
    TRANSITIONS,
    application_get_for_update,
    application_transition,
)
from machi.procedures.states import ApplicationOutcome, ApplicationStatus

if TYPE_CHECKING:
    from machi.procedures.selectors import Application

logger = logging.getLogger(__name__)

VERIFICATION_ID_LENGTH = 12


class IssuanceFailed(ApplicationError):
    """Signing, time-stamping or storing the file failed; nothing was stored and staff may retry."""

    status = 503
    default_code = "signing_failed"


def verify_url(verification_id: str) -> str:
    """The public verification address printed (and QR-coded) on the document."""
    base = str(settings.MACHI_PUBLIC_BASE_URL).rstrip("/")
    return f"{base}/verify/{verification_id}/"


def new_verification_id() -> str:
    """12 characters of Crockford base32 (60 random bits), unused so far."""
    for _attempt in range(5):
        candidate = "".join(secrets.choice(CROCKFORD) for _i in range(VERIFICATION_ID_LENGTH))
        if not IssuedDocument.objects.filter(verification_id=candidate).exists():
            return candidate
    raise Conflict(_("検証IDを作成できませんでした。もう一度お試しください。"))  # pragma: no cover


def _current_document(application: Application, kind: str) -> IssuedDocument | None:
    return (
        IssuedDocument.objects.filter(
            application_id=application.pk, kind=kind, status=DocumentStatus.ISSUED
        )
        .select_related("municipality")
        .first()
    )


def _check_issuable(application: Application, outcome: str) -> None:
    if application.status == ApplicationStatus.COMPLETED:
        if application.outcome != outcome:
            raise Conflict(
                _("この申請は「%(outcome)s」で完了しているため、この種類の文書は発行できません。")
                % {"outcome": ApplicationOutcome(application.outcome).label}
                if application.outcome
                else _("この申請は完了しているため、この種類の文書は発行できません。"),
                code="outcome_mismatch",
            )
        return
    if ApplicationStatus.COMPLETED not in TRANSITIONS.get(application.status, set()):
        raise Conflict(
            _("「%(status)s」の申請には文書を発行できません。")
            % {"status": ApplicationStatus(application.status).label},
            code="not_issuable",
        )


def _render(
    application: Application, kind: str, *, verification_id: str, note: str
) -> tuple[str, bytes]:
    """(title, unsigned PDF) in Japanese, whatever the staff member's language."""
    issued_at = timezone.now()
    municipality = application.municipality
    display_id = format_verification_id(verification_id)
    with translation.override("ja"):
        template = template_for(procedure=application.procedure, kind=kind)
        context = template_context(
            application,
            issued_on=timezone.localdate(issued_at),
            verification_id=display_id,
            note=note,
        )
        title = render_text(template.title, context).replace("\n", " ")[:200]
        body = render_text(template.body, context)
        pdf = render_pdf(
            PdfContent(
                title=title,
                body=body,
                municipality_name=municipality.name,
                head_title=context["municipality"]["head_title"],
                receipt_number=context["receipt_number"],
                applicant_name=context["applicant_name"],
                issue_date=context["issue_date"],
                verification_id=display_id,
                verify_url=verify_url(verification_id),
                issued_at=issued_at,
            )
        )
    return title, pdf


def _sign(application: Application, pdf: bytes) -> SignedPdf:
    municipality = application.municipality
    pki = DocumentPki.from_settings()
    try:
        credential = pki.signer(
            code=municipality.code, name=municipality.name, kind=municipality.kind
        )
    except PkiError as exc:
        raise SigningFailed(str(exc)) from exc
    return sign_pdf(
        pdf,
        credential=credential,
        pki=pki,
        reason=_("%(name)s が発行する文書") % {"name": municipality.name},
        location=municipality.name,
    )


def _failed(
    application: Application, actor: User | None, kind: str, code: str, exc: Exception
) -> None:
    logger.warning("document issuance failed (%s)", code, exc_info=exc)
    audit_record(
        action="document.issue_failed",
        actor=actor,
        municipality_code=application.municipality_id,
        target_type="application",
        target_id=application.pk,
        detail={"kind": kind, "code": code},
    )


def document_issue(
    *, application: Application, actor: User | None, kind: str, note: str = ""
) -> IssuedDocument:
    """Issue the signed, time-stamped PDF of ``kind`` and complete the application.

    Idempotent: an application already holding a valid document of ``kind`` gets it back.
    ``actor`` must be an 決裁者 (approver) or 団体管理者 of the application's municipality
    (``None``: a system job). The application moves to 完了 with the kind's outcome
    (permit → 許可, certificate → 交付, notice → 却下); an application already completed
    with that outcome only gets the document. Raises ``Forbidden``, ``Conflict``,
    ``InvalidInput`` (unknown kind, broken template) or ``IssuanceFailed`` with code
    ``signing_failed`` / ``timestamp_failed`` / ``storage_failed`` (nothing stored: retry
    later). Call it outside any transaction (it commits its own; inside one: ``RuntimeError``).
    """
    if kind not in DocumentKind.values:
        raise InvalidInput(_("文書の種類が正しくありません。"), code="invalid_kind")
    require_role(
        actor,
        application.municipality_id,
        ISSUER_ROLES,
        _("この団体の文書を発行する権限がありません。"),
    )
    existing = _current_document(application, kind)
    if existing is not None:
        return existing
    current = application_get(application_id=application.pk)
    outcome = KIND_OUTCOME[kind]
    _check_issuable(current, outcome)

    verification_id = new_verification_id()
    try:
        title, pdf = _render(current, kind, verification_id=verification_id, note=note)
    except RenderError as exc:
        _failed(current, actor, kind, "render_failed", exc)
        raise InvalidInput(
            _("文書のテンプレートを処理できません: %(error)s") % {"error": exc},
            code="render_failed",
        ) from exc
    try:
        signed = _sign(current, pdf)
    except TimestampFailed as exc:
        _failed(current, actor, kind, "timestamp_failed", exc)
        raise IssuanceFailed(
            _(
                "タイムスタンプを取得できなかったため、文書は発行されていません。"
                "時刻認証局の状態を確認してから、もう一度発行してください。"
            ),
            code="timestamp_failed",
        ) from exc
    except SigningFailed as exc:
        _failed(current, actor, kind, "signing_failed", exc)
        raise IssuanceFailed(
            _(
                "電子署名ができなかったため、文書は発行されていません。"
                "署名用証明書の設定を確認してから、もう一度発行してください。"
            ),
            code="signing_failed",
        ) from exc
    return _store(
        application=current,
        actor=actor,
        kind=kind,
        outcome=outcome,
        note=note,
        title=title,
        verification_id=verification_id,
        signed=signed,
    )


def _store(
    *,
    application: Application,
    actor: User | None,
    kind: str,
    outcome: str,
    note: str,
    title: str,
    verification_id: str,
    signed: SignedPdf,
) -> IssuedDocument:
    """Write the file, then commit the row (and the completion) naming it; undo the file on failure.

    ``durable``: this must be the outermost transaction, so that "committed" means committed and
    a rollback is seen here (Django has no rollback hook for an enclosing transaction).
    """
    storage = document_storage()
    try:
        storage_name = write_bytes(
            storage, new_storage_name(application.municipality_id), signed.data
        )
    except Exception as exc:  # disk full, bucket unreachable…: staff retry, never a 500
        _failed(application, actor, kind, "storage_failed", exc)
        raise IssuanceFailed(
            _(
                "文書のファイルを保管できなかったため、文書は発行されていません。"
                "保管場所の状態を確認してから、もう一度発行してください。"
            ),
            code="storage_failed",
        ) from exc
    try:
        with transaction.atomic(durable=True):
            document = _store_row(
                application=application,
                actor=actor,
                kind=kind,
                outcome=outcome,
                note=note,
                title=title,
                verification_id=verification_id,
                signed=signed,
                storage_name=storage_name,
            )
    except BaseException:
        remove_bytes(storage, storage_name)
        raise
    if document.storage_name != storage_name:  # a concurrent request's document stands
        remove_bytes(storage, storage_name)
    return document


def _store_row(
    *,
    application: Application,
    actor: User | None,
    kind: str,
    outcome: str,
    note: str,
    title: str,
    verification_id: str,
    signed: SignedPdf,
    storage_name: str,
) -> IssuedDocument:
    locked = application_get_for_update(application_id=application.pk)
    existing = _current_document(locked, kind)
    if existing is not None:  # a concurrent request issued it first: theirs stands
        return existing
    _check_issuable(locked, outcome)
    document = IssuedDocument.objects.create(
        municipality_id=locked.municipality_id,
        application=locked,
        kind=kind,
        title=title,
        verification_id=verification_id,
        sha256=signed.sha256,
        size=len(signed.data),
        storage_name=storage_name,
        pades_level=signed.level,
        signer_subject=signed.signer_subject[:300],
        signer_serial=signed.signer_serial[:64],
        signed_at=signed.signed_at,
        timestamp_at=signed.timestamp_at,
        tsa_name=signed.tsa_name[:300],
        note=note,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if locked.status != ApplicationStatus.COMPLETED:
        application_transition(
            application=locked,
            to_status=ApplicationStatus.COMPLETED,
            actor=actor,
            note=note or _("%(title)s を発行しました。") % {"title": title},
            outcome=outcome,
        )
    audit_record(
        action="document.issued",
        actor=actor,
        municipality_code=locked.municipality_id,
        target_type="issued_document",
        target_id=document.pk,
        personal_data=True,
        purpose=_("処分・交付の文書の発行"),
        detail={
            "application": str(locked.pk),
            "kind": kind,
            "verification_id": verification_id,
            "sha256": signed.sha256,
            "signer": signed.signer_subject,
            "tsa": tsa_description(),
            "timestamp": signed.timestamp_at.isoformat(),
            "level": signed.level,
        },
    )
    return document


@transaction.atomic
def document_revoke(*, document: IssuedDocument, actor: User | None, reason: str) -> IssuedDocument:
    """Mark a document revoked (取消し): /verify/ reports it and residents can no longer download it.

    The PDF and its signature stay as issued (evidence); the application is not reopened.
    """
    require_role(
        actor,
        document.municipality_id,
        ISSUER_ROLES,
        _("この団体の文書を取り消す権限がありません。"),
    )
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            _("取消しの理由を入力してください。"),
            field_errors={"reason": [_("取消しの理由を入力してください。")]},
        )
    locked = IssuedDocument.objects.select_for_update().get(pk=document.pk)
    if locked.status == DocumentStatus.REVOKED:
        return locked
    locked.status = DocumentStatus.REVOKED
    locked.revoked_at = timezone.now()
    locked.revoked_by = actor if actor is not None and actor.is_authenticated else None
    locked.revocation_reason = reason
    locked.save(
        update_fields=["status", "revoked_at", "revoked_by", "revocation_reason", "updated_at"]
    )
    audit_record(
        action="document.revoked",
        actor=actor,
        municipality_code=locked.municipality_id,
        target_type="issued_document",
        target_id=locked.pk,
        detail={"verification_id": locked.verification_id, "reason": reason},
    )
    return locked


def document_download_record(
    *, document: IssuedDocument, actor: User | None, by_staff: bool
) -> None:
    """Audit one download of a document (it holds personal data)."""
    audit_record(
        action="document.downloaded",
        actor=actor,
        municipality_code=document.municipality_id,
        target_type="issued_document",
        target_id=document.pk,
        personal_data=True,
        purpose=_("職員による発行文書の確認") if by_staff else _("申請者本人による受取り"),
        detail={"by_staff": by_staff},
    )
