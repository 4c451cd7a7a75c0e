"""Every integer the API accepts is bounded: huge values are a 422 naming the field, not a 500."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.test import Client

from machi.core.pagination import MAX_OFFSET
from machi.core.services import audit_record

pytestmark = pytest.mark.django_db

HUGE = str(2**63)


def test_catalog_offset_beyond_the_database_range_is_a_clear_422(db):
    response = Client().get(f"/api/v1/procedures?offset={HUGE}")
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "invalid_request",
            "message": "リクエストの内容に誤りがあります。",
            "fields": {"offset": [f"{MAX_OFFSET}以下の値を指定してください。"]},
        }
    }


def test_negative_and_non_numeric_offsets_are_refused(db):
    negative = Client().get("/api/v1/procedures?offset=-1").json()["error"]["fields"]
    assert negative == {"offset": ["0以上の値を指定してください。"]}
    text = Client().get("/api/v1/procedures?offset=abc").json()["error"]["fields"]
    assert text == {"offset": ["整数を入力してください。"]}


def test_audit_api_pages_with_bounded_offset(kakogawa, kakogawa_admin, staff_client):
    for n in range(3):
        audit_record(action=f"test.entry{n}", municipality_code="282103")
    client = staff_client(kakogawa_admin)
    page = client.get("/api/v1/staff/audit?action=test.&limit=2&offset=1")
    assert page.status_code == 200
    assert [e["action"] for e in page.json()] == ["test.entry1", "test.entry0"]
    huge = client.get(f"/api/v1/staff/audit?offset={HUGE}")
    assert huge.status_code == 422
    assert huge.json()["error"]["fields"] == {
        "offset": [f"{MAX_OFFSET}以下の値を指定してください。"]
    }


def _unbounded_integers() -> list[str]:
    found = []
    for bound in _assembled_api()._get_bound_routers():
        for path, path_view in bound.path_operations.items():
            for operation in path_view.operations:
                for model in operation.models:
                    for name, field in model.model_fields.items():
                        annotation = field.annotation
                        inner = getattr(annotation, "model_fields", None)
                        fields = inner.items() if inner else [(name, field)]
                        for sub_name, sub in fields:
                            if sub.annotation not in (int, int | None):
                                continue
                            bounds = {type(m).__name__: m for m in sub.metadata}
                            upper = bounds.get("Le") or bounds.get("Lt")
                            if upper is None or getattr(upper, "le", getattr(upper, "lt", 0)) > (
                                2**63 - 1
                            ):
                                found.append(f"{bound.prefix}{path} {sub_name}")
    return sorted(set(found))


def test_no_endpoint_accepts_an_unbounded_integer():
    assert _unbounded_integers() == []


def _assembled_api() -> Any:
    """The project's NinjaAPI with every app's routers (imported by name: it sits above every
    app in the layers, and this test is about what the assembled API accepts)."""
    return importlib.import_module("machi.api").api
