"""Corrections (補正): only flagged fields change, signed content needs a new signature, diff."""

from __future__ import annotations

import base64
import copy
import datetime as dt

import pytest
from django.utils import timezone

from machi.core.exceptions import InvalidInput
from machi.identity.models import CertificateEvidence
from machi.procedures import selectors, services
from machi.procedures.extensions import render_sections
from machi.procedures.models import Application, CorrectionRequest
from machi.procedures.states import ApplicationStatus
from machi.procedures.tests.conftest import JUMINHYO_ANSWERS

pytestmark = pytest.mark.django_db


def _signature(card, application, cleaned):
    data = services.submission_signing_bytes(application, cleaned)
    return services.CardSignature(
        base64.b64encode(card.sign(data)).decode(), card.certificate_pem("sign")
    )


@pytest.fixture
def signed(juminhyo, resident, card_settings, kakogawa_handler):
    """A card-signed 住民票 application whose 使いみち staff asked to correct."""
    started = services.application_start(procedure=juminhyo, applicant=resident)
    application = started.application
    for step, answers in JUMINHYO_ANSWERS.items():
        services.application_save_step(application=application, step_key=step, step_answers=answers)
    cleaned = services.validate_answers(application.form_version.form, application.answers)
    application = services.application_submit(
        application=application,
        actor=resident,
        signature=_signature(card_settings.good, application, cleaned.cleaned),
    )
    services.application_transition(
        application=application, to_status=ApplicationStatus.IN_REVIEW, actor=kakogawa_handler
    )
    services.application_request_correction(
        application=application,
        actor=kakogawa_handler,
        message="使いみちを具体的に書いてください。",
        fields=["request.purpose"],
        deadline=timezone.localdate() + dt.timedelta(days=7),
    )
    application.refresh_from_db()
    return application


def _answers(**changes):
    answers = copy.deepcopy(JUMINHYO_ANSWERS)
    for path, value in changes.items():
        step, key = path.split("__")
        answers[step][key] = value
    return answers


def _unchanged(application, snapshot):
    fresh = Application.objects.get(pk=application.pk)
    assert fresh.status == ApplicationStatus.CORRECTION_REQUESTED
    assert fresh.cleaned == snapshot.cleaned
    assert fresh.answers == snapshot.answers
    assert fresh.signature_evidence_id == snapshot.signature_evidence_id
    assert CorrectionRequest.objects.get(application=fresh).answered_at is None


def test_the_editable_fields_are_named_in_words(signed):
    assert selectors.correction_editable_fields(signed, language="ja") == [
        selectors.EditableField(
            path="request.purpose", step="request", label="請求の内容：使いみち", is_file=False
        )
    ]


def test_a_change_to_an_unflagged_field_is_refused(signed, resident):
    name = {**JUMINHYO_ANSWERS["applicant"]["name"], "given": "花江"}
    with pytest.raises(InvalidInput) as excinfo:
        services.application_answer_correction(
            application=signed,
            actor=resident,
            answers=_answers(applicant__name=name, request__purpose="パスポートの申請"),
        )
    assert excinfo.value.code == "correction_field_not_flagged"
    assert excinfo.value.field_errors == {
        "applicant.name": ["この項目は補正を求められていないため、変更できません。"]
    }
    _unchanged(signed, signed)


def test_a_changed_signed_field_needs_a_new_signature(signed, resident):
    with pytest.raises(InvalidInput) as excinfo:
        services.application_answer_correction(
            application=signed,
            actor=resident,
            answers=_answers(request__purpose="パスポートの申請"),
        )
    assert excinfo.value.code == "signature_required"
    _unchanged(signed, signed)


def test_a_signature_over_the_old_content_is_refused(signed, resident, card_settings):
    stale = _signature(card_settings.good, signed, signed.cleaned)
    with pytest.raises(InvalidInput):
        services.application_answer_correction(
            application=signed,
            actor=resident,
            answers=_answers(request__purpose="パスポートの申請"),
            signature=stale,
        )
    _unchanged(signed, signed)


