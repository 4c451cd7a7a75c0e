"""The signed-in state of a request, cached: the user row, their OTP devices and their roles.

Reading them on every request cost an authenticated page half of its time. They are kept

* per request: on the ``User`` instance (``grants_for`` answers every role check of a request
  from one load), valid while this process has changed nothing;
* per process: keyed by two tokens kept in the shared ``auth`` cache (Redis in production, a
  directory under ``var/`` that every process of the embedded default shares): one per user and
  one for all tenants. Any write of a user, a membership, an OTP device or a municipality (model
  signals, connected in ``CoreConfig.ready``) replaces the token, immediately and again after
  its transaction commits, so every process reloads on its next request. A request reads both
  tokens in one cache round trip and no database row.

Tokens are random, never counters: a cache that lost them (restart, eviction) hands out new ones,
which match nothing cached. ``MACHI_AUTH_CACHE_SECONDS`` bounds how long a process trusts an
entry, for writes that bypass the ORM's signals (``QuerySet.update``, SQL by hand).
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models.signals import post_delete, post_save
from django_otp.models import Device

from machi.core.models import Membership, Municipality, Role, User

logger = logging.getLogger(__name__)

AUTH_CACHE_ALIAS = "auth"
TENANTS_KEY = "machi.auth.tenants"
MAX_PROCESS_ENTRIES = 10_000
_GRANTS_ATTR = "_machi_grants"
_ENTRY_ATTR = "_machi_auth_entry"
_USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields)


def user_key(user_id: object) -> str:
    """The shared cache key of one user's token."""
    return f"machi.auth.user.{user_id}"


@dataclass(frozen=True)
class RoleGrant:
    """One membership: a role in a municipality (optionally within one department)."""

    municipality_code: str
    role: str
    department_id: int | None
    municipality_active: bool


@dataclass(frozen=True)
class Grants:
    """Every role of one user, and what a 県管理者 (prefecture admin) role opens."""

    memberships: tuple[RoleGrant, ...]
    # For each active prefecture the user is 県管理者 of: its active member municipalities.
    prefecture_members: Mapping[str, frozenset[str]] = field(default_factory=dict)


NO_GRANTS = Grants(memberships=())


class _Entry:
    """What one process holds for one user, valid while both tokens are unchanged."""

    __slots__ = ("devices", "grants", "loaded_at", "tokens", "user_values")

    def __init__(self, tokens: tuple[str, str]) -> None:
        self.tokens = tokens
        self.loaded_at = time.monotonic()
        self.user_values: tuple[Any, ...] | bool | None = False  # False: not loaded yet
        self.devices: dict[str, tuple[type[Device], tuple[Any, ...]] | None] = {}
        self.grants: Grants | None = None


class _ProcessState:
    def __init__(self) -> None:
        self.entries: dict[Any, _Entry] = {}
        # Moves on every change this process makes: per-request caches check it (no I/O).
        self._counter = itertools.count(1)
        self.generation = next(self._counter)

    def advance(self) -> None:
        self.generation = next(self._counter)


_state = _ProcessState()


def _cache() -> Any:
    return caches[AUTH_CACHE_ALIAS]


def _new_token() -> str:
    return uuid.uuid4().hex


def _tokens(user_id: int | str) -> tuple[str, str] | None:
    """The user's and the tenants' tokens (one round trip), or None when the cache is down."""
    keys = (user_key(user_id), TENANTS_KEY)
    try:
        found = _cache().get_many(keys)
        for key in keys:
            if key not in found:
                token = _new_token()
                found[key] = token if _cache().add(key, token, None) else _cache().get(key, token)
    except Exception:  # an unreachable cache means no caching, never a stale answer
        logger.warning("auth cache unavailable", exc_info=True)
        return None
    return (str(found[keys[0]]), str(found[keys[1]]))


def _entry(user_id: int | str) -> _Entry:
    tokens = _tokens(user_id)
    if tokens is None:
        return _Entry(("", ""))  # used for this request only
    entry = _state.entries.get(user_id)
    max_age = float(settings.MACHI_AUTH_CACHE_SECONDS)
    if entry is None or entry.tokens != tokens or time.monotonic() - entry.loaded_at > max_age:
        entry = _Entry(tokens)
        if len(_state.entries) >= MAX_PROCESS_ENTRIES:
            _state.entries.clear()
        _state.entries[user_id] = entry
    return entry


def _attached_entry(user: User) -> _Entry | None:
    attached = user.__dict__.get(_ENTRY_ATTR)
    if attached is not None and attached[0] == _state.generation:
        return attached[1]  # type: ignore[no-any-return,unused-ignore]
    return None


def user_for(user_id: int | str) -> User | None:
    """A fresh ``User`` instance for ``user_id`` (None if there is no such row)."""
    generation = _state.generation  # before reading: a change meanwhile invalidates the copy
    entry = _entry(user_id)
    if entry.user_values is False:
        entry.user_values = (
            User._default_manager.filter(pk=user_id).values_list(*_USER_FIELDS).first()
        )
    if not isinstance(entry.user_values, tuple):
        return None
    user = User.from_db(DEFAULT_DB_ALIAS, list(_USER_FIELDS), entry.user_values)
    user.__dict__[_ENTRY_ATTR] = (generation, entry)
    return user


