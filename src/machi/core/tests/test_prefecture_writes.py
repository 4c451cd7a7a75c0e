"""The 県管理者 (prefecture admin) reads across its municipalities but writes in a member
municipality only where ``PREFECTURE_WRITE_RULES`` says so: one test per core write path."""

from __future__ import annotations

import pytest

from machi.core import selectors, services
from machi.core.exceptions import Forbidden
from machi.core.models import AuditEntry, Department, Membership, Municipality, Role
from machi.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DEPARTMENT = {"municipality_code": "282103", "code": "kankyo", "name": "環境課"}


def _audit_count() -> int:
    return AuditEntry.objects.count()


def test_documented_rules_are_exactly_the_onboarding_writes():
    assert set(selectors.PREFECTURE_WRITE_RULES) == {
        "municipality.create",
        "membership.grant.municipality_admin",
    }


def test_prefecture_reach_for_writes_is_its_own_tenant_only(prefecture_admin, kakogawa, kobe):
    assert selectors.visible_municipality_codes(
        prefecture_admin, roles=[Role.PREFECTURE_ADMIN], prefecture_wide=False
    ) == {"280003"}
    assert selectors.visible_municipality_codes(
        prefecture_admin, roles=[Role.PREFECTURE_ADMIN], prefecture_wide=True
    ) == {"280003", "281000", "282103"}


# --- department create ----------------------------------------------------------------------


def test_prefecture_admin_cannot_create_a_department_in_a_municipality_api(
    prefecture_admin, kakogawa, staff_client
):
    before = _audit_count()
    response = staff_client(prefecture_admin).post(
        "/api/v1/staff/departments", DEPARTMENT, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "forbidden",
        "message": "この団体の課を登録する権限がありません。",
        "fields": {},
    }
    assert not Department.objects.exists()
    assert _audit_count() == before


def test_prefecture_admin_cannot_create_a_department_in_a_municipality_service(
    prefecture_admin, kakogawa
):
    with pytest.raises(Forbidden):
        services.department_create(actor=prefecture_admin, **DEPARTMENT)
    assert not Department.objects.exists()
    assert not AuditEntry.objects.filter(action="department.create").exists()


def test_the_municipality_admin_creates_the_department(kakogawa_admin, staff_client):
    response = staff_client(kakogawa_admin).post(
        "/api/v1/staff/departments", DEPARTMENT, content_type="application/json"
    )
    assert response.status_code == 201
    department = Department.objects.get()
    assert (department.municipality_id, department.code) == ("282103", "kankyo")
    entry = AuditEntry.objects.get(action="department.create")
    assert (entry.actor_username, entry.municipality_code) == ("kakogawa-admin", "282103")


# --- membership grant -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [r for r in Role.values if r not in (Role.MUNICIPALITY_ADMIN, Role.PREFECTURE_ADMIN)],
)
def test_prefecture_admin_cannot_grant_working_roles_in_a_municipality(
    prefecture_admin, kakogawa, role
):
    newcomer = UserFactory.create(username="newcomer")
    before = _audit_count()
    with pytest.raises(Forbidden):
        services.membership_grant(
            actor=prefecture_admin, user=newcomer, municipality_code="282103", role=role
        )
    assert not Membership.objects.filter(user=newcomer).exists()
    assert _audit_count() == before


def test_prefecture_admin_onboards_a_municipality_admin(prefecture_admin, kakogawa):
    """PREFECTURE_WRITE_RULES["membership.grant.municipality_admin"]."""
    newcomer = UserFactory.create(username="newcomer")
    services.membership_grant(
        actor=prefecture_admin,
        user=newcomer,
        municipality_code="282103",
        role=Role.MUNICIPALITY_ADMIN,
    )
    membership = Membership.objects.get(user=newcomer)
    assert (membership.municipality_id, membership.role) == ("282103", Role.MUNICIPALITY_ADMIN)
    entry = AuditEntry.objects.get(action="membership.grant")
    assert (entry.actor_username, entry.municipality_code, entry.detail) == (
        "hyogo-admin",
        "282103",
        {"role": "municipality_admin"},
    )


def test_another_prefectures_admin_cannot_onboard_our_municipality(osaka_admin, kakogawa):
    newcomer = UserFactory.create(username="newcomer")
    with pytest.raises(Forbidden):
        services.membership_grant(
            actor=osaka_admin,
            user=newcomer,
            municipality_code="282103",
            role=Role.MUNICIPALITY_ADMIN,
        )
    assert not Membership.objects.filter(user=newcomer).exists()


def test_a_municipality_admin_cannot_grant_in_a_neighbour(kobe_admin, kakogawa):
    newcomer = UserFactory.create(username="newcomer")
    with pytest.raises(Forbidden):
        services.membership_grant(
            actor=kobe_admin, user=newcomer, municipality_code="282103", role=Role.CASE_HANDLER
        )
    assert not Membership.objects.filter(user=newcomer).exists()


# --- municipality create (onboarding) ---------------------------------------------------------

HIMEJI = {
    "code": "282014",
    "name": "姫路市",
    "name_kana": "ひめじし",
    "kind": "city",
    "prefecture_code": "280003",
}


def test_prefecture_admin_registers_a_municipality_of_its_prefecture(
    prefecture_admin, staff_client
):
    """PREFECTURE_WRITE_RULES["municipality.create"]."""
    response = staff_client(prefecture_admin).post(
        "/api/v1/staff/municipalities", HIMEJI, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert Municipality.objects.get(code="282014").prefecture_id == "280003"
    assert AuditEntry.objects.get(action="municipality.create").actor_username == "hyogo-admin"


@pytest.mark.parametrize("persona", ["osaka_admin", "kakogawa_admin"])
def test_others_cannot_register_a_municipality_of_our_prefecture(
    request, persona, hyogo, staff_client
):
    user = request.getfixturevalue(persona)
    before = _audit_count()
    response = staff_client(user).post(
        "/api/v1/staff/municipalities", HIMEJI, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "団体を登録できるのは都道府県の県管理者だけです。"
    assert not Municipality.objects.filter(code="282014").exists()
    assert _audit_count() == before
