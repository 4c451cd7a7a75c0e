"""Public pages: /verify/ (upload or id, no JavaScript), the applicant's download, and /tsa/.

Thin: parse, call a service or selector, render.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from machi.core.exceptions import NotFound
from machi.core.models import User
from machi.documents import selectors, services, tsa
from machi.documents.forms import VerifyIdForm, VerifyUploadForm
from machi.documents.models import DocumentStatus, IssuedDocument
from machi.documents.verification import Verdict, VerificationResult, verify_id, verify_upload
from machi.procedures.services import SESSION_APPLICATIONS_KEY

ID_LOOKUP_RATE: Final = "60/m"
# Room for the multipart envelope and the CSRF field around the file itself.
MULTIPART_OVERHEAD: Final = 64 * 1024


def _upload_rate(group: str, request: HttpRequest) -> str:
    return str(settings.MACHI_DOCUMENTS_VERIFY_RATE_LIMIT)


def _tsa_rate(group: str, request: HttpRequest) -> str:
    return str(settings.MACHI_TSA_RATE_LIMIT)


def _max_bytes() -> int:
    return int(settings.MACHI_DOCUMENTS_VERIFY_MAX_BYTES)


class _SizeLimitHandler(FileUploadHandler):
    """Stops reading an upload once it passes the limit (also without Content-Length)."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request._machi_upload_too_large = True  # type: ignore[union-attr]
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _csrf_target(request: HttpRequest) -> HttpResponse:
    """Stands in for the view when its CSRF check runs late (the view itself is exempt)."""
    return HttpResponse()


def _forms(
    upload: VerifyUploadForm | None = None, lookup: VerifyIdForm | None = None
) -> dict[str, Any]:
    return {
        "upload_form": upload or VerifyUploadForm(),
        "id_form": lookup or VerifyIdForm(),
        "max_mb": _max_bytes() // (1024 * 1024),
    }


def _result(request: HttpRequest, result: VerificationResult, status: int = 200) -> HttpResponse:
    return render(request, "documents/verify_result.html", {"result": result}, status=status)


def _page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, "documents/verify.html", context, status=status)


@never_cache
@csrf_exempt  # checked below, after the size check, so a huge upload is never parsed first
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_upload_rate, method="POST", block=False)
def verify(request: HttpRequest) -> HttpResponse:
    """Upload a PDF, or enter a verification id (GET ?verification_id=… → /verify/<id>/)."""
    if request.method == "GET":
        if "verification_id" not in request.GET:
            return _page(request, _forms())
        lookup = VerifyIdForm(request.GET)
        if lookup.is_valid():
            normalized = selectors.normalize_verification_id(lookup.cleaned_data["verification_id"])
            if normalized:
                return redirect("documents:verify-id", verification_id=normalized)
            lookup.add_error(
                "verification_id", _("検証IDは12文字の英数字です（例: ABCD-EFGH-JKMN）。")
            )
            lookup.mark_invalid_fields()
        return _page(request, _forms(lookup=lookup), status=400)

    if getattr(request, "limited", False):
        context = _forms()
        context["limited"] = True
        return _page(request, context, status=429)
    limit = _max_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit + MULTIPART_OVERHEAD:
        return _result(request, _too_large(), 413)
    request.upload_handlers = [_SizeLimitHandler(request, limit), *request.upload_handlers]
    csrf_failure = CsrfViewMiddleware(_csrf_target).process_view(request, _csrf_target, (), {})
    if csrf_failure is not None:
        return csrf_failure
    files = request.FILES  # parsed now (if the CSRF check did not already), size-limited
    if getattr(request, "_machi_upload_too_large", False):
        return _result(request, _too_large(), 413)
    form = VerifyUploadForm(request.POST, files)
    if not form.is_valid():
        return _page(request, _forms(upload=form), status=400)
    upload = form.cleaned_data["pdf"]
    if upload.size is not None and upload.size > limit:
        return _result(request, _too_large(), 413)
    data = upload.read(limit + 1)
    return _result(request, verify_upload(data))


def _too_large() -> VerificationResult:
    return VerificationResult(
        Verdict.TOO_LARGE,
        explanation=_("%(limit)d MB 以下のPDFファイルを選んでください。")
        % {"limit": _max_bytes() // (1024 * 1024)},
    )


@require_GET
@ratelimit(key="ip", rate=ID_LOOKUP_RATE, method="GET", block=False)
def verify_by_id(request: HttpRequest, verification_id: str) -> HttpResponse:
    """The page a document's QR code opens."""
    if getattr(request, "limited", False):
        context = _forms()
        context["limited"] = True
        return _page(request, context, status=429)
    result = verify_id(verification_id)
    return _result(request, result, status=404 if result.verdict == Verdict.NOT_FOUND else 200)


def pdf_response(document: IssuedDocument, data: bytes) -> HttpResponse:
    """The signed PDF (``data``, from ``services.document_read``) as a download."""
    filename = f"{document.title}_{document.verification_id}.pdf".replace("/", "_")
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="machi-{document.verification_id}.pdf"; '
        f"filename*=UTF-8''{quote(filename)}"
    )
    response["Content-Length"] = str(document.size)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def my_document_download(request: HttpRequest, document_id: str) -> HttpResponse:
    """The applicant downloads their own issued document (signed-in, or this browser session)."""
    user = request.user if isinstance(request.user, User) else None
    try:
        document = selectors.document_get_for_applicant(
            document_id=document_id,
            user=user,
            session_ids=[str(i) for i in request.session.get(SESSION_APPLICATIONS_KEY, [])],
        )
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc
    if document.status == DocumentStatus.REVOKED:
        return render(
            request,
            "web/error.html",
            {
                "title": _("取り消された文書です"),
                "message": _(
                    "この文書は取り消されたため、ダウンロードできません。担当課にお問い合わせください。"
                ),
            },
            status=410,
        )
    try:
        data = services.document_read(document=document, actor=user)
    except services.DocumentUnavailable as exc:
        return render(
            request,
            "web/error.html",
            {"title": _("文書をお渡しできません"), "message": exc.message},
            status=exc.status,
        )
    services.document_download_record(document=document, actor=user, by_staff=False)
    return pdf_response(document, data)


@csrf_exempt  # RFC 3161 clients post DER, not forms
@require_POST
@ratelimit(key="ip", rate=_tsa_rate, method="POST", block=True)
def tsa_endpoint(request: HttpRequest) -> HttpResponse:
    """Machi's built-in time-stamping authority (RFC 3161 over HTTP)."""
    if settings.PRODUCTION and settings.MACHI_TSA_URL:
        raise Http404  # production uses a real TSA: the test one is not offered
    if request.content_type != tsa.QUERY_CONTENT_TYPE:
        return HttpResponse(
            "Content-Type must be application/timestamp-query\n",
            status=415,
            content_type="text/plain; charset=utf-8",
        )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > tsa.MAX_QUERY_BYTES:
        return HttpResponse("Request too large\n", status=413, content_type="text/plain")
    body = request.read(tsa.MAX_QUERY_BYTES + 1)
    return HttpResponse(tsa.respond(body), content_type=tsa.REPLY_CONTENT_TYPE)
