"""無害化: decide what an upload is by its content and rebuild it without active content.

Pure functions on bytes (no database, no storage); ``services.file_store`` calls ``sanitise``.

* The kind is decided by the leading bytes (magic numbers) only; the file name and the
  browser's content type are ignored. ``puremagic`` names refused content for the logs.
* Images (JPEG, PNG) are decoded with Pillow under a pixel cap, turned upright by their EXIF
  orientation and re-encoded in the same format from the pixels alone: EXIF (with GPS), XMP,
  ICC profiles, comments, PNG text chunks and extra frames do not survive.
* PDFs are opened with pikepdf (qpdf), encrypted ones refused, active content removed (see
  ``sanitise_pdf``) and a fresh file written from the objects still reachable.

Every refusal is an ``UnsafeFile`` with its own code; no other exception escapes ``sanitise``
for any input bytes (parsers of hostile input fail in many ways, so each sanitiser maps every
failure to its ``corrupt_*`` refusal).
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import zlib
from dataclasses import dataclass
from typing import Any

import pikepdf
import puremagic
from django.utils.translation import gettext as _
from pikepdf import Array, Dictionary, Name, Stream
from pikepdf.sanitize import Sanitizer
from PIL import ExifTags, Image, ImageOps

from machi.files.exceptions import UnsafeFile
from machi.files.policy import DEFAULT_POLICY, JPEG, KINDS, PDF, PNG, FilePolicy

logger = logging.getLogger(__name__)

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", PDF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)


@dataclass(frozen=True)
class Sanitised:
    """Bytes made safe, their kind, the kind they were made from and what was removed."""

    data: bytes
    content_type: str
    source_type: str
    removed: tuple[str, ...]


# --- Refusals -----------------------------------------------------------------------------------


def _size_in_words(size: int) -> str:
    mib = 1024 * 1024
    if size >= mib:
        return f"{size / mib:.1f}".removesuffix(".0") + " MB"
    return f"{max(size // 1024, 1)} KB"


def too_large(max_size: int) -> UnsafeFile:
    return UnsafeFile(
        "too_large",
        _("ファイルが大きすぎます。%(limit)s 以下のファイルを選んでください。")
        % {"limit": _size_in_words(max_size)},
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


def _encrypted_pdf() -> UnsafeFile:
    return UnsafeFile(
        "encrypted_pdf",
        _(
            "パスワードや暗号化で保護されたPDFは受け付けられません。"
            "保護を解除したPDFを選んでください。"
        ),
        detected_type=PDF,
    )


def _pdf_too_large_decompressed(limit: int) -> UnsafeFile:
    return UnsafeFile(
        "pdf_too_large_decompressed",
        _(
            "PDFの中身を展開すると大きすぎます（%(limit)s を超えます）。"
            "ページ数を減らすか、別の方法で作ったPDFを選んでください。"
        )
        % {"limit": _size_in_words(limit)},
        detected_type=PDF,
    )


def _corrupt_pdf() -> UnsafeFile:
    return UnsafeFile(
        "corrupt_pdf",
        _("PDFファイルが壊れているか、読み取れません。別のファイルを選んでください。"),
        detected_type=PDF,
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

# Actions that run code, reach files or the network, or play media. Removed wherever they are
# (open action, annotations, form fields, bookmarks, /Next chains...). Navigation within the
# document (GoTo, Named, Thread...), Hide, ResetForm and SetOCGState stay.
_UNSAFE_ACTIONS = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/SubmitForm": "submit_form",
    "/ImportData": "import_data",
    "/GoToR": "remote_goto",
    "/GoToE": "embedded_goto",
    "/Rendition": "rich_media",
    "/Movie": "rich_media",
    "/Sound": "rich_media",
    "/RichMediaExecute": "rich_media",
    "/GoTo3DView": "rich_media",
}
# URI actions (links) stay when they lead to a web page or mail address: ordinary content of
# municipal documents, and viewers ask before following them. Any other scheme (javascript:,
# file:, smb: — which leaks Windows credentials —, data:...) is removed as "uri".
_SAFE_URI_PREFIXES = ("http://", "https://", "mailto:")
# Annotations removed whole: they carry files or media players.
_UNSAFE_ANNOTATIONS = {
    "/FileAttachment": "embedded_files",
    "/RichMedia": "rich_media",
    "/Screen": "rich_media",
    "/Movie": "rich_media",
    "/Sound": "rich_media",
    "/3D": "rich_media",
}
# Keys removed from every dictionary: additional (event-triggered) actions, embedded files
# and associated files (PDF 2.0 /AF).
_UNSAFE_KEYS = {
    "/AA": "additional_actions",
    "/EF": "embedded_files",
    "/AF": "embedded_files",
    "/RichMediaContent": "rich_media",
}
_NAME_TREES = {
    "/JavaScript": "javascript",
    "/EmbeddedFiles": "embedded_files",
    "/AlternatePresentations": "rich_media",
    "/Renditions": "rich_media",
}
# pikepdf's own curated sanitiser, run after ours as a second, independent pass.
_LIBRARY_PASS = (
    Sanitizer().remove_javascript().remove_attachments().remove_multimedia().remove_collection()
)


def _is_safe_uri(value: object) -> bool:
    if not isinstance(value, pikepdf.String):
        return False
    return str(value).strip().lower().startswith(_SAFE_URI_PREFIXES)


def _unsafe_reason(obj: object) -> str | None:
    """Why ``obj`` must go (an unsafe action, annotation or embedded file), or None."""
    if not isinstance(obj, Dictionary | Stream):
        return None
    if isinstance(obj, Stream) and obj.get("/Type") == Name.EmbeddedFile:
        return "embedded_files"
    # /Type is optional and viewers ignore it, so it is not trusted to say what a dict is.
    subtype = obj.get("/Subtype")
    if isinstance(subtype, Name) and str(subtype) in _UNSAFE_ANNOTATIONS and "/Rect" in obj:
        return _UNSAFE_ANNOTATIONS[str(subtype)]
    if "/JS" in obj:
        return "javascript"
    # No other kind of dictionary uses these /S names (border styles, page labels, transitions,
    # masks and standard structure types use others).
    action = obj.get("/S")
    if isinstance(action, Name):
        if str(action) in _UNSAFE_ACTIONS:
            return _UNSAFE_ACTIONS[str(action)]
        if action == Name.URI and not _is_safe_uri(obj.get("/URI")):
            return "uri"
    return None


def _strip_catalog(pdf: pikepdf.Pdf, removed: set[str]) -> None:
    """Document-level active content: open action, named scripts and files, XFA, portfolio."""
    root = pdf.Root
    if "/OpenAction" in root:
        # Also a plain destination ("open at page 2") goes: harmless, but nothing is lost.
        removed.add(_unsafe_reason(root.get("/OpenAction")) or "open_action")
        del root["/OpenAction"]
    names = root.get("/Names")
    if isinstance(names, Dictionary):
        for key, note in _NAME_TREES.items():
            if key in names:
                del names[key]
                removed.add(note)
    if "/Collection" in root:
        del root["/Collection"]
        removed.add("embedded_files")
    acroform = root.get("/AcroForm")
    if isinstance(acroform, Dictionary) and "/XFA" in acroform:
        del acroform["/XFA"]
        removed.add("xfa")
    if "/NeedsRendering" in root:
        del root["/NeedsRendering"]
        removed.add("xfa")


def _strip_annotations(pdf: pikepdf.Pdf, removed: set[str]) -> None:
    """Remove file-attachment and media annotations from every page."""
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if not isinstance(annots, Array):
            continue
        kept = []
        for annot in annots:
            reason = _unsafe_reason(annot)
            if reason in ("embedded_files", "rich_media"):
                removed.add(reason)
            else:
                kept.append(annot)
        if len(kept) != len(annots):
            page.obj["/Annots"] = Array(kept)


def _sweep(pdf: pikepdf.Pdf, removed: set[str]) -> None:
    """Remove unsafe actions, annotations, /AA and embedded files from every reachable object.

    Walks the whole object graph from the trailer (iteratively; indirect objects once), so
    an action is found wherever it hangs: annotations and their /Parent fields, the AcroForm
    field tree, bookmarks, pages, /Next chains. Items of arrays are replaced with null (keeps
    the array's layout, e.g. name-tree pairs).
    """
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [pdf.trailer]
    while stack:
        obj = stack.pop()
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, Dictionary | Stream):
            for key in list(obj.keys()):
                child = obj.get(key)
                note = _UNSAFE_KEYS.get(key) or _unsafe_reason(child)
                if note is not None:
                    del obj[key]
                    removed.add(note)
                elif isinstance(child, Dictionary | Stream | Array):
                    stack.append(child)
        elif isinstance(obj, Array):
            for index in range(len(obj)):
                child = obj[index]
                note = _unsafe_reason(child)
                if note is not None:
                    obj[index] = None
                    removed.add(note)
                elif isinstance(child, Dictionary | Stream | Array):
                    stack.append(child)


# Filters that inflate their input. Image codecs (DCT, JPX, CCITT, JBIG2) are left out: their
# output is bounded by the image's own size and Machi never decodes them.
_INFLATING_FILTERS = frozenset(
    {"/FlateDecode", "/Fl", "/LZWDecode", "/LZW", "/RunLengthDecode", "/RL"}
)
_INFLATE_CHUNK = 64 * 1024


def _filters(stream: Stream) -> list[str]:
    value = stream.get("/Filter")
    if isinstance(value, Name):
        return [str(value)]
    if isinstance(value, Array):
        return [str(item) for item in value if isinstance(item, Name)]
    return []


def _inflated_size(raw: bytes, budget: int) -> int:
    """Bytes ``raw`` (zlib data) inflates to, counting no further than ``budget`` + 1.

    Inflates in bounded steps and stops as soon as the budget is passed, so a bomb never
    reaches memory; corrupt data counts what inflated before the error (qpdf copies it as-is).
    """
    inflater = zlib.decompressobj()
    total = 0
    pending = raw
    try:
        while pending and total <= budget:
            total += len(inflater.decompress(pending, _INFLATE_CHUNK))
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error:
        return total
    return total


def _check_decompressed_size(pdf: pikepdf.Pdf, limit: int) -> None:
    """Refuse a PDF whose compressed streams inflate past ``limit`` bytes in total."""
    remaining = limit
    for obj in pdf.objects:
        if not isinstance(obj, Stream):
            continue
        filters = _filters(obj)
        if not _INFLATING_FILTERS.intersection(filters):
            continue
        if filters[:1] in (["/FlateDecode"], ["/Fl"]):
            size = _inflated_size(obj.read_raw_bytes(), remaining)
        else:  # LZW or run-length, rare in current PDFs: qpdf decodes them whole
            try:
                size = len(obj.read_bytes())
            except pikepdf.PdfError:
                continue
        remaining -= size
        if remaining < 0:
            logger.info("files.refused pdf_too_large_decompressed limit=%d", limit)
            raise _pdf_too_large_decompressed(limit)


def sanitise_pdf(
    data: bytes, *, max_decompressed: int = DEFAULT_POLICY.max_pdf_decompressed
) -> Sanitised:
    """Rebuild a PDF without active content.

    Removed (noted as): document /OpenAction (``open_action`` or the action's kind), /AA
    additional actions everywhere (``additional_actions``), the /Names /JavaScript tree and
    JavaScript actions anywhere (``javascript``), /EmbeddedFiles, /Collection, file
    attachment annotations and /EF embedded file streams (``embedded_files``), AcroForm /XFA
    (``xfa``), Launch/SubmitForm/ImportData/GoToR/GoToE actions, media annotations and
    actions (``rich_media``) and non-web URI links (``uri``). Web (http/https) and mailto
    links stay. Streams are copied without decoding (no decompression bombs), and only
    objects still reachable are written. Encrypted PDFs — even with only an owner password
    — are refused: their content cannot be checked as-is, and saving would drop the author's
    protection silently. A PDF whose compressed streams inflate past ``max_decompressed``
    bytes in total (a flate bomb) is refused as ``pdf_too_large_decompressed``.
    """
    removed: set[str] = set()
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if pdf.is_encrypted:
                raise _encrypted_pdf()
            page_count = len(pdf.pages)
            if page_count == 0:
                raise _corrupt_pdf()
            _check_decompressed_size(pdf, max_decompressed)
            _strip_catalog(pdf, removed)
            _strip_annotations(pdf, removed)
            _sweep(pdf, removed)
            _LIBRARY_PASS.apply(pdf)
            out = io.BytesIO()
            pdf.save(
                out,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                fix_metadata_version=False,
            )
        result = out.getvalue()
        with pikepdf.open(io.BytesIO(result)) as check:
            if len(check.pages) != page_count:
                raise _corrupt_pdf()
    except UnsafeFile:
        raise
    except pikepdf.PasswordError as exc:
        raise _encrypted_pdf() from exc
    except Exception as exc:
        raise _corrupt_pdf() from exc
    return Sanitised(data=result, content_type=PDF, source_type=PDF, removed=tuple(sorted(removed)))
