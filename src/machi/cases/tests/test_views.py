"""The case pages through the Django test client: queue, case page, workflow, files, routes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from machi.cases import services
from machi.cases.extensions import CaseLink, CaseLinkTarget, case_links
from machi.cases.models import ApprovalStep, Case
from machi.cases.services import RouteStepSpec
from machi.cases.tests.helpers import PERSON_FORM, case_of, fresh, make_procedure, member, submit
from machi.core.models import AuditEntry, Department, Role
from machi.files.tests.builders import plain_pdf
from machi.procedures import services as procedure_services
from machi.procedures.models import ApplicationOutcome, ApplicationStatus, CorrectionRequest

pytestmark = pytest.mark.django_db

QUEUE = "/staff/cases/"


def detail_url(case):
    return f"/staff/cases/{case.application_id}/"


def action_url(case, action):
    return f"/staff/cases/{case.application_id}/{action}/"


def html(response):
    return response.content.decode()


def test_queue_needs_verified_staff(client, kakogawa):
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert "/staff/login/" in response["Location"]


def test_queue_is_tenant_scoped(procedure, kobe, kobe_admin, kakogawa_admin, staff_client):
    ours = case_of(submit(procedure))
    theirs = case_of(submit(make_procedure(kobe, name="神戸の手続")))
    kobe_page = html(staff_client(kobe_admin).get(QUEUE + "?status=all"))
    assert str(theirs.application_id) in kobe_page
    assert str(ours.application_id) not in kobe_page
    ours_page = html(staff_client(kakogawa_admin).get(QUEUE + "?status=all&department=all"))
    assert str(ours.application_id) in ours_page
    assert str(theirs.application_id) not in ours_page
    # Other pages of the app do not leak either.
    kobe = staff_client(kobe_admin)
    assert kobe.get(detail_url(ours)).status_code == 404
    assert kobe.get(f"{detail_url(ours)}files/{ours.application_id}/").status_code == 404
    assert procedure.name not in html(kobe.get("/staff/cases/stats/"))
    assert procedure.name not in html(kobe.get("/staff/cases/routes/"))
    assert kobe.get(f"/staff/cases/routes/{procedure.pk}/").status_code == 404
    response = kobe.post(
        "/staff/cases/bulk/", {"action": "assign_me", "cases": [ours.pk]}, follow=True
    )
    assert fresh(ours).assignee is None
    assert "対象外" in html(response)


def test_prefecture_admin_reads_everything_but_changes_nothing(
    procedure, kobe, prefecture_admin, staff_client
):
    ours = case_of(submit(procedure))
    theirs = case_of(submit(make_procedure(kobe)))
    client = staff_client(prefecture_admin)
    page = html(client.get(QUEUE + "?status=all"))
    assert str(ours.application_id) in page and str(theirs.application_id) in page
    detail = client.get(detail_url(ours))
    assert detail.status_code == 200
    assert "審査中にする" not in html(detail)
    response = client.post(action_url(ours, "review"), {"review-lock_version": "1"})
    assert response.status_code == 403
    assert fresh(ours).status == ApplicationStatus.SUBMITTED


def test_handlers_see_their_department_by_default(
    kakogawa, shimin, handler2, staff_client, procedure
):
    other_department = Department.objects.create(
        municipality=kakogawa, code="kosodate", name="子育て支援課"
    )
    other = make_procedure(kakogawa, department=other_department)
    mine = case_of(submit(procedure))
    theirs = case_of(submit(other))
    client = staff_client(handler2)
    page = html(client.get(QUEUE))
    assert str(mine.application_id) in page
    assert str(theirs.application_id) not in page
    page = html(client.get(QUEUE + "?department=all"))
    assert str(theirs.application_id) in page
    page = html(client.get(QUEUE + f"?department={other_department.pk}"))
    assert str(theirs.application_id) in page and str(mine.application_id) not in page


def test_queue_filters(procedure, kakogawa, kakogawa_handler, staff_client):
    late = case_of(submit(procedure))
    Case.objects.filter(pk=late.pk).update(
        due_date=timezone.localdate() - dt.timedelta(days=1),
        submitted_at=timezone.now() - dt.timedelta(days=40),
    )
    counter = case_of(submit(procedure, channel="counter"))
    reviewed = case_of(submit(procedure))
    services.case_start_review(case=reviewed, actor=kakogawa_handler)
    other_procedure = make_procedure(kakogawa, name="別の手続")
    other = case_of(submit(other_procedure))
    client = staff_client(kakogawa_handler)

    def ids(query):
        page = html(client.get(QUEUE + "?department=all&" + query))
        cases = (late, counter, reviewed, other)
        return {c.pk for c in cases if str(c.application_id) in page}

    assert ids("") == {late.pk, counter.pk, reviewed.pk, other.pk}
    assert ids("overdue=on") == {late.pk}
    assert ids("age=30") == {late.pk}
    assert ids("channel=counter") == {counter.pk}
    assert ids("status=in_review") == {reviewed.pk}
    assert ids("assignee=me") == {reviewed.pk}
    assert ids("assignee=none") == {late.pk, counter.pk, other.pk}
    assert ids(f"procedure={other_procedure.pk}") == {other.pk}
    assert ids("status=closed") == set()
    page = html(client.get(QUEUE + "?department=all"))
    assert "期限超過" in page
    # Sorting by due date puts the overdue case first.
    order = [m for m in re.findall(r"/staff/cases/([0-9a-f-]{36})/", page)]
    assert order[0] == str(late.application_id)


def test_queue_counts_are_capped(procedure, kakogawa_handler):
    from machi.cases.selectors import QueueFilter, case_status_counts

    for _ in range(3):
        submit(procedure)
    counts = {
        c.key: c for c in case_status_counts(user=kakogawa_handler, filters=QueueFilter(), cap=2)
    }
    assert counts["submitted"].count == 2 and counts["submitted"].capped
    assert counts["submitted"].display == "2+"
    assert counts["in_review"].count == 0 and not counts["in_review"].capped


def test_queue_pagination(procedure, kakogawa_handler):
    from machi.cases.selectors import QueueFilter, case_queue_page

    for _ in range(5):
        submit(procedure)
    first = case_queue_page(user=kakogawa_handler, filters=QueueFilter(), page=1, page_size=2)
    third = case_queue_page(user=kakogawa_handler, filters=QueueFilter(), page=3, page_size=2)
    assert len(first.cases) == 2 and first.has_next and not first.has_previous
    assert len(third.cases) == 1 and not third.has_next


def test_bulk_actions_through_the_queue(procedure, kakogawa_handler, handler2, staff_client):
    cases = [case_of(submit(procedure)) for _ in range(3)]
    client = staff_client(kakogawa_handler)
    page = html(client.get(QUEUE))
    assert 'type="checkbox" name="cases"' in page
    response = client.post(
        "/staff/cases/bulk/",
        {"action": "assign", "assignee": str(handler2.pk), "cases": [c.pk for c in cases[:2]]},
        follow=True,
    )
    assert "2件の担当者を変更しました" in html(response)
    assert [fresh(c).assignee for c in cases] == [handler2, handler2, None]
    client.post("/staff/cases/bulk/", {"action": "start_review", "cases": [cases[2].pk]})
    assert fresh(cases[2]).status == ApplicationStatus.IN_REVIEW
    response = client.post("/staff/cases/bulk/", {"action": "assign_me"}, follow=True)
    assert "案件を1件以上選んでください" in html(response)


def test_two_handlers_edit_the_same_case(procedure, kakogawa_handler, handler2, staff_client):
    case = case_of(submit(procedure))
    first, second = staff_client(kakogawa_handler), staff_client(handler2)
    page_first = html(first.get(detail_url(case)))
    html(second.get(detail_url(case)))  # the second handler opened it too
    found = re.search(r'name="review-lock_version" value="(\d+)"', page_first)
    assert found is not None
    version = found.group(1)
    assert (
        first.post(action_url(case, "review"), {"review-lock_version": version}).status_code == 302
    )
    deadline = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    message = "添付された証明書の写しが不鮮明です。撮り直してください。"
    response = second.post(
        action_url(case, "correction"),
        {
            "correction-lock_version": version,
            "correction-message": message,
            "correction-targets": ["main.name"],
            "correction-deadline": deadline,
        },
    )
    assert response.status_code == 409
    body = html(response)
    assert "他の職員が更新しました" in body
    assert message in body  # nothing the second handler typed is lost
    assert not CorrectionRequest.objects.exists()
    assert fresh(case).status == ApplicationStatus.IN_REVIEW
    # The page now carries the current version; sending again works.
    found = re.search(r'name="correction-lock_version" value="(\d+)"', body)
    assert found is not None
    current = found.group(1)
    assert current != version
    response = second.post(
        action_url(case, "correction"),
        {
            "correction-lock_version": current,
            "correction-message": message,
            "correction-targets": ["main.name"],
            "correction-deadline": deadline,
        },
    )
    assert response.status_code == 302
    assert fresh(case).status == ApplicationStatus.CORRECTION_REQUESTED


def test_case_page_shows_the_submitted_form_version(procedure, kakogawa_handler, staff_client):
    case = case_of(submit(procedure, {"main": {"name": "山田 太郎"}}))
    procedure_services.form_version_create(
        actor=None,
        procedure=procedure,
        definition={
            "schema": 1,
            "steps": [
                {
                    "key": "main",
                    "title": {"ja": "新しい様式"},
                    "fields": [
                        {
                            "key": "name",
                            "type": "text",
                            "label": {"ja": "お名前"},
                            "required": True,
                        },
                        {"key": "memo", "type": "text", "label": {"ja": "備考"}},
                    ],
                }
            ],
        },
        publish=True,
    )
    body = html(staff_client(kakogawa_handler).get(detail_url(case)))
    assert "<dt>氏名</dt><dd>山田 太郎</dd>" in body
    assert "申請時の様式（第1版）で表示しています。" in body
    assert "お名前" not in body and "新しい様式" not in body
    view = AuditEntry.objects.get(action="case.view")
    assert (view.actor_id, view.target_id) == (kakogawa_handler.pk, str(case.application_id))
    assert (view.personal_data, view.purpose) == (True, "申請の審査")


def test_workflow_through_the_case_page(
    procedure, shimin, kakogawa_handler, approver, approver2, kakogawa_admin, staff_client
):
    services.approval_route_save(
        actor=None,
        procedure=procedure,
        steps=[
            RouteStepSpec(1, "係長決裁", role=Role.APPROVER, department_id=shimin.pk),
            RouteStepSpec(2, "課長決裁", user_id=approver2.pk),
        ],
    )
    case = case_of(submit(procedure))
    handler = staff_client(kakogawa_handler)

    def lock():
        return str(fresh(case).application.lock_version)

    assert (
        handler.post(action_url(case, "review"), {"review-lock_version": lock()}).status_code == 302
    )
    response = handler.post(
        action_url(case, "approval"),
        {"approval-lock_version": lock(), "approval-proposed_outcome": "granted"},
    )
    assert response.status_code == 302
    assert fresh(case).status == ApplicationStatus.APPROVING
    # The drafter sees the route but no decision form.
    assert "判断を記録する" not in html(handler.get(detail_url(case)))
    first = ApprovalStep.objects.get(label="係長決裁")
    response = staff_client(approver).post(
        action_url(case, "decide"),
        {
            f"decide-{first.pk}-lock_version": lock(),
            f"decide-{first.pk}-step": first.pk,
            f"decide-{first.pk}-decision": "approve",
        },
    )
    assert response.status_code == 302
    # 代決 by the admin for the absent 課長.
    second = ApprovalStep.objects.get(label="課長決裁")
    admin = staff_client(kakogawa_admin)
    assert "代決" in html(admin.get(detail_url(case)))
    response = admin.post(
        action_url(case, "decide"),
        {
            f"decide-{second.pk}-lock_version": lock(),
            f"decide-{second.pk}-step": second.pk,
            f"decide-{second.pk}-decision": "approve",
            f"decide-{second.pk}-acting_for": approver2.pk,
        },
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.acting_for == approver2 and second.decided_by == kakogawa_admin
    body = html(handler.get(detail_url(case)))
    assert "決裁済み — 交付/通知の準備ができました" in body
    assert "文書を発行せずに完了する" in body
    assert "の代決" in body
    response = handler.post(
        action_url(case, "complete"),
        {"complete-lock_version": lock(), "complete-outcome": "granted", "complete-note": ""},
    )
    assert response.status_code == 302
    assert fresh(case).outcome == ApplicationOutcome.GRANTED


def test_invalid_action_input_is_shown_with_the_form(procedure, kakogawa_handler, staff_client):
    case = case_of(submit(procedure))
    response = staff_client(kakogawa_handler).post(
        action_url(case, "withdraw"),
        {"withdraw-lock_version": str(case.application.lock_version), "withdraw-reason": ""},
    )
    assert response.status_code == 400
    body = html(response)
    assert "取下げの理由・申し出の方法を入力してください。" in body
    assert 'aria-invalid="true"' in body


def test_notes_and_assignment_on_the_case_page(procedure, kakogawa_handler, handler2, staff_client):
    case = case_of(submit(procedure))
    client = staff_client(kakogawa_handler)
    client.post(action_url(case, "note"), {"note-text": "電話で確認済み"})
    client.post(action_url(case, "assign"), {"assign-assignee": str(handler2.pk)})
    body = html(client.get(detail_url(case)))
    assert "電話で確認済み" in body
    assert fresh(case).assignee == handler2


def test_attachments_download_with_tenant_check(
    kakogawa, kobe_admin, kakogawa_handler, staff_client
):
    procedure = make_procedure(kakogawa, definition=PERSON_FORM)
    started = procedure_services.application_start(procedure=procedure, applicant=None)
    application = started.application
    stored = procedure_services.attachment_store(
        application=application,
        path="request.proof",
        upload=SimpleUploadedFile("証明書.pdf", plain_pdf(), content_type="application/pdf"),
        actor=None,
    )
    answers: dict[str, dict[str, Any]] = {
        "applicant": {
            "name": {
                "family": "山田",
                "given": "花子",
                "family_kana": "ヤマダ",
                "given_kana": "ハナコ",
            },
            "birth_date": "1990-01-02",
        },
        "request": {"purpose": "就職", "proof": [str(stored.pk)]},
    }
    for step_key, step_answers in answers.items():
        procedure_services.application_save_step(
            application=application, step_key=step_key, step_answers=step_answers
        )
    submitted = procedure_services.application_submit(
        application=application,
        actor=None,
        file_lookup=procedure_services.file_lookup_for(application),
    )
    case = services.case_create_for_application(application=submitted)
    client = staff_client(kakogawa_handler)
    body = html(client.get(detail_url(case)))
    link = f"/staff/cases/{case.application_id}/files/{stored.pk}/"
    assert link in body and "証明書.pdf" in body
    response = client.get(link)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert AuditEntry.objects.filter(action="file.read", purpose="申請の審査").exists()
    other = SimpleUploadedFile("x.pdf", plain_pdf(), content_type="application/pdf")
    foreign = procedure_services.attachment_store(
        application=procedure_services.application_start(
            procedure=procedure, applicant=None
        ).application,
        path="request.proof",
        upload=other,
        actor=None,
    )
    assert client.get(f"/staff/cases/{case.application_id}/files/{foreign.pk}/").status_code == 404
    assert staff_client(kobe_admin).get(link).status_code == 404


def test_route_pages(procedure, kakogawa_admin, kakogawa_handler, staff_client):
    admin = staff_client(kakogawa_admin)
    assert "決裁（標準）" in html(admin.get("/staff/cases/routes/")).replace("\n", "")
    url = f"/staff/cases/routes/{procedure.pk}/"
    response = admin.post(
        url,
        {
            "action": "add",
            "step-position": "2",
            "step-label": "課長決裁",
            "step-role": "municipality_admin",
            "step-department": "",
            "step-user": "",
        },
    )
    assert response.status_code == 302
    assert [s.label for s in services.approval_route_effective(procedure).steps] == [
        "決裁",
        "課長決裁",
    ]
    response = admin.post(url, {"action": "add", "step-position": "3", "step-label": "x"})
    assert response.status_code == 400
    assert "役割か決裁者のどちらかを指定してください。" in html(response)
    admin.post(url, {"action": "settings"})  # unticked: no 決裁 needed
    assert not services.approval_route_effective(procedure).approval_required
    handler = staff_client(kakogawa_handler)
    assert handler.get(url).status_code == 200
    assert handler.post(url, {"action": "reset"}).status_code == 403


def test_stats_page(procedure, kakogawa_handler, staff_client):
    submit(procedure)
    body = html(staff_client(kakogawa_handler).get("/staff/cases/stats/"))
    assert procedure.name in body
    assert "処理日数（中央値）" in body


def test_issue_link_when_documents_are_mounted(
    procedure, kakogawa_handler, approver, staff_client, settings
):
    # The link comes from documents' AppConfig.ready() through cases.extensions.case_links.
    settings.ROOT_URLCONF = "machi.cases.tests.urls_with_documents"
    case = case_of(submit(procedure))
    services.case_start_review(case=case, actor=kakogawa_handler)
    request = services.case_send_to_approval(
        case=fresh(case), actor=kakogawa_handler, proposed_outcome=ApplicationOutcome.ISSUED
    )
    services.approval_decide(step=request.steps.get(), actor=approver, decision="approve")
    issue = reverse("documents-staff:issue", args=[str(case.application_id)])
    link = f'<a href="{issue}?next={detail_url(case)}" class="button-primary">文書を発行して完了する</a>'
    assert html(staff_client(approver).get(detail_url(case))).count(link) == 1
    # 担当者 may complete without a document but not issue one (決裁者・団体管理者 only).
    body = html(staff_client(kakogawa_handler).get(detail_url(case)))
    assert issue not in body
    assert "文書を発行して完了する" not in body


def test_no_issue_link_before_approval(procedure, approver, staff_client, settings):
    settings.ROOT_URLCONF = "machi.cases.tests.urls_with_documents"
    case = case_of(submit(procedure))
    body = html(staff_client(approver).get(detail_url(case)))
    assert "文書を発行して完了する" not in body
    assert 'class="case-links' not in body


def test_case_page_works_without_the_documents_app(
    procedure, kakogawa_handler, approver, staff_client
):
    case = case_of(submit(procedure))
    services.case_start_review(case=case, actor=kakogawa_handler)
    request = services.case_send_to_approval(
        case=fresh(case), actor=kakogawa_handler, proposed_outcome=ApplicationOutcome.ISSUED
    )
    services.approval_decide(step=request.steps.get(), actor=approver, decision="approve")
    with case_links.override({}):
        response = staff_client(approver).get(detail_url(case))
    body = html(response)
    assert response.status_code == 200
    assert "決裁済み — 交付/通知の準備ができました" in body
    assert "文書を発行して完了する" not in body
    assert 'class="case-links' not in body
    body = html(staff_client(kakogawa_handler).get(detail_url(case)))
    assert "文書を発行せずに完了する" in body


def test_case_links_of_other_apps_are_shown(procedure, kakogawa_handler, staff_client):
    case = case_of(submit(procedure))
    link = CaseLink(target=lambda user, c: CaseLinkTarget(label="外部の処理", url=f"/x/{c.pk}/"))
    with case_links.override({"test.link": link}):
        body = html(staff_client(kakogawa_handler).get(detail_url(case)))
    assert f'<li><a href="/x/{case.pk}/" class="button">外部の処理</a></li>' in body


def test_counter_clerk_cannot_process(procedure, counter_clerk, staff_client):
    case = case_of(submit(procedure))
    client = staff_client(counter_clerk)
    assert client.get(detail_url(case)).status_code == 200
    response = client.post(
        action_url(case, "review"), {"review-lock_version": str(case.application.lock_version)}
    )
    assert response.status_code == 403


def test_member_helper_department(kakogawa, shimin):
    user = member("dept-user", kakogawa, Role.CASE_HANDLER, department=shimin)
    assert user.memberships.get().department == shimin


# Query counts of the two busiest staff pages: exact, and the same whatever the number of rows
# (one query per list, never one per case, note or history entry).
# The queue: session, user, OTP device and memberships come from core's sign-in cache
# (core.auth_cache, warmed by the first request), filter choices from the cases cache; the page
# runs its own three: the page's rows, every tab's capped count in one statement, and the
# handler's waiting approval steps (a handler can be asked by role).
QUEUE_FIRST_PAGE_QUERIES = 3
# The case page (session, user, OTP device and memberships from the sign-in cache): the case
# with its application, procedure, department and assignee; the audit entry of the visit (three
# statements in core's audit_record: chain head, entry, head update; no savepoint); approval
# route and latest request; corrections, notes, status changes, events and the users they name;
# procedures' correction section (application_sections). Assignable staff come from the cached
# choices; an online case has no intake record to read.
CASE_PAGE_QUERIES = 12


@pytest.mark.parametrize("cases", [2, 8])
def test_queue_first_page_query_count(
    procedure, kakogawa_handler, staff_client, django_assert_num_queries, cases
):
    for _ in range(cases):
        services.case_start_review(case=case_of(submit(procedure)), actor=kakogawa_handler)
    client = staff_client(kakogawa_handler)
    client.get("/staff/cases/")  # the session and the language settle on the first request
    with django_assert_num_queries(QUEUE_FIRST_PAGE_QUERIES):
        response = client.get("/staff/cases/")
    assert response.status_code == 200
    assert html(response).count('<tr class="queue-row') == cases


@pytest.mark.parametrize("notes", [0, 5])
def test_case_page_query_count(
    procedure, kakogawa_handler, staff_client, django_assert_num_queries, notes
):
    case = case_of(submit(procedure))
    services.case_start_review(case=case, actor=kakogawa_handler)
    for n in range(notes):
        services.case_note_add(case=case, actor=kakogawa_handler, text=f"メモ{n}")
    client = staff_client(kakogawa_handler)
    client.get("/staff/cases/")
    with django_assert_num_queries(CASE_PAGE_QUERIES):
        response = client.get(detail_url(case))
    assert response.status_code == 200
    body = html(response)
    # Newest first.
    assert [f"メモ{n}" for n in reversed(range(notes))] == re.findall(r"<br>(メモ\d+)</li>", body)


def test_case_page_shows_what_an_answered_correction_changed(
    procedure, kakogawa_handler, staff_client
):
    # procedures contributes the before/after table to the "staff_case" place of the page.
    case = case_of(submit(procedure, {"main": {"name": "山田 太郎"}}))
    services.case_request_correction(
        case=case,
        actor=kakogawa_handler,
        message="氏名の漢字を確認してください。",
        fields=["main.name"],
        deadline=timezone.localdate() + dt.timedelta(days=7),
    )
    procedure_services.application_answer_correction(
        application=fresh(case).application,
        actor=None,
        answers={"main": {"name": "山田 大郎"}},
        note="直しました",
    )
    body = html(staff_client(kakogawa_handler).get(detail_url(case)))
    assert body.count("<strong>山田 大郎</strong>") == 1
    assert "<td>山田 太郎</td>" in body
