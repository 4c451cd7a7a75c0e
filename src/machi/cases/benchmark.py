"""Bench helpers for the case queue, for ``bench/run.py``: bulk data and in-process timing.

Typical use (Django set up against the migrated bench database)::

    from machi.cases import benchmark
    data = benchmark.bulk_create_cases(n=1_000_000, municipalities=40)
    handler = benchmark.bench_handler(data.municipalities[0])
    for timing in benchmark.time_queue_scenarios(user=handler):
        print(timing.scenario, timing.median_ms, timing.queries)
    print(benchmark.explain_queue(user=handler))

Rows are written with raw ``bulk_create`` in batches (no services, no audit entries): this is
load data, not a realistic history. Existing municipalities are used first (``bench/dataset``
creates 兵庫県's 41); missing ones are created under a bench prefecture.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from machi.cases.models import CLOSED_STATUSES, OPEN_STATUSES, Case
from machi.cases.selectors import QueueFilter, case_queue, case_queue_page, case_status_counts
from machi.core.models import Department, Membership, Municipality, MunicipalityKind, Role, User
from machi.core.validators import local_government_check_digit
from machi.procedures import selectors as procedure_selectors
from machi.procedures import services as procedure_services
from machi.procedures.states import ApplicationOutcome, ApplicationStatus, Channel

if TYPE_CHECKING:
    # Types only: procedures' rows are written through its bulk services.
    from machi.procedures.selectors import Application, FormVersion, Procedure

BENCH_PREFECTURE_BODY = "99000"
BENCH_SLUG = "bench-case"
BENCH_DEPARTMENT = "bench-shimin"
BENCH_FORM: dict[str, Any] = {
    "schema": 1,
    "steps": [
        {
            "key": "main",
            "title": {"ja": "申請内容"},
            "fields": [{"key": "name", "type": "text", "label": {"ja": "氏名"}, "required": True}],
        }
    ],
}
CHANNELS = (Channel.ONLINE, Channel.ONLINE, Channel.ONLINE, Channel.COUNTER, Channel.PAPER)


def _code(body: str) -> str:
    return f"{body}{local_government_check_digit(body)}"


def bench_municipalities(count: int) -> list[str]:
    """Codes of ``count`` active municipalities (not prefectures), created when missing."""
    codes = list(
        Municipality.objects.filter(is_active=True)
        .exclude(kind=MunicipalityKind.PREFECTURE)
        .order_by("code")
        .values_list("code", flat=True)[:count]
    )
    if len(codes) < count:
        prefecture, _created = Municipality.objects.get_or_create(
            code=_code(BENCH_PREFECTURE_BODY),
            defaults={
                "name": "ベンチ県",
                "name_kana": "べんちけん",
                "kind": MunicipalityKind.PREFECTURE,
            },
        )
        number = 100
        while len(codes) < count:
            code = _code(f"99{number:03d}")
            number += 1
            Municipality.objects.get_or_create(
                code=code,
                defaults={
                    "name": f"ベンチ市{number}",
                    "name_kana": "べんちし",
                    "kind": MunicipalityKind.CITY,
                    "prefecture": prefecture,
                },
            )
            if code not in codes:
                codes.append(code)
    return codes


def _bench_procedure(municipality_code: str) -> tuple[Procedure, FormVersion, Department]:
    department, _created = Department.objects.get_or_create(
        municipality_id=municipality_code,
        code=BENCH_DEPARTMENT,
        defaults={"name": "市民課（ベンチ）"},
    )
    procedure, version = procedure_services.bench_procedure_ensure(
        municipality_code=municipality_code,
        slug=BENCH_SLUG,
        name="ベンチ用の手続",
        definition=BENCH_FORM,
        department=department,
        standard_processing_days=10,
        channels=["online", "counter", "paper"],
    )
    return procedure, version, department


def bench_handler(municipality_code: str) -> User:
    """A 担当者 of the municipality's bench department (for timing the queue as a handler)."""
    _procedure, _version, department = _bench_procedure(municipality_code)
    user, _created = User.objects.get_or_create(
        username=f"bench-handler-{municipality_code}",
        defaults={"is_staff": True, "display_name": "ベンチ 担当"},
    )
    Membership.objects.get_or_create(
        user=user,
        municipality_id=municipality_code,
        role=Role.CASE_HANDLER,
        defaults={"department": department},
    )
    return user


