"""PDF 無害化: rebuild a PDF without active content, refusing encrypted files and bombs.

Part of ``machi.files.sanitise`` (which re-exports ``sanitise_pdf``); pure functions on bytes.
"""

from __future__ import annotations

import io
import logging
import zlib
from typing import Any

import pikepdf
from django.utils.translation import gettext as _
from pikepdf import Array, Dictionary, Name, Stream
from pikepdf.sanitize import Sanitizer

from machi.files.exceptions import UnsafeFile
from machi.files.policy import DEFAULT_POLICY, PDF
from machi.files.sanitise_common import Sanitised, size_in_words

logger = logging.getLogger("machi.files.sanitise")


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
        % {"limit": size_in_words(limit)},
        detected_type=PDF,
    )


def _corrupt_pdf() -> UnsafeFile:
    return UnsafeFile(
        "corrupt_pdf",
        _("PDFファイルが壊れているか、読み取れません。別のファイルを選んでください。"),
        detected_type=PDF,
    )


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
