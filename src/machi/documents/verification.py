"""Public verification (/verify/): is this PDF, or this verification id, a document Machi issued?

An uploaded file is Machi's document when its SHA-256 matches an issued record *and* its
signature is intact, chains to a configured trust root and carries a valid time stamp. A
verification id alone proves the record exists (and shows its state), not that a given copy
is genuine: for that, the file must be uploaded. Nothing here raises on bad input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from cryptography import x509
from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from machi.core.exceptions import NotFound
from machi.core.japanese import JapaneseDataError, format_wareki
from machi.documents.models import DocumentStatus, IssuedDocument
from machi.documents.pki import PkiError, configured_trust_roots
from machi.documents.selectors import (
    document_find_by_sha256,
    document_get_by_verification_id,
    normalize_verification_id,
)
from machi.documents.stored import DocumentUnavailable, document_read
from machi.documents.validation import PdfUnreadable, SignatureReport, validate_pdf

logger = logging.getLogger(__name__)

PDF_HEADER_WINDOW: Final = 1024
_ID_HINT = re.compile(rb"machi-verification-id:([0-9A-HJKMNP-TV-Z]{12})")


class Verdict(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    MODIFIED = "modified"
    INVALID_SIGNATURE = "invalid_signature"
    UNTRUSTED = "untrusted"
    TIMESTAMP_INVALID = "timestamp_invalid"
    UNKNOWN = "unknown"
    NOT_FOUND = "not_found"
    NOT_PDF = "not_pdf"
    TOO_LARGE = "too_large"
    STORED_FILE_UNAVAILABLE = "stored_file_unavailable"


HEADLINES: Final[dict[Verdict, Promise]] = {
    Verdict.VALID: gettext_lazy("Machi が発行した文書です。改ざんされていません。"),
    Verdict.REVOKED: gettext_lazy("Machi が発行した文書ですが、取り消されています。"),
    Verdict.MODIFIED: gettext_lazy(
        "文書が改ざんされています（発行されたものと内容が異なります）。"
    ),
    Verdict.INVALID_SIGNATURE: gettext_lazy("電子署名が正しくありません。"),
    Verdict.UNTRUSTED: gettext_lazy("署名者を信頼できません（信頼できる認証局につながりません）。"),
    Verdict.TIMESTAMP_INVALID: gettext_lazy("タイムスタンプがないか、有効ではありません。"),
    Verdict.UNKNOWN: gettext_lazy("Machi が発行した文書として登録されていません。"),
    Verdict.NOT_FOUND: gettext_lazy("この検証IDの文書は見つかりません。"),
    Verdict.NOT_PDF: gettext_lazy("PDFファイルではないか、壊れていて読み取れません。"),
    Verdict.TOO_LARGE: gettext_lazy("ファイルが大きすぎます。"),
    Verdict.STORED_FILE_UNAVAILABLE: gettext_lazy(
        "発行の記録はありますが、保管されている文書のファイルを確認できません。"
    ),
}


# The reason shown right after 無効 / 確認できません, in a few words.
REASONS: Final[dict[Verdict, Promise]] = {
    Verdict.REVOKED: gettext_lazy("失効しています"),
    Verdict.MODIFIED: gettext_lazy("改ざんされています"),
    Verdict.INVALID_SIGNATURE: gettext_lazy("電子署名が正しくありません"),
    Verdict.UNTRUSTED: gettext_lazy("署名者が信頼できません"),
    Verdict.TIMESTAMP_INVALID: gettext_lazy("タイムスタンプが有効ではありません"),
    Verdict.UNKNOWN: gettext_lazy("Machi の発行記録にありません"),
    Verdict.NOT_FOUND: gettext_lazy("見つかりません"),
    Verdict.NOT_PDF: gettext_lazy("PDFとして読み取れません"),
    Verdict.TOO_LARGE: gettext_lazy("ファイルが大きすぎます"),
    Verdict.STORED_FILE_UNAVAILABLE: gettext_lazy("保管ファイルを確認できません"),
}
# Verdicts where the file could not be checked at all (neither 有効 nor 無効).
UNCHECKED: Final = frozenset({Verdict.NOT_PDF, Verdict.TOO_LARGE, Verdict.STORED_FILE_UNAVAILABLE})


@dataclass(frozen=True)
class Check:
    """One line of the result checklist.

    ``relied`` is False for the lines after the first problem: once a file is known to be
    tampered with (or unknown), a passing signature check proves nothing about it, so the page
    shows those lines as reference only instead of a ✓ beside the ✗.
    """

    ok: bool
    label: str
    detail: str
    relied: bool = True


def _rely_until_first_problem(checks: list[Check]) -> list[Check]:
    marked: list[Check] = []
    problem_seen = False
    for check in checks:
        marked.append(check if not problem_seen else replace(check, relied=False))
        problem_seen = problem_seen or not check.ok
    return marked


@dataclass
class VerificationResult:
    verdict: Verdict
    explanation: str = ""
    checks: list[Check] = field(default_factory=list)
    document: IssuedDocument | None = None
    report: SignatureReport | None = None
    sha256: str = ""
    by_id: bool = False

    @property
    def ok(self) -> bool:
        return self.verdict == Verdict.VALID

    def __post_init__(self) -> None:
        self.checks = _rely_until_first_problem(self.checks)

    @property
    def outcome(self) -> str:
        """``valid``, ``invalid`` or ``unchecked``: the one verdict the page leads with."""
        if self.verdict == Verdict.VALID:
            return "valid"
        return "unchecked" if self.verdict in UNCHECKED else "invalid"

    @property
    def outcome_label(self) -> str:
        """有効 / 無効 / 確認できません."""
        labels = {"valid": _("有効"), "invalid": _("無効"), "unchecked": _("確認できません")}
        return labels[self.outcome]

    @property
    def reason(self) -> str:
        """Why the document is not valid, in a few words ("" when it is valid)."""
        return str(REASONS.get(self.verdict, ""))

    @property
    def headline(self) -> str:
        if self.by_id and self.verdict == Verdict.VALID:
            return _("この検証IDの文書は Machi が発行したものです。")
        return str(HEADLINES[self.verdict])


def format_moment(value: dt.datetime | None) -> str:
    """``令和8年11月22日 21時28分`` (Japan time)."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    try:
        day = format_wareki(local.date())
    except JapaneseDataError:
        day = local.date().isoformat()
    return _("%(day)s %(hour)d時%(minute)02d分%(second)02d秒") % {
        "day": day,
        "hour": local.hour,
        "minute": local.minute,
        "second": local.second,
    }


