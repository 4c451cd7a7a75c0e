"""Bench data: 兵庫県 and its 41 municipalities, 25 departments each, one staff admin,
加古川市's demo catalog with forms, and a catalog of ≥ 5,000 published procedures; then
(``load_cases``) a million bulk cases over 40 municipalities and a 担当者 of 加古川市.

Loaded through Machi's own services (validation, audit entries), so the data is what a real
installation would hold; only the large catalog is bulk-inserted, with ``search_text`` built by
the same ``procedure_search_text`` the services use. Needs Django set up against the (empty,
migrated) bench database.
"""

from __future__ import annotations

import csv
import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

PREFECTURE = ("280003", "兵庫県", "ひょうごけん", "Hyogo Prefecture")

# 兵庫県's 29 cities and 12 towns: (first five digits of the 全国地方公共団体コード, name, kana,
# English name, kind). The check digit is computed, not typed.
MUNICIPALITIES = [
    ("28100", "神戸市", "こうべし", "Kobe City", "city"),
    ("28201", "姫路市", "ひめじし", "Himeji City", "city"),
    ("28202", "尼崎市", "あまがさきし", "Amagasaki City", "city"),
    ("28203", "明石市", "あかしし", "Akashi City", "city"),
    ("28204", "西宮市", "にしのみやし", "Nishinomiya City", "city"),
    ("28205", "洲本市", "すもとし", "Sumoto City", "city"),
    ("28206", "芦屋市", "あしやし", "Ashiya City", "city"),
    ("28207", "伊丹市", "いたみし", "Itami City", "city"),
    ("28208", "相生市", "あいおいし", "Aioi City", "city"),
    ("28209", "豊岡市", "とよおかし", "Toyooka City", "city"),
    ("28210", "加古川市", "かこがわし", "Kakogawa City", "city"),
    ("28212", "赤穂市", "あこうし", "Ako City", "city"),
    ("28213", "西脇市", "にしわきし", "Nishiwaki City", "city"),
    ("28214", "宝塚市", "たからづかし", "Takarazuka City", "city"),
    ("28215", "三木市", "みきし", "Miki City", "city"),
    ("28216", "高砂市", "たかさごし", "Takasago City", "city"),
    ("28217", "川西市", "かわにしし", "Kawanishi City", "city"),
    ("28218", "小野市", "おのし", "Ono City", "city"),
    ("28219", "三田市", "さんだし", "Sanda City", "city"),
    ("28220", "加西市", "かさいし", "Kasai City", "city"),
    ("28221", "丹波篠山市", "たんばささやまし", "Tambasasayama City", "city"),
    ("28222", "養父市", "やぶし", "Yabu City", "city"),
    ("28223", "丹波市", "たんばし", "Tamba City", "city"),
    ("28224", "南あわじ市", "みなみあわじし", "Minamiawaji City", "city"),
    ("28225", "朝来市", "あさごし", "Asago City", "city"),
    ("28226", "淡路市", "あわじし", "Awaji City", "city"),
    ("28227", "宍粟市", "しそうし", "Shiso City", "city"),
    ("28228", "加東市", "かとうし", "Kato City", "city"),
    ("28229", "たつの市", "たつのし", "Tatsuno City", "city"),
    ("28301", "猪名川町", "いながわちょう", "Inagawa Town", "town"),
    ("28365", "多可町", "たかちょう", "Taka Town", "town"),
    ("28381", "稲美町", "いなみちょう", "Inami Town", "town"),
    ("28382", "播磨町", "はりまちょう", "Harima Town", "town"),
    ("28442", "市川町", "いちかわちょう", "Ichikawa Town", "town"),
    ("28443", "福崎町", "ふくさきちょう", "Fukusaki Town", "town"),
    ("28446", "神河町", "かみかわちょう", "Kamikawa Town", "town"),
    ("28464", "太子町", "たいしちょう", "Taishi Town", "town"),
    ("28481", "上郡町", "かみごおりちょう", "Kamigori Town", "town"),
    ("28501", "佐用町", "さようちょう", "Sayo Town", "town"),
    ("28585", "香美町", "かみちょう", "Kami Town", "town"),
    ("28586", "新温泉町", "しんおんせんちょう", "Shin'onsen Town", "town"),
]

