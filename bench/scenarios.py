"""The benchmark scenarios (``SCENARIOS``: append one to add a benchmark) and their results."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import reads
from capture import Capture
from minimal import MinimalSQL

# --- Scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """A target from the issue: a rate at least (absolute, or a share of another scenario's
    rate at the same connections) and/or a p95 latency at most."""

    text: str
    min_rps: float | None = None
    max_p95_ms: float | None = None
    share_of: str | None = None  # another scenario's name: its req/s is the reference
    min_share: float | None = None

    def met(self, result: WrkResult, reference: WrkResult | None = None) -> bool | None:
        """Met or not; None when the reference scenario did not run."""
        if self.min_rps is not None and result.rps < self.min_rps:
            return False
        if self.max_p95_ms is not None and result.latency_us["p95"] / 1000 > self.max_p95_ms:
            return False
        if self.share_of is not None and self.min_share is not None:
            if reference is None or reference.rps <= 0:
                return None
            return result.rps >= self.min_share * reference.rps
        return True


@dataclass(frozen=True)
class Scenario:
    """One HTTP endpoint under load, and its raw-database equivalent.

    ``minimal``: builds the scenario's minimal SQL for one captured request (``reads.py``,
    ``writes.py``): the pgbench script the ratio is quoted against.
    ``check``: validates the decoded JSON body of a sample response; returns an error or None.
    ``paths``: when set, requests rotate through them (wrk and pgbench alike); ``path`` is the
    label. ``body``: the JSON body (POST), built from the bench data. ``unique_header``: a
    header that gets a fresh value per request (a write: its rows are traced for ``minimal``).
    ``expect_status``: the only good status.
    ``created_sql``: counts the rows one request creates, to check that every counted request
    (and pgbench transaction) really did the work. ``invariant_sql`` must count 0 after the
    HTTP runs; ``pending_sql`` is reported (work left for a task worker, not a failure).
    ``goal``: the issue's target, checked at the server's own concurrency and at wrk's.
    ``explain_query``: a regex choosing the captured query to EXPLAIN (default: the first).
    ``session``: whose staff session (``"admin"`` or ``"handler"``, see ``main``).
    ``results``: how many results a (decoded) response shows, for the report.
    """

    name: str
    method: str
    path: str
    description: str
    staff_session: bool = False
    minimal: Callable[[Capture, dict[str, Any]], MinimalSQL] | None = None
    check: Callable[[Any, dict[str, Any]], str | None] | None = None
    paths: tuple[str, ...] = ()
    body: Callable[[dict[str, Any]], Any] | None = None
    unique_header: str | None = None
    expect_status: int | None = None
    # SQL built when called (Django set up), table names from Model._meta
    created_sql: Callable[[], str] | None = None
    invariant_sql: Callable[[], str] | None = None
    invariant_note: str = ""  # what invariant_sql = 0 means, for the report
    pending_sql: Callable[[], str] | None = None
    pending_note: str = ""  # what pending_sql counts, for the report
    goal: Goal | None = None
    # per request path: EXPLAIN ANALYZE of a query (the first one containing ``explain_query``,
    # else the first), and the request's time in-process when idle
    explain: bool = False
    explain_query: str = ""
    # with staff_session: whose session ("admin": 団体管理者 of 加古川市, "handler": its 担当者)
    session: str = "admin"
    # the number of results a response shows (the report's "Results" column); JSON lists: len
    results: Callable[[Any], int] | None = None

    @property
    def request_paths(self) -> tuple[str, ...]:
        return self.paths or (self.path,)


def _check_health(body: Any, data: dict[str, Any]) -> str | None:
    if body.get("status") != "ok" or body.get("database") != "postgresql":
        return f"unexpected /healthz answer {body!r}"
    return None


def _check_departments(body: Any, data: dict[str, Any]) -> str | None:
    expected = data["admin_departments"]
    if not isinstance(body, list) or len(body) != expected:
        return f"expected a list of {expected} departments, got {str(body)[:200]}"
    if {row["municipality_code"] for row in body} != {data["admin_municipality"]}:
        return "departments of another municipality leaked into the tenant-scoped list"
    return None


def _check_submission(body: Any, data: dict[str, Any]) -> str | None:
    if body.get("status") != "submitted" or not body.get("receipt_number"):
        return f"not a submitted application with a receipt number: {str(body)[:300]}"
    if body.get("procedure") != data["submit_procedure"] or body.get("channel") != "api":
        return f"unexpected procedure or channel: {str(body)[:300]}"
    if [h["to_status"] for h in body.get("history", [])] != ["submitted"]:
        return f"expected one status change to submitted: {body.get('history')!r}"
    return None


def _check_catalog(body: Any, data: dict[str, Any]) -> str | None:
    if not isinstance(body, list) or not body:
        return f"expected a non-empty list of procedures, got {str(body)[:200]}"
    if any("form_version" not in row or "url" not in row for row in body):
        return "catalog rows lack form_version/url"
    return None


# What residents type: kanji, hiragana, half-width katakana; long and two-character words.
CATALOG_QUERIES = ("じゅうみんひょう", "住民票", "ｼﾞｭｳﾐﾝﾋｮｳ", "転出", "児童手当", "ごみ")


QUEUE_PAGE_SIZE = 50  # machi.cases.selectors.PAGE_SIZE: the first page shows this many cases
_QUEUE_ROW = re.compile(r'<input type="checkbox" name="cases" value="\d+"')


def queue_rows(body: Any) -> int:
    """Cases on a queue page: one tick box per row (the signed-in 担当者 may act on them)."""
    return len(_QUEUE_ROW.findall(body)) if isinstance(body, str) else 0


def _check_queue(*markers: str) -> Callable[[Any, dict[str, Any]], str | None]:
    """A full first page with a next page and capped tab counts; each marker on every row."""

    def check(body: Any, data: dict[str, Any]) -> str | None:
        if not isinstance(body, str) or "<table" not in body:
            return f"expected the HTML queue page, got {str(body)[:200]}"
        rows = queue_rows(body)
        if rows != QUEUE_PAGE_SIZE:
            return f"expected a full first page of {QUEUE_PAGE_SIZE} cases, got {rows}"
        if "page=2" not in body:
            return "no link to a second page: the filter matched too few cases"
        if '<span class="count">1,000+</span>' not in body:
            return "no tab count reached the cap: the handler does not see the bulk cases"
        for marker in markers:
            if body.count(marker) < QUEUE_PAGE_SIZE:
                return f"{body.count(marker)} rows show {marker!r}, expected all {rows}"
        return None

    return check


def _queue_description(what: str) -> str:
    return (
        f"案件一覧 (the staff queue, HTML): {what} Signed in (password + TOTP) as the 担当者 of "
        "加古川市 whose queue opens on their department, the one holding all of 加古川市's bulk "
        "cases (see *Case queue data*). The check: 50 rows (one tick box each), a next page, a "
        "tab count at its 1,000+ cap. Minimal SQL: one indexed SELECT of 51 rows (the columns "
        "a row shows, with the procedure's and the assignee's names) and ONE statement for "
        "every capped status count."
    )


def _submission_body(data: dict[str, Any]) -> Any:
    return data["submit_payload"]


def _submission_minimal(capture: Capture, data: dict[str, Any]) -> MinimalSQL:
    import writes

    return writes.write_plan(
        sql=capture.sql,
        snapshot=capture.snapshot,
        receipt=capture.body.get("receipt_number"),
        clients=int(data["db_clients"]),
    )


def submission_created_sql() -> str:
    """Counts the API's submitted applications (every submission request creates one)."""
    from machi.procedures.models import Application

    meta = Application._meta
    return (
        f'SELECT count(*) FROM "{meta.db_table}" WHERE "{meta.get_field("channel").column}" = '
        f"'api' AND \"{meta.get_field('status').column}\" = 'submitted'"
    )


