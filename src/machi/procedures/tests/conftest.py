"""Fixtures for procedures: a small catalog, residents and the identity test PKI."""

from __future__ import annotations

import pytest

from machi.core.models import Department, User
from machi.identity.tests.conftest import Pki, card_settings, pki  # noqa: F401 - fixtures
from machi.procedures import services
from machi.procedures.demo_forms import FORMS
from machi.procedures.models import Procedure

SIMPLE_FORM = {
    "schema": 1,
    "steps": [
        {
            "key": "main",
            "title": {"ja": "申込内容", "en": "Request"},
            "fields": [
                {"key": "name", "type": "text", "label": {"ja": "氏名"}, "required": True},
                {"key": "email", "type": "email", "label": {"ja": "メールアドレス"}},
                {
                    "key": "copies",
                    "type": "number",
                    "label": {"ja": "通数"},
                    "required": True,
                    "integer": True,
                    "min": 1,
                    "max": 5,
                },
            ],
        },
        {
            "key": "confirm",
            "title": {"ja": "確認"},
            "fields": [
                {
                    "key": "agree",
                    "type": "checkbox",
                    "label": {"ja": "内容に間違いはありません"},
                    "required": True,
                }
            ],
        },
    ],
}


@pytest.fixture
def shimin(kakogawa) -> Department:
    return Department.objects.create(municipality=kakogawa, code="shimin", name="市民課")


@pytest.fixture
def simple_procedure(kakogawa, shimin) -> Procedure:
    """An anonymous online procedure (粗大ごみ-like) with a two-step form."""
    procedure = services.procedure_create(
        actor=None,
        municipality_code=kakogawa.code,
        slug="simple",
        name="粗大ごみ収集申込",
        name_kana="そだいごみしゅうしゅうもうしこみ",
        department_code="shimin",
        channels=["online", "counter"],
        life_events=["housing"],
        is_published=True,
    )
    services.form_version_create(
        actor=None, procedure=procedure, definition=SIMPLE_FORM, publish=True
    )
    return procedure


@pytest.fixture
def juminhyo(kakogawa, shimin) -> Procedure:
    """住民票の写しの交付請求: needs a card signature."""
    procedure = services.procedure_create(
        actor=None,
        municipality_code=kakogawa.code,
        slug="juminhyo",
        name="住民票の写しの交付請求",
        name_kana="じゅうみんひょうのうつしのこうふせいきゅう",
        department_code="shimin",
        assurance_level="card_signature",
        fee_yen=300,
        fee_per_copy=True,
        channels=["online", "counter", "post"],
        life_events=["certificates", "moving"],
        keywords="住民票 証明書",
        is_published=True,
    )
    services.form_version_create(
        actor=None, procedure=procedure, definition=FORMS["juminhyo"], publish=True
    )
    return procedure


@pytest.fixture
def resident(db) -> User:
    user = User.objects.create_user(
        username="hanako@example.jp",
        email="hanako@example.jp",
        password="correct-horse-battery-staple",
        display_name="加古川 花子",
    )
    return user


JUMINHYO_ANSWERS = {
    "applicant": {
        "name": {
            "family": "加古川",
            "given": "花子",
            "family_kana": "カコガワ",
            "given_kana": "ハナコ",
        },
        "birth_date": "平成2年1月2日",
        "address": {
            "postal_code": "675-0031",
            "prefecture": "兵庫県",
            "city": "加古川市",
            "town": "加古川町北在家",
            "street": "2000",
            "building": "",
        },
        "phone": "079-421-2000",
        "email": "hanako@example.jp",
    },
    "request": {
        "relationship": "self",
        "scope": "all",
        "items": ["household_head"],
        "copies": "2",
        "purpose": "勤務先への提出",
    },
}
