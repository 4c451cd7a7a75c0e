"""Status changes of an application (the staff side drives them), withdrawal and corrections (補正)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from machi.core import notifications
from machi.core.exceptions import Conflict, InvalidInput
from machi.core.models import User
from machi.core.services import audit_record
from machi.procedures.models import (
    Application,
    ApplicationOutcome,
    ApplicationStatus,
    StatusChange,
)
from machi.procedures.services import hooks


def _status_change(
    application: Application, to_status: str, *, actor: User | None, note: str = ""
) -> None:
    StatusChange.objects.create(
        application=application,
        from_status=application.status,
        to_status=to_status,
        actor=actor,
        note=note,
    )
    application.status = to_status


def _status_label(application: Application) -> str:
    label = str(ApplicationStatus(application.status).label)
    if application.outcome:
        label = f"{label}（{ApplicationOutcome(application.outcome).label}）"
    return label


def _notify_applicant(application: Application, compose: Callable[[], tuple[str, str]]) -> None:
    """Notify the applicant in the language they applied in (not the staff member's)."""
    if not application.contact_email:
        return
    with translation.override(application.language or settings.LANGUAGE_CODE):
        subject, body = compose()
    notifications.notify(
        notifications.Notification(
            subject=subject,
            body=body,
            address={"email": application.contact_email},
            municipality_code=application.municipality_id,
            reference=str(application.pk),
        )
    )


# Which moves are allowed; the staff side (cases) drives them through application_transition.
TRANSITIONS: dict[str, set[str]] = {
    ApplicationStatus.SUBMITTED: {
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.CORRECTION_REQUESTED,
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.COMPLETED,
    },
    ApplicationStatus.IN_REVIEW: {
        ApplicationStatus.CORRECTION_REQUESTED,
        ApplicationStatus.APPROVING,
        ApplicationStatus.COMPLETED,
        ApplicationStatus.WITHDRAWN,
    },
    ApplicationStatus.CORRECTION_REQUESTED: {
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.COMPLETED,
    },
    ApplicationStatus.APPROVING: {
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.COMPLETED,
    },
}


@transaction.atomic
def application_transition(
    *,
    application: Application,
    to_status: str,
    actor: User | None,
    note: str = "",
    outcome: str = "",
    expected_lock_version: int | None = None,
    notify: bool = True,
) -> Application:
    """Move an application to another state (the service the case-processing side calls).

    ``expected_lock_version`` makes concurrent edits fail loudly instead of overwriting.
    """
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if expected_lock_version is not None and locked.lock_version != expected_lock_version:
        raise Conflict(
            _("この申請は他の職員が更新しました。画面を読み込み直してください。"),
            code="stale_application",
        )
    if to_status not in TRANSITIONS.get(locked.status, set()):
        raise Conflict(
            _("「%(from)s」から「%(to)s」には進められません。")
            % {
                "from": ApplicationStatus(locked.status).label,
                "to": ApplicationStatus(to_status).label,
            },
            code="invalid_transition",
        )
    hooks.run_transition_checks(locked, to_status, outcome)
    from_status = locked.status
    if to_status == ApplicationStatus.COMPLETED:
        if outcome not in ApplicationOutcome.values:
            raise InvalidInput(_("完了には結果（許可・交付・却下）が必要です。"))
        locked.outcome = outcome
        locked.completed_at = timezone.now()
    _status_change(locked, to_status, actor=actor, note=note)
    locked.lock_version += 1
    locked.save()
    hooks.status_changed(locked, from_status, to_status)
    audit_record(
        action=f"application.{to_status}",
        actor=actor,
        municipality_code=locked.municipality_id,
        target_type="application",
        target_id=str(locked.pk),
        detail={"outcome": outcome} if outcome else {},
    )
    if notify:
        _notify_applicant(
            locked,
            lambda: (
                _("【%(municipality)s】申請の状況が変わりました（受付番号 %(receipt)s）")
                % {"municipality": locked.municipality.name, "receipt": locked.receipt_number},
                "\n".join(
                    part
                    for part in (
                        _("%(procedure)s の申請は「%(status)s」になりました。")
                        % {"procedure": locked.procedure.name, "status": _status_label(locked)},
                        note,
                    )
                    if part
                ),
            ),
        )
    return locked


@transaction.atomic
def application_withdraw(
    *, application: Application, actor: User | None, reason: str = ""
) -> Application:
    """The applicant withdraws (取下げ) before processing starts."""
    if application.status not in (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.CORRECTION_REQUESTED,
    ):
        raise Conflict(
            _("処理が始まっているため取り下げできません。担当課にご連絡ください。"),
            code="withdraw_not_allowed",
        )
    return application_transition(
        application=application,
        to_status=ApplicationStatus.WITHDRAWN,
        actor=actor,
        note=reason,
    )