def _submission_without_case_sql() -> str:
    """Counts submitted applications without their case (must be none)."""
    from machi.cases.models import Case
    from machi.procedures.models import Application

    app, case = Application._meta, Case._meta
    return (
        f'SELECT count(*) FROM "{app.db_table}" a WHERE a."{app.get_field("status").column}" = '
        f"'submitted' AND NOT EXISTS (SELECT 1 FROM \"{case.db_table}\" c WHERE "
        f'c."{case.get_field("application").column}" = a."{app.pk.column}")'
    )


def _outbox_pending_sql() -> str:
    from machi.core.models import OutboxMessage

    meta = OutboxMessage._meta
    return (
        f'SELECT count(*) FROM "{meta.db_table}" WHERE "{meta.get_field("status").column}" '
        "<> 'sent'"
    )


SCENARIOS: list[Scenario] = [
    Scenario(
        name="healthz",
        method="GET",
        path="/healthz",
        description="Liveness + database check (no session). Minimal SQL: `SELECT 1`.",
        check=_check_health,
        minimal=reads.healthz,
    ),
    Scenario(
        name="staff-departments",
        method="GET",
        path="/api/v1/staff/departments",
        description=(
            "Tenant-scoped list: the departments of the signed-in 団体管理者's municipality "
            "(session + TOTP-verified staff). Minimal SQL: the list SELECT only (the columns "
            "the response shows); session, user, OTP device and memberships cost nothing when "
            "cached. The goal compares it with `/healthz` at the same connections."
        ),
        staff_session=True,
        check=_check_departments,
        minimal=reads.departments,
        goal=Goal(
            "≥ 50% of `/healthz`'s req/s (authenticated 5-query list)",
            share_of="healthz",
            min_share=0.5,
        ),
    ),
    Scenario(
        name="submit-application",
        method="POST",
        path="/api/v1/applications",
        description=(
            "Online procedures: one complete application per request through the JSON API, "
            "anonymous (加古川市 粗大ごみ収集申込, assurance level none; 2 steps, name + address "
            "+ phone + e-mail, 3 items, collection date; validated once in-process with "
            "`formengine.validate_answers` before the run). Each request carries a fresh "
            "`Idempotency-Key`, so every one creates a new application with its receipt number, "
            "status history, case, audit entries and outbox message. Only 201 counts as "
            "success. Minimal SQL (`bench/writes.py`): the same rows the captured request "
            "wrote, in one transaction — one INSERT per table (multi-row where it wrote "
            "several), fresh keys per transaction, ONE update of the pgbench client's own audit "
            "chain head, and the receipt counter taken last in one statement that also writes "
            "the number into the rows showing it."
        ),
        check=_check_submission,
        body=_submission_body,
        unique_header="Idempotency-Key",
        expect_status=201,
        minimal=_submission_minimal,
        created_sql=submission_created_sql,
        invariant_sql=_submission_without_case_sql,
        invariant_note="After the HTTP runs every submitted application has its case.",
        pending_sql=_outbox_pending_sql,
        pending_note=(
            "outbox messages not yet sent after the HTTP runs (delivery after commit is a task "
            "worker's job; the bench runs none beside gunicorn)"
        ),
        goal=Goal("≥ 300 submissions/s and p95 ≤ 150 ms", min_rps=300, max_p95_ms=150),
    ),
    Scenario(
        name="catalog-search",
        method="GET",
        path="/api/v1/procedures?q=…",
        paths=tuple(
            f"/api/v1/procedures?q={urllib.parse.quote(query)}" for query in CATALOG_QUERIES
        ),
        description=(
            "Catalog search over every published procedure (≥ 5,000), anonymous, rotating "
            f"through {len(CATALOG_QUERIES)} queries: "
            + ", ".join(CATALOG_QUERIES)
            + " (first page, up to 50 results). Minimal SQL: one index SELECT per query (the "
            "columns the list shows; the query's bigrams through a bench-only GIN index of "
            "`search_text`'s bigrams, rechecked with LIKE), one pgbench script per query, "
            "picked at random."
        ),
        check=_check_catalog,
        minimal=reads.catalog,
        goal=Goal("p95 ≤ 5 ms", max_p95_ms=5),
        explain=True,
    ),
    *[
        Scenario(
            name=name,
            method="GET",
            path=path,
            description=_queue_description(what),
            staff_session=True,
            session="handler",
            check=_check_queue(*markers),
            minimal=reads.queue(filters),
            goal=Goal("p95 ≤ 50 ms (first page, 1,000,000 cases)", max_p95_ms=50),
            explain=True,
            explain_query=r'FROM "cases_case" .* LIMIT 51$',
            results=queue_rows,
        )
        for name, path, what, markers, filters in (
            (
                "case-queue",
                "/staff/cases/",
                "the default view — open cases of the handler's department, nearest deadline "
                "first.",
                (),
                "open",
            ),
            (
                "case-queue-review-overdue",
                "/staff/cases/?status=in_review&overdue=1",
                "filtered to 審査中 and past the deadline (期限超過).",
                ('class="status status-in_review"', 'class="overdue"'),
                "review-overdue",
            ),
            (
                "case-queue-unassigned",
                "/staff/cases/?assignee=none",
                "filtered to unassigned open cases (担当者: 未割当).",
                (),
                "unassigned",
            ),
        )
    ],
]


