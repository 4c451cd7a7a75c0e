"""What documents adds to procedures' application pages (registered in ``DocumentsConfig``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from machi.documents.models import DocumentStatus
from machi.documents.selectors import document_list_for_application
from machi.procedures.extensions import ApplicationSection


def _resident_documents(
    request: HttpRequest | None, application: Any, page: dict[str, Any]
) -> dict[str, Any] | None:
    """The applicant's valid documents (the page already checked it is theirs)."""
    documents = list(
        document_list_for_application(application=application).filter(status=DocumentStatus.ISSUED)
    )
    return {"documents": documents} if documents else None


RESIDENT_DOCUMENTS = ApplicationSection(
    place="resident_detail",
    template_name="documents/tags/resident_documents.html",
    context=_resident_documents,
)


def register_sections() -> None:
    from machi.procedures.extensions import application_sections

    application_sections.register("documents.resident_documents", RESIDENT_DOCUMENTS, order=10)
