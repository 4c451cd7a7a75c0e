"""Staff console for procedures: catalog editing, the form editor, sharing templates (横展開)."""

from __future__ import annotations

import json

import pytest

from machi.core.models import AuditEntry, Department, Role
from machi.core.tests.factories import staff_member
from machi.procedures import services
from machi.procedures.models import FormVersion, Procedure, ProcedureTemplate

pytestmark = pytest.mark.django_db


def test_procedure_list_is_tenant_scoped(
    simple_procedure, kobe, kobe_admin, kakogawa_admin, staff_client
):
    assert (
        "粗大ごみ収集申込"
        in staff_client(kakogawa_admin).get("/staff/procedures/").content.decode()
    )
    assert (
        "粗大ごみ収集申込"
        not in staff_client(kobe_admin).get("/staff/procedures/").content.decode()
    )
    assert (
        staff_client(kobe_admin).get(f"/staff/procedures/{simple_procedure.pk}/").status_code == 404
    )


def test_staff_pages_need_verified_staff(simple_procedure, resident):
    from django.test import Client

    client = Client()
    client.force_login(resident)
    response = client.get("/staff/procedures/")
    assert response.status_code == 302 and "/staff/login/" in response["Location"]


def test_create_procedure_from_console(kakogawa, kakogawa_admin, staff_client):
    Department.objects.create(municipality=kakogawa, code="kankyo", name="環境政策課")
    client = staff_client(kakogawa_admin)
    response = client.post(
        "/staff/procedures/new/",
        {
            "municipality": "282103",
            "slug": "inu-touroku",
            "name": "犬の登録申請",
            "name_kana": "いぬのとうろくしんせい",
            "department": "kankyo",
            "audience": "resident",
            "assurance_level": "none",
            "fee_yen": "3000",
            "payment_timing": "before_issuance",
            "channels": ["online", "counter"],
            "life_events": ["pet"],
        },
    )
    assert response.status_code == 302, response.content.decode()
    procedure = Procedure.objects.get(slug="inu-touroku")
    assert procedure.department.code == "kankyo"
    assert procedure.payment_timing == "before_issuance"
    assert procedure.fee_yen == 3000
    assert "いぬ" in procedure.search_text