# --- Results -----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    non_2xx: int
    errors: dict[str, int]
    latency_us: dict[str, float]
    connections: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s


@dataclass
class PgbenchResult:
    tps: float
    latency_ms: float
    transactions: int


@dataclass
class ScenarioResult:
    scenario: Scenario
    captures: list[Capture] = field(default_factory=list)
    http: WrkResult | None = None  # at wrk's many connections (32): queueing included
    http_goal: WrkResult | None = None  # at the goal's connections (4): goals judged here
    http_requests: int = 0  # every response wrk counted, warm-up included
    http_served: int = 0  # requests the server completed (rows created, where countable)
    http_unseen: int = 0  # at most this many more: in flight when a wrk run stopped
    setup_transactions: int = 0  # sample, warm-up, capture, EXPLAIN, idle timing, row counts
    settled_s: float = 0.0  # waited for the backlog of the 32-connection run before the next
    db: PgbenchResult | None = None  # the minimal SQL through pgbench
    db_transactions: int = 0  # every pgbench transaction, warm-up included
    minimal_error: str = ""  # why the minimal SQL could not be built or run
    notes: list[str] = field(default_factory=list)

    @property
    def statements(self) -> float:
        return sum(c.statements for c in self.captures) / len(self.captures)

    @property
    def transactions(self) -> float:
        return sum(c.transactions for c in self.captures) / len(self.captures)

    def statements_label(self) -> str:
        return _range_label([c.statements for c in self.captures])

    def minimal_label(self) -> str:
        counts = [c.minimal.statements for c in self.captures if c.minimal is not None]
        return _range_label(counts) if counts else "—"


def _range_label(counts: list[int]) -> str:
    if not counts:
        return "—"
    distinct = sorted(set(counts))
    if len(distinct) == 1:
        return str(distinct[0])
    return f"{distinct[0]}–{distinct[-1]} (mean {sum(counts) / len(counts):.1f})"
