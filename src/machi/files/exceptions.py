"""Refusals of uploaded files. Each has a stable ``code`` and a message for the person uploading."""

from __future__ import annotations

from django.utils.functional import Promise

from machi.core.exceptions import InvalidInput


class UnsafeFile(InvalidInput):
    """The upload was refused: too large, empty, of a kind not allowed, or not made safe (無害化).

    ``code`` is one of ``too_large``, ``empty``, ``type_not_allowed``, ``corrupt_image``,
    ``image_too_large``, ``encrypted_pdf``, ``corrupt_pdf``. ``detected_type`` says what the
    content looked like (for logs; never shown to the uploader as a trusted fact).
    """

    default_code = "unsafe_file"

    def __init__(self, code: str, message: str | Promise, *, detected_type: str = "") -> None:
        super().__init__(message, code=code)
        self.detected_type = detected_type
