"""Demo cases for 加古川市 (282103): applications in every state, through the real services.

The data (people, the 住居表示番号 form, approval routes, and each case with its steps) is in
``demo_data/cases.json``; this loader only reads it and calls services. Needs
``core.demo.load_core_demo`` and ``procedures.demo.load_procedures_demo`` first. Idempotent: each
demo application carries an idempotency key (``demo-cases-NN``) and is created only once.

Some cases are spread over the past days (``backdate_days``) so overdue cases and the numbers
page show something. Only the cases app's own rows are moved (the case's dates, its step
timings, events and approval steps): the application and its status history stay as the
procedures services wrote them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from functools import cache
from importlib import resources
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from machi.cases import services
from machi.cases.models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStep,
    ApprovalStepStatus,
    Case,
    CaseEvent,
    ConfirmationMethod,
    IdentityDocument,
    StepTiming,
)
from machi.core import services as core_services
from machi.core.demo import DEMO_PASSWORD, DEMO_TOTP_KEY_HEX
from machi.core.models import Department, User
from machi.procedures import services as procedure_services
from machi.procedures.selectors import procedure_list_for_staff

KAKOGAWA = "282103"
Person = dict[str, str]


@cache
def demo_data() -> dict[str, Any]:
    """The demo's data file, parsed once."""
    text = resources.files("machi.cases.demo_data").joinpath("cases.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _name(p: Person) -> dict[str, str]:
    return {k: p[k] for k in ("family", "given", "family_kana", "given_kana")}


def _address(p: Person) -> dict[str, str]:
    return {
        "postal_code": p["postal_code"],
        "prefecture": "兵庫県",
        "city": "加古川市",
        "town": p["town"],
        "street": p["street"],
        "building": "",
    }


def _applicant(p: Person) -> dict[str, Any]:
    return {
        "name": _name(p),
        "birth_date": p["birth_date"],
        "address": _address(p),
        "phone": p["phone"],
        "email": p["email"],
    }


def resolve(value: Any, *, people: dict[str, Person], today: dt.date) -> Any:
    """Expand the data file's placeholders: people's parts and dates relative to ``today``."""
    if isinstance(value, dict):
        if "$applicant" in value:
            return _applicant(people[value["$applicant"]])
        if "$name" in value:
            return _name(people[value["$name"]])
        if "$address" in value:
            return _address(people[value["$address"]])
        if "$person" in value:
            return people[value["$person"]][value["field"]]
        return {k: resolve(v, people=people, today=today) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, people=people, today=today) for v in value]
    if isinstance(value, str) and value.startswith("$today"):
        return (today + dt.timedelta(days=int(value[len("$today") :] or 0))).isoformat()
    return value


def _identity(p: Person) -> services.IdentityCheck:
    address = _address(p)
    return services.IdentityCheck(
        document=IdentityDocument.MY_NUMBER_CARD,
        family_name=p["family"],
        given_name=p["given"],
        family_kana=p["family_kana"],
        given_kana=p["given_kana"],
        birth_date=dt.date.fromisoformat(p["birth_date"]),
        postal_code=address["postal_code"],
        prefecture=address["prefecture"],
        city=address["city"],
        town=address["town"],
        street=address["street"],
    )


def _pdf(title: str) -> bytes:
    """A one-page PDF (the demo's scans and attachments)."""
    import pikepdf
    from pikepdf import Dictionary, Name

    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    font = Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)
    page.obj.Resources = Dictionary(Font=Dictionary(F1=font))
    text = title.encode("ascii", "replace")
    page.obj.Contents = pdf.make_stream(b"BT /F1 14 Tf 72 760 Td (" + text + b") Tj ET")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, _pdf(name), content_type="application/pdf")


