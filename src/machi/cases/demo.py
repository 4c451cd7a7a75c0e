"""Demo cases for 加古川市 (282103): applications in every state, through the real services.

Needs ``core.demo.load_core_demo`` and ``procedures.demo.load_procedures_demo`` first.
Idempotent: each demo application carries an idempotency key (``demo-cases-NN``) and is
created only once. Adds what the demo needs and the other demos do not have:

* staff ``kakogawa-kacho`` (加古川 課長, 決裁者, 市民課), named in the 課長決裁 step;
* a form for 住居表示番号の交付申請 (``jukyo-hyouji``, 市民課, counter/post) so the 市民課
  queue of ``kakogawa-handler`` has counter and paper cases;
* approval routes: 係長決裁 (決裁者) → 課長決裁 (kakogawa-kacho) for most procedures, a
  parallel group (課長決裁 ‖ 団体管理者確認) for 道路占用許可, and no 決裁 for 粗大ごみ.

Times are moved into the past for some cases (demo data only) so overdue cases and the
numbers page show something.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
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
from machi.core.models import Department, Role, User
from machi.core.validators import corporate_number_check_digit
from machi.procedures import services as procedure_services
from machi.procedures.demo_forms import APPLICANT_STEP, label, options
from machi.procedures.models import (
    Application,
    ApplicationOutcome,
    ApplicationStatus,
    Procedure,
    StatusChange,
)

KAKOGAWA = "282103"
KACHO = ("kakogawa-kacho", "加古川 課長")

JUKYO_FORM: dict[str, Any] = {
    "schema": 1,
    "steps": [
        APPLICANT_STEP,
        {
            "key": "building",
            "title": label("建物について", "The building"),
            "fields": [
                {
                    "key": "location",
                    "type": "text",
                    "label": label("建物の所在地（地番）", "Lot number"),
                    "required": True,
                    "max_length": 100,
                },
                {
                    "key": "kind",
                    "type": "choice",
                    "label": label("建物の種類", "Kind of building"),
                    "required": True,
                    "widget": "radio",
                    "options": options(
                        ("house", "一戸建て住宅", "House"),
                        ("apartment", "共同住宅", "Apartment building"),
                        ("office", "店舗・事務所", "Shop or office"),
                    ),
                },
                {
                    "key": "completion_date",
                    "type": "date",
                    "label": label("完成（予定）日", "Completion date"),
                    "required": True,
                },
                {
                    "key": "entrance",
                    "type": "textarea",
                    "label": label("主な出入口の位置", "Main entrance"),
                    "required": True,
                    "max_length": 500,
                },
            ],
        },
    ],
}


@dataclass(frozen=True)
class Person:
    family: str
    given: str
    family_kana: str
    given_kana: str
    birth_date: str
    postal_code: str
    town: str
    street: str
    phone: str
    email: str


PEOPLE = [
    Person(
        "加古川",
        "太郎",
        "カコガワ",
        "タロウ",
        "1985-04-12",
        "6750064",
        "加古川町溝之口",
        "800番地",
        "079-421-2000",
        "taro@example.jp",
    ),
    Person(
        "尾上",
        "花子",
        "オノエ",
        "ハナコ",
        "1990-09-03",
        "6750025",
        "尾上町養田",
        "1丁目2-3",
        "079-456-1111",
        "hanako@example.jp",
    ),
    Person(
        "平岡",
        "健一",
        "ヒラオカ",
        "ケンイチ",
        "1978-01-20",
        "6750101",
        "平岡町新在家",
        "2丁目5-8",
        "079-435-2222",
        "kenichi@example.jp",
    ),
    Person(
        "別府",
        "さくら",
        "ベフ",
        "サクラ",
        "1995-11-30",
        "6750124",
        "別府町緑町",
        "3-14",
        "079-437-3333",
        "sakura@example.jp",
    ),
    Person(
        "野口",
        "誠",
        "ノグチ",
        "マコト",
        "1969-07-07",
        "6750012",
        "野口町野口",
        "120番地の1",
        "079-422-4444",
        "makoto@example.jp",
    ),
    Person(
        "神野",
        "由美",
        "カンノ",
        "ユミ",
        "1982-03-15",
        "6750003",
        "神野町神野",
        "45番地",
        "079-438-5555",
        "yumi@example.jp",
    ),
]


def _name(p: Person) -> dict[str, str]:
    return {
        "family": p.family,
        "given": p.given,
        "family_kana": p.family_kana,
        "given_kana": p.given_kana,
    }


def _address(p: Person) -> dict[str, str]:
    return {
        "postal_code": p.postal_code,
        "prefecture": "兵庫県",
        "city": "加古川市",
        "town": p.town,
        "street": p.street,
        "building": "",
    }


def _applicant(p: Person) -> dict[str, Any]:
    return {
        "name": _name(p),
        "birth_date": p.birth_date,
        "address": _address(p),
        "phone": p.phone,
        "email": p.email,
    }


def _identity(p: Person) -> services.IdentityCheck:
    address = _address(p)
    return services.IdentityCheck(
        document=IdentityDocument.MY_NUMBER_CARD,
        family_name=p.family,
        given_name=p.given,
        family_kana=p.family_kana,
        given_kana=p.given_kana,
        birth_date=dt.date.fromisoformat(p.birth_date),
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
    def __init__(self) -> None:
        self.today = timezone.localdate()
        self.handler = User.objects.get(username="kakogawa-handler")
        self.approver = User.objects.get(username="kakogawa-approver")
        self.counter = User.objects.get(username="kakogawa-counter")
        self.admin = User.objects.get(username="kakogawa-admin")
        self.kacho = self._kacho()

    def _kacho(self) -> User:
        username, display_name = KACHO
        user = User.objects.filter(username=username).first()
        if user is None:
            user, _device = core_services.staff_user_create(
                username=username,
                password=DEMO_PASSWORD,
                display_name=display_name,
                email=f"{username}@demo.machi.example",
                totp_key_hex=DEMO_TOTP_KEY_HEX,
            )
        core_services.membership_grant(
            actor=None,
            user=user,
            municipality_code=KAKOGAWA,
            role=Role.APPROVER,
            department=Department.objects.filter(municipality_id=KAKOGAWA, code="shimin").first(),
        )
        return user

    def procedure(self, slug: str) -> Procedure:
        return Procedure.objects.get(municipality_id=KAKOGAWA, slug=slug)

    def exists(self, key: str) -> bool:
        return Application.objects.filter(municipality_id=KAKOGAWA, idempotency_key=key).exists()

    # --- creating applications ---

    def online(
        self,
        key: str,
        slug: str,
        answers: dict[str, Any],
        email: str,
        files: dict[str, str] | None = None,
    ) -> Case:
        procedure = self.procedure(slug)
        started = procedure_services.application_start(
            procedure=procedure, applicant=None, contact_email=email, language="ja"
        )
        application = started.application
        for path, name in (files or {}).items():
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
            idempotency_key=key,
            file_lookup=procedure_services.file_lookup_for(application),
        )
        return services.case_create_for_application(application=submitted)

    def counter_intake(self, key: str, slug: str, person: Person, answers: dict[str, Any]) -> Case:
        intake = services.intake_start_counter(
            procedure=self.procedure(slug),
            actor=self.counter,
            identity=_identity(person),
            contact_email=person.email,
        )
        result = services.intake_save_answers(intake=intake, actor=self.counter, answers=answers)
        if result.errors:
            raise ValueError(f"demo answers for {slug} are invalid: {result.errors}")
        return services.intake_submit(
            intake=intake,
            actor=self.counter,
            confirmation_method=ConfirmationMethod.TABLET_SIGNATURE,
            confirmation_name=f"{person.family} {person.given}",
            resident_confirmed=True,
            idempotency_key=key,
        )

    def paper_intake(self, key: str, slug: str, answers: dict[str, Any], email: str) -> Case:
        intake = services.intake_start_paper(
            procedure=self.procedure(slug),
            actor=self.counter,
            scan=_pdf("paper application scan"),
            scan_name="申請書スキャン.pdf",
            contact_email=email,
        )
        result = services.intake_save_answers(intake=intake, actor=self.counter, answers=answers)
        if result.errors:
            raise ValueError(f"demo answers for {slug} are invalid: {result.errors}")
        return services.intake_submit(
            intake=intake,
            actor=self.counter,
            confirmation_method=ConfirmationMethod.PAPER_SCAN,
            idempotency_key=key,
        )

    # --- moving them along ---

    def refresh(self, case: Case) -> Case:
        return Case.objects.select_related("application", "procedure").get(pk=case.pk)

    def review(self, case: Case) -> Case:
        services.case_start_review(case=self.refresh(case), actor=self.handler)
        return self.refresh(case)

    def draft(self, case: Case, outcome: str, comment: str) -> ApprovalRequest:
        return services.case_send_to_approval(
            case=self.refresh(case), actor=self.handler, proposed_outcome=outcome, comment=comment
        )

    def decide(
        self, request: ApprovalRequest, actor: User, label_: str, acting_for: User | None = None
    ) -> None:
        step = ApprovalStep.objects.get(
            request=request, label=label_, status=ApprovalStepStatus.PENDING
        )
        services.approval_decide(
            step=step,
            actor=actor,
            decision=ApprovalDecision.APPROVE,
            comment="",
            acting_for=acting_for,
        )

    def complete(self, case: Case, outcome: str, note: str = "") -> Case:
        return services.case_complete(
            case=self.refresh(case), actor=self.handler, outcome=outcome, note=note
        )

    def backdate(self, case: Case, days: int) -> None:
        """Spread the case's history over the last ``days`` days (demo data only).

        The status changes are moved to evenly spaced times from ``days`` ago, and the
        timings rebuilt from them, so the numbers page shows realistic durations.
        """
        now = timezone.now()
        start = now - dt.timedelta(days=days)
        application_id = case.application_id
        changes = list(StatusChange.objects.filter(application_id=application_id).order_by("id"))
        span = dt.timedelta(days=days) * 0.9
        for index, change in enumerate(changes):
            change.at = start + span * (index / max(len(changes) - 1, 1))
            StatusChange.objects.filter(pk=change.pk).update(at=change.at)
        submitted_at = next(c.at for c in changes if c.to_status == ApplicationStatus.SUBMITTED)
        completed_at = next(
            (c.at for c in changes if c.to_status == ApplicationStatus.COMPLETED), None
        )
        shift = now - start
        Application.objects.filter(pk=application_id).update(
            submitted_at=submitted_at, created_at=submitted_at, completed_at=completed_at
        )
        CaseEvent.objects.filter(case=case).update(at=F("at") - shift * 0.5)
        ApprovalStep.objects.filter(request__case=case, activated_at__isnull=False).update(
            activated_at=F("activated_at") - shift * 0.3
        )
        ApprovalStep.objects.filter(request__case=case, decided_at__isnull=False).update(
            decided_at=F("decided_at") - shift * 0.2
        )
        ApprovalRequest.objects.filter(case=case).update(created_at=F("created_at") - shift * 0.3)
        fresh = Case.objects.select_related("procedure").get(pk=case.pk)
        StepTiming.objects.filter(case=fresh).delete()
        fresh.history_applied_id = 0
        fresh.correction_count = 0
        services.fold_history(fresh, changes)
        fresh.submitted_at = submitted_at
        fresh.completed_at = completed_at
        fresh.due_date = services.compute_due_date(
            submitted_at=submitted_at, days=fresh.procedure.standard_processing_days
        )
        fresh.save()


def _setup(demo: _Demo) -> None:
    jukyo = demo.procedure("jukyo-hyouji")
    if procedure_services.current_form_version(jukyo) is None:
        procedure_services.form_version_create(
            actor=None, procedure=jukyo, definition=JUKYO_FORM, publish=True
        )
    two_step = [
        services.RouteStepSpec(1, "係長決裁", role=Role.APPROVER),
        services.RouteStepSpec(2, "課長決裁", user_id=demo.kacho.pk),
    ]
    for slug in ("jukyo-hyouji", "jidou-teate", "risai-shomei", "inu-touroku", "koubunsho-koukai"):
        procedure = demo.procedure(slug)
        if not services.approval_route_effective(procedure).is_default:
            continue
        services.approval_route_save(actor=None, procedure=procedure, steps=two_step)
    douro = demo.procedure("dourosenyou")
    if services.approval_route_effective(douro).is_default:
        services.approval_route_save(
            actor=None,
            procedure=douro,
            steps=[
                services.RouteStepSpec(1, "係長決裁", role=Role.APPROVER),
                services.RouteStepSpec(2, "課長決裁", user_id=demo.kacho.pk),
                services.RouteStepSpec(2, "団体管理者確認", role=Role.MUNICIPALITY_ADMIN),
            ],
        )
    gomi = demo.procedure("sodai-gomi")
    if services.approval_route_effective(gomi).is_default:
        services.approval_route_save(actor=None, procedure=gomi, steps=[], approval_required=False)


def _jukyo_answers(p: Person, lot: str, kind: str) -> dict[str, Any]:
    return {
        "applicant": _applicant(p),
        "building": {
            "location": lot,
            "kind": kind,
            "completion_date": "2026-12-20",
            "entrance": "北側の市道に面した玄関",
        },
    }


def _corporate_number() -> str:
    body = "180001012345"
    return f"{corporate_number_check_digit(body)}{body}"


@transaction.atomic
def load_cases_demo() -> int:
    """Create 加古川市's demo cases that do not exist yet; return how many were created."""
    demo = _Demo()
    _setup(demo)
    today = demo.today
    created = 0
    taro, hanako, kenichi, sakura, makoto, yumi = PEOPLE

    def later(days: int) -> str:
        return (today + dt.timedelta(days=days)).isoformat()

    def gomi_answers(p: Person) -> dict[str, Any]:
        return {
            "applicant": {
                "name": _name(p),
                "address": _address(p),
                "phone": p.phone,
                "email": p.email,
            },
            "items": {
                "items": [
                    {"kind": "sofa", "count": "1"},
                    {"kind": "other", "other_name": "電子ピアノ", "count": "1"},
                ],
                "date": later(10),
            },
        }

    def dog_answers(p: Person, dog: str) -> dict[str, Any]:
        return {
            "applicant": _applicant(p),
            "dog": {
                "dog_name": dog,
                "breed": "柴犬",
                "birth_date": "2025-05-01",
                "sex": "male",
                "color": "赤",
            },
        }

    # 01 受付 (counter, 書かない窓口)
    if not demo.exists("demo-cases-01"):
        demo.counter_intake(
            "demo-cases-01",
            "jukyo-hyouji",
            taro,
            _jukyo_answers(taro, "加古川町溝之口字東812番1", "house"),
        )
        created += 1
    # 02 受付 (paper)
    if not demo.exists("demo-cases-02"):
        demo.paper_intake(
            "demo-cases-02",
            "jukyo-hyouji",
            _jukyo_answers(hanako, "尾上町養田字中1020番", "apartment"),
            hanako.email,
        )
        created += 1
    # 03 受付 (online, with an attachment)
    if not demo.exists("demo-cases-03"):
        demo.online(
            "demo-cases-03",
            "inu-touroku",
            dog_answers(kenichi, "こむぎ"),
            kenichi.email,
            files={"dog.vaccination": "狂犬病予防注射済証明書.pdf"},
        )
        created += 1
    # 04 審査中, assigned, with a note, past its 標準処理期間
    if not demo.exists("demo-cases-04"):
        case = demo.online("demo-cases-04", "sodai-gomi", gomi_answers(sakura), sakura.email)
        case = demo.review(case)
        services.case_note_add(
            case=case, actor=demo.handler, text="収集日の調整のため申請者に電話予定（午後）。"
        )
        demo.backdate(case, 20)
        created += 1
    # 05 補正依頼中
    if not demo.exists("demo-cases-05"):
        case = demo.counter_intake(
            "demo-cases-05",
            "jukyo-hyouji",
            makoto,
            _jukyo_answers(makoto, "野口町野口字西", "office"),
        )
        case = demo.review(case)
        services.case_request_correction(
            case=case,
            actor=demo.handler,
            message="建物の所在地の地番が途中までになっています。登記のとおりに入力してください。",
            fields=["building.location"],
            deadline=today + dt.timedelta(days=14),
        )
        demo.backdate(case, 3)
        created += 1
    # 06 決裁中: two-step route, waiting for 係長決裁
    if not demo.exists("demo-cases-06"):
        case = demo.counter_intake(
            "demo-cases-06",
            "jukyo-hyouji",
            yumi,
            _jukyo_answers(yumi, "神野町神野字北45番3", "house"),
        )
        case = demo.review(case)
        demo.draft(
            case,
            ApplicationOutcome.GRANTED,
            "現地を確認しました。住居番号「45番3号」を付番します。",
        )
        demo.backdate(case, 2)
        created += 1
    # 07 決裁中: 係長決裁 approved, waiting for 課長決裁
    if not demo.exists("demo-cases-07"):
        case = demo.online(
            "demo-cases-07",
            "koubunsho-koukai",
            {
                "requester": {
                    "name": {"family": "播磨", "given": "次郎"},
                    "address": _address(taro),
                    "email": "jiro@example.jp",
                },
                "request": {
                    "documents": "令和7年度 加古川市道路補修工事の契約書（金額が分かるもの）",
                    "method": "electronic",
                },
            },
            "jiro@example.jp",
        )
        case = demo.review(case)
        request = demo.draft(case, ApplicationOutcome.ISSUED, "全部公開で差し支えありません。")
        demo.decide(request, demo.approver, "係長決裁")
        demo.backdate(case, 5)
        created += 1
    # 08 完了（許可）: parallel group 課長決裁 ‖ 団体管理者確認
    if not demo.exists("demo-cases-08"):
        case = demo.online(
            "demo-cases-08",
            "dourosenyou",
            {
                "company": {
                    "company_name": "株式会社かこがわ電設",
                    "corporate_number": _corporate_number(),
                    "representative": _name(kenichi),
                    "address": _address(kenichi),
                    "phone": "079-435-9000",
                    "email": "info@kakogawa-densetsu.example.jp",
                },
                "occupancy": {
                    "location": "加古川市平岡町新在家 市道平岡東線",
                    "object": "scaffold",
                    "area": "12.5",
                    "start": later(14),
                    "end": later(44),
                },
            },
            "info@kakogawa-densetsu.example.jp",
            files={"occupancy.drawing": "位置図・平面図.pdf"},
        )
        case = demo.review(case)
        request = demo.draft(case, ApplicationOutcome.GRANTED, "占用基準に適合しています。")
        demo.decide(request, demo.approver, "係長決裁")
        demo.decide(request, demo.kacho, "課長決裁")
        demo.decide(request, demo.admin, "団体管理者確認")
        demo.complete(case, ApplicationOutcome.GRANTED, "道路占用許可書を郵送します。")
        demo.backdate(case, 15)
        created += 1
    # 09 完了（交付）: 課長決裁 by 代決 (団体管理者 for the absent 課長)
    if not demo.exists("demo-cases-09"):
        case = demo.counter_intake(
            "demo-cases-09",
            "risai-shomei",
            hanako,
            {
                "applicant": _applicant(hanako),
                "damage": {
                    "disaster_date": (today - dt.timedelta(days=20)).isoformat(),
                    "damaged_address": _address(hanako),
                    "cause": "flood",
                    "description": "台風による床上浸水で1階の床と壁が損傷しました。",
                    "photos": [],
                },
            },
        )
        case = demo.review(case)
        request = demo.draft(
            case, ApplicationOutcome.ISSUED, "現地調査の結果、半壊と判定しました。"
        )
        demo.decide(request, demo.approver, "係長決裁")
        demo.decide(request, demo.admin, "課長決裁", acting_for=demo.kacho)
        demo.complete(case, ApplicationOutcome.ISSUED, "罹災証明書を交付しました。")
        demo.backdate(case, 8)
        created += 1
    # 10 完了（却下）
    if not demo.exists("demo-cases-10"):
        case = demo.counter_intake(
            "demo-cases-10",
            "jidou-teate",
            makoto,
            {
                "applicant": _applicant(makoto),
                "children": {
                    "children": [
                        {
                            "name": {
                                "family": "野口",
                                "given": "陽太",
                                "family_kana": "ノグチ",
                                "given_kana": "ヒナタ",
                            },
                            "birth_date": "2004-06-15",
                            "lives_together": False,
                        }
                    ]
                },
                "payment": {
                    "bank": "播州信用金庫",
                    "branch": "加古川支店",
                    "account_number": "1234567",
                    "consent": True,
                },
            },
        )
        case = demo.review(case)
        request = demo.draft(
            case, ApplicationOutcome.REJECTED, "対象となる年齢（高校生年代まで）を超えています。"
        )
        demo.decide(request, demo.approver, "係長決裁")
        demo.decide(request, demo.kacho, "課長決裁")
        demo.complete(
            case, ApplicationOutcome.REJECTED, "支給対象となるお子さんがいないため却下しました。"
        )
        demo.backdate(case, 12)
        created += 1
    # 11 取下げ (by the applicant)
    if not demo.exists("demo-cases-11"):
        case = demo.online("demo-cases-11", "sodai-gomi", gomi_answers(taro), taro.email)
        procedure_services.application_withdraw(
            application=demo.refresh(case).application, actor=None, reason="自分で処分しました。"
        )
        services.case_sync(application=demo.refresh(case).application)
        demo.backdate(case, 4)
        created += 1
    # 12 完了（交付）without 決裁 (粗大ごみ: no approval route)
    if not demo.exists("demo-cases-12"):
        case = demo.online("demo-cases-12", "sodai-gomi", gomi_answers(yumi), yumi.email)
        case = demo.review(case)
        demo.complete(case, ApplicationOutcome.ISSUED, "収集日と処理券の番号をお知らせします。")
        demo.backdate(case, 6)
        created += 1
    # 13 受付: a second online case with an attachment
    if not demo.exists("demo-cases-13"):
        demo.online(
            "demo-cases-13",
            "inu-touroku",
            dog_answers(sakura, "まめ"),
            sakura.email,
            files={"dog.vaccination": "注射済証.pdf"},
        )
        created += 1
    return created


def demo_statuses() -> dict[str, int]:
    """How many demo cases of 加古川市 are in each state (for checks and the demo summary)."""
    counts: dict[str, int] = {}
    for status in Case.objects.filter(municipality_id=KAKOGAWA).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts
