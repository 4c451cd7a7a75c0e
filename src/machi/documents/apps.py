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
        """Offer 「文書を発行して完了する」 among a case's actions (cases never links to documents),
        and the TSA client for audit checkpoints."""
        from machi.cases.extensions import CaseLink, case_links

        case_links.register("documents.issue", CaseLink(target=_issue_link))
        # The documents TSA client time-stamps the audit log's checkpoints (core cannot import it).
        from machi.core.audit_checkpoints import TIMESTAMPER_ID, audit_timestampers
        from machi.documents.audit_timestamps import DocumentsTimeStamper

        audit_timestampers.register(TIMESTAMPER_ID, DocumentsTimeStamper(), replace=True)
