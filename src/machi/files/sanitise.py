"""無害化: decide what an upload is by its content and rebuild it without active content.

Pure functions on bytes (no database, no storage); ``services.file_store`` calls ``sanitise``.

* The kind is decided by the leading bytes (magic numbers) only; the file name and the
  browser's content type are ignored. ``puremagic`` names refused content for the logs.
* Images (JPEG, PNG) are decoded with Pillow under a pixel cap, turned upright by their EXIF
  orientation and re-encoded in the same format from the pixels alone: EXIF (with GPS), XMP,
  ICC profiles, comments, PNG text chunks and extra frames do not survive.
* PDFs are opened with pikepdf (qpdf), encrypted ones and flate bombs refused, active content
  removed and a fresh file written from the objects still reachable (``sanitise_pdf``, in
  ``machi.files.sanitise_pdf``; the shared result type and refusals in ``sanitise_common``).

Every refusal is an ``UnsafeFile`` with its own code; no other exception escapes ``sanitise``
for any input bytes (parsers of hostile input fail in many ways, so each sanitiser maps every
failure to its ``corrupt_*`` refusal).
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from typing import Any

import puremagic
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, ImageOps

from machi.files.exceptions import UnsafeFile
from machi.files.policy import JPEG, KINDS, PDF, PNG, FilePolicy
from machi.files.sanitise_common import Sanitised, empty, too_large, type_not_allowed
from machi.files.sanitise_pdf import sanitise_pdf

__all__ = [
    "Sanitised",
    "describe_content",
    "detect_type",
    "display_name",
    "empty",
    "sanitise",
    "sanitise_image",
    "sanitise_pdf",
    "too_large",
    "type_not_allowed",
]

logger = logging.getLogger(__name__)

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", PDF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)


def _corrupt_image(content_type: str) -> UnsafeFile:
    return UnsafeFile(
        "corrupt_image",
        _("画像ファイルが壊れているか、読み取れません。別のファイルを選んでください。"),
        detected_type=content_type,
    )


def _image_too_large(max_pixels: int, content_type: str) -> UnsafeFile:
    return UnsafeFile(
        "image_too_large",
        _("画像の画素数が大きすぎます。%(limit)s万画素以下の画像を選んでください。")
        % {"limit": f"{max_pixels // 10_000:,}"},
        detected_type=content_type,
    )


# --- Kind and name --------------------------------------------------------------------------------


def detect_type(data: bytes) -> str | None:
    """The kind of ``data`` by its leading bytes, if it is one Machi can sanitise."""
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    return None


def describe_content(data: bytes) -> str:
    """puremagic's best guess of a MIME type, for logs of refused uploads ("" if unknown)."""
    try:
        return puremagic.from_string(data, mime=True) or ""
    except Exception:
        return ""


_RESERVED_CHARS = frozenset('<>:"/\\|?*')
_WINDOWS_DEVICE_NAMES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"{p}{n}" for p in ("com", "lpt") for n in range(1, 10)}
)
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,5}")
_MAX_STEM = 100


def display_name(raw: str, *, content_type: str) -> str:
    """A file name safe to show and to offer for download, with the extension of its kind.

    Only for display: storage names are random. Drops any path, control and format characters
    (incl. bidi overrides such as U+202E that disguise ``exe.pdf``), characters Windows forbids
    and leading/trailing dots and spaces; NFC-normalises (macOS sends decomposed かな); caps the
    length; and sets the extension to match the content (``x.pdf`` holding a PNG → ``x.png``).
    """
    kind = KINDS[content_type]
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    chars: list[str] = []
    for char in name:
        category = unicodedata.category(char)
        if category.startswith("C"):
            continue
        if category in ("Zl", "Zp"):
            char = " "
        chars.append("_" if char in _RESERVED_CHARS else char)
    name = re.sub(r" {2,}", " ", "".join(chars)).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    extension = f".{suffix.lower()}" if dot and stem and _EXTENSION.fullmatch(suffix) else ""
    if not extension:
        stem = name
    stem = stem[:_MAX_STEM].rstrip(" .")
    if not stem:
        stem = "file"
    if stem.lower() in _WINDOWS_DEVICE_NAMES:
        stem = f"_{stem}"
    if not kind.accepts_extension(extension):
        extension = kind.extension
    return stem + extension


# --- Entry point ------------------------------------------------------------------------------------


def sanitise(data: bytes, *, policy: FilePolicy) -> Sanitised:
    """Make ``data`` safe under ``policy``, or raise ``UnsafeFile``.

    The caller has already enforced ``policy.max_size`` while reading.
    """
    if not data:
        raise empty()
    content_type = detect_type(data)
    if content_type is None or content_type not in policy:
        detected = content_type or describe_content(data)
        logger.info("files.refused type_not_allowed detected=%s", detected or "unknown")
        raise type_not_allowed(policy, detected)
    if content_type == PDF:
        return sanitise_pdf(data, max_decompressed=policy.max_pdf_decompressed)
    return sanitise_image(data, content_type=content_type, max_pixels=policy.max_pixels)


