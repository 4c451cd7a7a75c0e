"""Complete demo forms (schema 1) for the demo catalog's online procedures."""

from __future__ import annotations

from typing import Any


def label(ja: str, en: str = "", easy: str = "") -> dict[str, str]:
    """A label in Japanese, English and easy Japanese (missing ones fall back to Japanese)."""
    text = {"ja": ja}
    if en:
        text["en"] = en
    if easy:
        text["ja-easy"] = easy
    return text


def options(*items: tuple[str, str, str]) -> list[dict[str, Any]]:
    return [{"value": value, "label": label(ja, en)} for value, ja, en in items]


APPLICANT_STEP: dict[str, Any] = {
    "key": "applicant",
    "title": label("申請者", "Applicant", "もうしこむ ひと"),
    "fields": [
        {
            "key": "name",
            "type": "name",
            "label": label("氏名", "Name", "なまえ"),
            "required": True,
        },
        {
            "key": "birth_date",
            "type": "date",
            "label": label("生年月日", "Date of birth", "うまれた ひ"),
            "required": True,
            "max": "today",
        },
        {
            "key": "address",
            "type": "address",
            "label": label("住所", "Address", "じゅうしょ"),
            "required": True,
        },
        {
            "key": "phone",
            "type": "phone",
            "label": label("日中に連絡がとれる電話番号", "Daytime phone number", "でんわばんごう"),
            "required": True,
        },
        {
            "key": "email",
            "type": "email",
            "label": label("メールアドレス", "E-mail", "メールアドレス"),
            "help": label("受付や結果のお知らせを送ります。", "We send notices here."),
        },
    ],
}