def device_for(user: User, persistent_id: str) -> Device | None:
    """The OTP device a session names (django-otp's persistent id), or None."""
    entry = _attached_entry(user) or _entry(user.pk)
    if persistent_id not in entry.devices:
        entry.devices[persistent_id] = _load_device(persistent_id)
    found = entry.devices[persistent_id]
    if found is None:
        return None
    model, values = found
    device = model.from_db(
        DEFAULT_DB_ALIAS, [f.attname for f in model._meta.concrete_fields], values
    )
    if device.user_id == user.pk:
        device.user = user
    return device


def _load_device(persistent_id: str) -> tuple[type[Device], tuple[Any, ...]] | None:
    try:
        model_label, device_id = persistent_id.rsplit("/", 1)
        model = apps.get_model(model_label)
    except (ValueError, LookupError):
        return None
    if not issubclass(model, Device):
        return None
    attnames = [f.attname for f in model._meta.concrete_fields]
    try:
        values = model._default_manager.filter(pk=device_id).values_list(*attnames).first()
    except (ValueError, TypeError):
        return None
    return None if values is None else (model, values)


def grants_for(user: User) -> Grants:
    """Every role of ``user``: once per request (on the instance), else from this process."""
    cached = user.__dict__.get(_GRANTS_ATTR)
    if cached is not None and cached[0] == _state.generation:
        return cached[1]  # type: ignore[no-any-return,unused-ignore]
    generation = _state.generation
    entry = _attached_entry(user) or _entry(user.pk)
    if entry.grants is None:
        entry.grants = _load_grants(user.pk)
    user.__dict__[_GRANTS_ATTR] = (generation, entry.grants)
    return entry.grants


def _load_grants(user_id: int | str) -> Grants:
    # (municipality, membership id) order: callers that list roles (the case queue) rely on it.
    rows = (
        Membership.objects.filter(user_id=user_id)
        .order_by("municipality_id", "id")
        .values_list("municipality_id", "role", "department_id", "municipality__is_active")
    )
    memberships = tuple(
        RoleGrant(
            municipality_code=code, role=role, department_id=department, municipality_active=active
        )
        for code, role, department, active in rows
    )
    prefectures = {
        m.municipality_code
        for m in memberships
        if m.role == Role.PREFECTURE_ADMIN and m.municipality_active
    }
    members: dict[str, set[str]] = {code: set() for code in prefectures}
    if prefectures:
        for code, prefecture in Municipality.objects.filter(
            prefecture_id__in=prefectures, is_active=True
        ).values_list("code", "prefecture_id"):
            members[prefecture].add(code)
    return Grants(
        memberships=memberships,
        prefecture_members={code: frozenset(found) for code, found in members.items()},
    )


# --- Invalidation ------------------------------------------------------------------------------


def _replace_token(key: str) -> None:
    try:
        _cache().set(key, _new_token(), None)
    except Exception:
        logger.warning("auth cache unavailable: %s not replaced", key, exc_info=True)


def _replace(key: str, *, using: str) -> None:
    _state.advance()
    _replace_token(key)
    if transaction.get_connection(using).in_atomic_block:
        # Another process may reload (and cache) the old rows before this transaction commits:
        # a second token after the commit makes it read again.
        def again() -> None:
            _state.advance()
            _replace_token(key)

        transaction.on_commit(again, using=using)


def invalidate_user(user_id: int | str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Every process reloads ``user_id``'s row, devices and roles on its next request."""
    _state.entries.pop(user_id, None)
    _replace(user_key(user_id), using=using)


def invalidate_tenants(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Every process reloads every user's roles (a municipality changed: active, prefecture)."""
    _replace(TENANTS_KEY, using=using)


def clear_process_cache() -> None:
    """Forget everything this process holds (tests; nothing else needs it)."""
    _state.entries.clear()
    _state.advance()


def _user_changed(sender: type[models.Model], instance: User, using: str, **kwargs: Any) -> None:
    invalidate_user(instance.pk, using=using)


def _owned_changed(sender: type[models.Model], instance: Any, using: str, **kwargs: Any) -> None:
    if instance.user_id is not None:
        invalidate_user(instance.user_id, using=using)


def _tenant_changed(sender: type[models.Model], instance: Any, using: str, **kwargs: Any) -> None:
    invalidate_tenants(using=using)


def connect_signals() -> None:
    """Invalidate on every ORM write of the rows cached here (called by ``CoreConfig.ready``)."""
    uid = "machi.core.auth_cache"
    for signal in (post_save, post_delete):
        signal.connect(_user_changed, sender=User, dispatch_uid=f"{uid}.user")
        signal.connect(_owned_changed, sender=Membership, dispatch_uid=f"{uid}.membership")
        signal.connect(_tenant_changed, sender=Municipality, dispatch_uid=f"{uid}.municipality")
        for model in apps.get_models():
            if issubclass(model, Device):
                signal.connect(_owned_changed, sender=model, dispatch_uid=f"{uid}.{model._meta}")
