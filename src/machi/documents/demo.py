"""Demo documents: every completed demo application gets its signed, time-stamped PDF.

So that `/verify/` accepts the demo's documents (by upload or by their printed ID).
"""

from __future__ import annotations

from machi.documents.models import DocumentKind, IssuedDocument
from machi.documents.services import document_issue
from machi.procedures.selectors import applications_in_status
from machi.procedures.states import ApplicationOutcome, ApplicationStatus

OUTCOME_KIND = {
    ApplicationOutcome.ISSUED: DocumentKind.CERTIFICATE,
    ApplicationOutcome.GRANTED: DocumentKind.PERMIT,
    ApplicationOutcome.REJECTED: DocumentKind.NOTICE,
}


def load_documents_demo(*, municipality_code: str = "282103") -> int:
    """Issue the missing documents of completed demo applications; return how many were issued."""
    issued = 0
    completed = applications_in_status(
        statuses=[ApplicationStatus.COMPLETED], municipality_code=municipality_code
    ).exclude(outcome="")
    for application in completed:
        if IssuedDocument.objects.filter(application=application).exists():
            continue
        document_issue(
            application=application,
            actor=None,
            kind=OUTCOME_KIND[ApplicationOutcome(application.outcome)],
        )
        issued += 1
    return issued
