"""Which files an upload may be: the kinds Machi can make safe (無害化) and per-use limits."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"


@dataclass(frozen=True)
class FileKind:
    """A kind of file Machi has a sanitiser for."""

    content_type: str
    label: Promise  # shown to people, e.g. in the list of allowed kinds
    extension: str  # used for stored names and to correct display names
    other_extensions: frozenset[str] = frozenset()

    def accepts_extension(self, extension: str) -> bool:
        """Whether a (lower-case, dotted) file name extension fits this kind."""
        return extension == self.extension or extension in self.other_extensions


# Ordered: the list of allowed kinds in messages follows this order.
KINDS: dict[str, FileKind] = {
    PDF: FileKind(PDF, _("PDF"), ".pdf"),
    JPEG: FileKind(JPEG, _("JPEG画像"), ".jpg", frozenset({".jpeg", ".jpe", ".jfif"})),
    PNG: FileKind(PNG, _("PNG画像"), ".png"),
}
SUPPORTED_TYPES = frozenset(KINDS)


@dataclass(frozen=True)
class FilePolicy:
    """Limits for one use of attachments (e.g. 申請の添付書類).

    ``allowed_types`` may only name kinds Machi can sanitise (``SUPPORTED_TYPES``): a file
    that cannot be made safe is never stored. ``max_pixels`` caps width × height of images
    before they are decoded (decompression bombs); ``max_pdf_decompressed`` caps the total size
    of a PDF's compressed streams once inflated (a 200 KB flate bomb that inflates to 200 MB).
    """

    max_size: int = 10 * 1024 * 1024
    allowed_types: frozenset[str] = SUPPORTED_TYPES
    max_pixels: int = 40_000_000
    max_pdf_decompressed: int = 100 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_size <= 0 or self.max_pixels <= 0 or self.max_pdf_decompressed <= 0:
            raise ValueError("FilePolicy limits must be positive.")
        if not self.allowed_types:
            raise ValueError("FilePolicy.allowed_types must not be empty.")
        unsupported = self.allowed_types - SUPPORTED_TYPES
        if unsupported:
            raise ValueError(f"No sanitiser for {sorted(unsupported)}; cannot allow them.")

    def allowed_labels(self) -> str:
        """The allowed kinds in words, e.g. ``PDF、JPEG画像、PNG画像``."""
        return "、".join(str(kind.label) for kind in KINDS.values() if kind.content_type in self)

    def __contains__(self, content_type: object) -> bool:
        return content_type in self.allowed_types


DEFAULT_POLICY = FilePolicy()
