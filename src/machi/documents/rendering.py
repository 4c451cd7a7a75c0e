"""From an application to the unsigned PDF: template text, 和暦 dates, A4 layout, QR code.

Templates are Django template text rendered by a bare engine (no loaders, no tag libraries
beyond the built-ins, no autoescaping: the output is PDF text, not HTML) with plain data only
(dicts, lists, strings), so a template cannot reach model attributes or other templates.
The font (Noto Serif JP from ``pylopdf-fonts-jp``, or ``MACHI_DOCUMENTS_FONT``) is embedded
as a subset in every PDF, so the document looks the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import segno
from django.conf import settings
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.utils import timezone
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos

from machi.core.japanese import JapaneseDataError, format_wareki
from machi.documents.pki import head_title
from machi.procedures.formengine import DefinitionError, FormDefinition, summary

if TYPE_CHECKING:
    from machi.procedures.selectors import Application

logger = logging.getLogger(__name__)
# fontTools logs every subsetting step at INFO (dozens of lines per document): keep warnings.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

FONT_PACKAGE: Final = "pylopdf_fonts_jp"
FONT_FILE: Final = "NotoSerifJP-Regular.otf"
FONT_FAMILY: Final = "machi-ja"
MARGIN_MM: Final = 22.0
QR_SIZE_MM: Final = 30.0
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# A bare engine: built-in tags and filters only, no template loaders (so no include/extends
# of files), no autoescape (PDF text).
TEMPLATE_ENGINE: Final = Engine(dirs=[], app_dirs=False, libraries={}, autoescape=False)


class RenderError(Exception):
    """The template or the font could not be used (shown to staff as a clear error)."""


@dataclass(frozen=True)
class PdfContent:
    """Everything printed on one document."""

    title: str
    body: str
    municipality_name: str
    head_title: str
    receipt_number: str
    applicant_name: str
    issue_date: str
    verification_id: str
    verify_url: str
    issued_at: dt.datetime


def font_path() -> Path:
    """The Japanese font embedded in documents.

    ``MACHI_DOCUMENTS_FONT`` when set (e.g. Debian's ``fonts-ipaexfont``:
    ``/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf``), else Noto Serif JP from the
    ``pylopdf-fonts-jp`` wheel, found without importing (running) that package.
    """
    configured = str(settings.MACHI_DOCUMENTS_FONT or "")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise RenderError(f"MACHI_DOCUMENTS_FONT {path} does not exist")
        return path
    spec = importlib.util.find_spec(FONT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / FONT_FILE
        if candidate.is_file():
            return candidate
    raise RenderError(
        "No Japanese font: install the pylopdf-fonts-jp package (pip install -e .) "
        "or set MACHI_DOCUMENTS_FONT to a TrueType/OpenType file."
    )


def compile_template(source: str) -> Template:
    """Compile template text, or ``RenderError`` with the engine's message."""
    try:
        return Template(source, engine=TEMPLATE_ENGINE)
    except TemplateSyntaxError as exc:
        raise RenderError(str(exc)) from exc


