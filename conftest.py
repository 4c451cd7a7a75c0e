"""Shared pytest fixtures: personas (admins and staff of two municipalities) and clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache, caches
from django.test import Client
from django.utils import translation
from django_otp import DEVICE_ID_SESSION_KEY

from machi.core import auth_cache
from machi.core.models import Role, User
from machi.core.tests.factories import (
    DepartmentFactory,
    MunicipalityFactory,
    PrefectureFactory,
    staff_member,
)


@pytest.fixture(autouse=True)
def _keep_test_connection_open() -> Iterator[None]:
    """Closing a response outside the test client (a FileResponse, say) sends request_finished,
    which would close the database connection mid-test on PostgreSQL. The test client does the
    same around its own requests (and reconnects the handler after each), so this runs per test."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    yield
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _fast_hashing_and_clean_cache(settings: pytest.FixtureRequest) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
    # The sign-in cache in this process's memory (not var/, which a demo may share): each test
    # rolls its rows back, so nothing cached may outlive it (machi.core.auth_cache).
    settings.CACHES = {  # type: ignore[attr-defined]
        **settings.CACHES,  # type: ignore[attr-defined]
        "auth": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "auth"},
    }
    auth_cache.clear_process_cache()
    cache.clear()
    caches["auth"].clear()
    # Each test starts in Japanese: a request through LocaleMiddleware leaves its language
    # active in this thread, which would leak into the next test.
    translation.activate("ja")
    yield
    cache.clear()
    caches["auth"].clear()
    auth_cache.clear_process_cache()
    translation.activate("ja")


@pytest.fixture(scope="session")
def _session_documents_root(tmp_path_factory: pytest.TempPathFactory) -> object:
    return tmp_path_factory.mktemp("documents")


@pytest.fixture(autouse=True)
def _documents_storage_outside_var(
    settings: pytest.FixtureRequest, _session_documents_root
) -> None:
    """Issued PDFs written by any test go to a temporary folder, never into the real var/."""
    storages = dict(settings.STORAGES)  # type: ignore[attr-defined]
    if storages.get("documents", {}).get("BACKEND") == "machi.files.storage.PrivateStorage":
        options = {**storages["documents"]["OPTIONS"], "location": _session_documents_root}
        storages["documents"] = {**storages["documents"], "OPTIONS": options}
        settings.STORAGES = storages  # type: ignore[attr-defined]


@pytest.fixture
def run_tasks() -> Callable[[], int]:
    """Run the background tasks that are ready, in the test's thread (what a worker does).

    Nothing is delivered inside a request any more: a test that expects a mail or a refund
    after a change calls ``run_tasks()`` where a worker would have picked the task up."""
    from machi.core.tasks import run_ready_tasks

    return run_ready_tasks


@pytest.fixture
def hyogo(db):
    return PrefectureFactory(code="280003", name="兵庫県", name_kana="ひょうごけん")


@pytest.fixture
def kakogawa(hyogo):
    return MunicipalityFactory(
        code="282103", name="加古川市", name_kana="かこがわし", prefecture=hyogo
    )


@pytest.fixture
def kobe(hyogo):
    return MunicipalityFactory(code="281000", name="神戸市", name_kana="こうべし", prefecture=hyogo)


@pytest.fixture
def osaka(db):
    """A prefecture that is not ours: its admin must never see 兵庫県's records."""
    return PrefectureFactory(code="270008", name="大阪府", name_kana="おおさかふ")


@pytest.fixture
def kakogawa_admin(kakogawa):
    return staff_member("kakogawa-admin", kakogawa, Role.MUNICIPALITY_ADMIN)


@pytest.fixture
def kakogawa_handler(kakogawa):
    return staff_member("kakogawa-handler", kakogawa, Role.CASE_HANDLER)


@pytest.fixture
def kobe_admin(kobe):
    return staff_member("kobe-admin", kobe, Role.MUNICIPALITY_ADMIN)


@pytest.fixture
def prefecture_admin(hyogo):
    return staff_member("hyogo-admin", hyogo, Role.PREFECTURE_ADMIN)


@pytest.fixture
def osaka_admin(osaka):
    return staff_member("osaka-admin", osaka, Role.PREFECTURE_ADMIN)


@pytest.fixture
def departments(kakogawa, kobe):
    return {
        "kakogawa": DepartmentFactory(municipality=kakogawa, code="shimin", name="市民課"),
        "kobe": DepartmentFactory(municipality=kobe, code="kuminka", name="区民課"),
    }


@pytest.fixture
def staff_client() -> Callable[[User], Client]:
    """A client signed in as ``user`` with the second factor already verified."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = user.totpdevice_set.get().persistent_id
        session.save()
        return client

    return make
