"""What a sanitiser returns, and the refusals shared by the sanitisers."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from machi.files.exceptions import UnsafeFile
from machi.files.policy import FilePolicy


@dataclass(frozen=True)
class Sanitised:
    """Bytes made safe, their kind, the kind they were made from and what was removed."""

    data: bytes
    content_type: str
    source_type: str
    removed: tuple[str, ...]


# --- Refusals -----------------------------------------------------------------------------------


def size_in_words(size: int) -> str:
    mib = 1024 * 1024
    if size >= mib:
        return f"{size / mib:.1f}".removesuffix(".0") + " MB"
    return f"{max(size // 1024, 1)} KB"


def too_large(max_size: int) -> UnsafeFile:
    return UnsafeFile(
        "too_large",
        _("ファイルが大きすぎます。%(limit)s 以下のファイルを選んでください。")
        % {"limit": size_in_words(max_size)},
    )


def empty() -> UnsafeFile:
    return UnsafeFile("empty", _("ファイルが空です。内容のあるファイルを選んでください。"))


def type_not_allowed(policy: FilePolicy, detected_type: str = "") -> UnsafeFile:
    return UnsafeFile(
        "type_not_allowed",
        _("この種類のファイルは受け付けられません。受け付けるのは %(kinds)s です。")
        % {"kinds": policy.allowed_labels()},
        detected_type=detected_type,
    )