def test_a_new_signature_records_new_evidence_and_the_diff(signed, resident, card_settings):
    old_evidence = signed.signature_evidence_id
    answers = _answers(request__purpose="パスポートの申請")
    version_id, data = services.correction_signing_bytes(application=signed, answers=answers)
    assert version_id == signed.form_version.version_id
    signature = services.CardSignature(
        base64.b64encode(card_settings.good.sign(data)).decode(),
        card_settings.good.certificate_pem("sign"),
    )
    services.application_answer_correction(
        application=signed, actor=resident, answers=answers, note="直しました", signature=signature
    )
    fresh = Application.objects.get(pk=signed.pk)
    assert fresh.status == ApplicationStatus.IN_REVIEW
    assert fresh.cleaned["request"]["purpose"] == "パスポートの申請"
    assert fresh.signature_evidence_id != old_evidence
    assert CertificateEvidence.objects.filter(pk=fresh.signature_evidence_id).exists()
    correction = CorrectionRequest.objects.get(application=fresh)
    assert correction.signature_evidence_id == fresh.signature_evidence_id
    assert correction.changes == [
        {"path": "request.purpose", "before": "勤務先への提出", "after": "パスポートの申請"}
    ]
    [row] = selectors.correction_diff(fresh, language="ja")
    assert (row.label, row.before, row.after, row.changed, row.new_signature) == (
        "請求の内容：使いみち",
        "勤務先への提出",
        "パスポートの申請",
        True,
        True,
    )
    html = str(render_sections("staff_case", request=None, application=fresh))
    assert '<th scope="row">請求の内容：使いみち</th><td>勤務先への提出</td>' in html
    assert "<strong>パスポートの申請</strong>" in html


def test_an_unchanged_answer_needs_no_signature(signed, resident):
    services.application_answer_correction(
        application=signed, actor=resident, answers=_answers(), note="このままで正しいです"
    )
    fresh = Application.objects.get(pk=signed.pk)
    assert fresh.status == ApplicationStatus.IN_REVIEW
    assert fresh.signature_evidence_id == signed.signature_evidence_id
    [row] = selectors.correction_diff(fresh, language="ja")
    assert (row.before, row.after, row.changed) == ("勤務先への提出", "勤務先への提出", False)


def test_unflagged_fields_left_out_keep_their_answers(simple_procedure, kakogawa_handler):
    started = services.application_start(procedure=simple_procedure, applicant=None)
    application = started.application
    services.application_save_step(
        application=application, step_key="main", step_answers={"name": "太郎", "copies": "1"}
    )
    services.application_save_step(
        application=application, step_key="confirm", step_answers={"agree": "on"}
    )
    services.application_submit(application=application, actor=None)
    services.application_transition(
        application=application, to_status=ApplicationStatus.IN_REVIEW, actor=kakogawa_handler
    )
    services.application_request_correction(
        application=application,
        actor=kakogawa_handler,
        message="通数を確認してください。",
        fields=["main.copies"],
        deadline=timezone.localdate() + dt.timedelta(days=7),
    )
    services.application_answer_correction(
        application=application, actor=None, answers={"main": {"copies": "3"}}
    )
    fresh = Application.objects.get(pk=application.pk)
    assert fresh.cleaned == {
        "main": {"name": "太郎", "email": None, "copies": 3},
        "confirm": {"agree": True},
    }
    assert fresh.answers == {"main": {"name": "太郎", "copies": "3"}, "confirm": {"agree": "on"}}
    assert not fresh.signature_evidence_id  # never signed: no signature asked


def test_flagging_a_field_the_form_does_not_have_is_refused(simple_procedure, kakogawa_handler):
    started = services.application_start(procedure=simple_procedure, applicant=None)
    application = started.application
    application.answers = {"main": {"name": "太郎", "copies": "1"}, "confirm": {"agree": True}}
    application.save()
    services.application_submit(application=application, actor=None)
    with pytest.raises(InvalidInput) as excinfo:
        services.application_request_correction(
            application=application,
            actor=kakogawa_handler,
            message="確認してください。",
            fields=["main.nothing"],
            deadline=timezone.localdate() + dt.timedelta(days=7),
        )
    assert excinfo.value.code == "unknown_correction_field"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert not CorrectionRequest.objects.exists()
