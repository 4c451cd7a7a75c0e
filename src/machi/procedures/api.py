"""JSON API of online procedures: catalog, form definitions, submission and status.

Other front ends (a LINE mini-app, a kiosk) use these with the resident's session cookie.
"""

from __future__ import annotations

import base64
import uuid
from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Header, Query, Router, Schema, Status
from ninja.decorators import decorate_view
from pydantic import BaseModel, ConfigDict

from machi.core.auth import resident_api_auth
from machi.core.exceptions import NotAuthenticated, NotFound
from machi.core.models import User
from machi.core.pagination import MAX_OFFSET
from machi.procedures import selectors, services
from machi.procedures.limits import api_body_limit, refuse_if_over_rate
from machi.procedures.models import Application, Audience, Channel, LifeEvent

router = Router(tags=["procedures"])


# A procedure of the catalog (a selectors.CatalogEntry). A plain pydantic model (no docstring:
# it would become the OpenAPI description): pydantic reads the entry's attributes itself, not
# through ninja's per-field getter (a third of a 50-result search request's time).
class ProcedureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    municipality_code: str
    slug: str
    name: str
    name_kana: str
    name_en: str
    description: str
    department: str | None
    audience: str
    legal_basis: str
    assurance_level: str
    fee_yen: int
    fee_per_copy: bool
    standard_processing_days: int | None
    annual_case_count: int | None
    channels: list[str]
    life_events: list[str]
    url: str
    form_version: int | None


class CatalogFilter(Schema):
    q: str = Field("", max_length=100, description="kanji, hiragana, katakana or half-width")
    municipality: str = ""
    department: str = ""
    audience: Audience | None = None
    life_event: LifeEvent | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


@router.get("/procedures", response=list[ProcedureOut], auth=None)
def procedure_list_api(
    request: HttpRequest, filters: Query[CatalogFilter]
) -> list[selectors.CatalogEntry]:
    """Search the published catalog of every municipality (or one, with ``municipality``)."""
    query = selectors.CatalogQuery(
        q=filters.q,
        municipality_code=filters.municipality,
        department_code=filters.department,
        audience=filters.audience.value if filters.audience else "",
        life_event=filters.life_event.value if filters.life_event else "",
    )
    return selectors.catalog_page(query=query, offset=filters.offset, limit=filters.limit)


@router.get("/procedures/{code}/{slug}", response=ProcedureOut, auth=None)
def procedure_get_api(request: HttpRequest, code: str, slug: str) -> selectors.CatalogEntry:
    """One published procedure."""
    return selectors.catalog_entry(
        selectors.procedure_get_public(municipality_code=code, slug=slug)
    )


class FormOut(Schema):
    procedure: str
    version: int
    version_id: str
    published_at: datetime | None
    definition: dict[str, Any]


@router.get("/procedures/{code}/{slug}/form", response=FormOut, auth=None)
def procedure_form_api(request: HttpRequest, code: str, slug: str) -> FormOut:
    """The current published form definition (JSON, schema 1) of a procedure."""
    procedure = selectors.procedure_get_public(municipality_code=code, slug=slug)
    version = services.current_form_version(procedure)
    if version is None:
        raise NotFound(_("この手続の申請様式はまだ公開されていません。"), code="form_not_published")
    return FormOut(
        procedure=procedure.slug,
        version=version.number,
        version_id=version.version_id,
        published_at=version.published_at,
        definition=version.definition,
    )


class SignatureIn(Schema):
    signature_b64: str = Field(min_length=1)
    certificate_pem: str = Field(min_length=1)


class ApplicationIn(Schema):
    municipality_code: str
    procedure: str = Field(description="slug of the procedure")
    answers: dict[str, Any] = Field(description="answers keyed by step key, then field key")
    contact_email: str = ""
    signature: SignatureIn | None = None


class StatusChangeOut(Schema):
    from_status: str
    to_status: str
    at: datetime
    note: str


class ApplicationOut(Schema):
    id: uuid.UUID
    municipality_code: str
    procedure: str
    status: str
    status_label: str
    outcome: str
    receipt_number: str | None
    submitted_at: datetime | None
    channel: str
    history: list[StatusChangeOut]

    @staticmethod
    def resolve_municipality_code(obj: Application) -> str:
        return obj.municipality_id

    @staticmethod
    def resolve_procedure(obj: Application) -> str:
        return obj.procedure.slug

    @staticmethod
    def resolve_status_label(obj: Application) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_history(obj: Application) -> list[dict[str, Any]]:
        return [
            {"from_status": h.from_status, "to_status": h.to_status, "at": h.at, "note": h.note}
            for h in obj.history.all()
        ]


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


@router.post(
    "/applications",
    response={201: ApplicationOut, 200: ApplicationOut},
    auth=resident_api_auth(),
)
@decorate_view(api_body_limit)
def application_submit_api(
    request: HttpRequest,
    payload: ApplicationIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=80),
) -> Status[Application]:
    """Submit a complete application in one request (channel: API).

    Send an ``Idempotency-Key`` header: a retried request with the same key returns the first
    application (200) instead of creating a second one. Only the answers to fields the form
    defines are stored. Bodies over ``MACHI_APPLICATION_MAX_BODY_BYTES`` get 413; anonymous
    clients over ``MACHI_APPLICATION_RATE_LIMIT`` get 429.
    """
    refuse_if_over_rate(request)
    procedure = selectors.procedure_get_public(
        municipality_code=payload.municipality_code, slug=payload.procedure
    )
    signature = (
        services.CardSignature(payload.signature.signature_b64, payload.signature.certificate_pem)
        if payload.signature
        else None
    )
    submission = services.application_submit_complete(
        procedure=procedure,
        applicant=_user(request),
        answers=payload.answers,
        channel=Channel.API,
        contact_email=payload.contact_email,
        idempotency_key=idempotency_key,
        signature=signature,
    )
    return Status(201 if submission.created else 200, submission.application)


class SigningDataIn(Schema):
    municipality_code: str
    procedure: str
    answers: dict[str, Any]


class SigningDataOut(Schema):
    version_id: str
    data_b64: str = Field(description="the exact bytes to sign with the card (base64)")


@router.post("/applications/signing-data", response=SigningDataOut, auth=resident_api_auth())
@decorate_view(api_body_limit)
def signing_data_api(request: HttpRequest, payload: SigningDataIn) -> SigningDataOut:
    """The exact bytes a card signature must cover for these answers (validated first)."""
    procedure = selectors.procedure_get_public(
        municipality_code=payload.municipality_code, slug=payload.procedure
    )
    version_id, data = services.signing_bytes_for_answers(
        procedure=procedure, answers=payload.answers
    )
    return SigningDataOut(version_id=version_id, data_b64=base64.b64encode(data).decode("ascii"))


@router.get("/applications/{application_id}", response=ApplicationOut, auth=resident_api_auth())
def application_get_api(request: HttpRequest, application_id: str) -> Application:
    """Status and history of an application, for its applicant."""
    return selectors.application_get_for_applicant(
        application_id=application_id,
        user=_user(request),
        session_ids=list(request.session.get(services.SESSION_APPLICATIONS_KEY, [])),
    )


class MyApplicationsFilter(Schema):
    since: date | None = None


@router.get("/my/applications", response=list[ApplicationOut])
def my_applications_api(request: HttpRequest) -> QuerySet[Application]:
    """The signed-in resident's applications."""
    user = _user(request)
    if user is None:
        raise NotAuthenticated(_("サインインが必要です。"))
    return selectors.application_list_for_applicant(user=user).prefetch_related("history")