DEPARTMENTS = [
    ("somu", "総務課", "そうむか"),
    ("jinji", "人事課", "じんじか"),
    ("zaisei", "財政課", "ざいせいか"),
    ("kikaku", "企画政策課", "きかくせいさくか"),
    ("johoseisaku", "情報政策課", "じょうほうせいさくか"),
    ("shimin", "市民課", "しみんか"),
    ("zeimu", "税務課", "ぜいむか"),
    ("hoken-nenkin", "保険年金課", "ほけんねんきんか"),
    ("fukushi", "福祉総務課", "ふくしそうむか"),
    ("koreisha", "高齢者支援課", "こうれいしゃしえんか"),
    ("shogai-fukushi", "障害福祉課", "しょうがいふくしか"),
    ("kosodate", "子育て支援課", "こそだてしえんか"),
    ("kenko", "健康増進課", "けんこうぞうしんか"),
    ("kankyo", "環境政策課", "かんきょうせいさくか"),
    ("toshikeikaku", "都市計画課", "としけいかくか"),
    ("kenchiku", "建築指導課", "けんちくしどうか"),
    ("doro", "道路管理課", "どうろかんりか"),
    ("jogesuido", "上下水道課", "じょうげすいどうか"),
    ("norin", "農林水産課", "のうりんすいさんか"),
    ("shoko-kanko", "商工観光課", "しょうこうかんこうか"),
    ("bousai", "防災危機管理課", "ぼうさいききかんりか"),
    ("kyoiku-somu", "教育総務課", "きょういくそうむか"),
    ("gakko-kyoiku", "学校教育課", "がっこうきょういくか"),
    ("shogai-gakushu", "生涯学習課", "しょうがいがくしゅうか"),
    ("kaikei", "会計課", "かいけいか"),
]

ADMIN_MUNICIPALITY = "282103"  # 加古川市: the bench user's tenant
ADMIN_USERNAME = "bench-admin"

# The real list of procedures residents file with local governments (デジタル庁's survey of
# 行政手続, 2,972 rows). Every catalog municipality offers every one of them, as real ones do.
CATALOG_CSV = Path("/work/shared/real-data/procedures/resident_to_local_gov_applications.csv")
CATALOG_MUNICIPALITIES = ("28100", "28201")  # 神戸市, 姫路市 (code bodies): 2 × 2,972 rows
CATALOG_MINIMUM = 5000
# 所管府省庁 → the bench department that would handle it at a municipality.
MINISTRY_DEPARTMENTS = {
    "総務省": "shimin",
    "法務省": "shimin",
    "厚生労働省": "fukushi",
    "こども家庭庁": "kosodate",
    "国土交通省": "toshikeikaku",
    "農林水産省": "norin",
    "環境省": "kankyo",
    "経済産業省": "shoko-kanko",
    "国家公安委員会・警察庁": "bousai",
    "財務省": "zeimu",
    "文部科学省": "kyoiku-somu",
    "デジタル庁": "johoseisaku",
}
# 手続が行われるイベント(個人) → Machi's life events.
LIFE_EVENTS = {
    "出生・こども": ("birth", "childcare"),
    "妊娠": ("birth",),
    "引越し": ("moving",),
    "結婚・離婚": ("marriage",),
    "死亡・相続": ("death",),
    "介護": ("nursing_care",),
    "住宅の購入・保有": ("housing",),
    "税金": ("tax",),
}
ONLINE_DONE = ("1 実施済", "5 一部実施済")

# The submission benchmark: 加古川市's 粗大ごみ収集申込 (demo catalog, assurance level "none",
# so anonymous API clients may submit), with a complete, valid form.
SUBMIT_MUNICIPALITY = "282103"
SUBMIT_PROCEDURE = "sodai-gomi"
SUBMIT_EMAIL = "kakogawa.hanako@example.jp"


@dataclass(frozen=True)
class BenchData:
    municipalities: int  # including the prefecture
    departments: int
    admin_username: str
    admin_password: str
    admin_municipality: str
    admin_departments: int  # rows the tenant-scoped list should return
    demo_procedures: int  # demo catalog (加古川市 + 稲美町's adoptions), through the services
    catalog_rows: int  # rows of CATALOG_CSV
    catalog_municipalities: list[str]
    published_procedures: int  # all published procedures (what catalog search scans)
    submit_municipality: str
    submit_procedure: str
    submit_payload: dict[str, Any]  # the JSON body of POST /api/v1/applications


def full_code(body: str) -> str:
    from machi.core.validators import local_government_check_digit

    return f"{body}{local_government_check_digit(body)}"


@transaction.atomic
def load(catalog_csv: Path = CATALOG_CSV) -> BenchData:
    """Create the bench tenants, departments, staff admin and catalog (into an empty database)."""
    from machi.core import services
    from machi.core.models import Department, Municipality, MunicipalityKind, Role
    from machi.procedures.demo import load_procedures_demo
    from machi.procedures.models import Procedure

    code, name, kana, name_en = PREFECTURE
    services.municipality_create(
        code=code, name=name, name_kana=kana, name_en=name_en, kind=MunicipalityKind.PREFECTURE
    )
    codes = []
    for body, name, kana, name_en, kind in MUNICIPALITIES:
        municipality = services.municipality_create(
            code=full_code(body),
            name=name,
            name_kana=kana,
            name_en=name_en,
            kind=kind,
            prefecture_code=PREFECTURE[0],
        )
        codes.append(municipality.code)
    assert ADMIN_MUNICIPALITY in codes, "bench admin municipality missing from the list"
    for number, municipality_code in enumerate(codes):
        for index, (dept_code, dept_name, dept_kana) in enumerate(DEPARTMENTS):
            services.department_create(
                actor=None,
                municipality_code=municipality_code,
                code=dept_code,
                name=dept_name,
                name_kana=dept_kana,
                phone=f"079-{200 + number:03d}-{1101 + index:04d}",
            )
    password = secrets.token_urlsafe(24)
    user, _device = services.staff_user_create(
        username=ADMIN_USERNAME,
        password=password,
        display_name="ベンチ 管理",
        email="bench-admin@bench.machi.example",
    )
    department = Department.objects.get(municipality_id=ADMIN_MUNICIPALITY, code="johoseisaku")
    services.membership_grant(
        actor=None,
        user=user,
        municipality_code=ADMIN_MUNICIPALITY,
        role=Role.MUNICIPALITY_ADMIN,
        department=department,
    )
    # The demo catalog needs only 加古川市, 稲美町 and their departments, which exist by now
    # (load_core_demo would add demo staff with the published demo password: not here).
    demo_procedures = load_procedures_demo()
    catalog_municipalities = [full_code(body) for body in CATALOG_MUNICIPALITIES]
    catalog_rows = load_catalog(catalog_csv, catalog_municipalities)
    published = Procedure.objects.filter(is_published=True).count()
    if published < CATALOG_MINIMUM:
        raise RuntimeError(f"only {published} published procedures; the bench needs ≥ 5,000")
    return BenchData(
        municipalities=Municipality.objects.count(),
        departments=Department.objects.count(),
        admin_username=ADMIN_USERNAME,
        admin_password=password,
        admin_municipality=ADMIN_MUNICIPALITY,
        admin_departments=Department.objects.filter(municipality_id=ADMIN_MUNICIPALITY).count(),
        demo_procedures=demo_procedures,
        catalog_rows=catalog_rows,
        catalog_municipalities=catalog_municipalities,
        published_procedures=published,
        submit_municipality=SUBMIT_MUNICIPALITY,
        submit_procedure=SUBMIT_PROCEDURE,
        submit_payload=submission_payload(),
    )


