"""Staff console pages for documents (mounted at /staff/documents/, namespace documents-staff).

Who may do what: any staff of the municipality sees its documents; 決裁者 (approver) and
団体管理者 issue, download and revoke; 団体管理者 edit the templates. Staff of other
municipalities get 404 (they must not learn an application exists).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from machi.core.auth import staff_required, staff_user
from machi.core.exceptions import ApplicationError, Forbidden, NotFound
from machi.core.selectors import user_has_role
from machi.documents import selectors, services
from machi.documents.forms import IssueForm, RevokeForm, TemplateForm
from machi.documents.models import DocumentKind, IssuedDocument
from machi.documents.views import pdf_response

if TYPE_CHECKING:
    from machi.procedures.selectors import Application


def _error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    if isinstance(exc, Forbidden):
        return render(request, "web/staff/forbidden.html", status=403)
    title = _("見つかりません") if isinstance(exc, NotFound) else _("処理できませんでした")
    return render(
        request,
        "documents/staff/error.html",
        {"title": title, "message": exc.message},
        status=exc.status,
    )


def _can_issue(request: HttpRequest, municipality_code: str) -> bool:
    return user_has_role(
        staff_user(request),
        municipality_code=municipality_code,
        roles=selectors.ISSUER_ROLES,
        prefecture_wide=False,
    )


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _issue_page(
    request: HttpRequest, application: Application, form: IssueForm, status: int = 200
) -> HttpResponse:
    documents = selectors.document_list_for_application(application=application)
    return render(
        request,
        "documents/staff/issue.html",
        {
            "application": application,
            "form": form,
            "documents": documents,
            "can_issue": _can_issue(request, application.municipality_id),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@staff_required
def issue(request: HttpRequest, application_id: str) -> HttpResponse:
    """Issue a signed document for an application (POST: ``kind``, ``note``, optional ``next``)."""
    user = staff_user(request)
    try:
        application = selectors.application_get_for_staff(application_id=application_id, user=user)
    except NotFound as exc:
        return _error(request, exc)
    if request.method == "GET":
        return _issue_page(
            request, application, IssueForm(initial={"next": request.GET.get("next", "")})
        )
    if not _can_issue(request, application.municipality_id):
        return render(request, "web/staff/forbidden.html", status=403)
    form = IssueForm(request.POST)
    if not form.is_valid():
        return _issue_page(request, application, form, status=400)
    kind = form.cleaned_data["kind"]
    back = _safe_next(request, reverse("documents-staff:issue", args=[application.pk]))
    try:
        document = services.document_issue(
            application=application, actor=user, kind=kind, note=form.cleaned_data["note"]
        )
    except Forbidden:
        return render(request, "web/staff/forbidden.html", status=403)
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
        return redirect(back)
    messages.success(
        request,
        _("「%(title)s」を発行しました（検証ID %(id)s）。")
        % {"title": document.title, "id": document.display_verification_id},
    )
    return redirect(_safe_next(request, reverse("documents-staff:detail", args=[document.pk])))


def _document_or_error(request: HttpRequest, document_id: str) -> IssuedDocument | HttpResponse:
    try:
        return selectors.document_get_for_staff(document_id=document_id, user=staff_user(request))
    except NotFound as exc:
        return _error(request, exc)


@require_GET
@staff_required
def detail(request: HttpRequest, document_id: str) -> HttpResponse:
    """One issued document: record, signature facts, download and revocation."""
    document = _document_or_error(request, document_id)
    if isinstance(document, HttpResponse):
        return document
    return render(
        request,
        "documents/staff/detail.html",
        {
            "document": document,
            "can_issue": _can_issue(request, document.municipality_id),
            "revoke_form": RevokeForm(),
        },
    )


@require_GET
@staff_required
def download(request: HttpRequest, document_id: str) -> HttpResponse:
    """The signed PDF (決裁者 and 団体管理者 of the municipality; audited)."""
    document = _document_or_error(request, document_id)
    if isinstance(document, HttpResponse):
        return document
    if not _can_issue(request, document.municipality_id):
        return render(request, "web/staff/forbidden.html", status=403)
    try:
        data = services.document_read(document=document, actor=staff_user(request))
    except services.DocumentUnavailable as exc:
        return _error(request, exc)
    services.document_download_record(document=document, actor=staff_user(request), by_staff=True)
    return pdf_response(document, data)


@require_POST
@staff_required
def revoke(request: HttpRequest, document_id: str) -> HttpResponse:
    """Revoke (取消し) a document with a reason."""
    document = _document_or_error(request, document_id)
    if isinstance(document, HttpResponse):
        return document
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.document_revoke(
                document=document, actor=staff_user(request), reason=form.cleaned_data["reason"]
            )
        except ApplicationError as exc:
            return _error(request, exc)
        messages.success(request, _("文書を取り消しました。"))
        return redirect("documents-staff:detail", document_id=document.pk)
    return render(
        request,
        "documents/staff/detail.html",
        {
            "document": document,
            "can_issue": _can_issue(request, document.municipality_id),
            "revoke_form": form,
        },
        status=400,
    )


@require_http_methods(["GET", "POST"])
@staff_required
def templates(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """The wording of each kind of document for one procedure (団体管理者 edit)."""
    user = staff_user(request)
    try:
        procedure = selectors.procedure_get_for_template_editor(
            procedure_id=procedure_id, user=user
        )
    except NotFound as exc:
        return _error(request, exc)
    can_edit = user_has_role(
        user,
        municipality_code=procedure.municipality_id,
        roles=selectors.TEMPLATE_EDITOR_ROLES,
        prefecture_wide=False,
    )
    status = 200
    bound: dict[str, TemplateForm] = {}
    if request.method == "POST":
        if not can_edit:
            return render(request, "web/staff/forbidden.html", status=403)
        kind = request.POST.get("kind", "")
        if kind not in DocumentKind.values:
            return _error(request, NotFound(_("文書の種類が正しくありません。")))
        if "reset" in request.POST:
            services.document_template_reset(procedure=procedure, kind=kind, actor=user)
            messages.success(request, _("標準の文面に戻しました。"))
            return redirect("documents-staff:templates", procedure_id=procedure.pk)
        form = TemplateForm(request.POST, prefix=kind)
        if form.is_valid():
            try:
                services.document_template_save(
                    procedure=procedure,
                    kind=kind,
                    title=form.cleaned_data["title"],
                    body=form.cleaned_data["body"],
                    actor=user,
                )
            except ApplicationError as exc:
                form.add_field_errors(exc.field_errors or {"__all__": [str(exc.message)]})
            else:
                messages.success(request, _("文書テンプレートを保存しました。"))
                return redirect("documents-staff:templates", procedure_id=procedure.pk)
        bound[kind] = form
        status = 400
    sections: list[dict[str, Any]] = []
    for kind, template, is_custom in selectors.templates_for_procedure(procedure=procedure):
        form = bound.get(kind) or TemplateForm(
            prefix=kind, initial={"title": template.title, "body": template.body}
        )
        sections.append(
            {
                "kind": kind,
                "label": DocumentKind(kind).label,
                "form": form,
                "is_custom": is_custom,
            }
        )
    return render(
        request,
        "documents/staff/templates.html",
        {"procedure": procedure, "sections": sections, "can_edit": can_edit},
        status=status,
    )
