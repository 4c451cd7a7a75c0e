"""Builders for the cases tests: procedures with a small inline form, submitted applications."""

from __future__ import annotations

import copy
from typing import Any

from machi.cases import services
from machi.cases.models import Case
from machi.core.models import Department, Membership, Municipality, User
from machi.core.tests.factories import UserFactory
from machi.procedures import services as procedure_services
from machi.procedures.models import Application, Channel, Procedure

SIMPLE_FORM: dict[str, Any] = {
    "schema": 1,
    "steps": [
        {
            "key": "main",
            "title": {"ja": "申請内容"},
            "fields": [{"key": "name", "type": "text", "label": {"ja": "氏名"}, "required": True}],
        }
    ],
}

# A form with the fields the counter flow prefills, and a file.
PERSON_FORM: dict[str, Any] = {
    "schema": 1,
    "steps": [
        {
            "key": "applicant",
            "title": {"ja": "申請者"},
            "fields": [
                {"key": "name", "type": "name", "label": {"ja": "氏名"}, "required": True},
                {
                    "key": "birth_date",
                    "type": "date",
                    "label": {"ja": "生年月日"},
                    "required": True,
                    "max": "today",
                },
            ],
        },
        {
            "key": "request",
            "title": {"ja": "請求の内容"},
            "fields": [
                {
                    "key": "purpose",
                    "type": "text",
                    "label": {"ja": "使いみち"},
                    "required": True,
                },
                {"key": "proof", "type": "file", "label": {"ja": "証明書類"}},
            ],
        },
    ],
}

_counter = {"n": 0}


def member(
    username: str, municipality: Municipality, role: str, department: Department | None = None
) -> User:
    """A staff user with a TOTP device and one role (optionally in a department)."""
    user = UserFactory.create(username=username)
    Membership.objects.get_or_create(
        user=user, municipality=municipality, role=role, defaults={"department": department}
    )
    return user


def make_procedure(
    municipality: Municipality,
    *,
    department: Department | None = None,
    slug: str | None = None,
    name: str = "テスト手続",
    definition: dict[str, Any] | None = None,
    days: int | None = 5,
    assurance_level: str = "none",
) -> Procedure:
    """A published procedure with a published form (online, counter and paper)."""
    _counter["n"] += 1
    procedure = procedure_services.procedure_create(
        actor=None,
        municipality_code=municipality.code,
        slug=slug or f"test-{_counter['n']}",
        name=name,
        department_code=department.code if department else None,
        is_published=True,
        channels=["online", "counter", "paper"],
        standard_processing_days=days,
        assurance_level=assurance_level,
    )
    procedure_services.form_version_create(
        actor=None,
        procedure=procedure,
        definition=copy.deepcopy(definition or SIMPLE_FORM),
        publish=True,
    )
    return procedure


def submit(
    procedure: Procedure,
    answers: dict[str, Any] | None = None,
    *,
    channel: str = Channel.ONLINE,
    email: str = "resident@example.jp",
    create_case: bool = True,
) -> Application:
    """Start, fill and submit an application (anonymous applicant)."""
    started = procedure_services.application_start(
        procedure=procedure, applicant=None, channel=channel, contact_email=email
    )
    application = started.application
    for step_key, step_answers in (answers or {"main": {"name": "山田 太郎"}}).items():
        procedure_services.application_save_step(
            application=application, step_key=step_key, step_answers=step_answers
        )
    submitted = procedure_services.application_submit(application=application, actor=None)
    if create_case:
        services.case_create_for_application(application=submitted)
    return submitted


def case_of(application: Application) -> Case:
    return Case.objects.select_related("application", "procedure").get(
        application_id=application.pk
    )


def fresh(case: Case) -> Case:
    return Case.objects.select_related("application", "procedure").get(pk=case.pk)