class _Demo:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.today = timezone.localdate()
        for new in data["new_staff"]:
            self._staff_user(new)
        self.staff = {k: User.objects.get(username=v) for k, v in data["staff"].items()}
        self.people: dict[str, Person] = data["people"]

    def _staff_user(self, spec: dict[str, str]) -> User:
        user = User.objects.filter(username=spec["username"]).first()
        if user is None:
            user, _device = core_services.staff_user_create(
                username=spec["username"],
                password=DEMO_PASSWORD,
                display_name=spec["display_name"],
                email=f"{spec['username']}@demo.machi.example",
                totp_key_hex=DEMO_TOTP_KEY_HEX,
            )
        core_services.membership_grant(
            actor=None,
            user=user,
            municipality_code=KAKOGAWA,
            role=spec["role"],
            department=Department.objects.filter(
                municipality_id=KAKOGAWA, code=spec["department"]
            ).first(),
        )
        return user

    def procedure(self, slug: str) -> Any:
        return procedure_list_for_staff(user=self.staff["admin"]).get(
            municipality_id=KAKOGAWA, slug=slug
        )

    def exists(self, key: str) -> bool:
        return Case.objects.filter(
            municipality_id=KAKOGAWA, application__idempotency_key=key
        ).exists()

    def refresh(self, case: Case) -> Case:
        return Case.objects.select_related("application", "procedure").get(pk=case.pk)

    # --- setting up forms and routes ---

    def setup(self) -> None:
        for slug, definition in self.data["forms"].items():
            procedure = self.procedure(slug)
            if procedure_services.current_form_version(procedure) is None:
                procedure_services.form_version_create(
                    actor=None, procedure=procedure, definition=definition, publish=True
                )
        for route in self.data["routes"]:
            steps = [
                services.RouteStepSpec(
                    position=s["position"],
                    label=s["label"],
                    role=s.get("role", ""),
                    user_id=self.staff[s["user"]].pk if "user" in s else None,
                )
                for s in route["steps"]
            ]
            for slug in route["procedures"]:
                procedure = self.procedure(slug)
                if services.approval_route_effective(procedure).is_default:
                    services.approval_route_save(
                        actor=None,
                        procedure=procedure,
                        steps=steps,
                        approval_required=route.get("approval_required", True),
                    )

    # --- creating applications ---

    def create(self, spec: dict[str, Any]) -> Case:
        person = self.people.get(spec.get("person", ""))
        answers = resolve(spec["answers"], people=self.people, today=self.today)
        email = spec.get("email") or (person or {}).get("email", "")
        if spec["channel"] == "counter":
            if person is None:
                raise ValueError(f"demo case {spec['key']} at the counter needs a person")
            intake = services.intake_start_counter(
                procedure=self.procedure(spec["procedure"]),
                actor=self.staff["counter"],
                identity=_identity(person),
                contact_email=email,
            )
            method = ConfirmationMethod.TABLET_SIGNATURE
        elif spec["channel"] == "paper":
            intake = services.intake_start_paper(
                procedure=self.procedure(spec["procedure"]),
                actor=self.staff["counter"],
                scan=_pdf("paper application scan"),
                scan_name="申請書スキャン.pdf",
                contact_email=email,
            )
            method = ConfirmationMethod.PAPER_SCAN
        else:
            return self.online(spec, answers, email)
        result = services.intake_save_answers(
            intake=intake, actor=self.staff["counter"], answers=answers
        )
        if result.errors:
            raise ValueError(f"demo answers of {spec['key']} are invalid: {result.errors}")
        return services.intake_submit(
            intake=intake,
            actor=self.staff["counter"],
            confirmation_method=method,
            confirmation_name=f"{person['family']} {person['given']}" if person else "",
            resident_confirmed=person is not None,
            idempotency_key=spec["key"],
        )

    def online(self, spec: dict[str, Any], answers: dict[str, Any], email: str) -> Case:
        started = procedure_services.application_start(
            procedure=self.procedure(spec["procedure"]),
            applicant=None,
            contact_email=email,
            language="ja",
        )
        application = started.application
        for path, name in spec.get("files", {}).items():
            stored = procedure_services.attachment_store(
                application=application, path=path, upload=_upload(name), actor=None
            )
            step_key, field_key = path.split(".", 1)
            answers[step_key][field_key] = [str(stored.pk)]
        for step_key, step_answers in answers.items():
            procedure_services.application_save_step(
                application=application, step_key=step_key, step_answers=step_answers
            )
        submitted = procedure_services.application_submit(
            application=application,
            actor=None,
            idempotency_key=spec["key"],
            file_lookup=procedure_services.file_lookup_for(application),
        )
        return services.case_create_for_application(application=submitted)

    # --- moving them along ---

    def step(self, case: Case, step: dict[str, Any], request: ApprovalRequest | None) -> Any:
        """One step of a case's script; returns the approval request when one is drafted."""
        handler = self.staff["handler"]
        fresh = self.refresh(case)
        match step["do"]:
            case "review":
                services.case_start_review(case=fresh, actor=handler)
            case "note":
                services.case_note_add(case=fresh, actor=handler, text=step["text"])
            case "correction":
                services.case_request_correction(
                    case=fresh,
                    actor=handler,
                    message=step["message"],
                    fields=step["fields"],
                    deadline=self.today + dt.timedelta(days=step["deadline_days"]),
                )
            case "draft":
                return services.case_send_to_approval(
                    case=fresh,
                    actor=handler,
                    proposed_outcome=step["outcome"],
                    comment=step["comment"],
                )
            case "decide":
                if request is None:
                    raise ValueError("a demo decision needs a drafted approval request first")
                services.approval_decide(
                    step=ApprovalStep.objects.get(
                        request=request, label=step["step"], status=ApprovalStepStatus.PENDING
                    ),
                    actor=self.staff[step["by"]],
                    decision=ApprovalDecision.APPROVE,
                    acting_for=self.staff[step["acting_for"]] if "acting_for" in step else None,
                )
            case "complete":
                services.case_complete(
                    case=fresh, actor=handler, outcome=step["outcome"], note=step["note"]
                )
            case "applicant_withdraw":
                procedure_services.application_withdraw(
                    application=fresh.application, actor=None, reason=step["reason"]
                )
            case other:
                raise ValueError(f"unknown demo step {other!r}")
        return request

    def backdate(self, case: Case, days: int) -> None:
        """Spread the case's own records over the last ``days`` days (demo data only).

        The step timings are rebuilt along evenly spaced times from ``days`` ago, so the
        numbers page shows realistic durations and the 標準処理期間 can be overdue.
        """
        now = timezone.now()
        start = now - dt.timedelta(days=days)
        span = dt.timedelta(days=days) * 0.9
        shift = now - start
        fresh = self.refresh(case)
        timings = list(StepTiming.objects.filter(case=fresh).order_by("entered_at", "id"))
        for index, timing in enumerate(timings):
            entered = start + span * (index / max(len(timings), 1))
            left = start + span * ((index + 1) / max(len(timings), 1))
            StepTiming.objects.filter(pk=timing.pk).update(
                entered_at=entered, left_at=left if timing.left_at else None
            )
        CaseEvent.objects.filter(case=fresh).update(at=F("at") - shift * 0.5)
        ApprovalStep.objects.filter(request__case=fresh, activated_at__isnull=False).update(
            activated_at=F("activated_at") - shift * 0.3
        )
        ApprovalStep.objects.filter(request__case=fresh, decided_at__isnull=False).update(
            decided_at=F("decided_at") - shift * 0.2
        )
        ApprovalRequest.objects.filter(case=fresh).update(created_at=F("created_at") - shift * 0.3)
        fresh.submitted_at = start
        if fresh.completed_at is not None:
            fresh.completed_at = start + span
        fresh.due_date = services.compute_due_date(
            submitted_at=start, days=fresh.procedure.standard_processing_days
        )
        fresh.save(update_fields=["submitted_at", "completed_at", "due_date", "updated_at"])


@transaction.atomic
def load_cases_demo() -> int:
    """Create 加古川市's demo cases that do not exist yet; return how many were created."""
    demo = _Demo(demo_data())
    demo.setup()
    created = 0
    for spec in demo.data["cases"]:
        if demo.exists(spec["key"]):
            continue
        case = demo.create(spec)
        request = None
        for step in spec["steps"]:
            request = demo.step(case, step, request)
        if spec.get("backdate_days"):
            demo.backdate(case, spec["backdate_days"])
        created += 1
    return created


def demo_statuses() -> dict[str, int]:
    """How many demo cases of 加古川市 are in each state (for checks and the demo summary)."""
    counts: dict[str, int] = {}
    for status in Case.objects.filter(municipality_id=KAKOGAWA).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts
