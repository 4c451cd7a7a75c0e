"""The ``auth`` cache every process shares: sessions and the sign-in cache's tokens.

Redis in production; without it, a directory under ``var/`` shared by the processes of one
machine (``core.file_cache.SharedFileCache``). Either way sessions are ``cached_db``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.redis import RedisCache

from machi.core import auth_cache, selectors
from machi.core.file_cache import SharedFileCache
from machi.core.models import Membership, Role, User


def _settings_in_subprocess(env: dict[str, str]) -> dict[str, Any]:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'auth': s.CACHES['auth'], 'engine': s.SESSION_ENGINE, "
        "'alias': s.SESSION_CACHE_ALIAS, 'seconds': s.MACHI_AUTH_CACHE_SECONDS}))"
    )
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "machi.settings", **env}
    for name in ("MACHI_TEST_DATABASE_URL", "MACHI_REDIS_URL", "MACHI_AUTH_CACHE_SECONDS"):
        if name not in env:
            full_env.pop(name, None)
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_without_redis_sessions_and_tokens_live_in_a_directory_every_process_shares(tmp_path):
    values = _settings_in_subprocess({"MACHI_VAR_DIR": str(tmp_path)})
    assert values == {
        "auth": {
            "BACKEND": "machi.core.file_cache.SharedFileCache",
            "LOCATION": str(tmp_path / "cache" / "auth"),
            "OPTIONS": {"MAX_ENTRIES": 50000},
        },
        "engine": "django.contrib.sessions.backends.cached_db",
        "alias": "auth",
        "seconds": 300,
    }
    assert not (tmp_path / "cache").exists()  # importing the settings writes nothing


def test_with_redis_sessions_and_tokens_live_in_redis():
    values = _settings_in_subprocess(
        {"MACHI_REDIS_URL": "redis://redis.internal:6379/2", "MACHI_AUTH_CACHE_SECONDS": "60"}
    )
    assert values == {
        "auth": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://redis.internal:6379/2",
            "KEY_PREFIX": "machi-auth",
        },
        "engine": "django.contrib.sessions.backends.cached_db",
        "alias": "auth",
        "seconds": 60,
    }


# --- The directory cache, as two processes see it ------------------------------------------------


def file_cache(path: Path, **options: Any) -> SharedFileCache:
    return SharedFileCache(str(path), {"OPTIONS": options})


def test_two_processes_see_each_others_writes(tmp_path):
    directory = tmp_path / "cache" / "auth"
    first, second = file_cache(directory), file_cache(directory)
    first.set("machi.auth.user.1", "token-a", None)
    assert second.get("machi.auth.user.1") == "token-a"
    second.set("machi.auth.user.1", "token-b", None)
    assert first.get("machi.auth.user.1") == "token-b"
    assert oct(directory.stat().st_mode & 0o777) == "0o700"  # sessions: owner only
    assert {oct(p.stat().st_mode & 0o777) for p in directory.iterdir()} == {"0o600"}


def test_culling_drops_expired_entries_first_and_keeps_live_ones(tmp_path):
    cache = file_cache(tmp_path, MAX_ENTRIES=3)
    cache.set("old-1", "x", 1)
    cache.set("old-2", "x", 1)
    cache._next_cull = 0.0
    cache.set("live", "x", None)
    time.sleep(1.1)
    cache._next_cull = 0.0
    cache.set("new", "x", None)  # 3 files when this write culls: the two expired ones go
    assert sorted(k for k in ("old-1", "old-2", "live", "new") if cache.has_key(k)) == [
        "live",
        "new",
    ]
    assert len(list(tmp_path.glob("*.djcache"))) == 2


def test_culling_lists_the_directory_at_most_once_a_minute(tmp_path, monkeypatch):
    cache = file_cache(tmp_path)
    listed = []
    original = cache._list_cache_files

    def counted() -> list[str]:
        listed.append(1)
        return original()  # type: ignore[no-any-return]

    monkeypatch.setattr(cache, "_list_cache_files", counted)
    for n in range(5):
        cache.set(f"key-{n}", n, None)
    assert len(listed) == 1


# --- Tokens in a real shared cache: invalidation across processes ------------------------------


@pytest.fixture
def processes(monkeypatch, request) -> Iterator[Any]:
    """Switch between two 'processes': their own memory, one shared token store."""
    shared = request.param()
    states = {"a": auth_cache._ProcessState(), "b": auth_cache._ProcessState()}
    monkeypatch.setattr(auth_cache, "_cache", lambda: shared)

    def switch(name: str) -> None:
        monkeypatch.setattr(auth_cache, "_state", states[name])

    yield switch
    if isinstance(shared, RedisCache):
        shared.delete_many([auth_cache.TENANTS_KEY, *(auth_cache.user_key(n) for n in range(100))])


def _directory_cache() -> Any:
    import tempfile

    return file_cache(Path(tempfile.mkdtemp(prefix="machi-auth-")))


def _redis_cache() -> Any:
    url = os.environ.get("MACHI_REDIS_URL") or "redis://127.0.0.1:6379/0"
    cache = RedisCache(url, {"KEY_PREFIX": f"machi-auth-test-{uuid.uuid4().hex}"})
    try:
        cache.set("ping", "pong", 5)
    except Exception as exc:
        pytest.skip(f"no Redis at {url}: {exc}")
    return cache


@pytest.mark.django_db
@pytest.mark.parametrize("processes", [_directory_cache, _redis_cache], indirect=True)
def test_a_revocation_in_one_process_reaches_another(processes, kakogawa_admin, kobe):
    def roles() -> set[str]:
        user = User.objects.get(pk=kakogawa_admin.pk)  # a new request's user
        return selectors.visible_municipality_codes(user, prefecture_wide=False)

    processes("b")
    assert roles() == {"282103"}
    processes("a")
    assert roles() == {"282103"}
    Membership.objects.create(user=kakogawa_admin, municipality=kobe, role=Role.APPROVER)
    Membership.objects.filter(user=kakogawa_admin, municipality_id="282103").delete()
    assert roles() == {"281000"}
    processes("b")
    assert roles() == {"281000"}
    user = auth_cache.user_for(kakogawa_admin.pk)
    assert user is not None and user.is_active
    processes("a")
    deactivated = User.objects.get(pk=kakogawa_admin.pk)
    deactivated.is_active = False
    deactivated.save()
    processes("b")
    user = auth_cache.user_for(kakogawa_admin.pk)
    assert user is not None and not user.is_active
