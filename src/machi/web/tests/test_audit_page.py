"""The audit log page: searchable by 受付番号, and written in words instead of codes."""

from __future__ import annotations

import re
import uuid

import pytest

from machi.core.audit_labels import action_label, action_labels, target_label
from machi.core.services import audit_record

pytestmark = pytest.mark.django_db


def _rows(html: str) -> list[list[str]]:
    """The result table's cells as text, row by row."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        rows.append([re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in cells])
    return rows


def _application_history(municipality: str, receipt: str) -> str:
    application_id = str(uuid.uuid4())
    audit_record(
        action="application.start",
        municipality_code=municipality,
        target_type="application",
        target_id=application_id,
    )
    audit_record(
        action="application.submit",
        municipality_code=municipality,
        target_type="application",
        target_id=application_id,
        personal_data=True,
        detail={"receipt_number": receipt, "channel": "web"},
    )
    audit_record(
        action="case.assign",
        municipality_code=municipality,
        target_type="application",
        target_id=application_id,
    )
    return application_id


def test_search_by_receipt_number_finds_the_whole_history(
    kakogawa, kobe, kakogawa_admin, staff_client
):
    wanted = _application_history("282103", "2026-000007")
    other = _application_history("282103", "2026-000008")
    # The same number in another municipality is another application, and not ours to see.
    hidden = _application_history("281000", "2026-000007")
    html = (
        staff_client(kakogawa_admin)
        .get("/staff/audit/", {"receipt_number": "２０２６－０００００７"})  # as typed, full width
        .content.decode()
    )
    rows = _rows(html)
    assert [row[3] for row in rows] == ["担当者の割当て", "申請の受付", "申請の作成開始"]
    assert all(row[1] == "加古川市" for row in rows)
    assert all(f"申請 {wanted}" in row[4] for row in rows)
    assert rows[1][4] == f"申請 {wanted} 受付番号 2026-000007"
    assert other not in html and hidden not in html
    assert '<h2 id="results-heading">3件</h2>' in html


def test_unknown_receipt_number_finds_nothing(kakogawa, kakogawa_admin, staff_client):
    _application_history("282103", "2026-000007")
    html = staff_client(kakogawa_admin).get("/staff/audit/?receipt_number=2026-999999")
    assert _rows(html.content.decode()) == [["該当する記録はありません。"]]


def test_rows_show_labels_and_keep_the_code_as_a_title(kakogawa, kakogawa_admin, staff_client):
    audit_record(
        action="department.create",
        municipality_code="282103",
        target_type="department",
        target_id="12",
    )
    audit_record(action="payment.refund_requested", municipality_code="282103")
    audit_record(action="someapp.unlabelled", municipality_code="282103")
    html = staff_client(kakogawa_admin).get("/staff/audit/?municipality=282103").content.decode()
    rows = _rows(html)
    assert [row[3] for row in rows] == [
        "someapp.unlabelled",
        "決済（payment.refund_requested）",
        "課の登録",
    ]
    assert rows[2][4] == "課 12"
    assert '<span title="department.create">課の登録</span>' in html
    assert "<code>department.create</code>" not in html


def test_labels_follow_the_language(kakogawa, kakogawa_admin, staff_client):
    audit_record(action="membership.grant", municipality_code="282103", target_type="user")
    client = staff_client(kakogawa_admin)
    client.cookies["django_language"] = "en"
    rows = _rows(client.get("/staff/audit/?municipality=282103").content.decode())
    assert rows[0][3] == "Role granted"
    assert rows[0][4] == "User account"


def test_every_action_the_code_writes_has_a_label():
    """Each literal action code in src/ reads as words on the page (groups for dynamic ones)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    codes: set[str] = set()
    for path in root.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        codes.update(re.findall(r'action="([a-z_]+\.[a-z_.]+)"', path.read_text(encoding="utf-8")))
    unlabelled = sorted(code for code in codes if action_label(code) == code)
    assert unlabelled == []
    assert "application.*" in action_labels
    assert target_label("application") == "申請"


def _owned_label(labels: dict[str, object], code: str) -> str | None:
    """The key of ``labels`` that names ``code``: the code itself or its nearest group."""
    if code in labels:
        return code
    prefix = code
    while "." in prefix:
        prefix = prefix.rsplit(".", 1)[0]
        if f"{prefix}.*" in labels:
            return f"{prefix}.*"
    return None


def test_each_app_registers_the_labels_of_the_codes_it_writes():
    """An app's codes are named by its own audit_labels module, registered from its ready()."""
    import importlib
    from pathlib import Path

    from machi.core import audit_labels as core_labels

    root = Path(__file__).resolve().parents[2]
    # The audit page (web) records core's own code, audit.search.
    owners = {"core": core_labels.CORE_ACTIONS, "web": core_labels.CORE_ACTIONS}
    for app in ("procedures", "cases", "documents", "payments", "identity", "files"):
        owners[app] = importlib.import_module(f"machi.{app}.audit_labels").ACTIONS
    unowned: list[str] = []
    for app, labels in owners.items():
        for path in (root / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            codes = set(re.findall(r'action="([a-z_]+\.[a-z_.]+)"', text))
            # The apps' own _audit(target, "code", …) helpers, spread over lines.
            codes |= set(re.findall(r'_audit\(\s*\w+,\s*"([a-z_]+\.[a-z_.]+)"', text))
            # Dynamic codes (action=f"payment.{…}") need their group's label.
            codes |= {f"{prefix}x" for prefix in re.findall(r'action=f"([a-z_]+\.)\{', text)}
            for code in codes:
                key = _owned_label(labels, code)
                if key is None or action_labels.get(key) is not labels[key]:
                    unowned.append(f"{app}: {code}")
    assert sorted(unowned) == []
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("machi.web.audit_labels")  # web labels no other app's codes


def test_audit_api_carries_labels_and_searches_by_receipt(kakogawa, kakogawa_admin, staff_client):
    wanted = _application_history("282103", "2026-000007")
    _application_history("282103", "2026-000008")
    response = staff_client(kakogawa_admin).get("/api/v1/staff/audit?receipt_number=2026-000007")
    assert response.status_code == 200
    assert [(e["action_label"], e["target_label"], e["target_id"]) for e in response.json()] == [
        ("担当者の割当て", "申請", wanted),
        ("申請の受付", "申請", wanted),
        ("申請の作成開始", "申請", wanted),
    ]
