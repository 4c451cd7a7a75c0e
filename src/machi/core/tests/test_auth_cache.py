"""Cheap authenticated requests: sessions, user, OTP device and roles cached, and invalidated.

A signed-in request reads no database row for the session, the user, the second factor or the
roles once this process has them; any change to them takes effect on the very next request, in
this process and in every other one (``core.auth_cache``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import caches
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from machi.core import auth_cache, selectors, services
from machi.core.auth import api_token_issue
from machi.core.models import Membership, Role, User
from machi.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DEPARTMENTS = "/api/v1/staff/departments"
STAFF_HOME = "/staff/"
MY_APPLICATIONS = "/api/v1/my/applications"


def codes(response) -> list[str]:
    return sorted({d["municipality_code"] for d in response.json()})


@pytest.fixture
def admin_client(kakogawa_admin, staff_client, departments) -> Client:
    client = staff_client(kakogawa_admin)
    assert client.get(DEPARTMENTS).status_code == 200  # loads this process's cache
    return client


@pytest.fixture
def other_process() -> Iterator[None]:
    """Runs the test's next requests as if in a second process: its own memory, same cache."""
    mine = auth_cache._state
    auth_cache._state = auth_cache._ProcessState()
    yield
    auth_cache._state = mine


def in_process(state: auth_cache._ProcessState) -> None:
    auth_cache._state = state


# --- Query counts ------------------------------------------------------------------------------


def test_a_staff_api_list_costs_only_its_own_query(admin_client, django_assert_num_queries):
    # The departments themselves; nothing for the session, user, device or memberships.
    with django_assert_num_queries(1):
        response = admin_client.get(DEPARTMENTS)
    assert response.status_code == 200
    assert codes(response) == ["282103"]


def test_the_first_request_of_a_process_loads_user_device_and_roles_once(
    kakogawa_admin, staff_client, departments, django_assert_num_queries
):
    client = staff_client(kakogawa_admin)
    auth_cache.clear_process_cache()
    caches["auth"].clear()  # sessions too: read back from the database (cached_db)
    # session, user, device, memberships; then the departments
    with django_assert_num_queries(5):
        assert client.get(DEPARTMENTS).status_code == 200
    with django_assert_num_queries(1):
        assert client.get(DEPARTMENTS).status_code == 200


def test_a_prefecture_admin_list_adds_no_query_for_its_member_municipalities(
    prefecture_admin, staff_client, departments, django_assert_num_queries
):
    client = staff_client(prefecture_admin)
    assert codes(client.get(DEPARTMENTS)) == ["281000", "282103"]
    with django_assert_num_queries(1):
        assert codes(client.get(DEPARTMENTS)) == ["281000", "282103"]


def test_a_staff_html_page_costs_only_its_own_queries(
    kakogawa_admin, staff_client, departments, django_assert_num_queries
):
    client = staff_client(kakogawa_admin)
    assert client.get(STAFF_HOME).status_code == 200
    # The page's memberships (with names) and its departments: the role checks cost nothing.
    with django_assert_num_queries(2):
        response = client.get(STAFF_HOME)
    assert response.status_code == 200
    assert "市民課" in response.content.decode()


@pytest.fixture
def resident(db) -> User:
    return UserFactory(username="taro", is_staff=False, totp=False)


def test_a_resident_api_call_costs_only_its_own_query(resident, django_assert_num_queries):
    client = Client()
    client.force_login(resident)
    assert client.get(MY_APPLICATIONS).json() == []
    with django_assert_num_queries(1):
        assert client.get(MY_APPLICATIONS).json() == []


def test_a_bearer_token_call_costs_only_its_own_query(resident, django_assert_num_queries):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=resident).token}"}
    client = Client()
    assert client.get(MY_APPLICATIONS, **bearer).json() == []
    with django_assert_num_queries(1):
        assert client.get(MY_APPLICATIONS, **bearer).json() == []


def test_role_checks_of_one_request_share_one_load(kakogawa_admin, django_assert_num_queries):
    user = User.objects.get(pk=kakogawa_admin.pk)
    with django_assert_num_queries(1):
        for _ in range(12):
            assert selectors.user_has_role(
                user,
                municipality_code="282103",
                roles=[Role.MUNICIPALITY_ADMIN],
                prefecture_wide=False,
            )


# --- Invalidation: the very next request, in this process -------------------------------------


def test_a_revoked_membership_takes_effect_on_the_next_request(admin_client, kakogawa_admin):
    Membership.objects.filter(user=kakogawa_admin).delete()
    assert admin_client.get(DEPARTMENTS).json() == []


def test_a_changed_role_takes_effect_on_the_next_request(
    admin_client, kakogawa_admin, kobe, staff_client
):
    membership = Membership.objects.get(user=kakogawa_admin)
    membership.municipality = kobe
    membership.save()
    assert codes(admin_client.get(DEPARTMENTS)) == ["281000"]


def test_a_granted_role_takes_effect_on_the_next_request(admin_client, kakogawa_admin, kobe):
    services.membership_grant(
        actor=None, user=kakogawa_admin, municipality_code=kobe.code, role=Role.CASE_HANDLER
    )
    assert codes(admin_client.get(DEPARTMENTS)) == ["281000", "282103"]


def test_a_deactivated_user_is_signed_out_on_the_next_request(admin_client, kakogawa_admin):
    user = User.objects.get(pk=kakogawa_admin.pk)  # another instance, as an admin's would be
    user.is_active = False
    user.save()
    response = admin_client.get(DEPARTMENTS)
    assert response.status_code == 401
    assert admin_client.get(STAFF_HOME).status_code == 302


def test_a_deleted_otp_device_unverifies_the_next_request(admin_client, kakogawa_admin):
    TOTPDevice.objects.filter(user=kakogawa_admin).delete()
    assert admin_client.get(DEPARTMENTS).status_code == 401
    assert DEVICE_ID_SESSION_KEY not in admin_client.session


def test_an_unconfirmed_otp_device_does_not_verify(admin_client, kakogawa_admin):
    device = TOTPDevice.objects.get(user=kakogawa_admin)
    device.confirmed = False
    device.save()
    assert admin_client.get(DEPARTMENTS).status_code == 401


def test_a_password_change_ends_the_other_sessions(admin_client, kakogawa_admin):
    user = User.objects.get(pk=kakogawa_admin.pk)
    user.set_password("another-long-passphrase")
    user.save()
    assert admin_client.get(DEPARTMENTS).status_code == 401
    assert SESSION_KEY not in admin_client.session  # flushed, as Django does


def test_a_deactivated_municipality_closes_its_records(admin_client, kakogawa):
    kakogawa.is_active = False
    kakogawa.save()
    assert admin_client.get(DEPARTMENTS).json() == []


def test_a_new_member_municipality_opens_to_the_prefecture_admin(
    prefecture_admin, staff_client, departments
):
    from machi.core.tests.factories import DepartmentFactory, MunicipalityFactory

    client = staff_client(prefecture_admin)
    assert codes(client.get(DEPARTMENTS)) == ["281000", "282103"]
    himeji = MunicipalityFactory(code="282014", name="姫路市", name_kana="ひめじし")
    DepartmentFactory(municipality=himeji, code="shimin", name="市民課")
    assert codes(client.get(DEPARTMENTS)) == ["281000", "282014", "282103"]


def test_a_user_instance_sees_a_grant_made_after_its_first_check(kakogawa_admin, kobe):
    def in_kobe() -> bool:
        return selectors.user_has_role(
            kakogawa_admin, municipality_code=kobe.code, roles=None, prefecture_wide=False
        )

    assert not in_kobe()
    Membership.objects.create(user=kakogawa_admin, municipality=kobe, role=Role.APPROVER)
    assert in_kobe()