# --- Images ----------------------------------------------------------------------------------------

_PIL_OPEN_FORMATS = {JPEG: ["JPEG"], PNG: ["PNG"]}
# Phones store photos as MPO (JPEG plus depth/preview frames): accepted, first frame kept.
_PIL_ACCEPTED_FORMATS = {JPEG: {"JPEG", "MPO"}, PNG: {"PNG"}}
_PIL_SAVE_FORMAT = {JPEG: "JPEG", PNG: "PNG"}
# Kept from Image.info because it is part of the pixels' meaning, not metadata about them.
_PIXEL_INFO = frozenset({"transparency"})
_JPEG_QUALITY = 90


def _check_pixels(image: Image.Image, max_pixels: int, content_type: str) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise _image_too_large(max_pixels, content_type)


def _metadata_in(image: Image.Image) -> set[str]:
    """Names of the metadata found in ``image`` (all of it is dropped)."""
    info = image.info
    found: set[str] = set()
    try:
        exif = image.getexif()
        if exif:
            found.add("exif")
        if ExifTags.Base.GPSInfo in exif:
            found.add("gps")
    except Exception:
        found.add("exif")  # unreadable EXIF: dropped all the same
    if "exif" in info:
        found.add("exif")
    if "xmp" in info or "XML:com.adobe.xmp" in info:
        found.add("xmp")
    for key, note in (("icc_profile", "icc_profile"), ("comment", "comment")):
        if info.get(key):
            found.add(note)
    if "photoshop" in info:
        found.add("photoshop")  # IPTC (APP13)
    text = getattr(image, "text", None)
    if isinstance(text, dict) and set(text) - {"XML:com.adobe.xmp"}:
        found.add("text")
    if getattr(image, "n_frames", 1) > 1:
        found.add("extra_frames")
    return found


def _upright(image: Image.Image) -> Image.Image:
    """``image`` turned by its EXIF orientation (unreadable EXIF: as stored)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image.copy()


def _resolution(value: Any) -> tuple[int, int] | None:
    """The image's resolution (dpi) if sane: kept, scans print at their size."""
    try:
        x, y = (round(float(v)) for v in value)
    except Exception:
        return None
    return (x, y) if 0 < x < 65536 and 0 < y < 65536 else None


def _encode(image: Image.Image, content_type: str, dpi: tuple[int, int] | None) -> bytes:
    """Re-encode the pixels of ``image`` alone: a fresh copy whose info holds no metadata."""
    clean = image.copy()
    clean.info = {key: value for key, value in image.info.items() if key in _PIXEL_INFO}
    params: dict[str, Any] = {}
    if dpi is not None:
        params["dpi"] = dpi
    if content_type == JPEG:
        params["quality"] = _JPEG_QUALITY
    out = io.BytesIO()
    clean.save(out, format=_PIL_SAVE_FORMAT[content_type], **params)
    return out.getvalue()


def sanitise_image(data: bytes, *, content_type: str, max_pixels: int) -> Sanitised:
    """Re-encode a JPEG or PNG from its pixels only, upright, with no metadata.

    The pixel count is checked from the header before any decoding; Pillow's own
    decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``) stays in force as well. A file that
    fails ``verify()`` or full decoding (corrupt or truncated) is refused.
    """
    formats = _PIL_OPEN_FORMATS[content_type]
    try:
        with Image.open(io.BytesIO(data), formats=formats) as probe:
            _check_pixels(probe, max_pixels, content_type)
            if probe.format not in _PIL_ACCEPTED_FORMATS[content_type]:
                raise _corrupt_image(content_type)
            probe.verify()
        with Image.open(io.BytesIO(data), formats=formats) as image:
            _check_pixels(image, max_pixels, content_type)
            image.load()
            removed = _metadata_in(image)
            upright = _upright(image)
            result = _encode(upright, content_type, _resolution(image.info.get("dpi")))
        with Image.open(io.BytesIO(result)) as check:
            if check.format != _PIL_SAVE_FORMAT[content_type] or check.size != upright.size:
                raise _corrupt_image(content_type)
    except UnsafeFile:
        raise
    except Image.DecompressionBombError as exc:
        raise _image_too_large(max_pixels, content_type) from exc
    except Exception as exc:
        raise _corrupt_image(content_type) from exc
    return Sanitised(
        data=result,
        content_type=content_type,
        source_type=content_type,
        removed=tuple(sorted(removed)),
    )


# --- PDF -----------------------------------------------------------------------------------------------
