"""Staff console pages for procedures: catalog editing, the form editor, templates (横展開)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from machi.core.auth import staff_required, staff_user
from machi.core.exceptions import ApplicationError, NotFound
from machi.core.models import Department, Role
from machi.core.selectors import user_has_role, visible_municipality_codes
from machi.procedures import form_editing, selectors, services
from machi.procedures.formengine import FormDefinition, render_step
from machi.procedures.models import FormVersion, Procedure, ProcedureTemplate
from machi.procedures.staff_forms import (
    FieldAddForm,
    FormImportForm,
    ProcedureForm,
    StepAddForm,
    TemplateAdoptForm,
)


def _editor_codes(request: HttpRequest) -> set[str]:
    return visible_municipality_codes(
        staff_user(request), roles=services.EDITOR_ROLES, prefecture_wide=False
    )


def _procedure_or_404(request: HttpRequest, procedure_id: int) -> Procedure | HttpResponse:
    try:
        return selectors.procedure_get_for_staff(
            user=staff_user(request), procedure_id=procedure_id
        )
    except NotFound as exc:
        return render(
            request,
            "web/error.html",
            {"title": _("見つかりません"), "message": exc.message},
            status=404,
        )


def _can_edit(request: HttpRequest, procedure: Procedure) -> bool:
    return user_has_role(
        staff_user(request),
        municipality_code=procedure.municipality_id,
        roles=services.EDITOR_ROLES,
        prefecture_wide=False,
    )


@require_GET
@staff_required
def procedure_list(request: HttpRequest) -> HttpResponse:
    """Procedures of the staff member's municipalities."""
    procedures = selectors.procedure_list_for_staff(user=staff_user(request))
    return render(
        request,
        "procedures/staff/list.html",
        {"procedures": procedures, "can_create": bool(_editor_codes(request))},
    )


def _department_choices(codes: set[str]) -> list[tuple[str, str]]:
    return [
        (d.code, f"{d.municipality.name} {d.name}")
        for d in Department.objects.filter(municipality_id__in=codes).select_related("municipality")
    ]