@dataclass(frozen=True)
class CaseBenchData:
    """What :func:`bulk_create_cases` wrote."""

    cases: int
    municipalities: list[str]
    seconds: float
    open_cases: int = 0
    handlers: dict[str, int] = field(default_factory=dict)


def bulk_create_cases(
    *,
    n: int,
    municipalities: int = 40,
    batch_size: int = 5000,
    open_share: float = 0.3,
    seed: int = 1,
    now: dt.datetime | None = None,
) -> CaseBenchData:
    """Write ``n`` applications and their cases spread over ``municipalities`` (raw, batched).

    About ``open_share`` of them are open (受付, 審査中, 補正依頼中, 決裁中), submitted over the
    last two years with a 10-day deadline, so a share of the open ones is overdue; a tenth of
    them are assigned to the municipality's bench handler.
    """
    started = time.perf_counter()
    rng = random.Random(seed)  # noqa: S311 - bench data, not secrets
    now = now or timezone.now()
    codes = bench_municipalities(municipalities)
    setup = {code: _bench_procedure(code) for code in codes}
    handlers = {code: bench_handler(code).pk for code in codes}
    prefix = uuid.uuid4().hex[:6]
    written = 0
    open_count = 0
    while written < n:
        size = min(batch_size, n - written)
        applications: list[Application] = []
        cases: list[Case] = []
        for offset in range(size):
            index = written + offset
            code = codes[index % len(codes)]
            procedure, version, department = setup[code]
            submitted_at = now - dt.timedelta(seconds=rng.randrange(0, 730 * 86400))
            is_open = rng.random() < open_share
            status = (
                rng.choice(OPEN_STATUSES)
                if is_open
                else rng.choice((ApplicationStatus.COMPLETED,) * 9 + (ApplicationStatus.WITHDRAWN,))
            )
            completed_at = None
            outcome = ""
            if status == ApplicationStatus.COMPLETED:
                completed_at = submitted_at + dt.timedelta(hours=rng.randrange(1, 24 * 40))
                outcome = rng.choice(ApplicationOutcome.values)
            channel = rng.choice(CHANNELS)
            receipt = f"B{prefix}-{index:08d}"
            application = procedure_services.application_build(
                id=uuid.uuid4(),
                municipality_id=code,
                procedure=procedure,
                form_version=version,
                status=status,
                outcome=outcome,
                channel=channel,
                answers={"main": {"name": "ベンチ 太郎"}},
                cleaned={"main": {"name": "ベンチ 太郎"}},
                receipt_number=receipt,
                submitted_at=submitted_at,
                completed_at=completed_at,
                language="ja",
            )
            applications.append(application)
            cases.append(
                Case(
                    municipality_id=code,
                    application=application,
                    procedure=procedure,
                    department=department,
                    assignee_id=handlers[code] if rng.random() < 0.1 else None,
                    status=status,
                    is_open=status not in CLOSED_STATUSES,
                    outcome=outcome,
                    channel=channel,
                    receipt_number=receipt,
                    submitted_at=submitted_at,
                    completed_at=completed_at,
                    due_date=timezone.localdate(submitted_at) + dt.timedelta(days=14),
                )
            )
            open_count += int(is_open)
        with transaction.atomic():
            procedure_services.applications_bulk_create(
                applications=applications, batch_size=batch_size
            )
            Case.objects.bulk_create(cases, batch_size=batch_size)
        written += size
    if connection.vendor == "postgresql" and connection.get_autocommit():
        # Fresh statistics, and a visibility map so counts can be index-only scans.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE cases_case")
            cursor.execute("VACUUM ANALYZE procedures_application")
    return CaseBenchData(
        cases=written,
        municipalities=codes,
        seconds=time.perf_counter() - started,
        open_cases=open_count,
        handlers=handlers,
    )


