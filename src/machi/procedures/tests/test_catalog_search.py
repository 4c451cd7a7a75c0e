"""Catalog search: exact result sets for keys of 1, 2 and 3+ characters, on the gram index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from machi.core.models import Municipality
from machi.procedures import selectors, services
from machi.procedures.models import Procedure
from machi.procedures.search import grams_are_exact, key_grams, search_grams

pytestmark = pytest.mark.django_db


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


def _found(q: str, municipality_code: str = "") -> list[tuple[str, str]]:
    rows = selectors.procedure_search(
        query=selectors.CatalogQuery(q=q, municipality_code=municipality_code)
    )
    return [(row["municipality_code"], row["slug"]) for row in rows]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # one character
        ("転", [("281000", "tenshutsu"), ("282103", "tenshutsu"), ("282103", "tennyu")]),
        ("票", [("282103", "juminhyo")]),
        ("ﾐ", [("281000", "gomi"), ("282103", "juminhyo"), ("282103", "sodai")]),
        # two characters (the trigram index could not serve these)
        ("転出", [("281000", "tenshutsu"), ("282103", "tenshutsu")]),
        ("ごみ", [("281000", "gomi"), ("282103", "sodai")]),
        ("ゴミ", [("281000", "gomi"), ("282103", "sodai")]),
        ("ｺﾞﾐ", [("281000", "gomi"), ("282103", "sodai")]),
        ("出届", [("281000", "tenshutsu"), ("282103", "tenshutsu")]),
        # three characters and more: all bigrams held is not enough, the substring decides
        ("転出届", [("281000", "tenshutsu"), ("282103", "tenshutsu")]),
        ("てんしゅつ", [("281000", "tenshutsu"), ("282103", "tenshutsu")]),
        ("テンニュウ", [("282103", "tennyu")]),
        ("証明書", [("282103", "juminhyo")]),
        # several words: every one must match
        ("転出 こうべ", []),
        ("ごみ　分別", [("281000", "gomi")]),
        # no match
        ("戸籍", []),
        ("届転", []),
    ],
)
def test_search_returns_exactly_the_matching_published_procedures(catalog, q, expected):
    assert _found(q) == expected


def test_bigrams_in_another_order_do_not_match(catalog):
    # しゅうしゅう holds the bigrams of しゅうし… in any order; "うしゅうしゅ" is not in it
    assert set(key_grams("ゅうしゅう")) <= set(Procedure.objects.get(slug="sodai").search_grams)
    assert _found("しゅうしゅうしゅう") == []
    assert _found("ゅうしゅう") == [("282103", "sodai")]


def test_a_key_never_spans_two_parts_of_the_search_text(catalog):
    # name 転出届 then reading てんしゅつとどけ: "届て" is in search_text only across the space
    procedure = Procedure.objects.get(municipality_id="282103", slug="tenshutsu")
    assert procedure.search_text.startswith("転出届 てんしゅつとどけ")
    assert _found("届て") == []


def test_search_is_scoped_to_one_municipality(catalog):
    assert _found("転出", municipality_code="282103") == [("282103", "tenshutsu")]
    assert _found("ごみ", municipality_code="281000") == [("281000", "gomi")]
    assert _found("転", municipality_code="999999") == []


def test_unpublished_procedures_and_inactive_municipalities_are_excluded(catalog, kobe):
    assert ("282103", "draft") not in _found("準備中")
    assert _found("準備中") == []
    Municipality.objects.filter(code=kobe.code).update(is_active=False)
    assert _found("転出") == [("282103", "tenshutsu")]


def test_grams_follow_every_change_of_the_procedure(catalog):
    procedure = Procedure.objects.get(municipality_id="281000", slug="gomi")
    services.procedure_update(actor=None, procedure=procedure, name="資源回収", keywords="")
    procedure.refresh_from_db()
    assert procedure.search_grams == search_grams(procedure.search_text)
    assert _found("ごみ") == [("282103", "sodai")]
    assert _found("回収") == [("281000", "gomi")]
    procedure.search_text = "ほげ"
    procedure.save(update_fields=["search_text"])  # a partial save keeps the grams in step
    assert Procedure.objects.get(pk=procedure.pk).search_grams == ["げ", "ほ", "ほげ"]


def test_the_grams_of_a_search_text():
    assert search_grams("転出届 てんしゅつ") == sorted(
        {
            "転",
            "出",
            "届",
            "転出",
            "出届",
            "て",
            "ん",
            "し",
            "ゅ",
            "つ",
            "てん",
            "んし",
            "しゅ",
            "ゅつ",
        }
    )
    assert search_grams("") == []
    assert key_grams("転") == ["転"]
    assert key_grams("転出") == ["転出"]
    assert key_grams("てんてん") == ["てん", "んて"]
    assert [grams_are_exact(k) for k in ("転", "転出", "転出届")] == [True, True, False]


def test_the_api_lists_only_what_a_result_shows(catalog, simple_procedure):
    body = Client().get("/api/v1/procedures", {"q": "ごみ", "municipality": "282103"}).json()
    assert [(p["slug"], p["form_version"]) for p in body] == [("sodai", None), ("simple", 1)]
    assert set(body[0]) == {
        "municipality_code",
        "slug",
        "name",
        "name_kana",
        "name_en",
        "description",
        "department",
        "audience",
        "legal_basis",
        "assurance_level",
        "fee_yen",
        "fee_per_copy",
        "standard_processing_days",
        "annual_case_count",
        "channels",
        "life_events",
        "url",
        "form_version",
    }
    assert (body[0]["department"], body[1]["department"]) == (None, "市民課")
    assert body[1]["url"] == "/procedures/282103/simple/"


def test_the_page_lists_the_same_procedures(catalog):
    html = Client().get("/procedures/", {"q": "転出"}).content.decode()
    assert html.count('class="result-title"') == 2
    assert 'href="/procedures/281000/tenshutsu/"' in html
    assert 'href="/procedures/282103/tenshutsu/"' in html
    assert "神戸市" in html


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the GIN gram index exists on PostgreSQL only"
)
@pytest.mark.parametrize("q", ["転", "転出", "転出届"], ids=["1-char", "2-char", "3-char"])
def test_postgresql_serves_every_key_length_from_the_gram_index(catalog, q):
    rows = selectors.procedure_search(query=selectors.CatalogQuery(q=q))
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        # a table this small is cheaper to scan: forbid scans without an index condition
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "procedure_search_grams" in plan
    assert "procedure_search_trgm" not in plan


def test_the_migration_fills_the_grams_of_existing_procedures(catalog):
    import importlib
    from types import SimpleNamespace

    from django.apps import apps

    migration = importlib.import_module("machi.procedures.migrations.0004_search_grams")
    Procedure.objects.update(search_grams=[])  # rows as they were before the migration
    if connection.vendor == "postgresql":  # the gram index finds nothing until they are filled
        assert _found("転出") == []
    # fill() needs only the editor's connection (SQLite refuses an editor inside a test's atomic)
    migration.fill(apps, SimpleNamespace(connection=connection))
    for procedure in Procedure.objects.all():
        assert procedure.search_grams == search_grams(procedure.search_text)
    assert _found("転出") == [("281000", "tenshutsu"), ("282103", "tenshutsu")]
