"""The states and choices of procedures and applications, importable without the models.

Other apps name an application's status, outcome or channel through this module (or
``procedures.selectors``), never through ``procedures.models``: import-linter enforces it.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Audience(models.TextChoices):
    RESIDENT = "resident", _("住民")
    BUSINESS = "business", _("事業者")
    ANYONE = "anyone", _("どなたでも")


class AssuranceLevel(models.TextChoices):
    """How sure the municipality must be of who applies (本人確認の水準)."""

    NONE = "none", _("本人確認なし")
    ACCOUNT = "account", _("アカウントでのサインイン")
    CARD_SIGNATURE = "card_signature", _("マイナンバーカードによる電子署名")


class Channel(models.TextChoices):
    ONLINE = "online", _("オンライン")
    COUNTER = "counter", _("窓口")
    POST = "post", _("郵送")
    PAPER = "paper", _("紙（スキャン登録）")
    API = "api", _("API")


class LifeEvent(models.TextChoices):
    BIRTH = "birth", _("出産")
    CHILDCARE = "childcare", _("子育て")
    MOVING = "moving", _("引越し")
    MARRIAGE = "marriage", _("結婚・離婚")
    DEATH = "death", _("おくやみ")
    NURSING_CARE = "nursing_care", _("介護")
    PET = "pet", _("ペット")
    HOUSING = "housing", _("住まい・ごみ")
    TAX = "tax", _("税金")
    BUSINESS = "business", _("事業・開業")
    DISASTER = "disaster", _("災害")
    CERTIFICATES = "certificates", _("証明書")


class PaymentTiming(models.TextChoices):
    """When the fee is paid (cashless), as the procedure says."""

    NONE = "none", _("支払いなし・窓口")
    BEFORE_SUBMISSION = "before_submission", _("申請の前に支払う")
    BEFORE_ISSUANCE = "before_issuance", _("交付の前に支払う")


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("作成中")
    SUBMITTED = "submitted", _("受付")
    IN_REVIEW = "in_review", _("審査中")
    CORRECTION_REQUESTED = "correction_requested", _("補正依頼中")
    APPROVING = "approving", _("決裁中")
    COMPLETED = "completed", _("完了")
    WITHDRAWN = "withdrawn", _("取下げ")


class ApplicationOutcome(models.TextChoices):
    GRANTED = "granted", _("許可")
    ISSUED = "issued", _("交付")
    REJECTED = "rejected", _("却下")
