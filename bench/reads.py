"""The minimal SQL of the read scenarios, hand-written from the models' metadata.

Each is what the page or API call needs from the database and nothing else: ``/healthz`` one
``SELECT 1``; the authenticated departments list only its list SELECT (session, user, OTP
device and memberships cost no query when cached); catalog search one index SELECT (a
bench-only GIN index of bigrams, rechecked with LIKE: what a bigram column gives); the case
queue's first page one indexed SELECT of 51 rows (50 and "is there a next page") plus ONE
statement for every capped tab count. Names come from ``Model._meta``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from capture import Capture
from minimal import (
    MinimalSQL,
    bigram_setup,
    bigram_teardown,
    capped_counts_sql,
    ident,
    literal,
    search_sql,
    select_script,
)

QUEUE_ROWS = 51  # the first page's 50 rows and one more: is there a next page?
COUNT_CAP = 1001  # tab counts show "1,000+" above 1,000


def healthz(capture: Capture, data: dict[str, Any]) -> MinimalSQL:
    return MinimalSQL(script=select_script("SELECT 1"))


def _shown_columns(model: Any, body: Any, always: tuple[str, ...]) -> list[str]:
    """The model's columns a JSON list shows (its keys by field name or column), in model order."""
    keys = set(body[0]) if isinstance(body, list) and body and isinstance(body[0], dict) else set()
    columns = []
    for model_field in model._meta.concrete_fields:
        if model_field.name in keys or model_field.column in keys or model_field.name in always:
            columns.append(model_field.column)
    return columns


def departments(capture: Capture, data: dict[str, Any]) -> MinimalSQL:
    from machi.core.models import Department

    table = Department._meta.db_table
    columns = _shown_columns(Department, capture.body, ("id", "municipality", "code", "name"))
    municipality = Department._meta.get_field("municipality").column
    code = Department._meta.get_field("code").column
    return MinimalSQL(
        script=select_script(
            f"SELECT {', '.join(ident(c) for c in columns)} FROM {ident(table)} "
            f"WHERE {ident(municipality)} = {literal(data['admin_municipality'])} "
            f"ORDER BY {ident(code)}"
        )
    )


def catalog(capture: Capture, data: dict[str, Any]) -> MinimalSQL:
    from machi.core.japanese import search_key
    from machi.procedures.models import Procedure

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(capture.path).query).get("q", [""])[0]
    keys = [key for word in query.replace("　", " ").split() if (key := search_key(word))]
    table = Procedure._meta.db_table
    search_column = Procedure._meta.get_field("search_text").column
    columns = _shown_columns(Procedure, capture.body, ("id", "municipality", "slug", "name"))
    published = Procedure._meta.get_field("is_published").column
    order = [
        Procedure._meta.get_field(name).column for name in ("municipality", "name_kana", "name")
    ]
    notes = []
    if any(len(key) < 2 for key in keys):
        notes.append("A one-character key has no bigram: it is matched by LIKE alone.")
    return MinimalSQL(
        script=select_script(
            search_sql(
                table=table,
                columns=columns,
                search_column=search_column,
                keys=keys,
                where=[ident(published)],
                order_by=order,
                limit=50,
            )
        ),
        setup=bigram_setup(table, search_column),
        teardown=bigram_teardown(),
        notes=notes,
    )


def queue(filters: str) -> Any:
    """The queue's first page under ``filters`` ("open", "review-overdue", "unassigned")."""

    def build(capture: Capture, data: dict[str, Any]) -> MinimalSQL:
        from machi.cases.models import Case
        from machi.core.models import User
        from machi.procedures.models import Procedure

        meta = Case._meta
        table = meta.db_table

        def column(name: str, alias: str = "c") -> str:
            return f"{alias}." + ident(meta.get_field(name).column)

        def base(alias: str) -> list[str]:
            department = int(data["handler_department_id"])
            conditions = [f"{column('department', alias)} = {department}"]
            if filters == "unassigned":
                conditions.append(f"{column('assignee', alias)} IS NULL")
            return conditions

        rows_where = [*base("c"), column("is_open")]
        if filters == "review-overdue":
            rows_where += [
                f"{column('status')} = 'in_review'",
                f"{column('due_date')} < CURRENT_DATE",
            ]
        shown = [
            column(name)
            for name in (
                "id",
                "receipt_number",
                "status",
                "channel",
                "submitted_at",
                "due_date",
                "approval_state",
                "correction_count",
            )
        ]
        procedure_name = "p." + ident(Procedure._meta.get_field("name").column)
        assignee_name = "u." + ident(User._meta.get_field("display_name").column)
        page = (
            f"SELECT {', '.join([*shown, procedure_name, assignee_name])} FROM {ident(table)} c "
            f"JOIN {ident(Procedure._meta.db_table)} p ON p.{ident(Procedure._meta.pk.column)} = "
            f"{column('procedure')} LEFT JOIN {ident(User._meta.db_table)} u ON "
            f"u.{ident(User._meta.pk.column)} = {column('assignee')} "
            f"WHERE {' AND '.join(rows_where)} "
            f"ORDER BY {column('due_date')}, {column('id')} LIMIT {QUEUE_ROWS}"
        )
        statuses = [value for value, _label in meta.get_field("status").choices if value != "draft"]
        counts = capped_counts_sql(
            table=table,
            status_column=meta.get_field("status").column,
            statuses=statuses,
            where=base("t"),
            cap=COUNT_CAP,
        )
        return MinimalSQL(script=select_script(page) + select_script(counts))

    return build
