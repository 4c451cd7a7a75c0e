"""Resident accounts: sign-up, e-mail verification, sign-in records."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from machi.core.exceptions import Conflict, InvalidInput
from machi.core.models import User
from machi.core.public_address import public_url
from machi.core.services import audit_record
from machi.identity.models import (
    ResidentProfile,
)
from machi.identity.selectors import (
    normalize_email,
)

EMAIL_VERIFICATION_SALT = "machi.identity.email-verification"


# --- Resident accounts ----------------------------------------------------------------------------


@transaction.atomic
def resident_sign_up(*, email: str, password: str, display_name: str = "") -> User:
    """Create a resident account (``is_staff=False``); the e-mail address is its user name.

    The account can sign in once the address is verified (:func:`resident_email_verify`).
    Raises ``InvalidInput`` (field errors on ``email``/``password``) or ``Conflict``
    (``email_taken``; callers should not reveal that to the visitor).
    """
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(
            _("入力内容に誤りがあります。"),
            field_errors={"email": [_("メールアドレスの形式が正しくありません。")]},
        ) from exc
    if len(email) > User._meta.get_field("username").max_length:  # type: ignore[operator]
        raise InvalidInput(
            _("入力内容に誤りがあります。"),
            field_errors={"email": [_("メールアドレスが長すぎます（150文字まで）。")]},
        )
    if User.objects.filter(username=email).exists():
        raise Conflict(_("このメールアドレスは登録済みです。"), code="email_taken")
    user = User(username=email, email=email, display_name=display_name.strip(), is_staff=False)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            _("パスワードが条件を満たしていません。"),
            field_errors={"password": [str(m) for m in exc.messages]},
        ) from exc
    user.set_password(password)
    user.save()
    ResidentProfile.objects.create(user=user)
    audit_record(action="resident.sign_up", actor=user, target_type="user", target_id=user.pk)
    return user


def email_verification_token(*, user: User) -> str:
    """A signed, timestamped token for the verification link (bound to the current address)."""
    return signing.dumps({"u": user.pk, "e": user.email}, salt=EMAIL_VERIFICATION_SALT)


def resident_verification_email_send(*, user: User) -> None:
    """Send the verification e-mail, its link at the public address (never the request's host)."""
    url = public_url(reverse("identity:verify-email", args=[email_verification_token(user=user)]))
    hours = int(settings.MACHI_EMAIL_VERIFICATION_SECONDS) // 3600
    body = _(
        "Machi の住民アカウントの登録を受け付けました。\n\n"
        "次のリンクを開いて、メールアドレスを確認してください（%(hours)s時間有効）。\n"
        "%(url)s\n\n"
        "このメールに心当たりがない場合は、何もせずに削除してください。"
    ) % {"url": url, "hours": hours}
    send_mail(_("【Machi】メールアドレスの確認"), body, None, [user.email])
    audit_record(
        action="resident.verification_email_sent",
        actor=None,
        target_type="user",
        target_id=user.pk,
    )


def resident_existing_account_notice_send(*, email: str) -> None:
    """Tell the owner of an address that someone tried to sign up with it again.

    Sign-up shows the same page either way, so the form cannot be used to find out who has
    an account; the owner learns it from their own mailbox. The sign-in link is at the public
    address, never the request's host.
    """
    sign_in_url = public_url(reverse("identity:sign-in"))
    body = _(
        "このメールアドレスで Machi の住民アカウントの登録が申し込まれましたが、"
        "このアドレスはすでに登録されています。\n\n"
        "サインインはこちら: %(url)s\n\n"
        "心当たりがない場合は、このメールを削除してください。"
    ) % {"url": sign_in_url}
    send_mail(_("【Machi】アカウントは登録済みです"), body, None, [normalize_email(email)])


@transaction.atomic
def resident_email_verify(*, token: str) -> User:
    """Confirm the address of the account named in a verification link's ``token``.

    Raises ``InvalidInput`` with code ``link_expired`` or ``link_invalid``.
    """
    try:
        payload = signing.loads(
            token, salt=EMAIL_VERIFICATION_SALT, max_age=settings.MACHI_EMAIL_VERIFICATION_SECONDS
        )
    except signing.SignatureExpired as exc:
        raise InvalidInput(
            _("確認用リンクの有効期限が切れています。確認メールを再送してください。"),
            code="link_expired",
        ) from exc
    except signing.BadSignature as exc:
        raise InvalidInput(
            _("確認用リンクが正しくありません。メールに記載されたリンクをそのまま開いてください。"),
            code="link_invalid",
        ) from exc
    user = User.objects.filter(pk=payload.get("u"), is_staff=False).first()
    if user is None or user.email != payload.get("e"):
        raise InvalidInput(
            _("確認用リンクが正しくありません。メールに記載されたリンクをそのまま開いてください。"),
            code="link_invalid",
        )
    profile, _created = ResidentProfile.objects.get_or_create(user=user)
    if profile.email_verified_at is None:
        profile.email_verified_at = timezone.now()
        profile.save(update_fields=["email_verified_at", "updated_at"])
        audit_record(
            action="resident.email_verified", actor=user, target_type="user", target_id=user.pk
        )
    return user


def resident_sign_in_record(
    *, user: User | None, email: str, succeeded: bool, method: str = "password", reason: str = ""
) -> None:
    """Record a resident sign-in attempt (password; card sign-ins are audited by the service)."""
    detail = {"email": normalize_email(email), "method": method}
    if reason:
        detail["reason"] = reason
    audit_record(
        action="resident.sign_in" if succeeded else "resident.sign_in_failed",
        actor=user if succeeded else None,
        target_type="user",
        target_id=user.pk if user is not None else "",
        detail=detail,
    )


def resident_sign_out_record(*, user: User) -> None:
    """Record that a resident signed out."""
    audit_record(action="resident.sign_out", actor=user, target_type="user", target_id=user.pk)
