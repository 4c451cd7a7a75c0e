"""Tenant isolation: one test per staff list endpoint, plus who may call it at all."""

from __future__ import annotations

import pytest
from django.test import Client

from machi.core.models import AuditEntry, Membership, Role
from machi.core.services import audit_record
from machi.core.tests.factories import staff_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def audit_entries(kakogawa, kobe):
    audit_record(action="resident.view", municipality_code=kakogawa.code, personal_data=True)
    audit_record(action="resident.view", municipality_code=kobe.code, personal_data=True)
    audit_record(action="platform.setting")  # platform-wide, no municipality


def test_departments_only_of_own_municipality(departments, kakogawa_handler, staff_client):
    response = staff_client(kakogawa_handler).get("/api/v1/staff/departments")
    assert response.status_code == 200
    assert [(d["municipality_code"], d["name"]) for d in response.json()] == [("282103", "市民課")]


def test_departments_filter_cannot_reach_another_municipality(
    departments, kakogawa_handler, staff_client
):
    response = staff_client(kakogawa_handler).get("/api/v1/staff/departments?municipality=281000")
    assert response.status_code == 200
    assert response.json() == []


def test_prefecture_admin_sees_departments_of_all_its_municipalities(
    departments, prefecture_admin, osaka_admin, staff_client
):
    response = staff_client(prefecture_admin).get("/api/v1/staff/departments")
    assert sorted(d["municipality_code"] for d in response.json()) == ["281000", "282103"]
    assert staff_client(osaka_admin).get("/api/v1/staff/departments").json() == []


def test_memberships_only_of_administered_municipality(
    kakogawa_admin, kakogawa_handler, kobe_admin, staff_client
):
    response = staff_client(kakogawa_admin).get("/api/v1/staff/memberships")
    assert response.status_code == 200
    usernames = {m["username"] for m in response.json()}
    assert usernames == {"kakogawa-admin", "kakogawa-handler"}
    # Reading the staff directory is an access to personal data: it is audited.
    entry = AuditEntry.objects.get(action="staff_directory.view")
    assert (entry.actor_username, entry.municipality_code, entry.personal_data) == (
        "kakogawa-admin",
        "282103",
        True,
    )


def test_memberships_hidden_from_non_admin_roles(kakogawa_handler, kakogawa_admin, staff_client):
    response = staff_client(kakogawa_handler).get("/api/v1/staff/memberships")
    assert response.json() == []
    assert not AuditEntry.objects.filter(action="staff_directory.view").exists()


def test_audit_search_only_of_administered_municipality(
    audit_entries, kakogawa_admin, kobe_admin, staff_client
):
    rows = staff_client(kakogawa_admin).get("/api/v1/staff/audit").json()
    assert {r["municipality_code"] for r in rows} == {"282103"}
    rows = staff_client(kobe_admin).get("/api/v1/staff/audit").json()
    assert {r["municipality_code"] for r in rows} == {"281000"}


def test_audit_search_for_prefecture_admin_spans_prefecture_and_platform(
    audit_entries, prefecture_admin, osaka_admin, staff_client
):
    rows = staff_client(prefecture_admin).get("/api/v1/staff/audit?action=resident").json()
    assert sorted(r["municipality_code"] for r in rows) == ["281000", "282103"]
    rows = staff_client(prefecture_admin).get("/api/v1/staff/audit?action=platform").json()
    assert [r["municipality_code"] for r in rows] == [""]
    rows = staff_client(osaka_admin).get("/api/v1/staff/audit?action=resident").json()
    assert rows == []


def test_case_handler_cannot_read_audit(audit_entries, kakogawa_handler, staff_client):
    assert staff_client(kakogawa_handler).get("/api/v1/staff/audit").json() == []


def test_me_lists_own_roles_only(kakogawa_admin, kobe_admin, staff_client):
    body = staff_client(kakogawa_admin).get("/api/v1/staff/me").json()
    assert body["username"] == "kakogawa-admin"
    assert [(m["municipality_code"], m["role"]) for m in body["memberships"]] == [
        ("282103", "municipality_admin")
    ]


@pytest.mark.parametrize(
    "path", ["/api/v1/staff/departments", "/api/v1/staff/memberships", "/api/v1/staff/audit"]
)
def test_staff_endpoints_need_sign_in_with_second_factor(path, kakogawa_admin):
    anonymous = Client()
    response = anonymous.get(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    password_only = Client()
    password_only.force_login(kakogawa_admin)  # no TOTP verification in this session
    assert password_only.get(path).status_code == 401


def test_role_removed_means_records_disappear(departments, kakogawa_handler, staff_client):
    client = staff_client(kakogawa_handler)
    assert len(client.get("/api/v1/staff/departments").json()) == 1
    Membership.objects.filter(user=kakogawa_handler).delete()
    assert client.get("/api/v1/staff/departments").json() == []


def test_inactive_municipality_hides_its_records(departments, kakogawa, staff_client):
    user = staff_member("kakogawa-clerk", kakogawa, Role.COUNTER_CLERK)
    kakogawa.is_active = False
    kakogawa.save()
    assert staff_client(user).get("/api/v1/staff/departments").json() == []
