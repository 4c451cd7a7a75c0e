"""Registering tenants: check digits, parents, duplicates; nothing half-saved."""

from __future__ import annotations

import pytest

from machi.core import services
from machi.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from machi.core.models import AuditEntry, Department, Municipality, MunicipalityKind

pytestmark = pytest.mark.django_db


def test_create_prefecture_and_municipality_records_audit():
    services.municipality_create(
        code="280003", name="兵庫県", name_kana="ひょうごけん", kind=MunicipalityKind.PREFECTURE
    )
    city = services.municipality_create(
        code="２８２１０３",  # full-width, as typed
        name="加古川市",
        name_kana="かこがわし",
        kind=MunicipalityKind.CITY,
        prefecture_code="280003",
    )
    assert city.code == "282103"
    assert city.prefecture_id == "280003"
    assert list(
        AuditEntry.objects.filter(action="municipality.create").values_list(
            "municipality_code", flat=True
        )
    ) == ["282103", "280003"]


def test_wrong_check_digit_is_refused_and_nothing_saved(hyogo):
    before = AuditEntry.objects.count()
    with pytest.raises(InvalidInput) as excinfo:
        services.municipality_create(
            code="282104",
            name="加古川市",
            name_kana="かこがわし",
            kind=MunicipalityKind.CITY,
            prefecture_code=hyogo.code,
        )
    assert "検査数字" in excinfo.value.field_errors["code"][0]
    assert not Municipality.objects.filter(code="282104").exists()
    assert AuditEntry.objects.count() == before


def test_unknown_prefecture_is_not_found(db):
    with pytest.raises(NotFound):
        services.municipality_create(
            code="282103",
            name="加古川市",
            name_kana="かこがわし",
            kind=MunicipalityKind.CITY,
            prefecture_code="270008",
        )
    assert Municipality.objects.count() == 0


def test_city_as_parent_is_refused(kakogawa):
    with pytest.raises(InvalidInput):
        services.municipality_create(
            code="282031",
            name="明石市",
            name_kana="あかしし",
            kind=MunicipalityKind.CITY,
            prefecture_code=kakogawa.code,
        )


def test_city_without_prefecture_is_refused(db):
    with pytest.raises(InvalidInput) as excinfo:
        services.municipality_create(
            code="282103", name="加古川市", name_kana="かこがわし", kind=MunicipalityKind.CITY
        )
    assert "prefecture" in excinfo.value.field_errors


def test_duplicate_code_conflicts(kakogawa):
    with pytest.raises(Conflict):
        services.municipality_create(
            code="282103",
            name="加古川市",
            name_kana="かこがわし",
            kind=MunicipalityKind.CITY,
            prefecture_code="280003",
        )


def test_department_needs_admin_of_that_municipality(kakogawa, kobe, kobe_admin, kakogawa_admin):

    with pytest.raises(Forbidden):
        services.department_create(
            actor=kobe_admin, municipality_code=kakogawa.code, code="zeimu", name="税務課"
        )
    assert not Department.objects.filter(municipality=kakogawa).exists()
    department = services.department_create(
        actor=kakogawa_admin, municipality_code=kakogawa.code, code="zeimu", name="税務課"
    )
    assert department.municipality_id == "282103"
    with pytest.raises(Conflict):
        services.department_create(
            actor=kakogawa_admin, municipality_code=kakogawa.code, code="zeimu", name="税務課"
        )
    assert Department.objects.filter(municipality=kakogawa).count() == 1


def test_demo_data_loads_twice_without_duplicates(db):
    from machi.core.demo import load_core_demo
    from machi.core.selectors import audit_verify

    first = load_core_demo()
    counts = (Municipality.objects.count(), Department.objects.count(), AuditEntry.objects.count())
    second = load_core_demo()
    assert first == second
    assert (
        Municipality.objects.count(),
        Department.objects.count(),
        AuditEntry.objects.count(),
    ) == counts
    assert counts[0] == 5
    assert audit_verify().ok