def _record_check(document: IssuedDocument | None, hinted: IssuedDocument | None) -> Check:
    if document is not None:
        return Check(
            True,
            _("発行記録"),
            _("%(municipality)s が %(date)s に発行した「%(title)s」（検証ID %(id)s）と一致します。")
            % {
                "municipality": document.municipality.name,
                "date": format_moment(document.created_at),
                "title": document.title,
                "id": document.display_verification_id,
            },
        )
    if hinted is not None:
        return Check(
            False,
            _("発行記録"),
            _(
                "検証ID %(id)s の文書として発行されたファイルと一致しません。"
                "発行後に変更されたファイルです。"
            )
            % {"id": hinted.display_verification_id},
        )
    return Check(False, _("発行記録"), _("Machi の発行記録に一致するファイルはありません。"))


def _signature_checks(report: SignatureReport | None) -> list[Check]:
    if report is None:
        return [Check(False, _("電子署名"), _("電子署名がありません。"))]
    checks = [
        Check(
            report.intact and report.unmodified,
            _("改ざんの有無"),
            _("署名の後に文書は変更されていません。")
            if report.intact and report.unmodified
            else _("署名の後に文書が変更されています（ハッシュ値が一致しません）。"),
        ),
        Check(
            report.valid,
            _("電子署名"),
            _("電子署名の値は正しく検証できました。")
            if report.valid
            else _("電子署名の値を検証できません。"),
        ),
        Check(
            report.trusted,
            _("署名者"),
            (
                _("%(signer)s（信頼できる認証局につながる証明書）")
                if report.trusted
                else _("%(signer)s（信頼できる認証局につながりません）")
            )
            % {"signer": report.signer_subject or _("不明")},
        ),
    ]
    if report.signing_time:
        checks.append(Check(True, _("署名日時"), format_moment(report.signing_time)))
    if report.timestamp_ok:
        checks.append(
            Check(
                True,
                _("タイムスタンプ"),
                _("%(time)s（%(tsa)s）: 有効です。")
                % {"time": format_moment(report.timestamp_time), "tsa": report.tsa_name},
            )
        )
    else:
        checks.append(
            Check(
                False,
                _("タイムスタンプ"),
                _("タイムスタンプが有効ではありません。")
                if report.timestamp_present
                else _("タイムスタンプがありません。"),
            )
        )
    return checks


def _status_check(document: IssuedDocument) -> Check:
    if document.status == DocumentStatus.REVOKED:
        return Check(
            False,
            _("状態"),
            _("%(date)s に取り消されました。理由: %(reason)s")
            % {
                "date": format_moment(document.revoked_at),
                "reason": document.revocation_reason,
            },
        )
    return Check(True, _("状態"), _("有効（取り消されていません）。"))


def _trust_roots() -> list[x509.Certificate]:
    try:
        return configured_trust_roots()
    except PkiError:
        logger.exception("document trust roots unavailable")
        return []


def _validate(data: bytes) -> list[SignatureReport]:
    return validate_pdf(data, trust_roots=_trust_roots())


def _signature_verdict(report: SignatureReport | None) -> Verdict | None:
    """The first problem of the signature, or None when it is fully valid."""
    if report is None:
        return Verdict.INVALID_SIGNATURE
    if not report.intact or not report.unmodified:
        return Verdict.MODIFIED
    if not report.valid:
        return Verdict.INVALID_SIGNATURE
    if not report.trusted:
        return Verdict.UNTRUSTED
    if not report.timestamp_ok:
        return Verdict.TIMESTAMP_INVALID
    return None


