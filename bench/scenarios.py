"""The benchmark scenarios (``SCENARIOS``: append one to add a benchmark) and their results."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from capture import Capture, write_script

# --- Scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """A target from the issue: a rate at least and/or a p95 latency at most."""

    text: str
    min_rps: float | None = None
    max_p95_ms: float | None = None

    def met(self, result: WrkResult) -> bool:
        if self.min_rps is not None and result.rps < self.min_rps:
            return False
        return self.max_p95_ms is None or result.latency_us["p95"] / 1000 <= self.max_p95_ms


@dataclass(frozen=True)
class Scenario:
    """One HTTP endpoint under load, and its raw-database equivalent.

    ``db_sql``: the pgbench script body; None means "the SQL Django runs for one request",
    captured in-process (same settings, middleware and session) before the load test. A write
    scenario gives ``db_script`` instead: it turns the captured SQL into a pgbench script that
    makes fresh unique values per transaction (see ``write_script``).
    ``check``: validates the decoded JSON body of a sample response; returns an error or None.
    ``paths``: when set, requests rotate through them (wrk and pgbench alike); ``path`` is the
    label. ``body``: the JSON body (POST), built from the bench data. ``unique_header``: a
    header that gets a fresh value per request. ``expect_status``: the only good status.
    ``created_sql``: counts the rows one request creates, to check that every counted request
    (and pgbench transaction) really did the work. ``invariant_sql`` must count 0 afterwards.
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
    db_sql: str | None = None
    check: Callable[[Any, dict[str, Any]], str | None] | None = None
    paths: tuple[str, ...] = ()
    body: Callable[[dict[str, Any]], Any] | None = None
    unique_header: str | None = None
    expect_status: int | None = None
    db_script: Callable[[Capture], str] | None = None
    created_sql: str | None = None
    invariant_sql: str | None = None
    invariant_note: str = ""  # what invariant_sql = 0 means, for the report
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
        "cases (see *Case queue data*). The page runs the first page (51 rows, along an index) "
        "and capped per-status tab counts, plus the filter form's choices (departments, "
        "procedures, staff). The check: 50 rows (one tick box each), a next page, a tab count "
        "at its 1,000+ cap. Raw-DB equivalent: every query Django runs for the request."
    )


def _submission_body(data: dict[str, Any]) -> Any:
    return data["submit_payload"]


def _submission_script(capture: Capture) -> str:
    return write_script(capture)


SCENARIOS: list[Scenario] = [
    Scenario(
        name="healthz",
        method="GET",
        path="/healthz",
        description="Liveness + database check (no session). Raw-DB equivalent: `SELECT 1`.",
        check=_check_health,
    ),
    Scenario(
        name="staff-departments",
        method="GET",
        path="/api/v1/staff/departments",
        description=(
            "Tenant-scoped list: the departments of the signed-in 団体管理者's municipality "
            "(session + TOTP-verified staff). Raw-DB equivalent: every query Django runs for "
            "the request (session, user, OTP device, memberships, departments)."
        ),
        staff_session=True,
        check=_check_departments,
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
            "`Idempotency-Key`, so every one creates a new application: draft, full form "
            "validation, receipt number (locked counter), status history, audit entries "
            "(locked chain head), outbox notification, all in one transaction; then, after "
            "commit, the case the staff side opens (cases listener, own transaction) and the "
            "e-mail delivery from the outbox (own transaction; `MACHI_EMAIL_BACKEND` is "
            "Django's dummy backend, so no SMTP or file I/O). Only 201 counts as success. "
            "Raw-DB equivalent: the SQL of one captured submission replayed with fresh values "
            "per transaction (application id, idempotency key, receipt number and audit "
            "sequence/hashes taken under the same row locks, ids returned by INSERTs); same "
            "transactions, same statements, same locks."
        ),
        check=_check_submission,
        body=_submission_body,
        unique_header="Idempotency-Key",
        expect_status=201,
        db_script=_submission_script,
        created_sql=(
            "SELECT count(*) FROM procedures_application WHERE channel = 'api' "
            "AND status = 'submitted'"
        ),
        invariant_sql=(
            "SELECT (SELECT count(*) FROM core_outboxmessage WHERE status <> 'sent') "
            "+ (SELECT count(*) FROM procedures_application a WHERE a.status = 'submitted' "
            "AND NOT EXISTS (SELECT 1 FROM cases_case c WHERE c.application_id = a.id))"
        ),
        invariant_note=(
            "Afterwards every outbox message is sent and every submitted application has its "
            "case, for the HTTP and the pgbench submissions alike."
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
            + " (first page, up to 50 results). Raw-DB equivalent: the SQL Django runs for "
            "each query, one pgbench script per query, picked at random."
        ),
        check=_check_catalog,
        goal=Goal("p95 ≤ 20 ms", max_p95_ms=20),
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
            goal=Goal("p95 ≤ 100 ms (first page, 1,000,000 cases)", max_p95_ms=100),
            explain=True,
            explain_query=r'FROM "cases_case" .* LIMIT 51$',
            results=queue_rows,
        )
        for name, path, what, markers in (
            (
                "case-queue",
                "/staff/cases/",
                "the default view — open cases of the handler's department, nearest deadline "
                "first.",
                (),
            ),
            (
                "case-queue-review-overdue",
                "/staff/cases/?status=in_review&overdue=1",
                "filtered to 審査中 and past the deadline (期限超過).",
                ('class="status status-in_review"', 'class="overdue"'),
            ),
            (
                "case-queue-unassigned",
                "/staff/cases/?assignee=none",
                "filtered to unassigned open cases (担当者: 未割当).",
                (),
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
    http: WrkResult | None = None  # at wrk's connections: the throughput run
    http_server: WrkResult | None = None  # at the server's concurrency (goal scenarios)
    http_requests: int = 0  # every response wrk counted, warm-up included
    http_served: int = 0  # requests the server completed (rows created, where countable)
    http_unseen: int = 0  # at most this many more: in flight when a wrk run stopped
    setup_transactions: int = 0  # sample, warm-up, capture, EXPLAIN, idle timing, row counts
    settled_s: float = 0.0  # waited for the backlog of the wrk run before the goal run
    db: PgbenchResult | None = None
    db_transactions: int = 0  # every pgbench transaction, warm-up included
    notes: list[str] = field(default_factory=list)

    @property
    def statements(self) -> float:
        return sum(c.statements for c in self.captures) / len(self.captures)

    @property
    def transactions(self) -> float:
        return sum(c.transactions for c in self.captures) / len(self.captures)

    def statements_label(self) -> str:
        counts = sorted({c.statements for c in self.captures})
        if len(counts) == 1:
            return str(counts[0])
        return f"{counts[0]}–{counts[-1]} (mean {self.statements:.1f})"
