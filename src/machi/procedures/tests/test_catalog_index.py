"""The in-memory catalog index (``search.CatalogIndex``) behind the API's catalog list.

Its pages must be exactly the database's (``selectors.procedure_search``) and follow every
change of the catalog on the next request, whoever made it; statement counts are pinned.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client

from machi.core.models import Municipality
from machi.procedures import search, selectors, services
from machi.procedures.models import Procedure

pytestmark = pytest.mark.django_db

QUERIES = [
    "転",
    "票",
    "ﾐ",
    "転出",
    "ごみ",
    "ゴミ",
    "ｺﾞﾐ",
    "出届",
    "届て",
    "転出届",
    "てんしゅつ",
    "テンニュウ",
    "証明書",
    "しゅうしゅうしゅう",
    "ゅうしゅう",
    "転出 こうべ",
    "ごみ　分別",
    "届 転",
    "戸籍",
    "",
    "  ",
]


def _procedure(municipality: str, slug: str, name: str, **values) -> Procedure:
    return services.procedure_create(
        actor=None,
        municipality_code=municipality,
        slug=slug,
        name=name,
        is_published=values.pop("is_published", True),
        **values,
    )


@pytest.fixture
def catalog(kakogawa, kobe):
    _procedure(kakogawa.code, "tenshutsu", "転出届", name_kana="てんしゅつとどけ")
    _procedure(kakogawa.code, "tennyu", "転入届", name_kana="てんにゅうとどけ")
    _procedure(kakogawa.code, "sodai", "粗大ごみ収集申込", name_kana="そだいごみしゅうしゅう")
    _procedure(kakogawa.code, "juminhyo", "住民票の写しの交付請求", keywords="証明書")
    _procedure(kakogawa.code, "draft", "転出届（準備中）", is_published=False)
    _procedure(kobe.code, "tenshutsu", "転出届", name_kana="てんしゅつとどけ")
    _procedure(kobe.code, "gomi", "家庭ごみの出し方", keywords="ゴミ 分別")


def _page(q: str = "", municipality_code: str = "", offset: int = 0, limit: int = 50):
    entries = selectors.catalog_page(
        query=selectors.CatalogQuery(q=q, municipality_code=municipality_code),
        offset=offset,
        limit=limit,
    )
    return [(entry.municipality_code, entry.slug) for entry in entries]


def _database(q: str = "", municipality_code: str = "", offset: int = 0, limit: int = 50):
    rows = selectors.procedure_search(
        query=selectors.CatalogQuery(q=q, municipality_code=municipality_code)
    )[offset : offset + limit]
    return [(row["municipality_code"], row["slug"]) for row in rows]


def _api(**params: str) -> list[str]:
    response = Client().get("/api/v1/procedures", params)
    assert response.status_code == 200
    return [f"{p['municipality_code']}/{p['slug']}" for p in response.json()]


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("municipality_code", ["", "282103", "281000", "999999"])
def test_pages_are_the_databases_results_in_its_order(catalog, q, municipality_code):
    expected = _database(q, municipality_code)
    assert _page(q, municipality_code) == expected
    assert _page(q, municipality_code) == expected  # again, from the built index


def test_exact_pages_of_the_index(catalog):
    assert _page("転") == [
        ("281000", "tenshutsu"),
        ("282103", "tenshutsu"),
        ("282103", "tennyu"),
    ]
    assert _page("ごみ") == [("281000", "gomi"), ("282103", "sodai")]
    assert _page("") == [
        ("281000", "gomi"),
        ("281000", "tenshutsu"),
        ("282103", "juminhyo"),
        ("282103", "sodai"),
        ("282103", "tenshutsu"),
        ("282103", "tennyu"),
    ]
    assert _page("", offset=1, limit=2) == [("281000", "tenshutsu"), ("282103", "juminhyo")]
    assert _page("", municipality_code="282103", offset=3) == [("282103", "tennyu")]
    assert _page("転", offset=3) == []


def test_the_entries_are_the_databases_entries(catalog, simple_procedure):
    query = selectors.CatalogQuery(q="ごみ")
    expected = selectors.catalog_entries(
        selectors.procedure_search(query=query), with_form_version=True
    )
    assert selectors.catalog_page(query=query, offset=0, limit=50) == expected
    assert [entry.form_version for entry in expected] == [None, None, 1]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"department_code": "shimin"}, [("282103", "simple")]),
        ({"audience": "business"}, []),
        ({"life_event": "moving"}, [("282103", "tenshutsu")]),
    ],
)
def test_other_filters_are_answered_by_the_database(catalog, simple_procedure, filters, expected):
    procedure = Procedure.objects.get(municipality_id="282103", slug="tenshutsu")
    services.procedure_update(actor=None, procedure=procedure, life_events=["moving"])
    query = selectors.CatalogQuery(**filters)
    rows = selectors.procedure_search(query=query)
    assert [(row["municipality_code"], row["slug"]) for row in rows] == expected
    entries = selectors.catalog_page(query=query, offset=0, limit=50)
    assert [(entry.municipality_code, entry.slug) for entry in entries] == expected


def _warm(q: str = "転出") -> None:
    _page(q)
    assert search.catalog_index(Procedure.objects.db) is not None


def test_publishing_and_unpublishing_take_effect_on_the_next_request(catalog):
    _warm()
    assert _api(q="準備中") == []
    draft = Procedure.objects.get(slug="draft")
    services.procedure_update(actor=None, procedure=draft, is_published=True)
    assert _api(q="準備中") == ["282103/draft"]
    assert _api(q="転出") == ["281000/tenshutsu", "282103/draft", "282103/tenshutsu"]
    services.procedure_update(actor=None, procedure=draft, is_published=False)
    assert _api(q="転出") == ["281000/tenshutsu", "282103/tenshutsu"]


def test_a_rename_takes_effect_on_the_next_request(catalog):
    _warm("ごみ")
    gomi = Procedure.objects.get(slug="gomi")
    services.procedure_update(actor=None, procedure=gomi, name="資源回収", keywords="")
    assert _api(q="ごみ") == ["282103/sodai"]
    assert _api(q="回収") == ["281000/gomi"]
    # a new reading moves it in the order
    sodai = Procedure.objects.get(slug="sodai")
    services.procedure_update(actor=None, procedure=sodai, name_kana="んん")
    assert _api(municipality="282103") == [
        "282103/juminhyo",
        "282103/tenshutsu",
        "282103/tennyu",
        "282103/sodai",
    ]


def test_new_and_deleted_procedures_take_effect_on_the_next_request(catalog, kobe):
    _warm("転")
    _procedure(kobe.code, "tennyu", "転入届", name_kana="てんにゅうとどけ")
    assert _api(q="転入") == ["281000/tennyu", "282103/tennyu"]
    Procedure.objects.filter(municipality_id=kobe.code, slug="tennyu").delete()
    assert _api(q="転入") == ["282103/tennyu"]


def test_writes_by_anyone_else_take_effect_on_the_next_request(catalog, kobe):
    # No service and no Python code of this process: what another process's write looks like
    # to this one. The database's triggers change the catalog version.
    _warm("転")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procedures_procedure SET is_published = %s WHERE slug = %s",
            [False, "tenshutsu"],
        )
    assert _api(q="転") == ["282103/tennyu"]
    Municipality.objects.filter(code=kobe.code).update(is_active=False)
    Procedure.objects.filter(slug="tenshutsu").update(is_published=True)
    assert _api(q="転") == ["282103/tenshutsu", "282103/tennyu"]
    Municipality.objects.filter(code=kobe.code).update(is_active=True)
    assert _api(q="転") == ["281000/tenshutsu", "282103/tenshutsu", "282103/tennyu"]


def test_an_index_built_in_a_rolled_back_transaction_is_not_used(catalog, kobe):
    _warm()
    with pytest.raises(RuntimeError), transaction.atomic():
        _procedure(kobe.code, "tenshutsu-2", "転出証明書", name_kana="てんしゅつしょうめいしょ")
        assert _page("転出") == [
            ("281000", "tenshutsu-2"),  # てんしゅつし… before てんしゅつと…
            ("281000", "tenshutsu"),
            ("282103", "tenshutsu"),
        ]
        raise RuntimeError
    assert _page("転出") == [("281000", "tenshutsu"), ("282103", "tenshutsu")]


def test_what_an_entry_shows_follows_every_change_on_the_next_request(
    catalog, simple_procedure, shimin
):
    from machi.procedures.tests.conftest import SIMPLE_FORM

    _api(q="粗大")
    simple = "282103/simple"
    services.form_version_create(
        actor=None, procedure=simple_procedure, definition=SIMPLE_FORM, publish=False
    )
    draft = simple_procedure.form_versions.get(number=2)

    def shown() -> dict:
        body = Client().get("/api/v1/procedures", {"q": "粗大"}).json()
        return {f"{p['municipality_code']}/{p['slug']}": p for p in body}[simple]

    assert shown()["form_version"] == 1  # a draft is not shown
    services.form_version_publish(actor=None, form_version=draft)
    assert shown()["form_version"] == 2
    Procedure.objects.filter(pk=simple_procedure.pk).update(fee_yen=400)
    assert shown()["fee_yen"] == 400
    shimin.name = "市民生活課"
    shimin.save()
    assert shown()["department"] == "市民生活課"
    Municipality.objects.filter(code="282103").update(name="加古川")
    assert [
        entry.municipality_name
        for entry in selectors.catalog_page(
            query=selectors.CatalogQuery(q="粗大"), offset=0, limit=50
        )
    ] == ["加古川", "加古川"]


def _version() -> str | None:
    return search.catalog_version(connection.alias)


def test_changes_nothing_shows_leave_the_version_alone(catalog, shimin):
    before = _version()
    Municipality.objects.filter(code="281000").update(name_en="Kobe City", name_kana="こうべ")
    shimin.phone = "079-000-0000"
    shimin.save(update_fields=["phone"])
    assert _version() == before
    Procedure.objects.filter(slug="gomi").update(annual_case_count=12)
    assert _version() != before


def test_statement_counts(catalog, django_assert_num_queries):
    search.forget_catalog_indexes()
    with django_assert_num_queries(2):  # build, page rows (with form numbers and the version)
        assert _page("転出") == [("281000", "tenshutsu"), ("282103", "tenshutsu")]
    with django_assert_num_queries(1):  # the version: every entry was shown before
        assert _page("転出") == [("281000", "tenshutsu"), ("282103", "tenshutsu")]
    with django_assert_num_queries(2):  # the version, then one new entry's row
        assert _page("転") == [
            ("281000", "tenshutsu"),
            ("282103", "tenshutsu"),
            ("282103", "tennyu"),
        ]
    with django_assert_num_queries(1):  # no match: the version alone
        assert _page("戸籍") == []
    Procedure.objects.filter(slug="tennyu").update(search_text="転居届")
    with django_assert_num_queries(3):  # the version, rebuild, page rows
        assert _page("転") == [
            ("281000", "tenshutsu"),
            ("282103", "tenshutsu"),
            ("282103", "tennyu"),
        ]
    with django_assert_num_queries(1):
        assert _page("転入") == []
    with django_assert_num_queries(1):
        assert _page("転居") == [("282103", "tennyu")]


def test_the_api_request_runs_one_statement_for_entries_shown_before(
    catalog, django_assert_num_queries
):
    _api(q="ご")
    with django_assert_num_queries(1):
        assert _api(q="ご") == ["281000/gomi", "282103/sodai"]
    with django_assert_num_queries(1):
        assert _api(q="ごみ", municipality="281000") == ["281000/gomi"]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second session needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_change_committed_by_another_session_takes_effect_on_the_next_request(kakogawa):
    import psycopg

    _procedure(kakogawa.code, "tenshutsu", "転出届", name_kana="てんしゅつとどけ")
    assert _api(q="転") == ["282103/tenshutsu"]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    # Another process's connection: nothing of this process sees the write but the database.
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute(
            "UPDATE procedures_procedure SET name = %s, search_text = %s WHERE slug = %s",
            ["転居届", "転居届", "tenshutsu"],
        )
        assert _api(q="転出") == []
        assert [p["name"] for p in Client().get("/api/v1/procedures", {"q": "転"}).json()] == [
            "転居届"
        ]
        other.execute("UPDATE procedures_procedure SET is_published = false")
        assert _api(q="転") == []
