"""Portal and console pages: structure for accessibility, security headers, no outside assets."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from machi.core.models import AuditEntry
from machi.core.services import audit_record

pytestmark = pytest.mark.django_db

EXTERNAL = re.compile(r"""(?:src|href|action)=["'](?:https?:)?//""", re.IGNORECASE)


def assert_accessible_skeleton(html: str) -> None:
    assert html.count("<h1") == 1
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main"' in html
    assert "<header" in html and "<footer" in html
    assert not EXTERNAL.search(html), "pages must not load anything from outside Machi"


def test_portal_home_lists_municipalities(kakogawa, kobe):
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ja">' in html
    assert_accessible_skeleton(html)
    assert "加古川市" in html and "神戸市" in html


def test_portal_home_in_english(kakogawa):
    client = Client()
    client.cookies["django_language"] = "en"
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Participating" in html


def test_language_switch_without_javascript(kakogawa):
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert '<html lang="en">' in client.get("/").content.decode()


def test_easy_japanese_is_offered(kakogawa):
    client = Client()
    client.post("/i18n/setlang/", {"language": "ja-easy", "next": "/"})
    html = client.get("/").content.decode()
    assert '<html lang="ja">' in html
    assert 'value="ja-easy" lang="ja" selected' in html


def test_municipality_page_shows_departments(departments, kakogawa):
    html = Client().get("/m/282103/").content.decode()
    assert_accessible_skeleton(html)
    assert "市民課" in html
    assert "区民課" not in html  # 神戸市's department stays on 神戸市's page


def test_unknown_municipality_is_404_page_in_japanese(db):
    response = Client().get("/m/999999/")
    assert response.status_code == 404
    assert "999999 は登録されていません" in response.content.decode()


def test_unknown_page_is_accessible_404(db):
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert_accessible_skeleton(response.content.decode())


def test_content_security_policy_allows_only_self(db):
    response = Client().get("/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_sign_in_page_structure(db):
    html = Client().get("/staff/login/").content.decode()
    assert_accessible_skeleton(html)
    assert '<label for="id_otp_token">' in html
    assert 'autocomplete="one-time-code"' in html


def test_console_home_shows_own_roles(kakogawa_admin, staff_client):
    html = staff_client(kakogawa_admin).get("/staff/").content.decode()
    assert_accessible_skeleton(html)
    assert "団体管理者" in html


def test_audit_page_searches_and_is_itself_audited(kakogawa, kobe, kakogawa_admin, staff_client):
    audit_record(action="resident.view", municipality_code="282103", target_id="r-1")
    audit_record(action="resident.view", municipality_code="281000", target_id="r-2")
    client = staff_client(kakogawa_admin)
    html = client.get("/staff/audit/?action=resident").content.decode()
    assert_accessible_skeleton(html)
    assert "r-1" in html and "r-2" not in html
    assert AuditEntry.objects.filter(
        action="audit.search", actor_username="kakogawa-admin"
    ).exists()


def test_audit_page_bad_date_is_field_error(kakogawa_admin, staff_client):
    response = staff_client(kakogawa_admin).get("/staff/audit/?since=2026-13-40")
    html = response.content.decode()
    assert "日付を YYYY-MM-DD の形で入力してください。" in html
    assert 'aria-invalid="true"' in html


def test_audit_page_forbidden_for_case_handler(kakogawa_handler, staff_client):
    response = staff_client(kakogawa_handler).get("/staff/audit/")
    assert response.status_code == 403