def test_create_procedure_bad_input_is_shown_next_to_fields(kakogawa, kakogawa_admin, staff_client):
    response = staff_client(kakogawa_admin).post(
        "/staff/procedures/new/",
        {
            "municipality": "282103",
            "slug": "日本語",
            "name": "",
            "audience": "resident",
            "assurance_level": "none",
            "fee_yen": "-1",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "半角英数字とハイフンで入力してください。" in html
    assert 'aria-invalid="true"' in html
    assert not Procedure.objects.exists()


def test_case_handler_cannot_edit(simple_procedure, kakogawa_handler, staff_client):
    client = staff_client(kakogawa_handler)
    assert client.get(f"/staff/procedures/{simple_procedure.pk}/form/").status_code == 403
    response = client.post(f"/staff/procedures/{simple_procedure.pk}/", {"name": "x"})
    assert response.status_code == 403


def test_form_editor_add_field_then_publish(simple_procedure, kakogawa_admin, staff_client):
    client = staff_client(kakogawa_admin)
    url = f"/staff/procedures/{simple_procedure.pk}/form/"
    response = client.post(
        url,
        {
            "action": "add_field",
            "step": "main",
            "key": "pickup_date",
            "field_type": "date",
            "label_ja": "希望日",
            "label_en": "Preferred date",
            "required": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    draft = FormVersion.objects.get(procedure=simple_procedure, number=2)
    assert draft.published_at is None
    assert [f["key"] for f in draft.definition["steps"][0]["fields"]][-1] == "pickup_date"
    # residents still get version 1 until the draft is published
    assert services.current_form_version(simple_procedure).number == 1
    client.post(url, {"action": "up", "step": "main", "field": "pickup_date"})
    draft.refresh_from_db()
    keys = [f["key"] for f in draft.definition["steps"][0]["fields"]]
    assert keys.index("pickup_date") == len(keys) - 2
    # the unpublished draft is replaced in place (no new version) and the change is audited
    assert FormVersion.objects.filter(procedure=simple_procedure).count() == 2
    assert list(
        AuditEntry.objects.filter(
            action__startswith="form_version.", target_id=str(simple_procedure.pk)
        )
        .order_by("id")
        .values_list("action", "detail__version")
    ) == [("form_version.publish", 1), ("form_version.create", 2), ("form_version.update", 2)]
    client.post(url, {"action": "publish"})
    assert services.current_form_version(simple_procedure).number == 2
    preview = client.get(f"/staff/procedures/{simple_procedure.pk}/form/preview/").content.decode()
    assert "希望日" in preview


def test_form_editor_refuses_duplicate_key_and_bad_json(
    simple_procedure, kakogawa_admin, staff_client
):
    client = staff_client(kakogawa_admin)
    url = f"/staff/procedures/{simple_procedure.pk}/form/"
    response = client.post(
        url,
        {
            "action": "add_field",
            "step": "main",
            "key": "name",
            "field_type": "text",
            "label_ja": "重複",
        },
    )
    assert response.status_code == 400
    assert response.context["field_form"].errors == {"key": ["同じ項目IDは使えません。"]}
    response = client.post(url, {"action": "import", "definition": "{not json"})
    assert response.status_code == 400
    assert response.context["import_form"].errors == {
        "__all__": ["入力内容に誤りがあります。"],
        "definition": ["JSONとして読み取れません（1行目付近）。"],
    }
    bad = {
        "schema": 1,
        "steps": [
            {
                "key": "main",
                "title": {"ja": "x"},
                "fields": [{"key": "a", "type": "nope", "label": {"ja": "a"}}],
            }
        ],
    }
    response = client.post(url, {"action": "import", "definition": json.dumps(bad)})
    assert response.status_code == 400
    assert response.context["import_form"].errors == {
        "definition": [
            "main.a: 不明な種類「nope」です。使えるのは text, textarea, number, date, choice, "
            "multichoice, checkbox, email, phone, postal_code, name, address, my_number, "
            "corporate_number, file, group です。"
        ]
    }
    assert FormVersion.objects.filter(procedure=simple_procedure).count() == 1


def test_form_export_round_trips_through_import(simple_procedure, kakogawa_admin, staff_client):
    client = staff_client(kakogawa_admin)
    exported = client.get(f"/staff/procedures/{simple_procedure.pk}/form/export/")
    assert exported["Content-Type"].startswith("application/json")
    definition = json.loads(exported.content)
    definition["steps"][0]["title"]["ja"] = "申込の内容"
    response = client.post(
        f"/staff/procedures/{simple_procedure.pk}/form/",
        {"action": "import", "definition": json.dumps(definition, ensure_ascii=False)},
    )
    assert response.status_code == 302
    latest = FormVersion.objects.filter(procedure=simple_procedure).latest("number")
    assert latest.definition["steps"][0]["title"]["ja"] == "申込の内容"


def test_template_publish_adopt_and_pull_update(
    simple_procedure, kakogawa_admin, hyogo, staff_client
):
    from machi.core.tests.factories import MunicipalityFactory

    inami = MunicipalityFactory(
        code="283819", name="稲美町", name_kana="いなみちょう", kind="town", prefecture=hyogo
    )
    Department.objects.create(municipality=inami, code="jumin", name="住民課")
    inami_admin = staff_member("inami-admin", inami, Role.MUNICIPALITY_ADMIN)
    staff_client(kakogawa_admin).post(f"/staff/procedures/{simple_procedure.pk}/template/publish/")
    template = ProcedureTemplate.objects.get(source=simple_procedure)
    client = staff_client(inami_admin)
    assert "粗大ごみ収集申込" in client.get("/staff/procedures/templates/").content.decode()
    response = client.post(
        "/staff/procedures/templates/",
        {"template": template.pk, "municipality": "283819", "department": "jumin", "slug": ""},
    )
    assert response.status_code == 302, response.content.decode()
    adopted = Procedure.objects.get(municipality_id="283819", slug="simple")
    assert adopted.origin_template == template
    assert (
        services.current_form_version(adopted).definition
        == services.current_form_version(simple_procedure).definition
    )
    # the town adjusts its fee, the city improves the wording and republishes
    assert not adopted.is_published  # the town reviews before publishing
    services.procedure_update(actor=inami_admin, procedure=adopted, fee_yen=200, is_published=True)
    services.procedure_update(
        actor=kakogawa_admin, procedure=simple_procedure, description="新しい説明"
    )
    services.template_publish(actor=kakogawa_admin, procedure=simple_procedure)
    page = client.get(f"/staff/procedures/{adopted.pk}/").content.decode()
    assert "新しい説明" in page  # the differences are shown before pulling
    client.post(f"/staff/procedures/{adopted.pk}/template/update/")
    adopted.refresh_from_db()
    assert adopted.description == "新しい説明"
    assert adopted.fee_yen == 200  # the local adjustment stays
    assert adopted.origin_template_version == 2
    # the public page shows where it came from
    public = client.get("/procedures/283819/simple/").content.decode()
    assert "加古川市" in public


def _edit_post(procedure: Procedure, **overrides: object) -> dict[str, object]:
    """Every field of the edit page, as a browser would post it."""
    data: dict[str, object] = {
        "name": "粗大ごみ戸別収集の申込",
        "name_kana": "そだいごみこべつしゅうしゅうのもうしこみ",
        "name_en": "Bulky waste collection",
        "department": "shimin",
        "description": "大きなごみを家の前まで取りに行きます。",
        "description_easy": "おおきな ごみを とりに いきます。",
        "description_en": "We collect large items at your door.",
        "audience": "business",
        "legal_basis": "廃棄物の処理及び清掃に関する法律",
        "assurance_level": "account",
        "fee_yen": "400",
        "fee_per_copy": "on",
        "fee_note": "1品につき400円",
        "payment_timing": "before_submission",
        "standard_processing_days": "7",
        "annual_case_count": "1200",
        "channels": ["online", "post"],
        "life_events": ["housing", "moving"],
        "keywords": "粗大ごみ 家具",
        "attachments_note": "写真があれば添付してください。",
        "is_published": "on",
    }
    data.update(overrides)
    return data


def test_edit_page_shows_the_saved_values(simple_procedure, kakogawa_admin, staff_client):
    response = staff_client(kakogawa_admin).get(f"/staff/procedures/{simple_procedure.pk}/")
    assert response.status_code == 200
    form = response.context["form"]
    assert form["name"].value() == "粗大ごみ収集申込"
    assert form["slug"].value() == "simple"
    assert form["municipality"].value() == "282103"
    assert form["department"].value() == "shimin"
    assert form["payment_timing"].value() == "none"
    assert form["channels"].value() == ["online", "counter"]
    html = response.content.decode()
    assert 'value="粗大ごみ収集申込"' in html


def test_edit_and_save_every_field(simple_procedure, kakogawa_admin, staff_client):
    """Saving the edit page writes every field (the disabled municipality and slug stay)."""
    client = staff_client(kakogawa_admin)
    url = f"/staff/procedures/{simple_procedure.pk}/"
    # a crafted post cannot move the procedure to another municipality or rename its URL
    response = client.post(url, _edit_post(simple_procedure, municipality="281000", slug="x"))
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == url
    procedure = Procedure.objects.get(pk=simple_procedure.pk)
    assert procedure.municipality_id == "282103"
    assert procedure.slug == "simple"
    assert procedure.name == "粗大ごみ戸別収集の申込"
    assert procedure.name_kana == "そだいごみこべつしゅうしゅうのもうしこみ"
    assert procedure.name_en == "Bulky waste collection"
    assert procedure.department is not None and procedure.department.code == "shimin"
    assert procedure.description == "大きなごみを家の前まで取りに行きます。"
    assert procedure.description_easy == "おおきな ごみを とりに いきます。"
    assert procedure.description_en == "We collect large items at your door."
    assert procedure.audience == "business"
    assert procedure.legal_basis == "廃棄物の処理及び清掃に関する法律"
    assert procedure.assurance_level == "account"
    assert procedure.fee_yen == 400
    assert procedure.fee_per_copy is True
    assert procedure.fee_note == "1品につき400円"
    assert procedure.payment_timing == "before_submission"
    assert procedure.standard_processing_days == 7
    assert procedure.annual_case_count == 1200
    assert procedure.channels == ["online", "post"]
    assert procedure.life_events == ["housing", "moving"]
    assert procedure.keywords == "粗大ごみ 家具"
    assert procedure.attachments_note == "写真があれば添付してください。"
    assert procedure.is_published is True
    assert (
        AuditEntry.objects.filter(action="procedure.update", target_id=str(procedure.pk)).count()
        == 1
    )
    # the page shows the saved values again
    page = client.get(url)
    assert page.context["form"]["payment_timing"].value() == "before_submission"
    assert page.context["form"]["fee_yen"].value() == 400


def test_edit_bad_input_changes_nothing(simple_procedure, kakogawa_admin, staff_client):
    url = f"/staff/procedures/{simple_procedure.pk}/"
    response = staff_client(kakogawa_admin).post(
        url, _edit_post(simple_procedure, name="", payment_timing="later")
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["name"] == ["このフィールドは必須です。"]
    assert form.errors["payment_timing"] == ["正しく選択してください。 later は候補にありません。"]
    assert set(form.errors) == {"name", "payment_timing"}
    procedure = Procedure.objects.get(pk=simple_procedure.pk)
    assert (procedure.name, procedure.payment_timing) == ("粗大ごみ収集申込", "none")


def test_one_list_of_editable_procedure_fields():
    """The staff form offers every field the services take, and no other catalog field."""
    from machi.procedures.procedure_fields import PROCEDURE_EDITABLE_FIELDS
    from machi.procedures.staff_forms import ProcedureForm

    assert set(ProcedureForm.base_fields) == {
        *PROCEDURE_EDITABLE_FIELDS,
        "municipality",
        "slug",
        "department",
        "is_published",
    }
    assert services.PROCEDURE_FIELDS is PROCEDURE_EDITABLE_FIELDS


def _counts(procedure: Procedure) -> tuple[int, int, int, object]:
    procedure.refresh_from_db()
    return (
        Procedure.objects.count(),
        FormVersion.objects.filter(procedure=procedure).count(),
        ProcedureTemplate.objects.count(),
        (procedure.name, procedure.is_published, procedure.updated_at),
    )


@pytest.mark.parametrize(
    ("path", "data"),
    [
        (
            "new/",
            {
                "municipality": "282103",
                "slug": "pref",
                "name": "県が作る",
                "audience": "resident",
                "assurance_level": "none",
                "fee_yen": "0",
                "payment_timing": "none",
                "channels": ["online"],
            },
        ),
        (
            "{pk}/",
            {
                "name": "県が変える",
                "audience": "resident",
                "assurance_level": "none",
                "fee_yen": "0",
                "payment_timing": "none",
                "channels": ["online"],
            },
        ),
        ("{pk}/form/", {"action": "add_step", "key": "extra", "title_ja": "追加"}),
        ("{pk}/form/", {"action": "publish"}),
        ("{pk}/template/publish/", {}),
        ("{pk}/template/update/", {}),
    ],
)
def test_prefecture_admin_cannot_write_a_municipality_procedure(
    path, data, simple_procedure, prefecture_admin, staff_client
):
    """The 県管理者 reads member municipalities' procedures but changes none of them."""
    before = _counts(simple_procedure)
    audit_before = AuditEntry.objects.count()
    client = staff_client(prefecture_admin)
    response = client.post(f"/staff/procedures/{path.format(pk=simple_procedure.pk)}", data)
    assert response.status_code == 403
    assert _counts(simple_procedure) == before
    assert AuditEntry.objects.count() == audit_before


def test_prefecture_admin_cannot_adopt_a_template_for_a_municipality(
    simple_procedure, kakogawa_admin, prefecture_admin, staff_client, kobe
):
    template = services.template_publish(actor=kakogawa_admin, procedure=simple_procedure)
    count = Procedure.objects.count()
    response = staff_client(prefecture_admin).post(
        "/staff/procedures/templates/",
        {"template": template.pk, "municipality": "281000", "department": "", "slug": "copy"},
    )
    assert response.status_code == 403
    assert Procedure.objects.count() == count