def render_text(source: str, context: Mapping[str, Any]) -> str:
    """Render template text with plain data; control characters are dropped."""
    template = compile_template(source)
    try:
        rendered: str = str(template.render(Context(dict(context))))
    except Exception as exc:  # a filter given odd data: staff must see why, not a 500
        raise RenderError(str(exc)) from exc
    text = _CONTROL.sub("", rendered.replace("\r\n", "\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _wareki(value: dt.date | None) -> str:
    if value is None:
        return ""
    try:
        return format_wareki(value)
    except JapaneseDataError:
        return value.isoformat()


def _definition(application: Application) -> FormDefinition | None:
    try:
        return FormDefinition.from_json(application.form_version.definition)
    except (DefinitionError, KeyError, TypeError, ValueError):
        return None


def _first_value_of_type(
    definition: FormDefinition | None, cleaned: Mapping[str, Any], kind: str
) -> Any:
    if definition is None:
        return None
    for step in definition.steps:
        values = cleaned.get(step.key)
        if not isinstance(values, Mapping):
            continue
        for field in step.fields:
            if field.type == kind and values.get(field.key):
                return values[field.key]
    return None


def _name_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return " ".join(str(value.get(p) or "") for p in ("family", "given")).strip()
    return str(value or "").strip()


def _address_text(value: Any) -> str:
    if not isinstance(value, Mapping):
        return str(value or "")
    line = "".join(str(value.get(p) or "") for p in ("prefecture", "city", "town", "street"))
    return " ".join(p for p in (line, str(value.get("building") or "")) if p)


def applicant_name(application: Application) -> str:
    """The applicant's name as written on the document (form answer, card, account)."""
    definition = _definition(application)
    name = _name_text(_first_value_of_type(definition, application.cleaned or {}, "name"))
    if not name:
        name = application.signer_name.replace("\u3000", " ").strip()
    if not name and application.applicant is not None:
        name = str(application.applicant)
    return name or _("申請者")


def template_context(
    application: Application,
    *,
    issued_on: dt.date,
    verification_id: str,
    note: str = "",
) -> dict[str, Any]:
    """Plain data for document templates (documented in the template editor)."""
    municipality = application.municipality
    cleaned: dict[str, Any] = dict(application.cleaned or {})
    definition = _definition(application)
    rows: list[dict[str, str]] = []
    display: dict[str, dict[str, str]] = {}
    if definition is not None:
        try:
            for row in summary(definition, cleaned, language="ja"):
                rows.append({"step": row.step_title, "label": row.label, "display": row.display})
                step_key, _dot, field_key = row.path.partition(".")
                display.setdefault(step_key, {})[field_key] = row.display
        except Exception:  # an old or odd definition: the document can still be issued
            logger.warning("document summary failed", exc_info=True)
            rows = []
    submitted = timezone.localdate(application.submitted_at) if application.submitted_at else None
    return {
        "municipality": {
            "name": municipality.name,
            "code": municipality.code,
            "head_title": head_title(name=municipality.name, kind=municipality.kind),
        },
        "procedure": {"name": application.procedure.name},
        "receipt_number": application.receipt_number or "",
        "applicant_name": applicant_name(application),
        "applicant_address": _address_text(_first_value_of_type(definition, cleaned, "address")),
        "issue_date": _wareki(issued_on),
        "submitted_date": _wareki(submitted),
        "fee_yen": application.fee_yen,
        "answers": cleaned,
        "display": display,
        "rows": rows,
        "note": note,
        "verification_id": verification_id,
    }


def _draw_qr(pdf: FPDF, data: str, x: float, y: float, size: float) -> None:
    """The QR code as filled rectangles (vector, no image)."""
    matrix = segno.make(data, error="m", micro=False).matrix
    modules = len(matrix)
    cell = size / modules
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(matrix):
        column = 0
        while column < modules:
            if not row[column]:
                column += 1
                continue
            start = column
            while column < modules and row[column]:
                column += 1
            pdf.rect(
                x + start * cell,
                y + row_index * cell,
                (column - start) * cell,
                cell,
                style="F",
            )


class _DocumentPdf(FPDF):
    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT_FAMILY, size=8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align=Align.C)
        self.set_text_color(0, 0, 0)


def render_pdf(content: PdfContent) -> bytes:
    """Lay out one A4 document and return the unsigned PDF."""
    pdf = _DocumentPdf(orientation="P", unit="mm", format="A4")
    pdf.set_margins(MARGIN_MM, 20, MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=22)
    try:
        pdf.add_font(FONT_FAMILY, fname=str(font_path()))
    except RenderError:
        raise
    except Exception as exc:
        raise RenderError(f"cannot load the document font: {exc}") from exc
    pdf.set_title(content.title)
    pdf.set_author(content.head_title)
    pdf.set_subject(f"{content.municipality_name} {content.title}")
    pdf.set_keywords(f"machi-verification-id:{content.verification_id.replace('-', '')}")
    pdf.set_creator("Machi")
    pdf.set_lang("ja")
    pdf.set_creation_date(content.issued_at)
    pdf.add_page()
    width = pdf.epw

    pdf.set_font(FONT_FAMILY, size=10.5)
    if content.receipt_number:
        pdf.cell(
            0,
            6,
            _("受付番号 %(number)s") % {"number": content.receipt_number},
            align=Align.R,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.cell(0, 6, content.issue_date, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    pdf.set_font(FONT_FAMILY, size=12.5)
    pdf.multi_cell(
        width,
        7,
        _("%(name)s 様") % {"name": content.applicant_name},
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(3)
    pdf.cell(0, 7, content.head_title, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=8.5)
    pdf.cell(
        0, 5, _("（電子署名により押印を省略）"), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(8)
    pdf.set_font(FONT_FAMILY, size=18)
    pdf.multi_cell(width, 10, content.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    pdf.set_font(FONT_FAMILY, size=11.5)
    pdf.multi_cell(
        width,
        7,
        content.body,
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )

    # Verification block at the foot of the last page.
    block_height = QR_SIZE_MM + 6
    if pdf.will_page_break(block_height + 8):
        pdf.add_page()
    top = max(pdf.get_y() + 10, pdf.h - 22 - block_height)
    pdf.set_draw_color(120, 120, 120)
    pdf.line(MARGIN_MM, top - 6, pdf.w - MARGIN_MM, top - 6)
    _draw_qr(pdf, content.verify_url, MARGIN_MM, top, QR_SIZE_MM)
    pdf.link(MARGIN_MM, top, QR_SIZE_MM, QR_SIZE_MM, content.verify_url)
    text_x = MARGIN_MM + QR_SIZE_MM + 5
    pdf.set_xy(text_x, top)
    pdf.set_font(FONT_FAMILY, size=9)
    lines = [
        _("この文書は%(signer)sが電子署名し、タイムスタンプを付した電子文書です。")
        % {"signer": content.head_title},
        _("検証ID：%(id)s") % {"id": content.verification_id},
        _("真正性の確認：%(url)s") % {"url": content.verify_url},
        _(
            "印刷した文書には電子署名の効力はありません。QRコードまたは検証IDで発行の記録を確認できます。"
        ),
    ]
    pdf.multi_cell(
        pdf.w - MARGIN_MM - text_x,
        5,
        "\n".join(lines),
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    return bytes(pdf.output())
