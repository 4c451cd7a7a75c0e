"""The queue's filter choices (団体, 担当課, 手続, 担当者), cached per municipality.

Every queue page offers the same departments, procedures and staff of a municipality; reading
them costs four queries, so they are kept in the cache, one entry per municipality, for
``CHOICES_TTL`` seconds. Saving or deleting a department, procedure, membership, user or
municipality drops the entries it touches (model signals connected in ``CasesConfig.ready``:
the services that change these rows belong to core and procedures, so cases listens instead
of being called). The short TTL bounds what signals cannot see: ``QuerySet.update()`` and, with
the embedded default's per-process ``LocMemCache``, a change made in another process (Redis in
production shares the invalidation). Stale choices are harmless: services check every
assignment again, and the queue's filters are re-scoped to the user's municipalities.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import transaction

from machi.cases import policy
from machi.core.models import Department, Membership, Municipality, User
from machi.procedures.selectors import procedure_list_for_staff

CHOICES_TTL = 60  # seconds; see the module docstring
_KEY = "cases:choices:v1:{code}"


@dataclass(frozen=True)
class StaffChoice:
    """A staff member who may be assigned cases (担当者, 団体管理者)."""

    pk: int
    username: str
    label: str


@dataclass(frozen=True)
class MunicipalityChoices:
    """What the queue's filters offer for one municipality, in display order."""

    code: str
    name: str
    departments: tuple[tuple[int, str], ...]
    procedures: tuple[tuple[int, str], ...]
    staff: tuple[StaffChoice, ...]


def _load(codes: list[str], user: User) -> dict[str, MunicipalityChoices]:
    names = dict(
        Municipality.objects.filter(code__in=codes).values_list("code", "name").order_by("code")
    )
    departments: dict[str, list[tuple[int, str]]] = {code: [] for code in codes}
    for pk, code, name in (
        Department.objects.filter(municipality_id__in=codes)
        .order_by("municipality_id", "code")
        .values_list("pk", "municipality_id", "name")
    ):
        departments[code].append((pk, name))
    procedures: dict[str, list[tuple[int, str]]] = {code: [] for code in codes}
    for pk, code, name in (
        procedure_list_for_staff(user=user)
        .filter(municipality_id__in=codes)
        .order_by("municipality_id", "name_kana", "name")
        .values_list("pk", "municipality_id", "name")
    ):
        procedures[code].append((pk, name))
    staff: dict[str, list[StaffChoice]] = {code: [] for code in codes}
    for pk, username, display_name, code in (
        User.objects.filter(
            is_active=True,
            memberships__municipality_id__in=codes,
            memberships__role__in=policy.HANDLER_ROLES,
        )
        .order_by("username", "pk")
        .values_list("pk", "username", "display_name", "memberships__municipality_id")
        .distinct()
    ):
        choice = StaffChoice(pk=pk, username=username, label=display_name or username)
        if choice not in staff[code]:
            staff[code].append(choice)
    return {
        code: MunicipalityChoices(
            code=code,
            name=names.get(code, code),
            departments=tuple(departments[code]),
            procedures=tuple(procedures[code]),
            staff=tuple(staff[code]),
        )
        for code in codes
    }


def municipality_choices(*, codes: Iterable[str], user: User) -> dict[str, MunicipalityChoices]:
    """The choices of each municipality in ``codes`` (from the cache; the missing in 4 queries).

    ``codes`` must already be limited to municipalities ``user`` may read.
    """
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    keys = {code: _KEY.format(code=code) for code in wanted}
    cached: dict[str, Any] = cache.get_many(list(keys.values()))
    found = {code: cached[key] for code, key in keys.items() if key in cached}
    missing = [code for code in wanted if code not in found]
    if missing:
        loaded = _load(missing, user)
        cache.set_many({keys[code]: value for code, value in loaded.items()}, CHOICES_TTL)
        found.update(loaded)
    return {code: found[code] for code in wanted}


def staff_choices(choices: Iterable[MunicipalityChoices]) -> list[StaffChoice]:
    """Assignable staff of several municipalities, each once, by user name."""
    people: dict[int, StaffChoice] = {}
    for municipality in choices:
        for person in municipality.staff:
            people.setdefault(person.pk, person)
    return sorted(people.values(), key=lambda p: (p.username, p.pk))


def choices_forget(*codes: str) -> None:
    """Drop the cached choices of the municipalities, now and again when the change commits.

    The second drop covers a page that read the old rows between the change and its commit.
    """
    keys = [_KEY.format(code=code) for code in codes if code]
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(partial(cache.delete_many, keys))


# --- Signal receivers (connected in CasesConfig.ready) ----------------------------------------


def forget_for_municipality_row(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A department, procedure or membership changed: its municipality's choices go."""
    choices_forget(str(instance.municipality_id))


def forget_for_municipality(sender: Any, instance: Municipality, **kwargs: Any) -> None:
    """A municipality changed (its name is a choice)."""
    choices_forget(instance.code)


# Saves of these fields alone change nothing the choices show (every sign-in saves last_login).
_USER_FIELDS_NOT_SHOWN = frozenset({"last_login", "password"})


def forget_for_user(
    sender: Any, instance: User, update_fields: Iterable[str] | None = None, **kwargs: Any
) -> None:
    """A user changed (name, active flag): the choices of their municipalities go."""
    if update_fields is not None and set(update_fields) <= _USER_FIELDS_NOT_SHOWN:
        return
    if instance.pk is None:
        return
    codes = Membership.objects.filter(user_id=instance.pk).values_list("municipality_id", flat=True)
    choices_forget(*{str(code) for code in codes})
