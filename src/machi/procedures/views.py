"""Resident pages of online procedures: catalog, procedure pages (application flow in apply_views)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from machi.core.exceptions import NotFound
from machi.core.models import Department
from machi.core.selectors import municipality_list
from machi.procedures import selectors
from machi.procedures.forms import CatalogSearchForm
from machi.procedures.models import AssuranceLevel
from machi.procedures.services import current_form_version


def _department_choices() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for code, name in Department.objects.order_by("code").values_list("code", "name"):
        seen.setdefault(code, name)
    return sorted(seen.items(), key=lambda item: item[1])


@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    """The procedure catalog at /procedures/ with search (?q=…) and filters."""
    form = CatalogSearchForm(
        request.GET or None,
        municipalities=[(m.code, m.name) for m in municipality_list()],
        departments=_department_choices(),
    )
    query = selectors.CatalogQuery()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        query = selectors.CatalogQuery(
            q=data["q"],
            municipality_code=data["municipality"],
            department_code=data["department"],
            audience=data["audience"],
            life_event=data["life_event"],
        )
    results = selectors.procedure_search(query=query)
    page = Paginator(results, 30).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "procedures/catalog.html",
        {
            "form": form,
            "page": page,
            "entries": selectors.catalog_entries(page.object_list),
            "query": query,
            "params": params.urlencode(),
        },
        status=200 if not form.is_bound or form.is_valid() else 400,
    )


@require_GET
def procedure_detail(request: HttpRequest, code: str, slug: str) -> HttpResponse:
    """The public page of one procedure, with how to apply."""
    try:
        procedure = selectors.procedure_get_public(municipality_code=code, slug=slug)
    except NotFound as exc:
        return render(request, "web/portal/not_found.html", {"message": exc.message}, status=404)
    form_version = current_form_version(procedure)
    return render(
        request,
        "procedures/detail.html",
        {
            "procedure": procedure,
            "can_apply_online": procedure.offers_online and form_version is not None,
            "needs_card": procedure.assurance_level == AssuranceLevel.CARD_SIGNATURE,
            "needs_account": procedure.assurance_level != AssuranceLevel.NONE,
        },
    )
