from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from machi.cases.extensions import CaseLinkTarget
    from machi.core.models import User


def _issue_link(user: User, case: object) -> CaseLinkTarget | None:
    """「文書を発行して完了する」 on an approved case, for 決裁者 and 団体管理者 (who may issue)."""
    from django.urls import NoReverseMatch, reverse
    from django.utils.translation import gettext as _

    from machi.cases.extensions import CaseLinkTarget
    from machi.core.selectors import user_has_role
    from machi.documents.selectors import ISSUER_ROLES

    if getattr(case, "status", "") != "approving" or getattr(case, "approval_state", "") != (
        "approved"
    ):
        return None
    municipality_code = str(getattr(case, "municipality_id", ""))
    if not user_has_role(
        user, municipality_code=municipality_code, roles=ISSUER_ROLES, prefecture_wide=False
    ):
        return None
    application_id = str(getattr(case, "application_id", ""))
    try:
        issue = reverse("documents-staff:issue", args=[application_id])
        back = reverse("cases-staff:detail", args=[application_id])
    except NoReverseMatch:  # a deployment without the documents pages
        return None
    return CaseLinkTarget(
        label=_("文書を発行して完了する"), url=f"{issue}?next={back}", primary=True
    )


class DocumentsConfig(AppConfig):
    name = "machi.documents"
    label = "documents"
    verbose_name = "Machi documents"

    def ready(self) -> None:
        """Contribute to lower apps' pages without them importing documents.

        Cases: 「文書を発行して完了する」 among a case's actions. Procedures: the applicant's
        documents on "my application" and the documents panel on the staff case page.
        """
        from machi.cases.extensions import CaseLink, case_links
        from machi.documents import audit_labels
        from machi.documents.sections import register_sections

        audit_labels.install()
        case_links.register("documents.issue", CaseLink(target=_issue_link))
        register_sections()

        # The audit chain checkpoints are time-stamped by the same TSA as documents.
        from machi.core.audit_checkpoints import TIMESTAMPER_ID, audit_timestampers
        from machi.documents.audit_timestamps import DocumentsTimeStamper

        audit_timestampers.register(TIMESTAMPER_ID, DocumentsTimeStamper(), replace=True)
