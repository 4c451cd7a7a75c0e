"""Where attachment bytes live: a private directory that no URL maps to.

The root is ``settings.MACHI_PRIVATE_FILES_ROOT``, read on every call (tests point it at a
temporary directory). Bytes are only ever served through ``services.file_response``, which
checks nothing itself: callers pass a ``StoredFile`` they obtained via ``selectors.file_get``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    """A file system storage without URLs: ``url()`` refuses instead of falling back to MEDIA_URL."""

    def url(self, name: str | None) -> str:
        raise ValueError("Private files have no URL; serve them with files.services.file_response.")


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def private_root() -> Path:
    """The configured private root, refused if it overlaps a static files directory."""
    return refuse_public_overlap(
        Path(settings.MACHI_PRIVATE_FILES_ROOT), setting="MACHI_PRIVATE_FILES_ROOT"
    )


def refuse_public_overlap(path: Path, *, setting: str) -> Path:
    """``path`` resolved, or ``ImproperlyConfigured`` if it overlaps a static files directory."""
    root = path.resolve()
    public: list[Path] = []
    if settings.STATIC_ROOT:
        public.append(Path(settings.STATIC_ROOT).resolve())
    for entry in getattr(settings, "STATICFILES_DIRS", []):
        public.append(Path(entry[1] if isinstance(entry, tuple | list) else entry).resolve())
    for directory in public:
        if _overlaps(root, directory):
            raise ImproperlyConfigured(
                f"{setting} ({root}) must not overlap static files ({directory})."
            )
    return root


def private_storage() -> PrivateStorage:
    """The storage for attachments: owner-only permissions, no URL."""
    return PrivateStorage(
        location=private_root(),
        file_permissions_mode=0o600,
        directory_permissions_mode=0o700,
    )