@dataclass(frozen=True)
class QueueTiming:
    """Time to build the queue's first page (rows + capped status counts), in-process."""

    scenario: str
    best_ms: float
    median_ms: float
    queries: int
    rows: int


def time_queue_first_page(
    *, user: User, filters: QueueFilter | None = None, repeat: int = 5, scenario: str = ""
) -> QueueTiming:
    """Run what the queue page runs for its data (page + counts) ``repeat`` times."""
    filters = filters or QueueFilter()
    durations = []
    rows = 0
    queries = 0
    for attempt in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            begin = time.perf_counter()
            page = case_queue_page(user=user, filters=filters)
            case_status_counts(user=user, filters=filters)
            durations.append((time.perf_counter() - begin) * 1000)
        if attempt == 0:
            rows = len(page.cases)
            queries = len(captured.captured_queries)
    return QueueTiming(
        scenario=scenario or repr(filters),
        best_ms=round(min(durations), 2),
        median_ms=round(statistics.median(durations), 2),
        queries=queries,
        rows=rows,
    )


def queue_scenarios(user: User) -> dict[str, QueueFilter]:
    """The filter combinations worth timing (a handler's everyday views)."""
    department = (
        Membership.objects.filter(user=user, department__isnull=False)
        .values_list("department_id", flat=True)
        .first()
    )
    procedure = (
        procedure_selectors.procedure_list(department_id=department)
        .values_list("pk", flat=True)
        .first()
    )
    base = QueueFilter(department_id=department)
    return {
        "department open, by due date": base,
        "all departments open": replace(base, department_id=None),
        "status 受付": replace(base, status=ApplicationStatus.SUBMITTED),
        "overdue": replace(base, overdue=True),
        "assigned to me": replace(base, assignee="me", department_id=None),
        "unassigned": replace(base, assignee="none"),
        "channel 窓口": replace(base, channel=Channel.COUNTER),
        "procedure": replace(base, procedure_id=procedure),
        "older than 30 days": replace(base, min_age_days=30),
        "newest first": replace(base, sort="-submitted"),
        "closed": replace(base, status="closed"),
    }


def time_queue_scenarios(*, user: User, repeat: int = 5) -> list[QueueTiming]:
    """:func:`time_queue_first_page` for every scenario of :func:`queue_scenarios`."""
    return [
        time_queue_first_page(user=user, filters=filters, repeat=repeat, scenario=name)
        for name, filters in queue_scenarios(user).items()
    ]


def explain_queue(*, user: User, filters: QueueFilter | None = None, page_size: int = 51) -> str:
    """The database's plan for the first page's query (EXPLAIN ANALYZE on PostgreSQL)."""
    queryset = case_queue(user=user, filters=filters or QueueFilter())[:page_size]
    if connection.vendor == "postgresql":
        return queryset.explain(analyze=True, buffers=True)
    return queryset.explain()


def time_queue_view(*, user: User, query: str = "", repeat: int = 5) -> QueueTiming:
    """The whole queue page (middleware, forms, template) through the test client, in-process.

    Needs the case pages mounted (``cases-staff`` namespace) and a TOTP device for ``user``
    (one is added when missing, so the session counts as second-factor verified).
    """
    from django.test import Client
    from django.urls import reverse
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    url = reverse("cases-staff:queue") + (f"?{query}" if query else "")
    durations = []
    queries = 0
    for attempt in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            begin = time.perf_counter()
            response = client.get(url)
            durations.append((time.perf_counter() - begin) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"queue page answered {response.status_code}")
        if attempt == 0:
            queries = len(captured.captured_queries)
    return QueueTiming(
        scenario=f"GET {url}",
        best_ms=round(min(durations), 2),
        median_ms=round(statistics.median(durations), 2),
        queries=queries,
        rows=0,
    )