def verify_upload(data: bytes) -> VerificationResult:
    """Check an uploaded file (see module doc). Never raises on bad input."""
    limit = int(settings.MACHI_DOCUMENTS_VERIFY_MAX_BYTES)
    if len(data) > limit:
        return VerificationResult(
            Verdict.TOO_LARGE,
            explanation=_("%(limit)d MB 以下のPDFファイルを選んでください。")
            % {"limit": limit // (1024 * 1024)},
        )
    if b"%PDF-" not in data[:PDF_HEADER_WINDOW]:
        return VerificationResult(
            Verdict.NOT_PDF, explanation=_("Machi が発行したPDFファイルを選んでください。")
        )
    digest = hashlib.sha256(data).hexdigest()
    document = document_find_by_sha256(sha256=digest)
    hinted: IssuedDocument | None = None
    if document is None:
        hints = _ID_HINT.findall(data)
        if hints:
            try:
                hinted = document_get_by_verification_id(verification_id=hints[-1].decode())
            except NotFound:
                hinted = None
    try:
        reports = _validate(data)
    except PdfUnreadable:
        logger.info("verification: unreadable PDF", exc_info=True)
        if hinted is not None:
            return VerificationResult(
                Verdict.MODIFIED,
                explanation=_("PDFの構造が壊れています。発行後に変更されたファイルです。"),
                checks=[_record_check(None, hinted)],
                sha256=digest,
            )
        return VerificationResult(
            Verdict.NOT_PDF,
            explanation=_("PDFとして読み取れません。"),
            sha256=digest,
        )
    except Exception:  # never a 500 on an upload
        logger.exception("verification failed unexpectedly")
        return VerificationResult(Verdict.NOT_PDF, sha256=digest)
    report = reports[-1] if reports else None
    checks = [_record_check(document, hinted), *_signature_checks(report)]
    if document is not None:
        checks.append(_status_check(document))
        problem = _signature_verdict(report)
        if problem is None:
            verdict = (
                Verdict.REVOKED if document.status == DocumentStatus.REVOKED else Verdict.VALID
            )
        else:
            verdict = problem
    else:
        problem = _signature_verdict(report)
        if hinted is not None:  # claims to be an issued document, but the bytes differ
            verdict = Verdict.MODIFIED
        elif report is None:
            verdict = Verdict.UNKNOWN
        elif problem is not None:
            verdict = problem
        else:  # a valid signature, but not a file Machi issued
            verdict = Verdict.UNKNOWN
    explanation = ""
    if verdict == Verdict.UNKNOWN and report is not None and problem is None:
        explanation = _(
            "電子署名は有効ですが、Machi が発行したファイルそのものではありません。"
            "発行元にお問い合わせください。"
        )
    return VerificationResult(
        verdict,
        explanation=explanation,
        checks=checks,
        document=document or hinted,
        report=report,
        sha256=digest,
    )


def verify_id(verification_id: str) -> VerificationResult:
    """Look a verification id up; also re-checks the stored file's signature."""
    if normalize_verification_id(verification_id) is None:
        return VerificationResult(
            Verdict.NOT_FOUND,
            explanation=_("検証IDは12文字の英数字です（例: ABCD-EFGH-JKMN）。"),
            by_id=True,
        )
    try:
        document = document_get_by_verification_id(verification_id=verification_id)
    except NotFound:
        return VerificationResult(
            Verdict.NOT_FOUND,
            explanation=_("検証IDを確かめて、もう一度入力してください。"),
            by_id=True,
        )
    record = Check(
        True,
        _("発行記録"),
        _("%(municipality)s が %(date)s に発行した「%(title)s」です。")
        % {
            "municipality": document.municipality.name,
            "date": format_moment(document.created_at),
            "title": document.title,
        },
    )
    try:
        data = document_read(document=document)
    except DocumentUnavailable as exc:
        return VerificationResult(
            Verdict.STORED_FILE_UNAVAILABLE,
            explanation=str(exc.message),
            checks=[
                record,
                Check(False, _("保管ファイル"), str(exc.message)),
                _status_check(document),
            ],
            document=document,
            sha256=document.sha256,
            by_id=True,
        )
    try:
        reports = _validate(data)
    except Exception:
        logger.exception("stored document %s does not validate", document.pk)
        reports = []
    report = reports[-1] if reports else None
    checks = [record, *_signature_checks(report), _status_check(document)]
    problem = _signature_verdict(report)
    if problem is not None:
        verdict = problem
    elif document.status == DocumentStatus.REVOKED:
        verdict = Verdict.REVOKED
    else:
        verdict = Verdict.VALID
    return VerificationResult(
        verdict,
        explanation=_(
            "お手元の電子ファイルが本物かどうかを確かめるには、PDFファイルをアップロードしてください。"
        ),
        checks=checks,
        document=document,
        report=report,
        sha256=document.sha256,
        by_id=True,
    )
