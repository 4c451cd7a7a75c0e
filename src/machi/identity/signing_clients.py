"""Signing clients: the ways a resident can make a My Number card signature on a page.

A page that needs a card signature (an application's review step, card sign-in, linking a
card) describes what must be signed as a :class:`SigningTask` and renders one panel per
available client (:func:`signing_panels`). The form posts ``signing_client=<id>``;
:func:`signing_receive` asks that client for the signature. Whatever the client, the page then
hands the signature and certificate to the same server-side verification
(:func:`machi.identity.verification.verify_card_signature`: chain, validity, key usage,
revocation) — a client only *obtains* a signature, it never vouches for one.

Built in (registered in :data:`signing_clients`):

- ``smartphone`` — hand-off to a smartphone app through a QR code (docs/signing-handoff.md);
- ``paste`` — the expert fallback: paste a base64 signature and a PEM certificate;
- ``demo-card`` — outside production only, from :mod:`machi.testing_pki.signing`.

A JPKI platform provider (a 公的個人認証 SDK or a platform operator's service) plugs in by
subclassing :class:`JpkiPlatformClient` and registering an instance from its app's
``ready()``.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal

import segno
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from machi.core.exceptions import InvalidInput
from machi.core.models import User
from machi.core.public_address import public_url
from machi.core.registry import Registry
from machi.identity import selectors, services

Purpose = Literal["sign", "auth"]

#: The form field naming the chosen client.
CLIENT_FIELD: Final = "signing_client"
#: Hand-offs started in this browser session: {task key: {"id": pk, "token": token}}.
SESSION_HANDOFFS: Final = "identity.signing_handoffs"
SESSION_HANDOFFS_KEPT: Final = 10


@dataclass(frozen=True)
class SigningTask:
    """What must be signed, and for what.

    ``data`` are the exact bytes the card signs (an application's canonical form, a sign-in
    challenge's UTF-8 text). ``target_type``/``target_id`` name what the signature is for; a
    hand-off is bound to them and to the SHA-256 of ``data``. ``action_label`` completes the
    buttons' wording (「申請する」, 「サインインする」…).
    """

    purpose: Purpose
    data: bytes
    target_type: str
    target_id: str
    action_label: str | Promise
    municipality_code: str = ""
    user: User | None = None

    @property
    def key(self) -> str:
        return f"{self.target_type}:{self.target_id}"


@dataclass(frozen=True)
class CardSignatureResult:
    """A signature a client obtained; still to be verified by the caller's service."""

    signature: bytes
    certificate_pem: str
    client_id: str

    @property
    def signature_b64(self) -> str:
        return base64.b64encode(self.signature).decode("ascii")


@dataclass(frozen=True)
class SigningPanel:
    """One client's part of the page: ``template_name`` is rendered with ``panel`` and ``task``."""

    client_id: str
    label: str | Promise
    template_name: str
    task: SigningTask
    context: dict[str, Any] = field(default_factory=dict)


class SigningClient(ABC):
    """One way of obtaining a card signature for a :class:`SigningTask`."""

    id: ClassVar[str]
    label: ClassVar[str | Promise]
    template_name: ClassVar[str]
    order: ClassVar[int] = 50

    def available(self, request: HttpRequest, task: SigningTask) -> bool:
        """Whether to offer this client for ``task`` now."""
        return True

    def context(self, request: HttpRequest, task: SigningTask) -> dict[str, Any]:
        """Extra context for the panel's template."""
        return {}

    @abstractmethod
    def receive(self, request: HttpRequest, task: SigningTask) -> CardSignatureResult | None:
        """The signature posted for ``task``, or ``None`` while it is still on its way.

        Raises ``InvalidInput`` (shown next to the signature step) when the input is unusable.
        """


signing_clients: Registry[SigningClient] = Registry(
    "identity.signing_clients",
    description="Ways to obtain a My Number card signature (demo card, smartphone, paste…)",
)


def signing_panels(request: HttpRequest, task: SigningTask) -> list[SigningPanel]:
    """The panels of every client available for ``task``, in order."""
    return [
        SigningPanel(
            client_id=client_id,
            label=client.label,
            template_name=client.template_name,
            task=task,
            context=client.context(request, task),
        )
        for client_id, client in signing_clients.items()
        if client.available(request, task)
    ]


def signing_receive(
    request: HttpRequest, task: SigningTask, *, default: str = "paste"
) -> CardSignatureResult | None:
    """Ask the client the form chose (``signing_client``) for the signature of ``task``.

    The field is ``<client id>`` or ``<client id>:<choice>`` (a button per demo card, say);
    :func:`client_choice` gives a client its choice.
    """
    client_id = (request.POST.get(CLIENT_FIELD) or default).split(":", 1)[0]
    if client_id not in signing_clients:
        raise _unavailable()
    client = signing_clients.get(client_id)
    if not client.available(request, task):
        raise _unavailable()
    return client.receive(request, task)


def client_choice(request: HttpRequest) -> str:
    """What follows ``<client id>:`` in the posted ``signing_client`` (``""`` when nothing)."""
    return (request.POST.get(CLIENT_FIELD) or "").partition(":")[2]


def chosen_client(request: HttpRequest) -> str:
    """The id of the client a posted form chose (``paste`` when it names none), else ``""``."""
    if request.method != "POST":
        return ""
    return (request.POST.get(CLIENT_FIELD) or "paste").partition(":")[0]


def _unavailable() -> InvalidInput:
    message = _("この署名の方法は使えません。別の方法を選んでください。")
    return InvalidInput(message, code="signing_client_unavailable")


# --- Paste (expert fallback) ------------------------------------------------------------------


class PasteClient(SigningClient):
    """Paste a base64 signature and a PEM certificate made with any tool (上級者向け)."""

    id = "paste"
    label = gettext_lazy("上級者向け: 署名と電子証明書を貼り付ける")
    template_name = "identity/signing/_paste.html"
    order = 100

    def context(self, request: HttpRequest, task: SigningTask) -> dict[str, Any]:
        return {"data_b64": base64.b64encode(task.data).decode("ascii")}

    def receive(self, request: HttpRequest, task: SigningTask) -> CardSignatureResult:
        signature_b64 = request.POST.get("signature", "")
        certificate = request.POST.get("certificate", "")
        if not signature_b64.strip() or not certificate.strip():
            message = _("署名と証明書を貼り付けてください。")
            raise InvalidInput(
                message, code="signature_required", field_errors={"signature": [message]}
            )
        return CardSignatureResult(
            signature=services.decode_signature(signature_b64),
            certificate_pem=certificate,
            client_id=self.id,
        )


# --- Smartphone hand-off ----------------------------------------------------------------------


def _session_handoffs(request: HttpRequest) -> dict[str, dict[str, Any]]:
    found = request.session.get(SESSION_HANDOFFS, {})
    return dict(found) if isinstance(found, dict) else {}


def _remember_handoff(request: HttpRequest, task: SigningTask, handoff_id: int, token: str) -> None:
    kept = _session_handoffs(request)
    kept.pop(task.key, None)
    kept[task.key] = {"id": handoff_id, "token": token}
    request.session[SESSION_HANDOFFS] = dict(list(kept.items())[-SESSION_HANDOFFS_KEPT:])


def _forget_handoff(request: HttpRequest, task: SigningTask) -> None:
    kept = _session_handoffs(request)
    if kept.pop(task.key, None) is not None:
        request.session[SESSION_HANDOFFS] = kept


def qr_svg(text: str) -> SafeString:
    """An inline SVG QR code of ``text`` (segno, as for issued documents; no script, no style)."""
    svg = segno.make(text, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff")
    return mark_safe(svg)  # noqa: S308 - segno's own markup; ``text`` is our URL, escaped by it


def handoff_request_url(request: HttpRequest, token: str) -> str:
    """The absolute URL of a hand-off request (what the QR code carries)."""
    return public_url(reverse("api-v1:identity_signing_request", kwargs={"token": token}))


class SmartphoneHandoffClient(SigningClient):
    """Sign on a smartphone: the page shows a QR code, an app signs and posts back.

    The first press of the button creates a one-time request (bound to the task's target
    and the SHA-256 of its bytes) and shows its QR code; 「確認する」 then picks up the
    answer. See docs/signing-handoff.md.
    """

    id = "smartphone"
    label = gettext_lazy("スマートフォンで署名する")
    template_name = "identity/signing/_handoff.html"
    order = 20

    def context(self, request: HttpRequest, task: SigningTask) -> dict[str, Any]:
        kept = _session_handoffs(request).get(task.key)
        if not kept:
            return {"started": False}
        handoff = selectors.handoff_get(handoff_id=int(kept["id"]))
        if (
            handoff is None
            or handoff.used_at is not None
            or handoff.data_sha256 != services.handoff_data_hash(task.data)
        ):
            return {"started": False}
        expired = handoff.expires_at <= timezone.now()
        url = handoff_request_url(request, str(kept["token"]))
        return {
            "started": True,
            "expired": expired,
            "answered": handoff.answered_at is not None,
            "expires_at": handoff.expires_at,
            "url": url,
            "qr": qr_svg(url) if not expired else "",
            "status_url": reverse("identity:handoff-status", args=[handoff.pk]),
        }

    def receive(self, request: HttpRequest, task: SigningTask) -> CardSignatureResult | None:
        kept = _session_handoffs(request).get(task.key)
        if kept is None or client_choice(request) == "restart":
            handoff, token = services.handoff_create(
                purpose=task.purpose,
                data=task.data,
                target_type=task.target_type,
                target_id=task.target_id,
                municipality_code=task.municipality_code,
                user=task.user,
            )
            _remember_handoff(request, task, handoff.pk, token)
            return None
        try:
            answer = services.handoff_take(
                handoff_id=int(kept["id"]),
                target_type=task.target_type,
                target_id=task.target_id,
                data=task.data,
            )
        except InvalidInput:
            _forget_handoff(request, task)
            raise
        if answer is None:
            raise InvalidInput(
                _(
                    "スマートフォンからの署名をまだ受け取っていません。"
                    "アプリで署名してから「確認する」を押してください。"
                ),
                code="handoff_pending",
            )
        _forget_handoff(request, task)
        signature, certificate_pem = answer
        return CardSignatureResult(
            signature=signature, certificate_pem=certificate_pem, client_id=self.id
        )


# --- JPKI platform provider (plugin point) ----------------------------------------------------


class JpkiPlatformClient(SigningClient, ABC):
    """Base for an adapter to a real JPKI platform (公的個人認証サービスのプラットフォーム事業者).

    Machi ships no implementation: a real adapter wraps the provider's SDK or API. It must

    1. in :meth:`start`, send the provider ``task.data`` (or its SHA-256 where the provider
       signs digests — then the signature must still verify over ``task.data`` as
       RSASSA-PKCS1-v1_5 with SHA-256) and the purpose (``sign``: 署名用電子証明書, ``auth``:
       利用者証明用電子証明書), bound to ``task.target_type``/``task.target_id``, and return the
       URL the resident's browser goes to (or ``""`` when the panel shows what to do);
    2. in :meth:`collect`, return the signature and the card's certificate (DER or PEM) once the
       resident has signed, ``None`` while waiting; refuse answers for another task;
    3. never verify on Machi's behalf: the caller verifies chain, validity, key usage and
       revocation with :func:`machi.identity.verification.verify_card_signature`.
    """

    template_name = "identity/signing/_platform.html"
    order = 30

    @abstractmethod
    def start(self, request: HttpRequest, task: SigningTask) -> str:
        """Begin signing ``task`` at the provider; the URL to send the resident to, or ``""``."""

    @abstractmethod
    def collect(self, request: HttpRequest, task: SigningTask) -> tuple[bytes, str] | None:
        """(signature, certificate) once signed, ``None`` while waiting."""

    def receive(self, request: HttpRequest, task: SigningTask) -> CardSignatureResult | None:
        collected = self.collect(request, task)
        if collected is None:
            self.start(request, task)
            return None
        signature, certificate = collected
        return CardSignatureResult(
            signature=signature, certificate_pem=certificate, client_id=self.id
        )


def register_builtin_clients() -> None:
    """Register the built-in clients (plugins register theirs from their ``ready()``)."""
    signing_clients.register(
        SmartphoneHandoffClient.id, SmartphoneHandoffClient(), order=SmartphoneHandoffClient.order
    )
    signing_clients.register(PasteClient.id, PasteClient(), order=PasteClient.order)


def session_handoff_ids(request: HttpRequest) -> set[int]:
    """The hand-offs this browser session started (only those may be asked about)."""
    return {int(kept["id"]) for kept in _session_handoffs(request).values() if "id" in kept}
