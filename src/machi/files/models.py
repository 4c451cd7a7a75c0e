"""Stored attachments: bytes made safe (無害化), kept in private storage, owned by a municipality."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from machi.core.models import TenantOwnedModel, User


class StoredFile(TenantOwnedModel):
    """One attachment as stored after sanitising. Create only via ``services.file_store``.

    Every field describes the stored (sanitised) bytes, decided from their content: nothing
    the uploader declared is trusted. ``original_name`` is for display and download only;
    the bytes are at ``storage_name`` (random) under ``settings.MACHI_PRIVATE_FILES_ROOT``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    original_name = models.CharField(_("ファイル名"), max_length=255)
    content_type = models.CharField(_("ファイルの種類"), max_length=100)
    size = models.PositiveBigIntegerField(_("サイズ（バイト）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    storage_name = models.CharField(_("保存名"), max_length=100, unique=True, editable=False)
    created_by = models.ForeignKey(
        User,
        verbose_name=_("登録者"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    purpose = models.CharField(_("利用目的"), max_length=80)
    sanitised_from_type = models.CharField(_("無害化前の種類"), max_length=100)
    removed_content = models.JSONField(_("無害化で除去した内容"), default=list, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        verbose_name = _("添付ファイル")
        verbose_name_plural = _("添付ファイル")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=models.Q(size__gt=0), name="storedfile_not_empty")
        ]

    def __str__(self) -> str:
        return self.original_name
