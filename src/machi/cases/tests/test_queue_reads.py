"""The queue's reads: one membership read per request, cached choices that follow their rows,
one statement for every tab's count, waiting approvals in one query (none for non-approvers),
and selects that print the same HTML as Django's."""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms
from django.test.html import parse_html
from django.utils import timezone

from machi.cases import policy, services
from machi.cases.forms import PlainSelect
from machi.cases.models import ApprovalRoute, ApprovalRouteStep, ApprovalStep, Case
from machi.cases.selectors import (
    QueueFilter,
    approval_pending_for_user,
    case_queue_page,
    case_status_counts,
    municipality_choices,
)
from machi.cases.services import RouteStepSpec, step_eligible
from machi.cases.tests.helpers import case_of, fresh, make_procedure, submit
from machi.core.exceptions import InvalidInput
from machi.core.models import Department, Membership, Role
from machi.procedures.models import ApplicationOutcome, ApplicationStatus

pytestmark = pytest.mark.django_db

QUEUE = "/staff/cases/"


def html(response):
    return response.content.decode()


def options(body: str, name: str) -> str:
    """The ``<select name=…>`` element of a page."""
    start = body.index(f'<select name="{name}"')
    return body[start : body.index("</select>", start)]


# --- Memberships once ---------------------------------------------------------------------------


def test_access_is_read_in_one_query(
    kakogawa, kobe, shimin, django_assert_num_queries, kakogawa_handler
):
    Membership.objects.create(
        user=kakogawa_handler, municipality=kobe, role=Role.COUNTER_CLERK, department=None
    )
    Membership.objects.filter(user=kakogawa_handler, municipality=kakogawa).update(
        department=shimin
    )
    with django_assert_num_queries(1):
        access = policy.access_for(kakogawa_handler)
    assert access.reader_codes == {"282103", "281000"}
    assert access.handler_codes == {"282103"}
    assert access.intake_codes == {"282103", "281000"}
    assert access.route_editor_codes == set()
    assert access.default_department_id == shimin.pk
    assert access.may_approve
    # The same answers as core's selector, role set by role set.
    assert access.reader_codes == policy.reader_codes(kakogawa_handler)
    assert access.handler_codes == policy.handler_codes(kakogawa_handler)
    assert access.intake_codes == policy.intake_codes(kakogawa_handler)


def test_prefecture_admin_access_opens_the_prefecture_for_reading_only(
    kakogawa, kobe, prefecture_admin, django_assert_num_queries
):
    with django_assert_num_queries(2):
        access = policy.access_for(prefecture_admin)
    assert (
        access.reader_codes
        == {"280003", "282103", "281000"}
        == policy.reader_codes(prefecture_admin)
    )
    assert access.handler_codes == set()
    assert not access.may_approve


def test_inactive_user_and_inactive_municipality_give_no_access(kakogawa, kakogawa_handler):
    kakogawa.is_active = False
    kakogawa.save()
    assert policy.access_for(kakogawa_handler).reader_codes == set()
    kakogawa.is_active = True
    kakogawa.save()
    kakogawa_handler.is_active = False
    kakogawa_handler.save()
    assert policy.access_for(kakogawa_handler) == policy.CaseAccess()


# --- Query counts of the queue --------------------------------------------------------------------

# Session, user, OTP device and memberships come from core's sign-in cache (core.auth_cache),
# warmed by each test's first request: the counts below are the queue's own queries.
MIDDLEWARE_QUERIES = 0


def _open_cases(procedure, handler, n):
    for _ in range(n):
        services.case_start_review(case=case_of(submit(procedure)), actor=handler)


def test_queue_with_a_cold_cache_reads_the_choices_in_four_queries(
    procedure, kakogawa_handler, staff_client, django_assert_num_queries
):
    _open_cases(procedure, kakogawa_handler, 2)
    client = staff_client(kakogawa_handler)
    client.get(QUEUE)
    from django.core.cache import cache

    cache.clear()
    # 4 for the choices (names, departments, procedures, staff); rows, counts, approvals.
    with django_assert_num_queries(MIDDLEWARE_QUERIES + 7):
        response = client.get(QUEUE)
    assert response.status_code == 200
    with django_assert_num_queries(MIDDLEWARE_QUERIES + 3):
        client.get(QUEUE)


def test_counter_clerk_queue_skips_the_approvals_query(
    procedure, counter_clerk, kakogawa_handler, staff_client, django_assert_num_queries
):
    _open_cases(procedure, kakogawa_handler, 3)
    client = staff_client(counter_clerk)
    client.get(QUEUE)
    # rows, counts: a counter clerk is never asked to approve.
    with django_assert_num_queries(MIDDLEWARE_QUERIES + 2):
        response = client.get(QUEUE + "?department=all")
    body = html(response)
    assert body.count('<tr class="queue-row') == 3
    assert "あなたの決裁待ち" not in body
    assert 'name="cases"' not in body  # no bulk actions either


def test_prefecture_admin_queue_query_count(
    procedure, kobe, prefecture_admin, kakogawa_handler, staff_client, django_assert_num_queries
):
    _open_cases(procedure, kakogawa_handler, 2)
    client = staff_client(prefecture_admin)
    client.get(QUEUE)
    # rows, counts (the prefecture's municipalities come with the cached roles); no approvals.
    with django_assert_num_queries(MIDDLEWARE_QUERIES + 2):
        response = client.get(QUEUE + "?department=all")
    assert html(response).count('<tr class="queue-row') == 2


def test_approver_queue_lists_waiting_steps_in_one_more_query(
    procedure, kakogawa_handler, approver, staff_client, django_assert_num_queries
):
    case = case_of(submit(procedure))
    services.case_start_review(case=case, actor=kakogawa_handler)
    services.case_send_to_approval(
        case=fresh(case), actor=kakogawa_handler, proposed_outcome=ApplicationOutcome.GRANTED
    )
    client = staff_client(approver)
    client.get(QUEUE)
    # rows, counts, the waiting steps.
    with django_assert_num_queries(MIDDLEWARE_QUERIES + 3):
        response = client.get(QUEUE)
    body = html(response)
    assert "あなたの決裁待ち" in body
    assert (
        f'<a href="/staff/cases/{case.application_id}/">{case.receipt_number} テスト手続</a>'
        in (body)
    )


# --- Counts -----------------------------------------------------------------------------------------


def test_every_tab_count_is_one_statement_with_its_own_cap(
    procedure, kakogawa_handler, django_assert_num_queries
):
    for _ in range(3):
        submit(procedure)
    _open_cases(procedure, kakogawa_handler, 1)
    late = case_of(submit(procedure))
    Case.objects.filter(pk=late.pk).update(due_date=timezone.localdate() - dt.timedelta(days=1))
    access = policy.access_for(kakogawa_handler)
    with django_assert_num_queries(1):
        counts = case_status_counts(
            user=kakogawa_handler, filters=QueueFilter(), cap=3, access=access
        )
    shown = {c.key: (c.count, c.capped, c.display) for c in counts}
    assert shown == {
        ApplicationStatus.SUBMITTED: (3, True, "3+"),  # 4 submitted, capped at 3
        ApplicationStatus.IN_REVIEW: (1, False, "1"),
        ApplicationStatus.CORRECTION_REQUESTED: (0, False, "0"),
        ApplicationStatus.APPROVING: (0, False, "0"),
        ApplicationStatus.COMPLETED: (0, False, "0"),
        ApplicationStatus.WITHDRAWN: (0, False, "0"),
        "overdue": (1, False, "1"),
    }


def test_counts_of_a_foreign_department_need_no_query(
    procedure, kobe, departments, kakogawa_handler, django_assert_num_queries
):
    submit(procedure)
    access = policy.access_for(kakogawa_handler)
    municipality_choices(codes=access.reader_codes, user=kakogawa_handler)  # warm
    foreign = QueueFilter(department_id=departments["kobe"].pk)
    with django_assert_num_queries(0):
        counts = case_status_counts(user=kakogawa_handler, filters=foreign, access=access)
        page = case_queue_page(user=kakogawa_handler, filters=foreign, access=access)
    assert [c.count for c in counts] == [0] * 7
    assert page.cases == []