def load_catalog(path: Path, municipality_codes: list[str]) -> int:
    """Publish every procedure of the CSV in each municipality; returns the CSV's row count.

    Bulk-inserted (the services would write one audit entry per procedure, ~6,000 of them);
    ``search_text`` comes from ``procedure_search_text``, exactly as ``procedure_create`` sets it.
    """
    from machi.core.japanese import kana_reading
    from machi.core.models import Department
    from machi.procedures.models import Procedure
    from machi.procedures.services import procedure_search_text

    if not path.is_file():
        raise FileNotFoundError(f"catalog CSV not found: {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    prepared = []
    for row in rows:
        name = row["手続名"].strip()
        law = row["法令名"].strip()
        events = [e.strip() for e in row["手続が行われるイベント(個人)"].split(";")]
        values = {
            "slug": f"r{row['手続ID']}",
            "name": name,
            "name_kana": kana_reading(name)[:400],
            "description": f"{law}{row['根拠条項号'].strip()}に基づく手続です。",
            "legal_basis": f"{law} {row['根拠条項号'].strip()}".strip()[:300],
            "channels": ["online", "counter"]
            if row["オンライン化の実施状況"] in ONLINE_DONE
            else ["counter"],
            "life_events": sorted({v for e in events for v in LIFE_EVENTS.get(e, ())}),
            "keywords": law[:500],
            "annual_case_count": int(row["総手続件数"]) if row["総手続件数"].isdigit() else None,
        }
        values["search_text"] = procedure_search_text(Procedure(**values))
        prepared.append((MINISTRY_DEPARTMENTS.get(row["所管府省庁"], "somu"), values))
    for code in municipality_codes:
        departments = {d.code: d for d in Department.objects.filter(municipality_id=code)}
        Procedure.objects.bulk_create(
            [
                Procedure(
                    municipality_id=code,
                    department=departments[dept],
                    is_published=True,
                    **values,
                )
                for dept, values in prepared
            ],
            batch_size=1000,
        )
    return len(rows)


def submission_payload() -> dict[str, Any]:
    """A complete, valid 粗大ごみ収集申込 (validated with the form engine by the caller)."""
    collection_day = dt.date.today() + dt.timedelta(days=14)
    return {
        "municipality_code": SUBMIT_MUNICIPALITY,
        "procedure": SUBMIT_PROCEDURE,
        "answers": {
            "applicant": {
                "name": {
                    "family": "加古川",
                    "given": "花子",
                    "family_kana": "カコガワ",
                    "given_kana": "ハナコ",
                },
                "address": {
                    "postal_code": "675-0031",
                    "prefecture": "兵庫県",
                    "city": "加古川市",
                    "town": "加古川町北在家",
                    "street": "2000",
                    "building": "",
                },
                "phone": "079-421-2000",
                "email": SUBMIT_EMAIL,
            },
            "items": {
                "items": [
                    {"kind": "sofa", "count": 1},
                    {"kind": "bicycle", "count": 2},
                    {"kind": "other", "other_name": "電子レンジ台", "count": 1},
                ],
                "date": collection_day.isoformat(),
            },
        },
        "contact_email": SUBMIT_EMAIL,
    }


def validate_submission(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate the payload's answers with the form engine against the published form.

    Returns the cleaned answers; raises ValueError listing the errors when invalid.
    """
    from machi.procedures.formengine import FormDefinition, validate_answers
    from machi.procedures.models import Procedure
    from machi.procedures.services import current_form_version

    procedure = Procedure.objects.get(
        municipality_id=payload["municipality_code"], slug=payload["procedure"]
    )
    version = current_form_version(procedure)
    if version is None:
        raise ValueError(f"{procedure.slug} has no published form")
    if procedure.assurance_level != "none":
        raise ValueError(f"{procedure.slug} needs assurance {procedure.assurance_level!r}")
    result = validate_answers(FormDefinition.from_json(version.definition), payload["answers"])
    if result.errors:
        raise ValueError(f"bench answers for {procedure.slug} are invalid: {result.errors}")
    return result.cleaned


HANDLER_USERNAME = f"bench-handler-{ADMIN_MUNICIPALITY}"  # machi.cases.benchmark.bench_handler's


@dataclass(frozen=True)
class CaseData:
    """The bulk cases of the queue scenarios and the 担当者 who works them."""

    cases: int
    municipalities: int
    open_cases: int
    seconds: float  # bulk loading, VACUUM ANALYZE of the two tables included
    handler_username: str
    handler_password: str
    handler_municipality: str
    handler_department: str  # the department the handler's queue opens on
    handler_department_id: int
    handler_readable: int  # cases the handler may read (their municipality's)
    handler_department_cases: int  # of those, in the department the queue opens on
    handler_default_open: int  # what the default queue filters to: open, that department
    handler_assigned: int  # assigned to the handler


def load_cases(n: int, municipalities: int) -> CaseData:
    """Bulk-load ``n`` cases over ``municipalities`` (``machi.cases.benchmark``), and a 担当者.

    The handler is a real staff account (password + TOTP device, through the services) of
    加古川市; ``bulk_create_cases`` makes them 担当者 of the department holding the bench
    procedure (their queue's default) and assigns them a tenth of its cases. Run outside a
    transaction (it VACUUMs the case tables at the end).
    """
    from machi.cases import benchmark, policy
    from machi.cases.models import Case
    from machi.cases.selectors import QueueFilter, case_queue, queue_default_department
    from machi.core import services
    from machi.core.models import User

    password = secrets.token_urlsafe(24)
    services.staff_user_create(
        username=HANDLER_USERNAME,
        password=password,
        display_name="ベンチ 担当",
        email=f"{HANDLER_USERNAME}@bench.machi.example",
    )
    written = benchmark.bulk_create_cases(n=n, municipalities=municipalities)
    if ADMIN_MUNICIPALITY not in written.municipalities:
        raise RuntimeError(f"{ADMIN_MUNICIPALITY} got no bulk cases: {written.municipalities}")
    handler = User.objects.get(username=HANDLER_USERNAME)
    readable = policy.reader_codes(handler)
    if readable != {ADMIN_MUNICIPALITY}:
        raise RuntimeError(f"the bench handler reads {sorted(readable)}, not {ADMIN_MUNICIPALITY}")
    department = queue_default_department(user=handler)
    if department is None:
        raise RuntimeError("the bench handler's queue opens on no department")
    in_department = Case.objects.filter(department=department)
    return CaseData(
        cases=written.cases,
        municipalities=len(written.municipalities),
        open_cases=written.open_cases,
        seconds=written.seconds,
        handler_username=HANDLER_USERNAME,
        handler_password=password,
        handler_municipality=ADMIN_MUNICIPALITY,
        handler_department=department.name,
        handler_department_id=department.pk,
        handler_readable=Case.objects.filter(municipality_id__in=readable).count(),
        handler_department_cases=in_department.count(),
        handler_default_open=case_queue(
            user=handler, filters=QueueFilter(department_id=department.pk)
        ).count(),
        handler_assigned=Case.objects.filter(assignee=handler).count(),
    )


def current_totp(username: str) -> str:
    """The user's TOTP code for now (what the authenticator app would show)."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
