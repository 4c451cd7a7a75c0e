"""Template tags so lower layers' pages can show documents without importing this app.

{% load machi_documents %}
{% resident_documents application %}     on "my application": download links
{% staff_documents application %}        on the case page: issued documents + issue form
"""

from __future__ import annotations

from typing import Any

from django import template

from machi.core.models import User
from machi.core.selectors import user_has_role
from machi.documents.forms import IssueForm
from machi.documents.models import DocumentStatus
from machi.documents.selectors import ISSUER_ROLES, document_list_for_application

register = template.Library()


@register.inclusion_tag("documents/tags/resident_documents.html")
def resident_documents(application: Any) -> dict[str, Any]:
    """Valid documents of an application its applicant is already allowed to see."""
    documents = document_list_for_application(application=application).filter(
        status=DocumentStatus.ISSUED
    )
    return {"documents": list(documents)}


@register.inclusion_tag("documents/tags/staff_documents.html", takes_context=True)
def staff_documents(context: template.Context, application: Any) -> dict[str, Any]:
    """Documents of the application and, for 決裁者/団体管理者, the form to issue one."""
    request = context.get("request")
    user = getattr(request, "user", None)
    can_issue = isinstance(user, User) and user_has_role(
        user,
        municipality_code=application.municipality_id,
        roles=ISSUER_ROLES,
        prefecture_wide=False,
    )
    next_url = request.get_full_path() if request is not None else ""
    return {
        "application": application,
        "documents": list(document_list_for_application(application=application)),
        "can_issue": can_issue,
        "form": IssueForm(initial={"next": next_url}, prefix=f"issue-{application.pk}"),
        "csrf_token": context.get("csrf_token"),
    }