def test_page_rows_carry_what_the_queue_shows(procedure, kakogawa_handler, shimin):
    case = case_of(submit(procedure))
    services.case_assign(case=case, actor=kakogawa_handler, assignee=kakogawa_handler)
    page = case_queue_page(user=kakogawa_handler, filters=QueueFilter())
    (row,) = page.cases
    case = fresh(case)
    assert (row.pk, row.application_id, row.receipt) == (
        case.pk,
        case.application_id,
        case.receipt_number,
    )
    assert (row.procedure_name, row.status, row.status_label) == ("テスト手続", "submitted", "受付")
    assert (row.channel_label, row.assignee_label, row.department_name) == (
        "オンライン",
        str(kakogawa_handler),
        "市民課",
    )
    submitted = timezone.localtime(case.submitted_at)
    assert row.submitted_iso == submitted.isoformat()
    assert row.submitted_day == submitted.strftime("%Y-%m-%d")
    assert row.due_day == case.due_date.isoformat()
    assert not row.overdue and not row.approved and row.outcome_label == ""


# --- Cached choices follow their rows -------------------------------------------------------------


def test_choices_are_cached_per_municipality_and_never_cross_tenants(
    procedure, kobe, kakogawa_handler, kobe_admin, staff_client
):
    make_procedure(kobe, name="神戸の手続")
    ours = html(staff_client(kakogawa_handler).get(QUEUE))
    theirs = html(staff_client(kobe_admin).get(QUEUE))
    assert "テスト手続" in options(ours, "procedure")
    assert "神戸の手続" not in options(ours, "procedure")
    assert "神戸の手続" in options(theirs, "procedure")
    assert "テスト手続" not in options(theirs, "procedure")
    assert "kakogawa-handler" not in options(theirs, "assignee")


def test_new_and_renamed_rows_show_on_the_next_page(
    procedure, kakogawa, kakogawa_handler, staff_client
):
    client = staff_client(kakogawa_handler)
    assert "福祉課" not in options(html(client.get(QUEUE)), "department")
    welfare = Department.objects.create(municipality=kakogawa, code="fukushi", name="福祉課")
    assert f'<option value="{welfare.pk}">福祉課</option>' in options(
        html(client.get(QUEUE)), "department"
    )
    welfare.name = "福祉総務課"
    welfare.save()
    body = html(client.get(QUEUE))
    assert "福祉総務課" in options(body, "department")
    welfare.delete()
    assert "福祉" not in options(html(client.get(QUEUE)), "department")
    make_procedure(kakogawa, name="新しい手続")
    assert "新しい手続" in options(html(client.get(QUEUE)), "procedure")


def test_staff_choices_follow_memberships_and_names(
    procedure, kakogawa, kakogawa_handler, handler2, staff_client
):
    _open_cases(procedure, kakogawa_handler, 1)  # a row, so the bulk form is shown too
    client = staff_client(kakogawa_handler)
    assert f'<option value="{handler2.pk}">kakogawa-handler2</option>' in options(
        html(client.get(QUEUE)), "assignee"
    )
    handler2.display_name = "加古川 花子"
    handler2.save()
    assert f'<option value="{handler2.pk}">加古川 花子</option>' in options(
        html(client.get(QUEUE)), "assignee"
    )
    Membership.objects.get(user=handler2).delete()
    body = html(client.get(QUEUE))
    bulk = body[body.index('class="bulk-actions"') :]
    assert f'<option value="{kakogawa_handler.pk}">' in options(bulk, "assignee")
    assert "加古川 花子" not in body
    assert f'<option value="{handler2.pk}">' not in body


def test_a_sign_in_does_not_drop_the_cached_choices(kakogawa, kakogawa_handler):
    access = policy.access_for(kakogawa_handler)
    first = municipality_choices(codes=access.reader_codes, user=kakogawa_handler)
    kakogawa_handler.last_login = timezone.now()
    kakogawa_handler.save(update_fields=["last_login"])
    from django.core.cache import cache

    assert cache.get(f"cases:choices:v1:{kakogawa.code}") == first[kakogawa.code]


# --- Waiting approvals ------------------------------------------------------------------------------


@pytest.fixture
def routed(procedure, shimin, kakogawa, kakogawa_admin, approver2):
    """係長決裁 (決裁者 of 市民課) ‖ 課長決裁 (approver2 by name) ‖ 他課決裁 (決裁者 of 福祉課)."""
    welfare = Department.objects.create(municipality=kakogawa, code="fukushi", name="福祉課")
    services.approval_route_save(
        actor=kakogawa_admin,
        procedure=procedure,
        steps=[
            RouteStepSpec(1, "係長決裁", role=Role.APPROVER, department_id=shimin.pk),
            RouteStepSpec(1, "課長決裁", user_id=approver2.pk),
            RouteStepSpec(1, "他課決裁", role=Role.APPROVER, department_id=welfare.pk),
        ],
    )
    return procedure


def test_waiting_steps_are_those_step_eligible_allows(
    routed, kakogawa_handler, approver, approver2, counter_clerk, django_assert_num_queries
):
    case = case_of(submit(routed))
    services.case_start_review(case=case, actor=kakogawa_handler)
    request = services.case_send_to_approval(
        case=fresh(case), actor=kakogawa_handler, proposed_outcome=ApplicationOutcome.GRANTED
    )
    steps = list(ApprovalStep.objects.filter(request=request))
    for user in (approver, approver2, kakogawa_handler, counter_clerk):
        access = policy.access_for(user)
        with django_assert_num_queries(1 if access.may_approve else 0):
            pending = approval_pending_for_user(user=user, access=access)
        expected = [
            s.label
            for s in sorted(steps, key=lambda s: (s.activated_at, s.pk))
            if step_eligible(s, user, s.request.municipality_id)
            and user.pk != request.drafted_by_id
        ]
        assert [s.label for s in pending] == expected
    assert [s.label for s in approval_pending_for_user(user=approver)] == ["係長決裁"]
    assert [s.label for s in approval_pending_for_user(user=approver2)] == ["係長決裁", "課長決裁"]
    assert approval_pending_for_user(user=kakogawa_handler) == []  # the drafter


def test_route_cannot_name_someone_who_cannot_approve(
    procedure, kakogawa_admin, counter_clerk, approver
):
    with pytest.raises(InvalidInput) as raised:
        services.approval_route_save(
            actor=kakogawa_admin,
            procedure=procedure,
            steps=[RouteStepSpec(1, "窓口決裁", user_id=counter_clerk.pk)],
        )
    assert raised.value.field_errors["user"] == ["この団体の職員を選んでください。"]
    assert not ApprovalRoute.objects.filter(procedure_id=procedure.pk).exists()
    # An approver may still be named.
    services.approval_route_save(
        actor=kakogawa_admin,
        procedure=procedure,
        steps=[RouteStepSpec(1, "決裁", user_id=approver.pk)],
    )
    assert list(
        ApprovalRouteStep.objects.filter(route__procedure_id=procedure.pk).values_list(
            "label", "user_id"
        )
    ) == [("決裁", approver.pk)]


# --- Selects -----------------------------------------------------------------------------------------


class _Plain(forms.Form):
    kind = forms.ChoiceField(
        choices=[("", "すべて"), ("a", "<b>A&B</b>"), ("b", "B")],
        required=False,
        widget=PlainSelect,
    )
    needed = forms.ChoiceField(choices=[("x", "X"), ("y", "Y")], widget=PlainSelect)


class _Django(forms.Form):
    kind = forms.ChoiceField(
        choices=[("", "すべて"), ("a", "<b>A&B</b>"), ("b", "B")], required=False
    )
    needed = forms.ChoiceField(choices=[("x", "X"), ("y", "Y")])


@pytest.mark.parametrize("data", [None, {"kind": "a"}, {"kind": "zz", "needed": "y"}, {}])
def test_plain_select_prints_what_django_prints(data):
    plain, django = _Plain(data), _Django(data)
    if data is not None:
        plain.is_valid()
        django.is_valid()
    for name in ("kind", "needed"):
        # Same elements, attributes (in any order) and text.
        assert parse_html(str(plain[name])) == parse_html(str(django[name]))


