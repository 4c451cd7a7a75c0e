"""Writes to core data: tenants, departments, staff, roles and the audit log.

Every state change here records an audit entry in the same transaction, so a change and its
audit record are saved together or not at all.
"""

from __future__ import annotations

import os
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from machi.core.audit_chain import GENESIS_HASH, current_key, entry_fields, entry_link
from machi.core.exceptions import Conflict, Forbidden, InvalidInput
from machi.core.middleware import client_ip_var, request_id_var
from machi.core.models import (
    AuditChainHead,
    AuditEntry,
    Department,
    Membership,
    Municipality,
    MunicipalityKind,
    Role,
    User,
)
from machi.core.selectors import municipality_get, user_has_role
from machi.core.validators import normalize_digits


def _field_errors(error: ValidationError) -> dict[str, list[str]]:
    """Django's ValidationError as ``{field: [messages]}``."""
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
    return {"__all__": [str(m) for m in error.messages]}


def audit_chain_for(municipality_code: str) -> str:
    """The chain this process tries first for ``municipality_code`` (``282103.3``).

    Each municipality has ``MACHI_AUDIT_CHAIN_SHARDS`` chains. On PostgreSQL a writer takes the
    first of them whose head no other transaction holds (``FOR UPDATE SKIP LOCKED``), starting
    with this one, so concurrent workers never wait behind each other's head lock and never
    fork a chain, even when two processes' ids collide after a restart. SQLite has one writer
    at a time: it always uses this one.
    """
    shards = max(1, int(settings.MACHI_AUDIT_CHAIN_SHARDS))
    return f"{municipality_code or '-'}.{os.getpid() % shards}"


def _chain_names(municipality_code: str) -> list[str]:
    shards = max(1, int(settings.MACHI_AUDIT_CHAIN_SHARDS))
    return [f"{municipality_code or '-'}.{shard}" for shard in range(shards)]


def _lock_head(municipality_code: str) -> AuditChainHead:
    """Lock one chain head of the municipality for the rest of the transaction."""
    preferred = audit_chain_for(municipality_code)
    if not connection.features.has_select_for_update_skip_locked:
        # SQLite: the write transaction already excludes every other writer.
        head = AuditChainHead.objects.filter(chain=preferred).first()
        if head is None:
            head = AuditChainHead.objects.create(
                chain=preferred, last_sequence=0, last_hash=GENESIS_HASH
            )
        return head
    names = _chain_names(municipality_code)

    def free() -> AuditChainHead | None:
        # Raw SQL: this runs in every writing transaction, and the ORM's compilation of the
        # ordering expression cost more CPU than the statement itself.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT chain, last_sequence, last_hash FROM core_auditchainhead "
                "WHERE chain = ANY(%s) ORDER BY chain <> %s, chain LIMIT 1 FOR UPDATE SKIP LOCKED",
                [names, preferred],
            )
            row = cursor.fetchone()
        return AuditChainHead(chain=row[0], last_sequence=row[1], last_hash=row[2]) if row else None

    head = free()
    if head is not None and head.chain == preferred:
        if preferred not in _known_chains:
            transaction.on_commit(lambda: _known_chains.add(preferred))
        return head
    if head is not None and preferred in _known_chains:
        return head  # our own chain exists and another transaction holds it: take this one
    # Our own chain does not exist yet, or another transaction holds it. (An INSERT … ON
    # CONFLICT on a row another transaction is updating would wait for it: look first.)
    with connection.cursor() as cursor:
        cursor.execute("SELECT chain FROM core_auditchainhead WHERE chain = ANY(%s)", [names])
        existing = {chain for (chain,) in cursor.fetchall()}
    if head is not None:
        # Another chain is free (and now held by us): take our own instead only if it has
        # never been created (once per process and municipality), else this one.
        created = None if preferred in existing else _create_head(preferred)
        return created or head
    # Every chain that exists is busy: open one more (ours first), bounded by the number of
    # shards; only when all of them exist and are busy, queue on our own.
    for name in [preferred, *names]:
        if name not in existing:
            created = _create_head(name)
            if created is not None:
                return created
    return free() or AuditChainHead.objects.select_for_update().get(chain=preferred)


def _create_head(chain: str) -> AuditChainHead | None:
    """A new, empty chain head, held by this transaction; None if it exists already."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_auditchainhead (chain, last_sequence, last_hash) "
            "VALUES (%s, 0, %s) ON CONFLICT (chain) DO NOTHING RETURNING chain",
            [chain, GENESIS_HASH],
        )
        row = cursor.fetchone()
    return AuditChainHead(chain=chain, last_sequence=0, last_hash=GENESIS_HASH) if row else None


# Own chains this process has seen committed (heads are never deleted): a collision with
# another worker then costs no look-up.
_known_chains: set[str] = set()


def _append(entries: list[AuditEntry]) -> None:
    """Link ``entries`` (in order) onto their chains: per chain one INSERT and one head UPDATE."""
    key_id, key = current_key()
    by_municipality: dict[str, list[AuditEntry]] = {}
    for entry in entries:
        by_municipality.setdefault(entry.municipality_code, []).append(entry)
    # One order for every writer, so two transactions never wait on each other's heads crosswise.
    for municipality_code in sorted(by_municipality):
        group = by_municipality[municipality_code]
        head = _lock_head(municipality_code)
        sequence, link = head.last_sequence, head.last_hash
        for entry in group:
            sequence += 1
            entry.chain = head.chain
            entry.sequence = sequence
            entry.prev_hash = link
            entry.key_id = key_id
            entry.entry_hash = link = entry_link(key=key, key_id=key_id, **entry_fields(entry))
        _insert_entries(group)
        # After the entries: the head guard lets the head move only onto an existing entry.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE core_auditchainhead SET last_sequence = %s, last_hash = %s WHERE chain = %s",
                [sequence, link, head.chain],
            )


def _insert_entries(entries: list[AuditEntry]) -> None:
    """One multi-row INSERT (what ``bulk_create`` sends, without compiling it every time)."""
    fields = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [
        f.get_db_prep_save(getattr(e, f.attname), connection) for e in entries for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO core_auditentry ({columns}) VALUES {', '.join([row] * len(entries))} "  # noqa: S608 - the model's own columns
            "RETURNING id",
            params,
        )
        ids = [pk for (pk,) in cursor.fetchall()]
    for entry, pk in zip(entries, ids, strict=True):
        entry.pk = pk
        entry._state.adding = False
        entry._state.db = connection.alias


class _Batch:
    """Entries recorded in one transaction, written together when it is about to commit."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.entries: list[AuditEntry] = []


_batches = threading.local()


def _savepoint_depth() -> int:
    # Atomic blocks that really opened a savepoint (``savepoint=False`` ones append None).
    return sum(1 for sid in connection.savepoint_ids if sid is not None)


def _open_batch() -> _Batch | None:
    """The batch an entry recorded now belongs to, if one is open at this savepoint depth.

    An entry recorded inside a savepoint opened after the batch began is written at once
    instead, so rolling that savepoint back takes the entry with it.
    """
    stack: list[_Batch] = getattr(_batches, "stack", [])
    if stack and connection.in_atomic_block and stack[-1].depth == _savepoint_depth():
        return stack[-1]
    return None