FORMS: dict[str, dict[str, Any]] = {
    "juminhyo": {
        "schema": 1,
        "steps": [
            APPLICANT_STEP,
            {
                "key": "request",
                "title": label("請求の内容", "What you request", "ほしい もの"),
                "fields": [
                    {
                        "key": "relationship",
                        "type": "choice",
                        "label": label("請求する住民票", "Whose record", "だれの じゅうみんひょう"),
                        "required": True,
                        "widget": "radio",
                        "options": options(
                            ("self", "本人", "Myself"),
                            ("household", "同じ世帯の人", "A member of my household"),
                        ),
                    },
                    {
                        "key": "target_name",
                        "type": "name",
                        "label": label("必要な人の氏名", "Name of the person"),
                        "visible_if": {"field": "request.relationship", "equals": "household"},
                        "required_if": {"field": "request.relationship", "equals": "household"},
                    },
                    {
                        "key": "scope",
                        "type": "choice",
                        "label": label("記載する範囲", "Scope"),
                        "required": True,
                        "widget": "radio",
                        "options": options(
                            ("all", "世帯全員", "Whole household"),
                            ("part", "一部の人", "Some members"),
                        ),
                    },
                    {
                        "key": "items",
                        "type": "multichoice",
                        "label": label("記載する項目", "Items to include"),
                        "help": label("必要なものだけ選んでください。"),
                        "options": options(
                            (
                                "household_head",
                                "世帯主・続柄",
                                "Head of household and relationship",
                            ),
                            ("honseki", "本籍・筆頭者", "Registered domicile"),
                            ("my_number", "個人番号", "Individual number"),
                        ),
                    },
                    {
                        "key": "my_number_purpose",
                        "type": "text",
                        "label": label(
                            "個人番号を記載する理由", "Why the individual number is needed"
                        ),
                        "max_length": 100,
                        "visible_if": {"field": "request.items", "in": ["my_number"]},
                        "required_if": {"field": "request.items", "in": ["my_number"]},
                    },
                    {
                        "key": "copies",
                        "type": "number",
                        "label": label("必要な通数", "Number of copies", "なんまい"),
                        "required": True,
                        "integer": True,
                        "min": 1,
                        "max": 10,
                    },
                    {
                        "key": "purpose",
                        "type": "text",
                        "label": label("使いみち", "Purpose", "つかいみち"),
                        "required": True,
                        "max_length": 100,
                    },
                ],
            },
        ],
    },
    "tenshutsu": {
        "schema": 1,
        "steps": [
            APPLICANT_STEP,
            {
                "key": "move",
                "title": label("引越しの内容", "Your move", "ひっこし"),
                "fields": [
                    {
                        "key": "move_date",
                        "type": "date",
                        "label": label("引越しの日（予定日）", "Moving date"),
                        "required": True,
                    },
                    {
                        "key": "new_address",
                        "type": "address",
                        "label": label("新しい住所", "New address", "あたらしい じゅうしょ"),
                        "required": True,
                    },
                    {
                        "key": "movers",
                        "type": "group",
                        "label": label("一緒に引っ越す人", "People moving with you"),
                        "item_label": label("引っ越す人", "Person"),
                        "min_items": 0,
                        "max_items": 9,
                        "fields": [
                            {
                                "key": "name",
                                "type": "name",
                                "label": label("氏名", "Name"),
                                "required": True,
                            },
                            {
                                "key": "birth_date",
                                "type": "date",
                                "label": label("生年月日", "Date of birth"),
                                "required": True,
                                "max": "today",
                            },
                        ],
                    },
                    {
                        "key": "visit_date",
                        "type": "date",
                        "label": label(
                            "転入先の窓口に行く予定日", "When you will visit the new city hall"
                        ),
                        "help": label("転入届は転入先の窓口で本人が出します。"),
                    },
                ],
            },
        ],
    },
    "jidou_teate": {
        "schema": 1,
        "steps": [
            APPLICANT_STEP,
            {
                "key": "children",
                "title": label("養育している子ども", "Children", "こども"),
                "fields": [
                    {
                        "key": "children",
                        "type": "group",
                        "label": label("子ども", "Children"),
                        "item_label": label("子ども", "Child"),
                        "min_items": 1,
                        "max_items": 10,
                        "fields": [
                            {
                                "key": "name",
                                "type": "name",
                                "label": label("氏名", "Name"),
                                "required": True,
                            },
                            {
                                "key": "birth_date",
                                "type": "date",
                                "label": label("生年月日", "Date of birth"),
                                "required": True,
                                "max": "today",
                            },
                            {
                                "key": "lives_together",
                                "type": "checkbox",
                                "label": label("同居している", "Lives with me"),
                            },
                        ],
                    },
                ],
            },
            {
                "key": "payment",
                "title": label("振込先と同意", "Bank account and consent"),
                "fields": [
                    {
                        "key": "bank",
                        "type": "text",
                        "label": label("金融機関名", "Bank"),
                        "required": True,
                        "max_length": 60,
                    },
                    {
                        "key": "branch",
                        "type": "text",
                        "label": label("支店名", "Branch"),
                        "required": True,
                        "max_length": 60,
                    },
                    {
                        "key": "account_number",
                        "type": "text",
                        "label": label("口座番号（7桁）", "Account number (7 digits)"),
                        "required": True,
                        "max_length": 7,
                    },
                    {
                        "key": "consent",
                        "type": "checkbox",
                        "label": label(
                            "所得の情報を市が確認することに同意します（添付書類の省略）",
                            "I agree that the city checks my income data",
                        ),
                        "required": True,
                    },
                ],
            },
        ],
    },
    "hoikusho": {
        "schema": 1,
        "steps": [
            APPLICANT_STEP,
            {
                "key": "child",
                "title": label("入所する子ども", "Child"),
                "fields": [
                    {
                        "key": "name",
                        "type": "name",
                        "label": label("氏名", "Name"),
                        "required": True,
                    },
                    {
                        "key": "birth_date",
                        "type": "date",
                        "label": label("生年月日", "Date of birth"),
                        "required": True,
                        "max": "today",
                    },
                    {
                        "key": "start_date",
                        "type": "date",
                        "label": label("入所希望日", "Desired start date"),
                        "required": True,
                        "min": "today",
                    },
                    {
                        "key": "reason",
                        "type": "choice",
                        "label": label("保育が必要な理由", "Reason care is needed"),
                        "required": True,
                        "widget": "select",
                        "options": options(
                            ("work", "就労", "Work"),
                            ("pregnancy", "妊娠・出産", "Pregnancy or birth"),
                            ("illness", "疾病・障害", "Illness or disability"),
                            ("care", "介護・看護", "Caring for a relative"),
                            ("study", "就学", "Study"),
                        ),
                    },
                    {
                        "key": "employment_certificate",
                        "type": "file",
                        "label": label("就労証明書", "Employment certificate"),
                        "accept": ["application/pdf", "image/jpeg", "image/png"],
                        "max_size": 5242880,
                        "visible_if": {"field": "child.reason", "equals": "work"},
                        "required_if": {"field": "child.reason", "equals": "work"},
                    },
                    {
                        "key": "wishes",
                        "type": "textarea",
                        "label": label("希望する施設（第1〜第3希望）", "Preferred nurseries"),
                        "required": True,
                        "max_length": 500,
                    },
                ],
            },
        ],
    },
    "ninshin": {
        "schema": 1,
        "steps": [
            APPLICANT_STEP,
            {
                "key": "pregnancy",
                "title": label("妊娠について", "Pregnancy"),
                "fields": [
                    {
                        "key": "due_date",
                        "type": "date",
                        "label": label("出産予定日", "Due date"),
                        "required": True,
                        "min": "today",
                    },
                    {
                        "key": "clinic",
                        "type": "text",
                        "label": label("受診した医療機関", "Clinic"),
                        "required": True,
                        "max_length": 100,
                    },
                    {
                        "key": "multiple",
                        "type": "choice",
                        "label": label("胎児の数", "Number of babies"),
                        "required": True,
                        "widget": "radio",
                        "options": options(
                            ("1", "1人", "One"),
                            ("2", "2人", "Two"),
                            ("3", "3人以上", "Three or more"),
                        ),
                    },
                    {
                        "key": "consult",
                        "type": "checkbox",
                        "label": label(
                            "保健師との面談を希望する",
                            "I would like to talk with a public health nurse",
                        ),
                    },
                ],
            },
        ],
    },
    "sodai_gomi": {
        "schema": 1,
        "steps": [
            {
                "key": "applicant",
                "title": label("申込者", "Applicant", "もうしこむ ひと"),
                "fields": [
                    {
                        "key": "name",
                        "type": "name",
                        "label": label("氏名", "Name", "なまえ"),
                        "required": True,
                    },
                    {
                        "key": "address",
                        "type": "address",
                        "label": label("収集場所の住所", "Collection address"),
                        "required": True,
                    },
                    {
                        "key": "phone",
                        "type": "phone",
                        "label": label("電話番号", "Phone"),
                        "required": True,
                    },
                    {"key": "email", "type": "email", "label": label("メールアドレス", "E-mail")},
                ],
            },
            {
                "key": "items",
                "title": label("出すもの", "Items", "だす もの"),
                "fields": [
                    {
                        "key": "items",
                        "type": "group",
                        "label": label("品目", "Items"),
                        "item_label": label("品目", "Item"),
                        "min_items": 1,
                        "max_items": 10,
                        "fields": [
                            {
                                "key": "kind",
                                "type": "choice",
                                "label": label("品目", "Item"),
                                "required": True,
                                "widget": "select",
                                "options": options(
                                    ("sofa", "ソファ", "Sofa"),
                                    ("bed", "ベッド", "Bed"),
                                    ("desk", "机", "Desk"),
                                    ("bicycle", "自転車", "Bicycle"),
                                    ("chest", "タンス", "Chest of drawers"),
                                    ("other", "その他", "Other"),
                                ),
                            },
                            {
                                "key": "other_name",
                                "type": "text",
                                "label": label("品名", "What it is"),
                                "max_length": 60,
                                "visible_if": {"field": "items.items.kind", "equals": "other"},
                                "required_if": {"field": "items.items.kind", "equals": "other"},
                            },
                            {
                                "key": "count",
                                "type": "number",
                                "label": label("数", "Count"),
                                "required": True,
                                "integer": True,
                                "min": 1,
                                "max": 5,
                            },
                        ],
                    },
                    {
                        "key": "date",
                        "type": "date",
                        "label": label("希望する収集日", "Preferred date"),
                        "required": True,
                        "min": "today",
                    },
                ],
            },
        ],
    },
    "inu_touroku": {
        "schema": 1,
        "steps": [
            APPLICANT_STEP,
            {
                "key": "dog",
                "title": label("犬について", "Your dog", "いぬ"),
                "fields": [
                    {
                        "key": "dog_name",
                        "type": "text",
                        "label": label("犬の名前", "Dog's name"),
                        "required": True,
                        "max_length": 40,
                    },
                    {
                        "key": "breed",
                        "type": "text",
                        "label": label("犬種", "Breed"),
                        "required": True,
                        "max_length": 60,
                    },
                    {
                        "key": "birth_date",
                        "type": "date",
                        "label": label("生年月日（わかる範囲で）", "Date of birth"),
                        "max": "today",
                    },
                    {
                        "key": "sex",
                        "type": "choice",
                        "label": label("性別", "Sex"),
                        "required": True,
                        "widget": "radio",
                        "options": options(("male", "オス", "Male"), ("female", "メス", "Female")),
                    },
                    {
                        "key": "color",
                        "type": "text",
                        "label": label("毛色", "Coat colour"),
                        "required": True,
                        "max_length": 40,
                    },
                    {
                        "key": "vaccination",
                        "type": "file",
                        "label": label("狂犬病予防注射済証明書", "Rabies vaccination certificate"),
                        "help": label("動物病院が発行した証明書の写真またはPDF。"),
                        "required": True,
                        "accept": ["application/pdf", "image/jpeg", "image/png"],
                        "max_size": 5242880,
                    },
                ],
            },
        ],
    },
    "zei_shomei": {
        "schema": 1,
        "steps": [
            APPLICANT_STEP,
            {
                "key": "request",
                "title": label("請求の内容", "What you request"),
                "fields": [
                    {
                        "key": "year",
                        "type": "choice",
                        "label": label("年度", "Fiscal year"),
                        "required": True,
                        "widget": "select",
                        "options": options(
                            ("r8", "令和8年度（令和7年中の所得）", "FY2026 (2025 income)"),
                            ("r7", "令和7年度（令和6年中の所得）", "FY2025 (2024 income)"),
                            ("r6", "令和6年度（令和5年中の所得）", "FY2024 (2023 income)"),
                        ),
                    },
                    {
                        "key": "copies",
                        "type": "number",
                        "label": label("必要な通数", "Copies"),
                        "required": True,
                        "integer": True,
                        "min": 1,
                        "max": 5,
                    },
                    {
                        "key": "purpose",
                        "type": "text",
                        "label": label("使いみち", "Purpose"),
                        "required": True,
                        "max_length": 100,
                    },
                ],
            },
        ],
    },
    "douro_senyou": {
        "schema": 1,
        "steps": [
            {
                "key": "company",
                "title": label("申請者（事業者）", "Applicant (business)"),
                "fields": [
                    {
                        "key": "company_name",
                        "type": "text",
                        "label": label("名称", "Company name"),
                        "required": True,
                        "max_length": 100,
                    },
                    {
                        "key": "corporate_number",
                        "type": "corporate_number",
                        "label": label("法人番号", "Corporate number"),
                        "required": True,
                    },
                    {
                        "key": "representative",
                        "type": "name",
                        "label": label("代表者氏名", "Representative"),
                        "required": True,
                    },
                    {
                        "key": "address",
                        "type": "address",
                        "label": label("所在地", "Address"),
                        "required": True,
                    },
                    {
                        "key": "phone",
                        "type": "phone",
                        "label": label("電話番号", "Phone"),
                        "required": True,
                    },
                    {
                        "key": "email",
                        "type": "email",
                        "label": label("メールアドレス", "E-mail"),
                        "required": True,
                    },
                ],
            },
            {
                "key": "occupancy",
                "title": label("占用の内容", "Occupancy"),
                "fields": [
                    {
                        "key": "location",
                        "type": "text",
                        "label": label("占用場所", "Location"),
                        "required": True,
                        "max_length": 200,
                    },
                    {
                        "key": "object",
                        "type": "choice",
                        "label": label("占用物件", "What occupies the road"),
                        "required": True,
                        "widget": "select",
                        "options": options(
                            ("pole", "電柱", "Utility pole"),
                            ("sign", "看板", "Sign"),
                            ("scaffold", "工事用足場", "Scaffolding"),
                            ("pipe", "地下埋設管", "Underground pipe"),
                        ),
                    },
                    {
                        "key": "area",
                        "type": "number",
                        "label": label("面積（平方メートル）", "Area (m²)"),
                        "required": True,
                        "min": 0.01,
                        "max": 10000,
                    },
                    {
                        "key": "start",
                        "type": "date",
                        "label": label("占用開始日", "Start"),
                        "required": True,
                        "min": "today",
                    },
                    {
                        "key": "end",
                        "type": "date",
                        "label": label("占用終了日", "End"),
                        "required": True,
                        "min": "today",
                    },
                    {
                        "key": "drawing",
                        "type": "file",
                        "label": label("位置図・平面図", "Site plan"),
                        "required": True,
                        "accept": ["application/pdf"],
                        "max_size": 10485760,
                    },
                ],
            },
        ],
    },
    "risai_shomei": {
        "schema": 1,
        "steps": [
            APPLICANT_STEP,
            {
                "key": "damage",
                "title": label("被害の内容", "Damage", "ひがい"),
                "fields": [
                    {
                        "key": "disaster_date",
                        "type": "date",
                        "label": label("被災した日", "Date of the disaster"),
                        "required": True,
                        "max": "today",
                    },
                    {
                        "key": "damaged_address",
                        "type": "address",
                        "label": label("被害を受けた建物の住所", "Address of the damaged building"),
                        "required": True,
                    },
                    {
                        "key": "cause",
                        "type": "choice",
                        "label": label("原因", "Cause"),
                        "required": True,
                        "widget": "radio",
                        "options": options(
                            ("earthquake", "地震", "Earthquake"),
                            ("flood", "水害", "Flood"),
                            ("wind", "風害", "Wind"),
                            ("landslide", "土砂災害", "Landslide"),
                        ),
                    },
                    {
                        "key": "description",
                        "type": "textarea",
                        "label": label("被害の状況", "What was damaged"),
                        "required": True,
                        "max_length": 1000,
                    },
                    {
                        "key": "photos",
                        "type": "file",
                        "label": label("被害の写真", "Photos of the damage"),
                        "accept": ["image/jpeg", "image/png"],
                        "max_size": 10485760,
                        "multiple": True,
                    },
                ],
            },
        ],
    },
    "koubunsho": {
        "schema": 1,
        "steps": [
            {
                "key": "requester",
                "title": label("請求者", "Requester"),
                "fields": [
                    {
                        "key": "name",
                        "type": "name",
                        "label": label("氏名または名称", "Name"),
                        "required": True,
                        "kana": False,
                    },
                    {
                        "key": "address",
                        "type": "address",
                        "label": label("住所", "Address"),
                        "required": True,
                    },
                    {
                        "key": "email",
                        "type": "email",
                        "label": label("メールアドレス", "E-mail"),
                        "required": True,
                    },
                ],
            },
            {
                "key": "request",
                "title": label("請求する公文書", "Documents requested"),
                "fields": [
                    {
                        "key": "documents",
                        "type": "textarea",
                        "label": label("公文書の件名・内容", "Which documents"),
                        "required": True,
                        "max_length": 2000,
                    },
                    {
                        "key": "method",
                        "type": "choice",
                        "label": label("公開の方法", "How to receive them"),
                        "required": True,
                        "widget": "radio",
                        "options": options(
                            ("view", "閲覧", "View at city hall"),
                            ("copy", "写しの交付", "Paper copies"),
                            ("electronic", "電子データ", "Electronic copies"),
                        ),
                    },
                ],
            },
        ],
    },
}