def test_farthest_deadline_first_is_the_exact_reverse(procedure, kakogawa_handler):
    cases = [case_of(submit(procedure)) for _ in range(3)]
    today = timezone.localdate()
    for case, due in zip(cases, (today + dt.timedelta(days=9), None, today), strict=True):
        Case.objects.filter(pk=case.pk).update(due_date=due)
    near = [r.pk for r in case_queue_page(user=kakogawa_handler, filters=QueueFilter()).cases]
    far = [
        r.pk for r in case_queue_page(user=kakogawa_handler, filters=QueueFilter(sort="-due")).cases
    ]
    assert near == [cases[2].pk, cases[0].pk, cases[1].pk]  # no deadline last
    assert far == list(reversed(near))


# The row markup the template printed before the rows were built in Python (one template per row).
_ROW_TEMPLATE = """{% load i18n %}{% for c in rows %}<tr class="queue-row">
{% if can_bulk %}<td class="queue-select"><input type="checkbox" name="cases" value="{{ c.pk }}" id="case-{{ c.pk }}"><label for="case-{{ c.pk }}" class="visually-hidden">{% blocktranslate with r=c.receipt %}{{ r }} を選ぶ{% endblocktranslate %}</label></td>{% endif %}
<th scope="row" data-label="{% translate '受付番号' %}"><a href="{{ base }}{{ c.application_id }}/">{{ c.receipt }}</a></th>
<td data-label="{% translate '手続' %}">{{ c.procedure_name }}</td>
<td data-label="{% translate '状態' %}"><span class="status status-{{ c.status }}">{{ c.status_label }}</span>{% if c.approved %} <span class="status status-approved">{% translate "決裁済み" %}</span>{% endif %}{% if c.outcome_label %}（{{ c.outcome_label }}）{% endif %}</td>
<td data-label="{% translate '受付方法' %}">{{ c.channel_label }}</td>
<td data-label="{% translate '申請日' %}"><time datetime="{{ c.submitted_iso }}">{{ c.submitted_day }}</time></td>
<td data-label="{% translate '処理期限' %}">{% if c.due_day %}<time datetime="{{ c.due_day }}">{{ c.due_day }}</time>{% if c.overdue %} <strong class="overdue">{% translate "期限超過" %}</strong>{% endif %}{% else %}—{% endif %}</td>
<td data-label="{% translate '担当者' %}">{{ c.assignee_label|default:"—" }}</td>
<td data-label="{% translate '担当課' %}">{{ c.department_name|default:"—" }}</td>
</tr>{% endfor %}"""


@pytest.mark.parametrize("can_bulk", [True, False])
@pytest.mark.parametrize("language", ["ja", "en"])
def test_rows_built_in_python_print_what_the_template_printed(
    procedure, kakogawa, kakogawa_handler, can_bulk, language
):
    import sys

    from django.template import Context, Template
    from django.utils import translation

    queue_views = sys.modules["machi.cases.staff_views.queue"]
    odd = make_procedure(kakogawa, name='<b>ごみ</b> & "粗大"')
    cases = [case_of(submit(procedure)), case_of(submit(odd)), case_of(submit(procedure))]
    services.case_assign(case=cases[0], actor=kakogawa_handler, assignee=kakogawa_handler)
    Case.objects.filter(pk=cases[1].pk).update(
        due_date=timezone.localdate() - dt.timedelta(days=2), receipt_number=""
    )
    Case.objects.filter(pk=cases[2].pk).update(
        due_date=None,
        status=ApplicationStatus.APPROVING,
        approval_state="approved",
        outcome=ApplicationOutcome.GRANTED,
    )
    rows = case_queue_page(user=kakogawa_handler, filters=QueueFilter(status="all")).cases
    assert len(rows) == 3
    with translation.override(language):
        built = queue_views._rows_html(rows, detail_base="/staff/cases/", can_bulk=can_bulk)
        printed = Template(_ROW_TEMPLATE).render(
            Context({"rows": rows, "base": "/staff/cases/", "can_bulk": can_bulk})
        )
    assert parse_html(str(built)) == parse_html(printed)
    assert "&lt;b&gt;ごみ&lt;/b&gt; &amp; &quot;粗大&quot;" in built
    assert built.count('class="overdue"') == 1 and built.count("status-approved") == 1