def test_a_deactivated_bearer_token_user_is_refused_on_the_next_call(resident):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=resident).token}"}
    client = Client()
    assert client.get(MY_APPLICATIONS, **bearer).status_code == 200
    User.objects.filter(pk=resident.pk).first().save()  # a save alone changes nothing
    assert client.get(MY_APPLICATIONS, **bearer).status_code == 200
    resident.is_active = False
    resident.save()
    assert client.get(MY_APPLICATIONS, **bearer).status_code == 401


# --- Invalidation across processes ---------------------------------------------------------------


def test_a_change_in_one_process_reaches_the_others_on_their_next_request(
    admin_client, kakogawa_admin, kobe, other_process, django_assert_num_queries
):
    # The second process warms its own copy, then the first one (another worker) revokes.
    second = auth_cache._state
    assert codes(admin_client.get(DEPARTMENTS)) == ["282103"]
    with django_assert_num_queries(1):
        assert codes(admin_client.get(DEPARTMENTS)) == ["282103"]
    in_process(auth_cache._ProcessState())
    membership = Membership.objects.get(user=kakogawa_admin)
    membership.municipality = kobe
    membership.save()
    in_process(second)
    with django_assert_num_queries(4):  # user, device, memberships again; the departments
        assert codes(admin_client.get(DEPARTMENTS)) == ["281000"]


@pytest.mark.parametrize("change", ["deactivate", "device", "revoke"])
def test_every_change_reaches_another_process(admin_client, kakogawa_admin, other_process, change):
    second = auth_cache._state
    assert admin_client.get(DEPARTMENTS).status_code == 200
    in_process(auth_cache._ProcessState())
    if change == "deactivate":
        user = User.objects.get(pk=kakogawa_admin.pk)
        user.is_active = False
        user.save()
    elif change == "device":
        TOTPDevice.objects.filter(user=kakogawa_admin).delete()
    else:
        Membership.objects.get(user=kakogawa_admin).delete()
    in_process(second)
    response = admin_client.get(DEPARTMENTS)
    if change == "revoke":
        assert response.json() == []
    else:
        assert response.status_code == 401


def test_the_token_is_replaced_again_after_commit(
    kakogawa_admin, django_capture_on_commit_callbacks
):
    key = auth_cache.user_key(kakogawa_admin.pk)
    with django_capture_on_commit_callbacks(execute=True):
        Membership.objects.get(user=kakogawa_admin).delete()
        during = caches["auth"].get(key)
    # Another process may have cached the old rows under the first token before the commit:
    # the commit replaces the token once more (other apps' on-commit callbacks aside).
    assert during is not None
    assert caches["auth"].get(key) not in (None, during)


def test_a_lost_cache_costs_a_reload_never_a_stale_answer(
    admin_client, kakogawa_admin, other_process
):
    second = auth_cache._state
    assert admin_client.get(DEPARTMENTS).status_code == 200
    caches["auth"].clear()  # Redis restarted: sessions come back from the database
    in_process(auth_cache._ProcessState())
    Membership.objects.get(user=kakogawa_admin).delete()
    in_process(second)
    assert admin_client.get(DEPARTMENTS).json() == []


def test_writes_that_bypass_the_orm_are_bounded_by_the_cache_lifetime(
    admin_client, kakogawa_admin, settings
):
    Membership.objects.filter(user=kakogawa_admin).update(municipality_id="281000")
    assert codes(admin_client.get(DEPARTMENTS)) == ["282103"]  # no signal: still cached
    settings.MACHI_AUTH_CACHE_SECONDS = 0
    assert codes(admin_client.get(DEPARTMENTS)) == ["281000"]


def test_an_unreachable_cache_reads_the_database(admin_client, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(caches["auth"], "get_many", broken)
    assert codes(admin_client.get(DEPARTMENTS)) == ["282103"]
