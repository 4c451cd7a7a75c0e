"""Staff pages for case processing: queue, case page and workflow, 電子決裁, routes, counter and
paper intake, numbers. Thin: parse, authorize (services check again), call, render.

A package split along the old module's sections; every view stays importable from
``machi.cases.staff_views`` (the URLconf names them here).
"""

from __future__ import annotations

from machi.cases.staff_views._common import queue_url
from machi.cases.staff_views.actions import (
    CASE_ACTIONS,
    ActionContext,
    CaseAction,
    case_action,
)
from machi.cases.staff_views.case import (
    case_detail,
    case_file,
)
from machi.cases.staff_views.intake import (
    counter_start,
    intake_confirm,
    intake_fill,
    paper_start,
)
from machi.cases.staff_views.queue import (
    bulk,
    queue,
    stats,
)
from machi.cases.staff_views.routes import (
    route_edit,
    routes,
)

__all__ = [
    "CASE_ACTIONS",
    "ActionContext",
    "CaseAction",
    "bulk",
    "case_action",
    "case_detail",
    "case_file",
    "counter_start",
    "intake_confirm",
    "intake_fill",
    "paper_start",
    "queue",
    "queue_url",
    "route_edit",
    "routes",
    "stats",
]
