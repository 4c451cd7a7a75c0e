"""Demo tenants, departments and one staff user per role (兵庫県 and four of its municipalities).

Idempotent: running it again keeps whatever already exists.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from django.db import transaction

from machi.core import services
from machi.core.models import Department, Municipality, MunicipalityKind, Role, User

DEMO_PASSWORD = "machi-demo-2026"  # noqa: S105 - published demo password, demo data only
# One known TOTP secret for every demo account, so `make demo` can print it. Never used outside
# demo data: real accounts get a random key from services.staff_user_create.
DEMO_TOTP_KEY_HEX = b"machi-demo-totp-key!".hex()
DEMO_TOTP_BASE32 = base64.b32encode(bytes.fromhex(DEMO_TOTP_KEY_HEX)).decode("ascii")

PREFECTURE = ("280003", "兵庫県", "ひょうごけん", "Hyogo Prefecture")
MUNICIPALITIES = [
    ("281000", "神戸市", "こうべし", "Kobe City", MunicipalityKind.CITY),
    ("282103", "加古川市", "かこがわし", "Kakogawa City", MunicipalityKind.CITY),
    ("282031", "明石市", "あかしし", "Akashi City", MunicipalityKind.CITY),
    ("283819", "稲美町", "いなみちょう", "Inami Town", MunicipalityKind.TOWN),
]
DEPARTMENTS = [
    ("shimin", "市民課", "しみんか"),
    ("zeimu", "税務課", "ぜいむか"),
    ("kosodate", "子育て支援課", "こそだてしえんか"),
    ("kankyo", "環境政策課", "かんきょうせいさくか"),
    ("doro", "道路管理課", "どうろかんりか"),
    ("bousai", "防災危機管理課", "ぼうさいききかんりか"),
    ("johoseisaku", "情報政策課", "じょうほうせいさくか"),
]
PREFECTURE_DEPARTMENTS = [
    ("digital", "デジタル改革課", "でじたるかいかくか"),
    ("bousai", "災害対策課", "さいがいたいさくか"),
]
PHONE_PREFIX = {"281000": "078-331", "282103": "079-421", "282031": "078-912", "283819": "079-492"}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    municipality: str


# (username, display name, municipality code, role, department code)
STAFF = [
    ("hyogo-admin", "兵庫 県子", "280003", Role.PREFECTURE_ADMIN, "digital"),
    ("kakogawa-admin", "加古川 管理", "282103", Role.MUNICIPALITY_ADMIN, "johoseisaku"),
    ("kakogawa-handler", "加古川 担当", "282103", Role.CASE_HANDLER, "shimin"),
    ("kakogawa-approver", "加古川 決裁", "282103", Role.APPROVER, "shimin"),
    ("kakogawa-counter", "加古川 窓口", "282103", Role.COUNTER_CLERK, "shimin"),
    ("kakogawa-data", "加古川 公開", "282103", Role.DATA_PUBLISHER, "johoseisaku"),
    ("kakogawa-bousai", "加古川 防災", "282103", Role.DISASTER_COORDINATOR, "bousai"),
    ("kobe-admin", "神戸 管理", "281000", Role.MUNICIPALITY_ADMIN, "johoseisaku"),
    ("inami-admin", "稲美 管理", "283819", Role.MUNICIPALITY_ADMIN, "johoseisaku"),
]


@transaction.atomic
def load_core_demo() -> list[DemoLogin]:
    """Create the demo tenants, departments and staff that do not exist yet."""
    code, name, kana, name_en = PREFECTURE
    if not Municipality.objects.filter(code=code).exists():
        services.municipality_create(
            code=code, name=name, name_kana=kana, name_en=name_en, kind=MunicipalityKind.PREFECTURE
        )
    for code, name, kana, name_en, kind in MUNICIPALITIES:
        if not Municipality.objects.filter(code=code).exists():
            services.municipality_create(
                code=code,
                name=name,
                name_kana=kana,
                name_en=name_en,
                kind=kind,
                prefecture_code=PREFECTURE[0],
            )
    for code, *_rest in MUNICIPALITIES:
        for index, (dept_code, dept_name, dept_kana) in enumerate(DEPARTMENTS):
            if not Department.objects.filter(municipality_id=code, code=dept_code).exists():
                services.department_create(
                    actor=None,
                    municipality_code=code,
                    code=dept_code,
                    name=dept_name,
                    name_kana=dept_kana,
                    phone=f"{PHONE_PREFIX[code]}-{1101 + index:04d}",
                )
    for dept_code, dept_name, dept_kana in PREFECTURE_DEPARTMENTS:
        if not Department.objects.filter(municipality_id=PREFECTURE[0], code=dept_code).exists():
            services.department_create(
                actor=None,
                municipality_code=PREFECTURE[0],
                code=dept_code,
                name=dept_name,
                name_kana=dept_kana,
            )
    logins: list[DemoLogin] = []
    for username, display_name, municipality_code, role, dept_code in STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            user, _device = services.staff_user_create(
                username=username,
                password=DEMO_PASSWORD,
                display_name=display_name,
                email=f"{username}@demo.machi.example",
                totp_key_hex=DEMO_TOTP_KEY_HEX,
            )
        department = Department.objects.filter(
            municipality_id=municipality_code, code=dept_code
        ).first()
        services.membership_grant(
            actor=None,
            user=user,
            municipality_code=municipality_code,
            role=role,
            department=department,
        )
        logins.append(DemoLogin(username, str(Role(role).label), municipality_code))
    return logins
