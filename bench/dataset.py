"""Bench data: 兵庫県 and its 41 municipalities, 25 departments each, one staff admin.

Loaded through Machi's own services (validation, audit entries), so the data is what a real
installation would hold. Needs Django set up against the (empty, migrated) bench database.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

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


@dataclass(frozen=True)
class BenchData:
    municipalities: int  # including the prefecture
    departments: int
    admin_username: str
    admin_password: str
    admin_municipality: str
    admin_departments: int  # rows the tenant-scoped list should return


def full_code(body: str) -> str:
    from machi.core.validators import local_government_check_digit

    return f"{body}{local_government_check_digit(body)}"


@transaction.atomic
def load() -> BenchData:
    """Create the bench tenants, departments and staff admin (into an empty database)."""
    from machi.core import services
    from machi.core.models import Department, Municipality, MunicipalityKind, Role

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
    return BenchData(
        municipalities=Municipality.objects.count(),
        departments=Department.objects.count(),
        admin_username=ADMIN_USERNAME,
        admin_password=password,
        admin_municipality=ADMIN_MUNICIPALITY,
        admin_departments=Department.objects.filter(municipality_id=ADMIN_MUNICIPALITY).count(),
    )


def current_totp(username: str) -> str:
    """The user's TOTP code for now (what the authenticator app would show)."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