@require_http_methods(["GET", "POST"])
@staff_required
def procedure_create(request: HttpRequest) -> HttpResponse:
    """Add a procedure to the catalog (団体管理者)."""
    codes = _editor_codes(request)
    if not codes:
        return render(request, "web/staff/forbidden.html", status=403)
    form = ProcedureForm(
        request.POST or None, municipalities=sorted(codes), departments=_department_choices(codes)
    )
    if request.method == "POST" and form.is_valid():
        data = form.service_values()
        try:
            procedure = services.procedure_create(
                actor=staff_user(request),
                municipality_code=form.cleaned_data["municipality"],
                slug=form.cleaned_data["slug"],
                department_code=form.cleaned_data["department"] or None,
                is_published=form.cleaned_data["is_published"],
                **data,
            )
        except ApplicationError as exc:
            form.add_application_error(exc)
        else:
            messages.success(request, _("手続を登録しました。続けて申請様式を作成してください。"))
            return redirect("procedures-staff:edit", procedure_id=procedure.pk)
    return render(
        request,
        "procedures/staff/edit.html",
        {"form": form, "procedure": None},
        status=400 if form.is_bound and form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_required
def procedure_edit(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Edit catalog fields; links to the form editor and template actions."""
    found = _procedure_or_404(request, procedure_id)
    if isinstance(found, HttpResponse):
        return found
    procedure = found
    editable = _can_edit(request, procedure)
    form = ProcedureForm(
        request.POST or None,
        municipalities=[procedure.municipality_id],
        departments=_department_choices({procedure.municipality_id}),
        procedure=procedure,
    )
    if request.method == "POST":
        if not editable:
            return render(request, "web/staff/forbidden.html", status=403)
        if form.is_valid():
            try:
                services.procedure_update(
                    actor=staff_user(request),
                    procedure=procedure,
                    is_published=form.cleaned_data["is_published"],
                    department_code=form.cleaned_data["department"],
                    **form.service_values(),
                )
            except ApplicationError as exc:
                form.add_application_error(exc)
            else:
                messages.success(request, _("保存しました。"))
                return redirect("procedures-staff:edit", procedure_id=procedure.pk)
    versions = procedure.form_versions.order_by("-number")
    update = services.template_update_preview(procedure=procedure)
    return render(
        request,
        "procedures/staff/edit.html",
        {
            "form": form,
            "procedure": procedure,
            "versions": versions,
            "editable": editable,
            "template_update": update,
            "published_template": ProcedureTemplate.objects.filter(source=procedure).first(),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _working_definition(procedure: Procedure) -> tuple[dict[str, Any], FormVersion | None]:
    """The newest version (draft or published) the editor works on."""
    latest = procedure.form_versions.order_by("-number").first()
    if latest is None:
        return form_editing.empty_definition(), None
    return latest.definition, latest


@require_http_methods(["GET", "POST"])
@staff_required
def form_editor(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """The form editor: add/move/remove fields and steps, import/export JSON, publish."""
    found = _procedure_or_404(request, procedure_id)
    if isinstance(found, HttpResponse):
        return found
    procedure = found
    if not _can_edit(request, procedure):
        return render(request, "web/staff/forbidden.html", status=403)
    definition, latest = _working_definition(procedure)
    step_keys = [(s["key"], s["title"].get("ja", s["key"])) for s in definition["steps"]]
    field_form = FieldAddForm(
        request.POST if request.POST.get("action") == "add_field" else None, steps=step_keys
    )
    step_form = StepAddForm(request.POST if request.POST.get("action") == "add_step" else None)
    import_form = FormImportForm(request.POST if request.POST.get("action") == "import" else None)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        actor = staff_user(request)
        try:
            new_definition = _apply_editor_action(
                action, request, definition, field_form, step_form, import_form
            )
            if action == "publish":
                if latest is None:
                    raise ApplicationError(_("公開する様式がありません。"))
                if latest.published_at is None:
                    services.form_version_publish(actor=actor, form_version=latest)
                messages.success(request, _("様式を公開しました。"))
                return redirect("procedures-staff:form", procedure_id=procedure.pk)
            if new_definition is not None:
                services.form_version_save_draft(
                    actor=actor, procedure=procedure, definition=new_definition
                )
                messages.success(request, _("様式の下書きを保存しました。"))
                return redirect("procedures-staff:form", procedure_id=procedure.pk)
        except ApplicationError as exc:
            status = 400
            target = {"add_field": field_form, "add_step": step_form, "import": import_form}.get(
                action
            )
            if target is not None:
                target.add_application_error(exc)
            else:
                messages.error(request, str(exc.message))
    return render(
        request,
        "procedures/staff/form_editor.html",
        {
            "procedure": procedure,
            "definition": definition,
            "latest": latest,
            "field_form": field_form,
            "step_form": step_form,
            "import_form": import_form,
            "export_json": json.dumps(definition, ensure_ascii=False, indent=2),
        },
        status=status,
    )


def _apply_editor_action(
    action: str,
    request: HttpRequest,
    definition: dict[str, Any],
    field_form: FieldAddForm,
    step_form: StepAddForm,
    import_form: FormImportForm,
) -> dict[str, Any] | None:
    post = request.POST
    if action == "add_field":
        if not field_form.is_valid():
            raise ApplicationError(_("入力内容に誤りがあります。"))
        data = field_form.cleaned_data
        return form_editing.field_add(
            definition,
            step_key=data["step"],
            key=data["key"],
            field_type=data["field_type"],
            label_ja=data["label_ja"],
            label_en=data["label_en"],
            label_easy=data["label_easy"],
            help_ja=data["help_ja"],
            required=data["required"],
            options_text=data["options_text"],
        )
    if action == "add_step":
        if not step_form.is_valid():
            raise ApplicationError(_("入力内容に誤りがあります。"))
        return form_editing.step_add(
            definition,
            key=step_form.cleaned_data["key"],
            title_ja=step_form.cleaned_data["title_ja"],
            title_en=step_form.cleaned_data["title_en"],
        )
    if action in ("remove", "up", "down", "require", "optional"):
        step_key, key = post.get("step", ""), post.get("field", "")
        if action == "remove":
            return form_editing.field_remove(definition, step_key=step_key, key=key)
        if action in ("up", "down"):
            return form_editing.field_move(
                definition, step_key=step_key, key=key, offset=-1 if action == "up" else 1
            )
        return form_editing.field_set_required(
            definition, step_key=step_key, key=key, required=action == "require"
        )
    if action == "import":
        if not import_form.is_valid():
            raise ApplicationError(_("入力内容に誤りがあります。"))
        parsed: dict[str, Any] = import_form.cleaned_data["definition"]
        services.parse_definition(parsed)
        return parsed
    if action == "publish":
        return None
    raise ApplicationError(_("不明な操作です。"))


@require_GET
@staff_required
def form_preview(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Preview every step of the working form as residents will see it (nothing is saved)."""
    found = _procedure_or_404(request, procedure_id)
    if isinstance(found, HttpResponse):
        return found
    procedure = found
    definition_data, latest = _working_definition(procedure)
    definition = FormDefinition.from_json(definition_data)
    language = request.GET.get("lang", "ja")
    steps = [
        {
            "title": step.title_for(language),
            "html": render_step(definition, step.key, {}, {}, language=language),
        }
        for step in definition.steps
    ]
    return render(
        request,
        "procedures/staff/form_preview.html",
        {"procedure": procedure, "steps": steps, "latest": latest, "language": language},
    )


@require_GET
@staff_required
def form_export(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Download the working form definition as JSON."""
    found = _procedure_or_404(request, procedure_id)
    if isinstance(found, HttpResponse):
        return found
    definition, latest = _working_definition(found)
    response = HttpResponse(
        json.dumps(definition, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    number = latest.number if latest else 0
    response["Content-Disposition"] = f'attachment; filename="{found.slug}-v{number}.json"'
    return response


@require_POST
@staff_required
def template_publish(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Publish the procedure as a template for other municipalities (横展開)."""
    found = _procedure_or_404(request, procedure_id)
    if isinstance(found, HttpResponse):
        return found
    if not _can_edit(request, found):
        return render(request, "web/staff/forbidden.html", status=403)
    try:
        template = services.template_publish(actor=staff_user(request), procedure=found)
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request, _("テンプレート（第%(v)s版）として公開しました。") % {"v": template.version}
        )
    return redirect("procedures-staff:edit", procedure_id=found.pk)


@require_POST
@staff_required
def template_update_apply(request: HttpRequest, procedure_id: int) -> HttpResponse:
    """Pull the newest template version into an adopted procedure (after seeing the diff)."""
    found = _procedure_or_404(request, procedure_id)
    if isinstance(found, HttpResponse):
        return found
    if not _can_edit(request, found):
        return render(request, "web/staff/forbidden.html", status=403)
    try:
        services.template_update_apply(actor=staff_user(request), procedure=found)
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("テンプレートの更新を取り込みました。"))
    return redirect("procedures-staff:edit", procedure_id=found.pk)


@require_http_methods(["GET", "POST"])
@staff_required
def template_list(request: HttpRequest) -> HttpResponse:
    """Templates shared by the prefecture and municipalities; adopt one in one step."""
    codes = _editor_codes(request)
    form = TemplateAdoptForm(
        request.POST or None,
        templates=[
            (t.pk, f"{t.name}（{t.municipality.name}・第{t.version}版）")
            for t in selectors.template_list()
        ],
        municipalities=sorted(codes),
        departments=_department_choices(codes),
    )
    if request.method == "POST":
        if not codes:
            return render(request, "web/staff/forbidden.html", status=403)
        if form.is_valid():
            try:
                procedure = services.template_adopt(
                    actor=staff_user(request),
                    template=ProcedureTemplate.objects.get(pk=form.cleaned_data["template"]),
                    municipality_code=form.cleaned_data["municipality"],
                    department_code=form.cleaned_data["department"] or None,
                    slug=form.cleaned_data["slug"] or None,
                )
            except ApplicationError as exc:
                form.add_application_error(exc)
            else:
                messages.success(
                    request,
                    _("テンプレートから手続を作成しました。担当課や手数料を確認してください。"),
                )
                return redirect("procedures-staff:edit", procedure_id=procedure.pk)
    return render(
        request,
        "procedures/staff/templates.html",
        {
            "templates": selectors.template_list(),
            "form": form,
            "can_adopt": bool(codes),
            "roles": Role,
        },
        status=400 if form.is_bound and form.errors else 200,
    )
