"""書かない窓口 and paper registration, end to end through the pages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from machi.cases import services
from machi.cases.models import Case, ConfirmationMethod, Intake
from machi.cases.tests.helpers import PERSON_FORM, make_procedure
from machi.core.exceptions import Forbidden, InvalidInput
from machi.core.models import AuditEntry
from machi.files.tests.builders import plain_pdf
from machi.procedures.models import Application, ApplicationStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def person_procedure(kakogawa, shimin):
    return make_procedure(kakogawa, department=shimin, definition=PERSON_FORM, name="証明書の交付")


def html(response):
    return response.content.decode()


IDENTITY = {
    "document": "drivers_license",
    "family_name": "加古川",
    "given_name": "太郎",
    "family_kana": "かこがわ",
    "given_kana": "たろう",
    "birth_date": "1985-04-12",
    "contact_email": "taro@example.jp",
}


def test_counter_flow_end_to_end(person_procedure, counter_clerk, kakogawa_handler, staff_client):
    client = staff_client(counter_clerk)
    page = html(client.get("/staff/cases/counter/"))
    assert person_procedure.name in page
    response = client.post(
        "/staff/cases/counter/", {**IDENTITY, "procedure": str(person_procedure.pk)}
    )
    assert response.status_code == 302
    intake = Intake.objects.get()
    assert intake.identity_document == "drivers_license"
    assert intake.confirmed_name == "加古川 太郎"
    fill_url = response["Location"]
    assert fill_url == f"/staff/cases/intake/{intake.application_id}/"
    # The form is prefilled from the identity check.
    page = html(client.get(fill_url))
    assert 'name="applicant.name.family" value="加古川"' in page
    assert 'value="1985-04-12"' in page
    response = client.post(
        fill_url,
        {
            "applicant.name.family": "加古川",
            "applicant.name.given": "太郎",
            "applicant.name.family_kana": "カコガワ",
            "applicant.name.given_kana": "タロウ",
            "applicant.birth_date": "1985-04-12",
            "request.purpose": "",
        },
    )
    assert response.status_code == 400  # purpose is required
    assert "使いみち" in html(response)
    response = client.post(
        fill_url,
        {
            "applicant.name.family": "加古川",
            "applicant.name.given": "太郎",
            "applicant.name.family_kana": "カコガワ",
            "applicant.name.given_kana": "タロウ",
            "applicant.birth_date": "1985-04-12",
            "request.purpose": "就職のため",
        },
    )
    assert response.status_code == 302
    confirm_url = response["Location"]
    page = html(client.get(confirm_url))
    assert "就職のため" in page and "加古川 太郎" in page
    assert "print-only" in page  # the printable summary with a signature line
    response = client.post(confirm_url, {"method": "tablet_signature", "confirmation_name": ""})
    assert response.status_code == 400
    assert "本人が内容を確認したことを確かめてください。" in html(response)
    response = client.post(
        confirm_url,
        {
            "method": "tablet_signature",
            "resident_confirmed": "on",
            "confirmation_name": "加古川 太郎",
        },
    )
    assert response.status_code == 302
    case = Case.objects.select_related("application").get()
    assert response["Location"] == f"/staff/cases/{case.application_id}/"
    assert case.channel == "counter"
    assert case.status == ApplicationStatus.SUBMITTED
    assert case.application.contact_email == "taro@example.jp"
    intake.refresh_from_db()
    assert intake.confirmation_method == ConfirmationMethod.TABLET_SIGNATURE
    assert intake.confirmation_name == "加古川 太郎"
    assert intake.confirmed_at is not None
    entry = AuditEntry.objects.get(action="intake.submit")
    assert (entry.actor_id, entry.target_id) == (counter_clerk.pk, str(case.application_id))
    assert entry.detail == {"channel": "counter", "method": "tablet_signature"}
    # It is in the handlers' queue with its channel.
    queue = html(staff_client(kakogawa_handler).get("/staff/cases/?channel=counter"))
    assert str(case.application_id) in queue and "窓口" in queue
    # The intake pages now lead to the case.
    assert client.get(fill_url)["Location"] == f"/staff/cases/{case.application_id}/"


def test_counter_with_a_signed_printed_summary(person_procedure, counter_clerk, staff_client):
    client = staff_client(counter_clerk)
    client.post("/staff/cases/counter/", {**IDENTITY, "procedure": str(person_procedure.pk)})
    intake = Intake.objects.get()
    fill_url = f"/staff/cases/intake/{intake.application_id}/"
    client.post(
        fill_url,
        {
            "applicant.name.family": "加古川",
            "applicant.name.given": "太郎",
            "applicant.name.family_kana": "カコガワ",
            "applicant.name.given_kana": "タロウ",
            "applicant.birth_date": "1985-04-12",
            "request.purpose": "年金",
            "request.proof": SimpleUploadedFile("proof.pdf", plain_pdf(), "application/pdf"),
        },
    )
    response = client.post(
        fill_url + "confirm/",
        {
            "method": "signed_summary_scan",
            "confirmation_scan": SimpleUploadedFile("signed.pdf", plain_pdf(), "application/pdf"),
        },
    )
    assert response.status_code == 302
    intake.refresh_from_db()
    assert intake.confirmation_file_id is not None
    case = Case.objects.get()
    page = html(client.get(f"/staff/cases/{case.application_id}/"))
    assert f"/files/{intake.confirmation_file_id}/" in page  # the signed summary
    assert "proof.pdf" in page  # the attachment entered at the counter
    assert (
        client.get(
            f"/staff/cases/{case.application_id}/files/{intake.confirmation_file_id}/"
        ).status_code
        == 200
    )


def test_paper_flow_end_to_end(procedure, counter_clerk, kakogawa_handler, staff_client):
    client = staff_client(counter_clerk)
    response = client.post(
        "/staff/cases/paper/",
        {
            "procedure": str(procedure.pk),
            "scan": SimpleUploadedFile("申請書.pdf", plain_pdf(), "application/pdf"),
        },
    )
    assert response.status_code == 302
    intake = Intake.objects.get()
    assert intake.channel == "paper" and intake.scan_file_id is not None
    fill_url = response["Location"]
    response = client.post(fill_url, {"main.name": "播磨 花子"})
    assert response.status_code == 302
    confirm_url = response["Location"]
    response = client.post(confirm_url, {})
    assert response.status_code == 400
    assert "紙の申請書と照合したことを確認してください。" in html(response)
    response = client.post(confirm_url, {"matches_paper": "on"})
    assert response.status_code == 302
    case = Case.objects.select_related("application").get()
    assert case.channel == "paper"
    assert case.application.cleaned == {"main": {"name": "播磨 花子"}}
    handler = staff_client(kakogawa_handler)
    queue = html(handler.get("/staff/cases/?channel=paper"))
    assert str(case.application_id) in queue
    page = html(handler.get(f"/staff/cases/{case.application_id}/"))
    assert "紙の申請書（スキャン）" in page and "申請書.pdf" in page
    scan = handler.get(f"/staff/cases/{case.application_id}/files/{intake.scan_file_id}/")
    assert scan.status_code == 200


def test_paper_scan_must_be_safe(procedure, counter_clerk, staff_client):
    response = staff_client(counter_clerk).post(
        "/staff/cases/paper/",
        {
            "procedure": str(procedure.pk),
            "scan": SimpleUploadedFile("scan.pdf", b"not a pdf at all", "application/pdf"),
        },
    )
    assert response.status_code == 400
    assert not Intake.objects.exists()


def test_intake_needs_the_role_of_that_municipality(procedure, approver, kobe_admin, staff_client):
    identity = services.IdentityCheck(
        document="my_number_card", family_name="山田", birth_date=None
    )
    with pytest.raises(Forbidden):
        services.intake_start_counter(procedure=procedure, actor=approver, identity=identity)
    with pytest.raises(Forbidden):
        services.intake_start_counter(procedure=procedure, actor=kobe_admin, identity=identity)
    assert staff_client(approver).get("/staff/cases/counter/").status_code == 403


def test_identity_check_is_validated(procedure, counter_clerk):
    identity = services.IdentityCheck(document="other", family_name="", birth_date=None)
    with pytest.raises(InvalidInput) as error:
        services.intake_start_counter(procedure=procedure, actor=counter_clerk, identity=identity)
    assert set(error.value.field_errors) == {"document_note", "family_name", "birth_date"}


PERSON_ANSWERS = {
    "applicant": {
        "name": {
            "family": "加古川",
            "given": "太郎",
            "family_kana": "カコガワ",
            "given_kana": "タロウ",
        },
        "birth_date": "1985-04-12",
    },
    "request": {"purpose": "就職のため"},
}


def test_card_signature_procedure_is_taken_at_the_counter_after_an_identity_check(
    kakogawa, shimin, counter_clerk, staff_client
):
    signed = make_procedure(
        kakogawa,
        department=shimin,
        definition=PERSON_FORM,
        name="住民票の写し",
        assurance_level="card_signature",
    )
    client = staff_client(counter_clerk)
    page = html(client.get("/staff/cases/counter/"))
    assert f'<option value="{signed.pk}">' in page
    response = client.post(
        "/staff/cases/counter/",
        {**IDENTITY, "document": "my_number_card", "procedure": str(signed.pk)},
    )
    assert response.status_code == 302
    intake = Intake.objects.get()
    services.intake_save_answers(intake=intake, actor=counter_clerk, answers=PERSON_ANSWERS)
    case = services.intake_submit(
        intake=intake,
        actor=counter_clerk,
        confirmation_method=ConfirmationMethod.TABLET_SIGNATURE,
        confirmation_name="加古川 太郎",
        resident_confirmed=True,
    )
    case.application.refresh_from_db()
    assert case.application.status == ApplicationStatus.SUBMITTED
    assert case.channel == "counter"
    intake.refresh_from_db()
    assert (intake.identity_document, intake.clerk_id) == ("my_number_card", counter_clerk.pk)
    entry = AuditEntry.objects.get(action="intake.identity_check")
    assert (entry.actor_id, entry.detail["document"]) == (counter_clerk.pk, "my_number_card")


def test_card_signature_procedure_is_not_taken_from_paper(
    kakogawa, shimin, counter_clerk, staff_client
):
    signed = make_procedure(kakogawa, name="住民票の写し", assurance_level="card_signature")
    page = html(staff_client(counter_clerk).get("/staff/cases/paper/"))
    assert f'<option value="{signed.pk}">' not in page
    assert "住民票の写し" in page  # listed as needing the counter
    applications = Application.objects.count()
    with pytest.raises(InvalidInput) as error:
        services.intake_start_paper(procedure=signed, actor=counter_clerk, scan=plain_pdf())
    assert error.value.code == "intake_not_supported"
    assert Application.objects.count() == applications
    assert Intake.objects.count() == 0


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("昭和60年4月12日", "1985-04-12"), ("S60.4.12", "1985-04-12"), ("1985-04-12", "1985-04-12")],
)
def test_counter_birth_date_accepts_wareki(
    person_procedure, counter_clerk, staff_client, typed, expected
):
    client = staff_client(counter_clerk)
    response = client.post(
        "/staff/cases/counter/",
        {**IDENTITY, "birth_date": typed, "procedure": str(person_procedure.pk)},
    )
    assert response.status_code == 302
    assert Intake.objects.get().confirmed_birth_date.isoformat() == expected


def test_counter_birth_date_refuses_a_date_that_does_not_exist(
    person_procedure, counter_clerk, staff_client
):
    client = staff_client(counter_clerk)
    response = client.post(
        "/staff/cases/counter/",
        {**IDENTITY, "birth_date": "平成31年2月30日", "procedure": str(person_procedure.pk)},
    )
    assert response.status_code == 400
    assert "平成31年2月30日という日付はありません。" in html(response)
    assert Intake.objects.count() == 0
