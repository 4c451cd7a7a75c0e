"""Wording used when a procedure has no DocumentTemplate of its own (every procedure can issue).

Kept in code rather than as database rows: they need no migration or per-tenant copy, and a
municipality overrides them per procedure from the staff page (``DocumentTemplate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from machi.documents.models import DocumentKind

_DETAILS: Final = "{% if rows %}記\n\n{% for row in rows %}{{ row.label }}：{{ row.display }}\n{% endfor %}{% endif %}"


@dataclass(frozen=True)
class DefaultTemplate:
    kind: str
    title: str
    body: str


DEFAULT_TEMPLATES: Final[dict[str, DefaultTemplate]] = {
    # 交付 (e.g. 住民票の写しの交付請求): the certificate of what was issued.
    DocumentKind.CERTIFICATE: DefaultTemplate(
        kind=DocumentKind.CERTIFICATE,
        title="{{ procedure.name }} 交付証明書",
        body=(
            "{% if submitted_date %}{{ submitted_date }}付けで{% endif %}申請のあった"
            "{{ procedure.name }}（受付番号 {{ receipt_number }}）について、"
            "下記のとおり交付したことを証明します。\n\n"
            + _DETAILS
            + "{% if note %}\n備考：{{ note }}\n{% endif %}"
        ),
    ),
    # 許可 (granted).
    DocumentKind.PERMIT: DefaultTemplate(
        kind=DocumentKind.PERMIT,
        title="{{ procedure.name }} 許可書",
        body=(
            "{% if submitted_date %}{{ submitted_date }}付けで{% endif %}申請のあった"
            "{{ procedure.name }}（受付番号 {{ receipt_number }}）について、"
            "下記のとおり許可します。\n\n"
            + _DETAILS
            + "{% if note %}\n条件・備考：{{ note }}\n{% endif %}"
        ),
    ),
    # 却下 (rejected), with the 教示 that 行政不服審査法 §82 and 行政事件訴訟法 §46 require.
    DocumentKind.NOTICE: DefaultTemplate(
        kind=DocumentKind.NOTICE,
        title="{{ procedure.name }} 却下通知書",
        body=(
            "{% if submitted_date %}{{ submitted_date }}付けで{% endif %}申請のあった"
            "{{ procedure.name }}（受付番号 {{ receipt_number }}）については、"
            "下記の理由により却下したので通知します。\n\n"
            "記\n\n"
            "理由：{{ note|default:'担当課にお問い合わせください。' }}\n\n"
            "（教示）\n"
            "1 この処分に不服がある場合は、この処分があったことを知った日の翌日から起算して"
            "3か月以内に、{{ municipality.head_title }}に対して審査請求をすることができます。\n"
            "2 この処分の取消しの訴えは、この処分があったことを知った日の翌日から起算して"
            "6か月以内に、{{ municipality.name }}を被告として（訴訟において"
            "{{ municipality.name }}を代表する者は{{ municipality.head_title }}となります。）"
            "提起することができます。\n"
            "ただし、処分があった日の翌日から起算して1年を経過したときは、"
            "審査請求をすることも処分の取消しの訴えを提起することもできなくなります。"
        ),
    ),
}