@contextmanager
def audit_batch() -> Iterator[None]:
    """One transaction whose audit entries are written together just before it ends.

    A service that owns a transaction wraps its body in ``with audit_batch():`` (it opens the
    transaction, or joins the caller's without a savepoint, so an exception inside also dooms the
    caller's transaction: open an atomic block first to catch one): every ``audit_record`` inside
    appends to a buffer, and on the way out the buffer goes into the chain in one multi-row
    INSERT and one head UPDATE per chain, instead of three statements per entry. Nested
    batches at the same depth join the outer one. On an exception nothing is written (the
    transaction rolls back anyway).
    """
    with transaction.atomic(savepoint=False):
        if _open_batch() is not None:
            yield
            return
        stack: list[_Batch] = getattr(_batches, "stack", None) or []
        _batches.stack = stack
        batch = _Batch(_savepoint_depth())
        stack.append(batch)
        try:
            yield
        finally:
            stack.remove(batch)
        if batch.entries:
            _append(batch.entries)


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    municipality_code: str = "",
    target_type: str = "",
    target_id: str | int | uuid.UUID = "",
    purpose: str = "",
    personal_data: bool = False,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the municipality's audit chain (監査ログ).

    ``purpose`` says why personal data was accessed (利用目的). The chain head row is locked
    for the rest of the transaction, so every entry links to exactly one predecessor. Inside
    ``audit_batch`` the entry is only buffered: its chain, sequence and link are set, and it is
    saved, when the batch ends.
    """
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    actor_username = actor.get_username() if actor_id is not None and actor is not None else ""
    entry = AuditEntry(
        chain="",
        sequence=0,
        # Microseconds: what both databases store and give back (the link covers it).
        occurred_at=timezone.now(),
        actor_id=actor_id,
        actor_username=actor_username,
        municipality_code=municipality_code,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        purpose=purpose,
        personal_data=personal_data,
        detail=detail or {},
        ip_address=client_ip_var.get(),
        request_id=request_id_var.get(),
        prev_hash="",
    )
    batch = _open_batch()
    if batch is not None:
        batch.entries.append(entry)
        return entry
    with transaction.atomic(savepoint=False):
        _append([entry])
    return entry


@transaction.atomic
def municipality_create(
    *,
    code: str,
    name: str,
    name_kana: str,
    kind: str,
    prefecture_code: str | None = None,
    name_en: str = "",
    actor: User | None = None,
) -> Municipality:
    """Register a tenant (the prefecture or one of its municipalities).

    Validates the 全国地方公共団体コード's check digit and the parent prefecture.
    """
    code = normalize_digits(code)
    prefecture: Municipality | None = None
    if prefecture_code:
        prefecture = municipality_get(code=normalize_digits(prefecture_code))
        if prefecture.kind != MunicipalityKind.PREFECTURE:
            raise InvalidInput(
                _("上位団体には都道府県を指定してください。"),
                field_errors={"prefecture_code": [_("都道府県のコードではありません。")]},
            )
    if Municipality.objects.filter(code=code).exists():
        raise Conflict(
            _("地方公共団体コード %(code)s は登録済みです。") % {"code": code},
            code="municipality_exists",
        )
    municipality = Municipality(
        code=code,
        name=name.strip(),
        name_kana=name_kana.strip(),
        name_en=name_en.strip(),
        kind=kind,
        prefecture=prefecture,
    )
    try:
        municipality.full_clean()
    except ValidationError as exc:
        raise InvalidInput(
            _("入力内容に誤りがあります。"), field_errors=_field_errors(exc)
        ) from exc
    municipality.save(force_insert=True)
    audit_record(
        action="municipality.create",
        actor=actor,
        municipality_code=code,
        target_type="municipality",
        target_id=code,
        detail={"name": municipality.name, "kind": kind},
    )
    return municipality


@transaction.atomic
def department_create(
    *,
    actor: User | None,
    municipality_code: str,
    code: str,
    name: str,
    name_kana: str = "",
    phone: str = "",
) -> Department:
    """Add a department (課) to a municipality. Needs 団体管理者 there (or its 県管理者)."""
    municipality = municipality_get(code=municipality_code)
    if actor is not None and not user_has_role(
        actor,
        municipality_code=municipality.code,
        roles=[Role.MUNICIPALITY_ADMIN],
        prefecture_wide=False,
    ):
        raise Forbidden(_("この団体の課を登録する権限がありません。"))
    department = Department(
        municipality=municipality, code=code, name=name.strip(), name_kana=name_kana, phone=phone
    )
    try:
        department.full_clean(validate_constraints=False)  # duplicates: Conflict below
    except ValidationError as exc:
        raise InvalidInput(
            _("入力内容に誤りがあります。"), field_errors=_field_errors(exc)
        ) from exc
    try:
        with transaction.atomic():
            department.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(_("課コード %(code)s は登録済みです。") % {"code": code}) from exc
    audit_record(
        action="department.create",
        actor=actor,
        municipality_code=municipality.code,
        target_type="department",
        target_id=department.pk,
        detail={"code": code, "name": department.name},
    )
    return department


@transaction.atomic
def staff_user_create(
    *,
    username: str,
    password: str,
    display_name: str = "",
    email: str = "",
    totp_key_hex: str | None = None,
    actor: User | None = None,
) -> tuple[User, TOTPDevice]:
    """Create a staff account with its TOTP device (second factor, required for staff).

    ``totp_key_hex`` fixes the secret (demo data); otherwise a random 20-byte key is used.
    """
    if User.objects.filter(username=username).exists():
        raise Conflict(_("ユーザー名 %(name)s は使われています。") % {"name": username})
    user = User(username=username, display_name=display_name, email=email, is_staff=True)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            _("パスワードが条件を満たしていません。"),
            field_errors={"password": [str(m) for m in exc.messages]},
        ) from exc
    user.set_password(password)
    user.save()
    device = TOTPDevice.objects.create(
        user=user,
        name="default",
        key=totp_key_hex or secrets.token_hex(20),
        confirmed=True,
    )
    audit_record(
        action="staff.create",
        actor=actor,
        target_type="user",
        target_id=user.pk,
        detail={"username": username},
    )
    return user, device


@transaction.atomic
def membership_grant(
    *,
    actor: User | None,
    user: User,
    municipality_code: str,
    role: str,
    department: Department | None = None,
) -> Membership:
    """Give ``user`` a role in a municipality. Needs 団体管理者 there (or its 県管理者)."""
    municipality = municipality_get(code=municipality_code)
    if role not in Role.values:
        raise InvalidInput(_("不明な役割です。"), field_errors={"role": [_("不明な役割です。")]})
    if role == Role.PREFECTURE_ADMIN and municipality.kind != MunicipalityKind.PREFECTURE:
        raise InvalidInput(
            _("県管理者の役割は都道府県にだけ付与できます。"),
            field_errors={"role": [_("県管理者の役割は都道府県にだけ付与できます。")]},
        )
    # PREFECTURE_WRITE_RULES["membership.grant.municipality_admin"]: onboarding only.
    if actor is not None and not user_has_role(
        actor,
        municipality_code=municipality.code,
        roles=[Role.MUNICIPALITY_ADMIN],
        prefecture_wide=False,
    ):
        onboarding = role == Role.MUNICIPALITY_ADMIN and user_has_role(
            actor,
            municipality_code=municipality.code,
            roles=[Role.PREFECTURE_ADMIN],
            prefecture_wide=True,
        )
        if not onboarding:
            raise Forbidden(_("この団体の役割を付与する権限がありません。"))
    if department is not None and department.municipality_id != municipality.code:
        raise InvalidInput(
            _("他の団体の課は指定できません。"),
            field_errors={"department": [_("他の団体の課は指定できません。")]},
        )
    membership, created = Membership.objects.get_or_create(
        user=user, municipality=municipality, role=role, defaults={"department": department}
    )
    if created:
        audit_record(
            action="membership.grant",
            actor=actor,
            municipality_code=municipality.code,
            target_type="user",
            target_id=user.pk,
            detail={"role": role},
        )
    return membership


def sign_in_record(*, user: User | None, username: str, succeeded: bool, reason: str = "") -> None:
    """Record a staff sign-in attempt in the platform audit chain."""
    audit_record(
        action="auth.sign_in" if succeeded else "auth.sign_in_failed",
        actor=user if succeeded else None,
        target_type="user",
        target_id=user.pk if user is not None else "",
        detail={"username": username, "reason": reason} if reason else {"username": username},
    )
